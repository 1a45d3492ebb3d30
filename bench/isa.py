"""fdafast per instruction-set variant, side by side in one run: ratio tables.

Run from the repository root (numpy is slower with these variables set)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.isa [--quick]

For every variant this machine runs (``fdafast._dispatch``), switched with
``use_isa`` inside one process, interleaved round by round with the
reference so that machine noise hits all alike (``bench.conv``'s
``interleaved_medians``):

1. ``fdafast.crossbar.cmatmul`` on M=3136, K=64, N=128 (the crossbar
   benchmark's settings: rowpair, 128 rows, 8-bit operands, 2-bit cells,
   1-bit DACs, 6-bit ADC) against a numpy complex64 matmul: the time as a
   multiple of numpy's (target: <= 10x); results checked bit-identical
   across variants;
2. ``fdafast.crossbar.matmul``, the real product, on M=3136, K=128, N=128
   with the same settings (one row per channel: one 128-row block) against
   a numpy float32 matmul (target: <= 10x); results checked bit-identical
   across variants;
3. C3D conv2a..conv5b (batch 1, float32), a ConvPlan per variant (its tile
   chosen with that variant's constants) against torch's conv3d: torch /
   fdafast (target: geometric mean >= 1.5x, no layer below 1x).

Options: ``--threads`` (default 2), ``--repeat`` (default 5, 2 with
``--quick``), ``--only SUBSTRING`` (``cmatmul``, ``matmul`` or a layer name).  The exit
status is 0 whatever the results (it reports, it does not gate).
"""
import argparse
import sys
import time

import numpy as np

import fdafast
from fdafast import CrossbarConfig, _dispatch
from fdafast.crossbar import cmatmul, matmul

from .conv import (algorithm, geomean, interleaved_medians, print_machine, print_table,
                   setup_threads, torch)
from .crossbar import BENCH_CONFIG, SEED

LAYERS = [("conv2a", 64, 128, (16, 56, 56)), ("conv3a", 128, 256, (8, 28, 28)),
          ("conv3b", 256, 256, (8, 28, 28)), ("conv4a", 256, 512, (4, 14, 14)),
          ("conv4b", 512, 512, (4, 14, 14)), ("conv5a", 512, 512, (2, 7, 7)),
          ("conv5b", 512, 512, (2, 7, 7))]


def _label(algo):
    return algo if isinstance(algo, str) else "x".join(map(str, algo))


def runnable():
    return [v for v in _dispatch.isa_variants() if v in _dispatch.isa_supported()]


def in_variant(variant, fn):
    """fn run with ``variant`` selected."""
    def run():
        with _dispatch.use_isa(variant):
            return fn()
    return run


def bench_cmatmul(rng, threads, repeat, variants):
    M, K, N = 3136, 64, 128
    x = rng.integers(-127, 128, (M, K)) + 1j * rng.integers(-127, 128, (M, K))
    w = rng.integers(-127, 128, (K, N)) + 1j * rng.integers(-127, 128, (K, N))
    _bench_product("cmatmul", cmatmul, x, w, np.complex64, threads, repeat, variants)


def bench_matmul(rng, threads, repeat, variants):
    M, K, N = 3136, 128, 128
    x = rng.integers(-127, 128, (M, K)).astype(np.float64)
    w = rng.integers(-127, 128, (K, N)).astype(np.float64)
    _bench_product("matmul (real)", matmul, x, w, np.float32, threads, repeat, variants)


def _bench_product(name, product, x, w, dtype, threads, repeat, variants):
    """``product(x, w)`` (BENCH_CONFIG's crossbars) per variant against numpy's
    ``dtype`` matmul, interleaved; results checked identical across variants."""
    cfg = CrossbarConfig(**BENCH_CONFIG)
    a, b = x.astype(dtype), w.astype(dtype)
    fns = [in_variant(v, lambda: product(x, w, cfg, threads=threads)[0]) for v in variants]
    ys = [f() for f in fns]
    same = all(np.array_equal(y, ys[0]) for y in ys)
    times = interleaved_medians(fns + [lambda: a @ b], repeat)
    t_np = times[-1]
    body = [[v, "", f"{t * 1e3:.1f}", f"{t / t_np:.1f}x"] for v, t in zip(variants, times)]
    body.append([f"numpy {np.dtype(dtype).name}", "", f"{t_np * 1e3:.2f}", "1.0x"])
    (M, K), N = x.shape, w.shape[1]
    print_table(f"{name} {M}x{K} @ {K}x{N}, {threads} threads "
                f"(results {'identical' if same else 'DIFFER'} across variants; target <= 10x)",
                ["variant", "", "ms", "x numpy"], body)


def bench_layers(rng, threads, repeat, variants, only):
    ratios = {v: [] for v in variants}
    body = []
    for name, cin, cout, spatial in LAYERS:
        if only and only not in name:
            continue
        x = rng.random((1, cin) + spatial).astype(np.float32)
        w = (rng.standard_normal((cout, cin, 3, 3, 3)) * np.sqrt(2 / (27 * cin))).astype(
            np.float32)
        plans = {}
        for v in variants:
            with _dispatch.use_isa(v):
                plans[v] = fdafast.ConvPlan(w, x.shape, padding=1, threads=threads)
        fns = [in_variant(v, lambda p=plans[v]: p(x, threads=threads)) for v in variants]
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)

        def ref():
            with torch.no_grad():
                return torch.nn.functional.conv3d(xt, wt, padding=1)
        for f in fns + [ref]:
            f()
        times = interleaved_medians(fns + [ref], repeat)
        row = [name, "", f"{times[-1] * 1e3:.1f}"]
        for v, t in zip(variants, times):
            ratios[v].append(times[-1] / t)
            row += [f"{t * 1e3:.1f}", f"{times[-1] / t:.2f}x",
                    _label(algorithm(plans[v]))]
        body.append(row)
        del plans
    header = ["layer", "", "torch ms"]
    for v in variants:
        header += [f"{v} ms", "ratio", "tile"]      # or 'spatial' (fdafast.direct)
    footer = ["geomean", "", ""]
    for v in variants:
        gm = geomean(ratios[v])
        footer += ["", "-" if gm is None else f"{gm:.2f}x",
                   "" if not ratios[v] else f"min {min(ratios[v]):.2f}"]
    print_table(f"C3D layers, batch 1, float32, {threads} threads: torch / fdafast "
                f"(target: geomean >= 1.5x, none < 1x)", header, body, footer)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.isa", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--only", default=None)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 5)
    setup_threads(args.threads)
    t0 = time.perf_counter()
    print_machine(args.threads)
    fdafast.show_config()
    variants = runnable()
    rng = np.random.default_rng(SEED)
    if not args.only or (args.only in "cmatmul" and args.only != "matmul"):
        bench_cmatmul(rng, args.threads, repeat, variants)
    if not args.only or args.only == "matmul":
        bench_matmul(rng, args.threads, repeat, variants)
    if torch is not None and (not args.only or args.only not in ("cmatmul", "matmul")):
        bench_layers(rng, args.threads, repeat, variants, args.only)
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
