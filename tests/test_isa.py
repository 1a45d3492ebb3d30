"""The instruction-set variants of the C kernels (``csrc/isa.h``, ``fdafast._dispatch``).

* Kernels per variant: every variant this machine runs (``isa`` fixture,
  through :func:`fdafast._dispatch.use_isa`) against the references: the
  crossbar kernels (ideal devices with 64- and 32-bit planes, device
  non-idealities, the bit planes) bit for bit against
  :func:`naive_crossbar.cmatmul_reference`, and identical integers across
  variants; tile FFTs and convolutions within the dtype tolerance of
  numpy and :func:`naive.conv_direct`; the pipeline schedule.
* Selection: the default is the best variant the CPU runs; FDAFAST_ISA is a
  ceiling, and an unknown level or one the CPU lacks fails the import with
  a message naming it (in subprocesses); a compiled but unsupported variant
  (avx512 on an AVX2 machine) is refused.
* :func:`fdafast.show_config` prints and returns what runs.
* The C driver ``tests/c/xvariant.c`` (every variant against the baseline
  and loop references, in C) built natively and, with Debian's
  gcc-aarch64-linux-gnu, for aarch64 (baseline and neon) run under
  qemu-user; skipped, with the reason, where those tools are missing.
"""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fdafast
from fdafast import _dispatch, _native
from fdafast.crossbar import CrossbarConfig, cmatmul
from fdafast.errors import InvalidArgumentError, NativeError
from naive import conv_direct
from naive_crossbar import cmatmul_reference
from naive_schedule import pipeline as pipeline_reference

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUNNABLE = [v for v in _dispatch.isa_variants() if v in _dispatch.isa_supported()]
F32_LANES = {"baseline": 4, "avx2": 8, "avx512": 16, "neon": 4}


@pytest.fixture(params=RUNNABLE)
def isa(request):
    """Run the test's kernels with each variant this machine supports."""
    with _dispatch.use_isa(request.param):
        yield request.param


def each_variant(fn):
    """fn() under every runnable variant: {variant: result}."""
    out = {}
    for v in RUNNABLE:
        with _dispatch.use_isa(v):
            out[v] = fn()
    return out


def operand(rng, shape, bits):
    lim = 2 ** (bits - 1) - 1
    return rng.integers(-lim, lim + 1, shape) + 1j * rng.integers(-lim, lim + 1, shape)


# -- what runs -----------------------------------------------------------------

def test_default_is_the_best_runnable_variant():
    if os.environ.get("FDAFAST_ISA"):
        pytest.skip("FDAFAST_ISA caps the variant in this run")
    assert _dispatch.isa() == RUNNABLE[-1]
    assert _dispatch.isa() == _dispatch.choose(None)


def test_lanes_follow_the_variant_and_panels_do_not(isa):
    assert _native.lanes(np.float32) == F32_LANES[isa]
    assert _native.lanes(np.float64) == F32_LANES[isa] // 2
    assert _native.panel_width(np.float32) == 32 and _native.panel_width(np.float64) == 16
    assert _dispatch.isa() == isa


def test_use_isa_restores_the_previous_variant():
    before = _dispatch.isa()
    with _dispatch.use_isa(RUNNABLE[0]):
        assert _dispatch.isa() == RUNNABLE[0]
    assert _dispatch.isa() == before


@pytest.mark.skipif(set(_dispatch.isa_variants()) <= set(_dispatch.isa_supported()),
                    reason="every compiled variant runs on this CPU")
def test_unsupported_variant_is_refused():
    """Compiled in (avx512 on an AVX2 machine) but refused, by C and by Python."""
    bad = next(v for v in _dispatch.isa_variants() if v not in _dispatch.isa_supported())
    before = _dispatch.isa()
    with pytest.raises(NativeError) as err:
        _native.isa_select(bad)
    assert err.value.status == _native.lib.FDA_ERR_ISA
    with pytest.raises(InvalidArgumentError, match=bad):
        _dispatch.set_isa(bad)
    assert _dispatch.isa() == before


def test_compile_flags_name_each_variant():
    flags = {v: _native.isa_flags(v) for v in _dispatch.isa_variants()}
    assert "-march=native" not in " ".join(flags.values()) or flags.keys() == {_dispatch.isa()}
    if "avx2" in flags and "-march=native" not in flags["avx2"]:
        assert "-march=x86-64-v3" in flags["avx2"]
    if "avx512" in flags and "-march=native" not in flags["avx512"]:
        assert "-mavx512vpopcntdq" in flags["avx512"]
    for v in set(_native.ISA_NAMES) - set(flags):
        assert _native.isa_flags(v) == ""


def test_show_config_prints_and_returns(capsys):
    cfg = fdafast.show_config()
    out = capsys.readouterr().out
    assert cfg["isa"] == _dispatch.isa() and cfg["isa_variants"] == list(_dispatch.isa_variants())
    assert cfg["isa_supported"] == list(_dispatch.isa_supported())
    assert cfg["threads"] >= 1 and isinstance(cfg["openmp"], bool)
    assert set(cfg["compile_flags"]) == set(cfg["isa_variants"])
    assert f"instruction set:  {cfg['isa']}" in out
    for v in cfg["isa_variants"]:
        assert f"  {v}:" in out
    assert "threads:" in out and "OpenMP:" in out and "compiled in:" in out
    assert fdafast.show_config(print_=False) == cfg and capsys.readouterr().out == ""


# -- FDAFAST_ISA, in fresh processes ----------------------------------------------

def run_python(code, isa_env):
    env = dict(os.environ)
    env.pop("FDAFAST_ISA", None)
    if isa_env is not None:
        env["FDAFAST_ISA"] = isa_env
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("ceiling", RUNNABLE + [None, ""])
def test_ceiling_selects_the_best_variant_at_or_below_it(ceiling):
    res = run_python("import fdafast; print(fdafast._dispatch.isa())", ceiling)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (ceiling or RUNNABLE[-1])


def test_ceiling_the_cpu_lacks_fails_the_import():
    lacking = [v for v in ("avx512", "neon", "avx2") if v not in _dispatch.isa_supported()]
    res = run_python("import fdafast", lacking[0])
    assert res.returncode != 0
    assert "InvalidArgumentError" in res.stderr
    msg = res.stderr.strip().splitlines()[-1]
    assert f"FDAFAST_ISA='{lacking[0]}'" in msg and "does not support" in msg
    assert ", ".join(_dispatch.isa_supported()) in msg
    assert "baseline, avx2, avx512, neon" in msg


def test_unknown_ceiling_fails_the_import():
    res = run_python("import fdafast", "sse9")
    assert res.returncode != 0
    msg = res.stderr.strip().splitlines()[-1]
    assert "FDAFAST_ISA='sse9' is not an instruction-set level" in msg
    assert "accepted: baseline, avx2, avx512, neon" in msg


def test_choose_caps_by_family():
    assert _dispatch.choose(RUNNABLE[0]) == RUNNABLE[0]
    assert _dispatch.choose(RUNNABLE[-1].upper()) == RUNNABLE[-1]
    with pytest.raises(InvalidArgumentError, match="accepted: baseline, avx2, avx512, neon"):
        _dispatch.choose("AVX-2")


# -- crossbar kernels: integers, bit for bit --------------------------------------------

CROSSBAR_CASES = [
    # rows, cell bits, weight bits, input bits, DAC bits, ADC bits, PE, encoding, M, K, N
    (128, 2, 8, 8, 1, 6, "rowpair", "differential", 23, 64, 24),   # the bench's settings
    (128, 2, 8, 8, 1, 6, "colpair", "offset", 9, 70, 10),
    (64, 1, 6, 6, 1, 4, "rowpair", "differential", 7, 40, 3),
    (200, 4, 8, 8, 1, 7, "rowpair", "offset", 5, 130, 9),           # 4-bit cells, 4 words
    (96, 2, 7, 8, 2, 5, "colpair", "differential", 6, 50, 17),      # 2-bit DACs
    (300, 2, 8, 8, 3, 8, "rowpair", "differential", 4, 260, 5),     # 3-bit DACs, 5 words
    (32, 8, 8, 5, 1, 3, "colpair", "differential", 3, 33, 8),       # 8-bit cells
]


@pytest.mark.parametrize("case", CROSSBAR_CASES, ids=lambda c: "-".join(map(str, c[:8])))
def test_crossbar_ideal_equals_reference(isa, case, rng):
    rows, cb, wb, ib, db, ab, pe, enc, M, K, N = case
    cfg = CrossbarConfig(rows=rows, cols=128, cell_bits=cb, weight_bits=wb, input_bits=ib,
                         dac_bits=db, adc_bits=ab, pe=pe, weight_encoding=enc)
    assert not cfg.exact       # the kernel runs (an exact config takes x @ w)
    x, w = operand(rng, (M, K), ib), operand(rng, (K, N), wb)
    y, _ = cmatmul(x, w, cfg, threads=2)
    np.testing.assert_array_equal(y, cmatmul_reference(x, w, cfg)[0])


@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
def test_crossbar_exact_emulation_is_the_product(isa, pe):
    """With an ADC that cannot round, the C kernel's emulation gives x @ w exactly
    (the step-1 ADC: adc_mul = 2^32, the high-word product of the 32-bit form)."""
    rng = np.random.default_rng(5)
    cfg = CrossbarConfig(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                         dac_bits=1, adc_bits=12, pe=pe)
    assert cfg.exact
    x, w = operand(rng, (13, 100), 8), operand(rng, (100, 19), 8)
    with _dispatch.forced("c"):                  # the kernel, not the exact shortcut
        y, _ = cmatmul(x, w, cfg, threads=2)
    np.testing.assert_array_equal(y, x @ w)


@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
def test_crossbar_nonideal_equals_reference(isa, pe, rng):
    cfg = CrossbarConfig(rows=64, cols=128, cell_bits=2, weight_bits=6, input_bits=6,
                         dac_bits=1, adc_bits=5, pe=pe, read_sigma=0.05,
                         program_sigma=0.02)
    x, w = operand(rng, (5, 70), 6), operand(rng, (70, 7), 6)
    y, _ = cmatmul(x, w, cfg, seed=7, threads=2)
    np.testing.assert_array_equal(y, cmatmul_reference(x, w, cfg, seed=7)[0])


def test_crossbar_results_identical_across_variants(rng):
    cfg = CrossbarConfig(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                         dac_bits=1, adc_bits=6)
    x, w = operand(rng, (300, 64), 8), operand(rng, (64, 40), 8)
    ys = each_variant(lambda: cmatmul(x, w, cfg, threads=2)[0])
    for v, y in ys.items():
        np.testing.assert_array_equal(y, ys[RUNNABLE[0]], err_msg=v)


@pytest.mark.parametrize("word", [32, 64])
def test_crossbar_planes_identical_across_variants(word):
    """fda_xbar_pack gives the same words on every variant."""
    from fdafast import crossbar as xb
    from fdafast._xbar import level_planes
    rng = np.random.default_rng(9)
    cfg = CrossbarConfig(rows=100, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                         dac_bits=1, adc_bits=6, pe="colpair")
    w = operand(rng, (150, 21), 8)
    weights = xb.PreparedWeights(w.real[None].astype(np.int32), w.imag[None].astype(np.int32),
                                 cfg, 0)
    planes = each_variant(lambda: level_planes(cfg, weights.wr, weights.wi,
                                               weights.rows_per_block, 32, 2, word))
    for v, p in planes.items():
        np.testing.assert_array_equal(p, planes[RUNNABLE[0]], err_msg=v)


def test_crossbar_32_bit_planes_run_on_every_variant(isa):
    """The fast32 layout (P32 and the float32 ADC, prepared for avx512) gives the
    same integers on every variant (scalar where there is no fast32 path)."""
    import dataclasses
    from fdafast import _xbar
    from fdafast import crossbar as xb
    rng = np.random.default_rng(2)
    cfg = CrossbarConfig(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                         dac_bits=1, adc_bits=6)
    x, w = operand(rng, (11, 64), 8), operand(rng, (64, 16), 8)
    weights = xb.PreparedWeights(w.real[None].astype(np.int32), w.imag[None].astype(np.int32),
                                 cfg, 0)
    step = cfg.step_for(None)
    fast = _xbar.adc_fma32(cfg.adc_table(step), step, cfg.adc_max)
    assert fast is not None
    desc = _xbar.ideal_setup(cfg, weights.wr, weights.wi, weights.route, weights.mult,
                             weights.rows_per_block, step, _dispatch.ideal_adc(cfg, step), 2)[1]
    P32 = _xbar.level_planes(cfg, weights.wr, weights.wi, weights.rows_per_block, 16, 2,
                             word=32)
    desc32 = dataclasses.replace(desc, N=16, adc_a=fast[0], adc_b=fast[1], nw32=P32.shape[3])
    xr, xi = x.real[None].astype(np.int32), x.imag[None].astype(np.int32)
    y32 = _xbar.run(("ideal", desc32, None, P32), xr, xi, 2)
    np.testing.assert_array_equal(y32[0], cmatmul_reference(x, w, cfg)[0])


# -- float kernels: within tolerance ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("tile", [(1, 1, 2), (4, 8, 8), (2, 16, 32), (1, 4, 64)],
                         ids=lambda t: "x".join(map(str, t)))
def test_tile_fft_matches_numpy(isa, assert_close, rng, tile, dtype):
    count = 19                                   # not a multiple of any lane count
    tiles = rng.standard_normal((count,) + tile).astype(dtype)
    half = (count,) + tile[:2] + (tile[2] // 2 + 1,)
    re, im = np.empty(half, dtype), np.empty(half, dtype)
    _native.tile_rfft(tiles, re, im, 2)
    ref = np.fft.rfftn(tiles.astype(np.float64), axes=(1, 2, 3))
    assert_close(re + 1j * im.astype(np.float64), ref, dtype=dtype, what=f"{isa} rfft")
    back = np.empty_like(tiles)
    _native.tile_irfft(re, im, back, 2)
    assert_close(back / np.prod(tile), tiles, dtype=dtype, what=f"{isa} round trip")


CONV_CASES = [
    # x shape, w shape, keyword arguments
    ((2, 5, 6, 9, 11), (37, 5, 3, 3, 3), dict(padding=1)),
    ((1, 6, 13, 10), (42, 3, 3, 3), dict(padding=1, stride=2, groups=2)),
    ((1, 19, 7, 8), (70, 19, 3, 3), dict(padding=1)),
    ((1, 8, 9, 9), (8, 1, 3, 3), dict(padding=1, groups=8)),                  # depthwise
    ((1, 64, 4, 10, 10), (96, 64, 3, 3, 3), dict(padding=1)),                # GEMM tiles
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[1])))
def test_conv_matches_direct(isa, assert_close, rng, case, dtype):
    xs, ws, kw = case
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    conv = fdafast.conv3d if len(xs) == 5 else fdafast.conv2d
    y = conv(x, w, b, threads=2, **kw)
    assert_close(y, conv_direct(x, w, b, **kw), dtype=dtype, what=isa)


def test_conv_threads_and_calls_deterministic(isa, rng):
    x = rng.standard_normal((1, 64, 4, 10, 10)).astype(np.float32)
    w = rng.standard_normal((96, 64, 3, 3, 3)).astype(np.float32)
    plan = fdafast.ConvPlan(w, x.shape, padding=1)
    ys = [plan(x, threads=t) for t in (1, 2, 3, 2)]
    for y in ys[1:]:
        np.testing.assert_array_equal(y, ys[0])


def test_plan_keeps_working_across_a_variant_switch(assert_close, rng):
    """Packed spectra have the same layout on every variant."""
    x = rng.standard_normal((1, 20, 12, 12)).astype(np.float32)
    w = rng.standard_normal((40, 20, 3, 3)).astype(np.float32)
    with _dispatch.use_isa(RUNNABLE[-1]):
        plan = fdafast.ConvPlan(w, x.shape, padding=1)
        plan(x)
    ref = conv_direct(x, w, padding=1)
    for v in RUNNABLE:
        with _dispatch.use_isa(v):
            assert_close(plan(x, threads=2), ref, what=v)


def test_tile_costs_per_variant():
    """Every variant has its tile-cost constants; unknown names get avx512's."""
    from fdafast import _tiling
    assert set(_tiling.COST_PARAMS) == set(_native.ISA_NAMES)
    assert _tiling.cost_params("avx512") == _tiling.CostParams()
    assert _tiling.cost_params("nonesuch") == _tiling.CostParams()
    slow, fast = _tiling.cost_params("baseline"), _tiling.cost_params("avx2")
    assert slow.mac_flops_per_s < fast.mac_flops_per_s


def test_plan_tile_uses_the_running_variants_costs(rng):
    from fdafast import _tiling
    w = rng.standard_normal((512, 512, 3, 3, 3)).astype(np.float32)
    for v in RUNNABLE:
        with _dispatch.use_isa(v):
            plan = fdafast.ConvPlan(w, (1, 512, 4, 14, 14), padding=1, threads=2)
            expected = _tiling.choose_tile(
                batch=1, cin=512, cout=512, groups=1, out=(4, 14, 14), stride=(1, 1, 1),
                kext=(3, 3, 3), itemsize=4, lanes=_native.lanes(np.float32), threads=2,
                params=_tiling.cost_params(v))
            assert plan.tile == expected


def test_schedule(isa):
    service, servers, capacity = [3, 5, 2], [1, 2, 1], [0, 1, 4]
    span, starts = _native.pipeline(17, service, servers, capacity, starts=True)
    ref_span, ref_starts = pipeline_reference(17, service, servers, capacity)
    assert span == ref_span
    np.testing.assert_array_equal(starts, ref_starts)


# -- the C driver, natively and for aarch64 under qemu -----------------------------------

def _build_module():
    spec = importlib.util.spec_from_file_location("fdafast_build_script", ROOT / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_driver(cc, machine, out, extra=()):
    """Compile tests/c/xvariant.c with the library's sources for ``machine``'s variants."""
    build = _build_module()
    chosen = build.variants({}, machine)
    cflags = [f for f in build.compile_flags({"FDAFAST_OPENMP": "0"}, openmp_ok=False)[0]
              if f != "-O3"] + ["-O2"]
    macros = [f"-D{k}={v}" for k, v in build.define_macros(chosen, cflags)]
    srcs = [str(ROOT / s) for s in build.sources(chosen)] + [str(ROOT / "tests/c/xvariant.c")]
    objs = []
    procs = []
    for src in srcs:        # two compilers at a time
        obj = out / (src.replace("/", "_") + ".o")
        objs.append(str(obj))
        procs.append(subprocess.Popen([cc, *cflags, *macros, "-I", str(ROOT / "csrc"), "-c",
                                       src, "-o", str(obj)], stderr=subprocess.PIPE, text=True))
        if len(procs) == 2 or src == srcs[-1]:
            for p in procs:
                _, err = p.communicate(timeout=600)
                assert p.returncode == 0, err
            procs = []
    exe = out / f"xvariant-{machine}"
    res = subprocess.run([cc, *objs, "-o", str(exe), *extra, "-lm"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return exe


def check_driver(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.strip().endswith("xvariant: ok"), \
        res.stdout + res.stderr
    return res.stdout


@pytest.mark.slow
def test_c_driver_native(tmp_path):
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler {cc!r}")
    import platform
    exe = build_driver(cc, platform.machine(), tmp_path)
    out = check_driver([str(exe)])
    for v in RUNNABLE[1:]:
        assert f"ok     {v}" in out


@pytest.mark.slow
def test_c_driver_aarch64_under_qemu(tmp_path):
    """The neon and baseline variants built by Debian's cross compiler agree under
    qemu-user (.ci/run installs gcc-aarch64-linux-gnu and qemu-user)."""
    cc, qemu = "aarch64-linux-gnu-gcc", "qemu-aarch64"
    missing = [t for t in (cc, qemu) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"aarch64 cross tools missing: {', '.join(missing)} "
                    f"(apt-get install gcc-aarch64-linux-gnu qemu-user)")
    exe = build_driver(cc, "aarch64", tmp_path, extra=("-static",))
    out = check_driver([qemu, "-L", "/usr/aarch64-linux-gnu", str(exe)])
    assert "compiled baseline neon; selected by default: neon" in out
    assert "ok     neon      crossbar rowpair 8/8/2b: planes and outputs bit for bit" in out
