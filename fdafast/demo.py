"""Demo: convolve a C3D-sized video clip with fdafast's tiled FFT engine.

Run ``python -m fdafast.demo [--threads N] [--repeat R] [--seed S]``.

For C3D's conv1 (3 -> 64 channels on a 3x16x112x112 clip) and conv2a
(64 -> 128 on the 64x16x56x56 feature map that follows), it prints the
median time of a planned fdafast call, the time of
``torch.nn.functional.conv3d`` on the same input when torch is installed,
and the relative error against a float64 reference: torch in float64 when
available, otherwise an exact float64 dot product at 512 random output
positions.
"""
import argparse
import platform
import time

import numpy as np

from . import ConvPlan, _native
from ._args import default_threads

LAYERS = (
    ("conv1", 3, 64, (16, 112, 112)),
    ("conv2a", 64, 128, (16, 56, 56)),
)


def _median_time(fn, repeat):
    fn()                                   # warm-up outside the timed region
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def spot_check(x, w, y, rng, samples=512):
    """Relative error of ``y`` at random output positions, against float64 dot products.

    ``x`` is (1, C, D, H, W), ``w`` (Cout, C, 3, 3, 3), padding 1, stride 1.
    """
    xp = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1), (1, 1)))
    w64 = w.astype(np.float64).reshape(w.shape[0], -1)
    cout, (d, h, wd) = y.shape[1], y.shape[2:]
    idx = np.stack([rng.integers(0, n, samples) for n in (cout, d, h, wd)], axis=1)
    ref = np.array([w64[o] @ xp[:, i:i + 3, j:j + 3, k:k + 3].ravel() for o, i, j, k in idx])
    got = y[0][tuple(idx.T)].astype(np.float64)
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def _torch():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None, None
    return torch, F


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fdafast and torch (default: all usable CPUs)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threads = args.threads or default_threads()
    rng = np.random.default_rng(args.seed)
    torch, F = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"fdafast demo: C3D layers on one clip, float32, {threads} thread(s), "
          f"{platform.processor() or platform.machine()}, OpenMP={_native.has_openmp()}")
    print(f"{'layer':8} {'input':>18} {'tile':>12} {'fdafast ms':>11} {'torch ms':>9} "
          f"{'speedup':>8} {'rel. error':>11}  reference")
    for name, cin, cout, spatial in LAYERS:
        x = rng.standard_normal((1, cin) + spatial).astype(np.float32)
        w = (rng.standard_normal((cout, cin, 3, 3, 3)) * np.sqrt(2 / (27 * cin))).astype(np.float32)
        plan = ConvPlan(w, x.shape, padding=1)
        t_fda = _median_time(lambda: plan(x, threads=threads), args.repeat)
        y = plan(x, threads=threads)
        t_torch, speed = float("nan"), float("nan")
        if torch is not None:
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            t_torch = _median_time(lambda: F.conv3d(xt, wt, padding=1), args.repeat)
            speed = t_torch / t_fda
            ref = F.conv3d(xt.double(), wt.double(), padding=1).numpy()
            err, how = float(np.linalg.norm(y - ref) / np.linalg.norm(ref)), "torch float64"
        else:
            err, how = spot_check(x, w, y, rng), "float64 dot products, 512 positions"
        shape = "x".join(map(str, (cin,) + spatial))
        print(f"{name:8} {shape:>18} {str(plan.tile):>12} {t_fda * 1e3:11.2f} "
              f"{t_torch * 1e3:9.2f} {speed:7.2f}x {err:11.2e}  {how}")
    if torch is None:
        print("(torch is not installed: no torch timing; pip install torch to compare)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
