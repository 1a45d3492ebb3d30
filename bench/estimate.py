"""Cost-model benchmarks: network estimates, estimates at huge batches, a 1,000-point
design sweep, and the comparison of the presets in both residency modes.

Run from the repository root::

    python -m bench.estimate [--repeat 7]

Prints:

1. the seconds to estimate all of C3D and all of VGG16 on each preset, in both
   weight-residency modes (:func:`fdafast.estimate`, accelerator built
   beforehand; target < 0.05 s for C3D on any preset);
2. the seconds of an estimate of C3D at a batch of 10^10 and 10^15 (the schedule
   is extrapolated beyond its walk limit: milliseconds at any batch);
3. the seconds of a 1,000-point sweep over C3D on the ``fda`` preset:
   ADC bits 4..13 x crossbar size 64, 128, 256, 512 x 3D tile 4x4x4, 4x8x8,
   8x8x8, 4x16x16, 8x16x16 x cell bits 1, 2, 3, 4, 8, each point building its
   accelerator (validation included) and estimating the network (target < 60 s);
4. the comparison of fda, isaac and asic-fft on C3D and VGG16, pipelined and
   reprogrammed.

Single-threaded Python with the native schedule kernel; medians over
``--repeat`` runs after a warm-up.  The machine (CPUs, load) is printed first:
the timings are wall-clock and move with other work on the machine.
"""
import argparse
import itertools
import os
import platform
import time
import warnings

import fdafast
from fdafast import cost, report, workloads

from .crossbar import median_time

SWEEP = dict(adc_bits=range(4, 14), size=(64, 128, 256, 512),
             tile=([4, 4, 4], [4, 8, 8], [8, 8, 8], [4, 16, 16], [8, 16, 16]),
             cell_bits=(1, 2, 3, 4, 8))
RESIDENCIES = ("pipelined", "reprogram")


def sweep_points():
    """The 1,000 override dicts of the sweep."""
    for adc, size, tile, cell in itertools.product(*SWEEP.values()):
        yield {"crossbar.adc_bits": adc, "crossbar.rows": size, "crossbar.cols": size,
               "frequency.tile_3d": tile, "crossbar.cell_bits": cell}


def run_sweep(layers, preset="fda"):
    """(seconds, results) of the sweep: results are (overrides, frames/s, energy J)."""
    base = fdafast.Accelerator.from_preset(preset)
    t0 = time.perf_counter()
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cost.AdcResolutionWarning)
        for ov in sweep_points():
            t = cost.estimate(layers, base.replace(**ov)).totals
            out.append((ov, t["frames_per_s"], t["energy_j"]))
    return time.perf_counter() - t0, out


def machine():
    """One line: the CPU, the usable CPUs and the load average."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{platform.processor() or platform.machine()}, {cpus} usable CPUs, load "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, Python {platform.python_version()}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", cost.AdcResolutionWarning)
    print(machine())
    nets = {"c3d": workloads.c3d(), "vgg16": workloads.vgg16()}
    print("\none network estimate (median s, target < 0.05 s for c3d)")
    print(f"{'preset':<10} {'residency':<10} {'c3d':>9} {'vgg16':>9}")
    for name in fdafast.presets():
        for res in RESIDENCIES:
            acc = fdafast.Accelerator.from_preset(name, execution__residency=res)
            ts = [median_time(lambda: cost.estimate(n, acc), args.repeat) for n in nets.values()]
            print(f"{name:<10} {res:<10} {ts[0]:9.4f} {ts[1]:9.4f}")
    print("\nc3d at a huge batch (s; the schedule is extrapolated, milliseconds at any batch)")
    for name in fdafast.presets():
        acc = fdafast.Accelerator.from_preset(name)
        ts = [median_time(lambda: cost.estimate(workloads.c3d(batch=b), acc), 3)
              for b in (10 ** 10, 10 ** 15)]
        print(f"{name:<10} batch 1e10 {ts[0]:.4f}   batch 1e15 {ts[1]:.4f}")
    secs, res = run_sweep(nets["c3d"])
    best = max(res, key=lambda r: r[1] / r[2])
    print(f"\n1,000-point sweep over C3D on fda: {secs:.2f} s (target < 60 s); "
          f"{len(res)} points; best frames/s per J: {best[0]}")
    for net, layers in nets.items():
        for res_mode in RESIDENCIES:
            print(f"\n{net}, {res_mode}")
            print(report.to_text(report.comparison_table(
                cost.compare(layers, residency=res_mode), title=None, compact=True)), end="")


if __name__ == "__main__":
    main()
