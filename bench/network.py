"""Whole-network benchmarks: the float FFT path against torch, and the ReRAM emulation.

Run from the repository root (numpy is slower with these variables set)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.network [--repeat 5]

Prints, with ``--threads`` (default 2) threads for fdafast and torch:

1. one clip (or image) through the network in 'fft' mode against torch's CPU
   forward pass of the same graph and weights (:func:`fdafast.nn.to_torch`),
   after a warm-up (plans built), medians of ``--repeat`` (target for C3D:
   >= 1.3x faster);
2. C3D in 'reram' mode with the fda preset's defaults (ADC ranges calibrated
   on the first clip): seconds for the first clip (plans, weight bit planes,
   calibration), seconds per clip afterwards, and the process's peak
   resident memory; then the same for :func:`fdafast.simulate`, which also
   runs the float reference.  Each in a fresh process, so that the peaks are
   its own (targets: <= 20 s per clip, <= 6 GB).
"""
import argparse
import json
import subprocess
import sys

import numpy as np

from .crossbar import median_time

NETS = ("c3d", "r3d_18", "r2plus1d_18", "resnet18", "vgg16")

_RERAM = r"""
import json, sys, time
import numpy as np, fdafast
from fdafast.nn import zoo
threads, how = int(sys.argv[1]), sys.argv[2]
net = zoo.c3d()
clips = np.random.default_rng(0).random((2, 1) + net.input_shape, dtype=np.float32)
call = (lambda x: fdafast.simulate(net, x, mode="reram", threads=threads)) if how == "simulate" \
    else (lambda x: net.run(x, mode="reram", threads=threads))
t0 = time.perf_counter(); call(clips[0]); t1 = time.perf_counter(); call(clips[1])
t2 = time.perf_counter()
# VmHWM: this process image's peak (ru_maxrss would count the parent's pages at fork)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"first_s": t1 - t0, "next_s": t2 - t1, "peak_gb": int(hwm) * 1024 / 1e9}))
"""


def fft_against_torch(names, threads, repeat):
    import torch
    from fdafast.nn import to_torch, zoo
    torch.set_num_threads(threads)
    print(f"'fft' mode against torch {torch.__version__} (oneDNN), {threads} threads, "
          f"median of {repeat}")
    print(f"{'network':<12} {'fdafast s':>10} {'torch s':>9} {'torch/fdafast':>14} {'rel err':>9}")
    for name in names:
        net = zoo.get(name)
        x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
        tm = to_torch(net)
        tx = torch.from_numpy(x)
        with torch.no_grad():
            ref = tm(tx).numpy()
            tt = median_time(lambda: tm(tx), repeat)
        ft = median_time(lambda: net.run(x, mode="fft", threads=threads), repeat)
        err = np.linalg.norm(net.run(x, mode="fft", threads=threads) - ref) / np.linalg.norm(ref)
        print(f"{name:<12} {ft:10.4f} {tt:9.4f} {tt / ft:13.2f}x {err:9.1e}")


def reram_c3d(threads):
    print(f"\nC3D 'reram' mode, fda preset defaults, {threads} threads (fresh process each)")
    print(f"{'call':<10} {'first clip s':>13} {'next clip s':>12} {'peak GB':>8}")
    for how in ("run", "simulate"):
        out = subprocess.run([sys.executable, "-c", _RERAM, str(threads), how], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{how:<10} {r['first_s']:13.1f} {r['next_s']:12.1f} {r['peak_gb']:8.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nets", nargs="*", default=list(NETS))
    ap.add_argument("--skip-reram", action="store_true")
    args = ap.parse_args(argv)
    fft_against_torch(args.nets, args.threads, args.repeat)
    if not args.skip_reram:
        reram_c3d(args.threads)


if __name__ == "__main__":
    main()
