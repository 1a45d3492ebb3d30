"""Fuzz one surface of fdafast with hypothesis; run by tests/test_fuzz.py in a subprocess.

    python tests/fuzz_driver.py SURFACE EXAMPLES

Every example must either succeed (with a result of the right shape where
that is cheap to check) or raise :class:`fdafast.FdafastError`; any other
exception fails, and a crash (a signal) is seen by the parent as a bad exit
status.  Examples are derandomized: the same run every time.  Prints
``SURFACE: N examples, K refused`` on success.
"""
import contextlib
import io
import math
import sys
import tempfile
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import fdafast
from fdafast import FdafastError

REFUSED = []


def outcome(call):
    """Run ``call``; FdafastError counts as a refusal, anything else propagates."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except FdafastError as exc:
        REFUSED.append(type(exc).__name__)
        return None


# -- surfaces ----------------------------------------------------------------------------------
ints = st.one_of(st.integers(-3, 9), st.sampled_from([0, 2 ** 31, 2 ** 63, -2 ** 40]),
                 st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3),
                 st.tuples(st.integers(-1, 5), st.integers(-1, 5)))


@st.composite
def conv_case(draw):
    """Half the cases are valid convolutions (checked against the direct reference),
    half have one or more bad arguments."""
    nd = draw(st.sampled_from([2, 3]))
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    shape = (draw(st.integers(1, 2)), cin) + spatial
    wshape = (cout, cin // groups) + kernel
    kw = {"groups": groups, "padding": draw(st.sampled_from([0, 1, "same", "valid"])),
          "stride": draw(st.integers(1, 2)), "dilation": draw(st.integers(1, 2))}
    dtype, fill = np.float64, 0.5
    if draw(st.booleans()):                                  # break something
        broken = draw(st.sets(st.sampled_from(["shape", "wshape", "dtype", "fill", "kw"]),
                              min_size=1))
        if "shape" in broken:
            shape = tuple(draw(st.integers(0, 6)) for _ in range(draw(st.integers(1, 6))))
        if "wshape" in broken:
            wshape = tuple(draw(st.integers(0, 4)) for _ in range(draw(st.integers(1, 6))))
        if "dtype" in broken:
            dtype = draw(st.sampled_from([np.int32, np.complex64, object, np.float16]))
        if "fill" in broken:
            fill = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        if "kw" in broken:
            kw.update({k: draw(ints) for k in draw(st.sets(st.sampled_from(
                ["stride", "padding", "dilation", "groups", "tile", "threads"]), min_size=1))})
    return nd, shape, wshape, dtype, fill, kw


def fuzz_conv(examples):
    from naive import conv_direct

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(conv_case())
    def run(case):
        nd, shape, wshape, dtype, fill, kw = case
        rng = np.random.default_rng(len(shape) * 7 + len(wshape))
        with np.errstate(all="ignore"):
            x = (rng.random(shape) * fill).astype(dtype)
        w = rng.standard_normal(wshape)
        f = fdafast.conv2d if nd == 2 else fdafast.conv3d
        y = outcome(lambda: f(x, w, **kw))
        if y is not None:
            ref = conv_direct(x.astype(np.float64), w, **{k: kw[k] for k in (
                "stride", "padding", "dilation", "groups")})
            assert y.shape == ref.shape, (case, y.shape, ref.shape)
            np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-9 * max(1, abs(ref).max()))
    run()


def fuzz_crossbar(examples):
    fields = ["rows", "cols", "cell_bits", "weight_bits", "input_bits", "dac_bits", "adc_bits",
              "adc_full_scale", "pe", "weight_encoding", "program_sigma", "read_sigma",
              "stuck_on_rate", "stuck_off_rate", "on_off_ratio", "bogus"]
    values = st.one_of(ints, st.floats(-1e9, 1e9), st.sampled_from(
        ["rowpair", "colpair", "offset", "differential", "calibrate", math.inf, np.int8(100),
         np.float32(0.5), np.uint8(7)]))

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(st.sampled_from(fields), values, max_size=6),
           st.integers(1, 5), st.integers(1, 6), st.integers(1, 4))
    def run(kw, m, k, n):
        cfg = outcome(lambda: fdafast.CrossbarConfig(**kw))
        if cfg is None or cfg.rows > 512 or cfg.adc_full_scale == "calibrate":
            return
        top = (1 << (cfg.input_bits - 1)) - 1
        rng = np.random.default_rng(m * 100 + k * 10 + n)
        x = rng.integers(-top, top + 1, (m, k)) + 1j * rng.integers(-top, top + 1, (m, k))
        topw = (1 << (cfg.weight_bits - 1)) - 1
        w = rng.integers(-topw, topw + 1, (k, n)).astype(np.float64)
        y = outcome(lambda: fdafast.crossbar.cmatmul(x, w, cfg, seed=1, threads=1))
        if y is not None:
            assert y[0].shape == (m, n) and np.isfinite(y[0]).all()
            if cfg.exact:
                np.testing.assert_array_equal(y[0], x @ w)
    run()


def fuzz_toml(examples):
    base = fdafast.arch.preset_data("fda")
    paths = [(s, k) for s, t in base.items() if isinstance(t, dict) for k, v in t.items()
             if not isinstance(v, dict)]
    values = st.one_of(ints, st.floats(allow_nan=True), st.sampled_from(
        [0, 0.0, -1, 1e-300, 1e300, "", "fast", [4, 8], [0, 0, 0], {}]))

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(paths), values), max_size=3),
           st.booleans(), st.binary(max_size=40))
    def run(changes, as_text, junk):
        data = fdafast.arch.preset_data("fda")
        for (section, key), v in changes:
            data[section][key] = v
        if as_text:
            with tempfile.NamedTemporaryFile("wb", suffix=".toml") as fh:
                fh.write(junk)
                fh.flush()
                outcome(lambda: fdafast.Accelerator.from_file(fh.name))
        acc = outcome(lambda: fdafast.Accelerator.from_dict(data))
        if acc is not None:
            s = outcome(acc.summary)
            if s is not None:
                assert all(math.isfinite(v) for v in s.values() if isinstance(v, float))
            rep = outcome(lambda: fdafast.estimate(fdafast.workloads.vgg16()[:2], acc))
            if rep is not None:
                assert math.isfinite(rep.totals["latency_s"])
    run()


def fuzz_files(examples):
    """Weights (.npz) and ONNX bytes: truncated, flipped or random."""
    net = fdafast.nn.zoo.tiny2d()
    with tempfile.TemporaryDirectory() as tmp:
        good = f"{tmp}/good.npz"
        net.save_weights(good)
        good_bytes = open(good, "rb").read()
        onnx_bytes = b""
        try:
            import onnx  # noqa: F401  (optional: the ONNX half runs where onnx is installed)
            from fdafast.nn import to_torch
            import torch
            model = to_torch(net).eval()
            buf = io.BytesIO()
            torch.onnx.export(model, torch.zeros((1,) + net.input_shape), buf, dynamo=False)
            onnx_bytes = buf.getvalue()
        except Exception:                                 # noqa: BLE001 - optional
            pass

        @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.sampled_from(["npz", "onnx"]), st.integers(0, 10 ** 6),
               st.integers(0, 255), st.booleans())
        def run(kind, cut, byte, flip):
            src = good_bytes if kind == "npz" or not onnx_bytes else onnx_bytes
            data = bytearray(src[:cut % (len(src) + 1)] if not flip else src)
            if flip and data:
                data[cut % len(data)] = byte
            path = f"{tmp}/case.{kind}"
            with open(path, "wb") as fh:
                fh.write(bytes(data))
            if kind == "npz":
                fresh = fdafast.nn.zoo.tiny2d()
                outcome(lambda: fresh.load_weights(path))
            else:
                outcome(lambda: fdafast.from_onnx(path))
        run()


def fuzz_cli(examples):
    from fdafast import cli
    tokens = st.sampled_from([
        "--mode", "fft", "direct", "reram", "quantum", "--batch", "2", "0", "-1", "1e3",
        "--input", "1,8,8", "2,1,8,8", "8.7", "x.npy", "--seed", "3", "--threads", "1",
        "999999", "--arch", "fda", "isaac", "nope", "x.toml", "--crossbar", "adc_bits=6",
        "adc_bits=x", "bogus=1", "read_sigma=-1", "--num-classes", "3", "--out", "OUT",
        "--format", "csv", "", "\x00", "--", "-h"])

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from([["simulate", "tiny2d"], ["simulate", "nope"], ["compare", "tiny2d"],
                            ["preset", "show"], ["presets"], []]),
           st.lists(tokens, max_size=7))
    def run(head, tail):
        with tempfile.TemporaryDirectory() as out:
            argv = head + [out if t == "OUT" else t for t in tail]
            if head and head[0] == "simulate" and "--mode" not in argv:
                argv += ["--mode", "fft"]                   # keep each example fast
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    status = cli.main(argv)
                except SystemExit as exc:                   # argparse: usage errors, --help
                    status = exc.code
            text = err.getvalue()
            assert status in (0, 2), (argv, status, text)
            assert "Traceback" not in text, (argv, text)
            if status == 2:
                REFUSED.append("exit 2")
                assert len([ln for ln in text.splitlines() if ln.strip()]) == 1, (argv, text)
    run()


SURFACES = {"conv": fuzz_conv, "crossbar": fuzz_crossbar, "toml": fuzz_toml,
            "files": fuzz_files, "cli": fuzz_cli}

if __name__ == "__main__":
    surface, examples = sys.argv[1], int(sys.argv[2])
    SURFACES[surface](examples)
    print(f"{surface}: {examples} examples, {len(REFUSED)} refused "
          f"({', '.join(sorted(set(REFUSED)))})")
