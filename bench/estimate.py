"""Cost-model benchmarks: one network estimate, and a 1,000-point design sweep.

Run from the repository root::

    python -m bench.estimate [--repeat 7]

Prints:

1. the seconds to estimate all of C3D and all of VGG16 on each preset
   (:func:`fdafast.estimate`, accelerator built beforehand; target < 0.5 s);
2. the seconds of a 1,000-point sweep over C3D on the ``fda`` preset:
   ADC bits 4..13 x crossbar size 64, 128, 256, 512 x 3D tile 4x4x4, 4x8x8,
   8x8x8, 4x16x16, 8x16x16 x cell bits 1, 2, 3, 4, 8, each point building its
   accelerator (validation included) and estimating the network (target < 60 s);
3. the comparison of fda, isaac and asic-fft on C3D and VGG16.

Single-threaded Python with the native schedule kernel; medians over
``--repeat`` runs after a warm-up.
"""
import argparse
import itertools
import time

import fdafast
from fdafast import cost, report, workloads

from .crossbar import median_time

SWEEP = dict(adc_bits=range(4, 14), size=(64, 128, 256, 512),
             tile=([4, 4, 4], [4, 8, 8], [8, 8, 8], [4, 16, 16], [8, 16, 16]),
             cell_bits=(1, 2, 3, 4, 8))


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
    for ov in sweep_points():
        t = cost.estimate(layers, base.replace(**ov)).totals
        out.append((ov, t["frames_per_s"], t["energy_j"]))
    return time.perf_counter() - t0, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    nets = {"c3d": workloads.c3d(), "vgg16": workloads.vgg16()}
    print("one network estimate (median s, target < 0.5 s)")
    print(f"{'preset':<10} {'c3d':>9} {'vgg16':>9}")
    for name in fdafast.presets():
        acc = fdafast.Accelerator.from_preset(name)
        ts = [median_time(lambda: cost.estimate(n, acc), args.repeat) for n in nets.values()]
        print(f"{name:<10} {ts[0]:9.4f} {ts[1]:9.4f}")
    secs, res = run_sweep(nets["c3d"])
    best = max(res, key=lambda r: r[1] / r[2])
    print(f"\n1,000-point sweep over C3D on fda: {secs:.2f} s (target < 60 s); "
          f"{len(res)} points; best frames/s per J: {best[0]}")
    for net, layers in nets.items():
        print(f"\n{net}")
        print(report.to_text(report.comparison_table(cost.compare(layers), title=None,
                                                     compact=True)), end="")


if __name__ == "__main__":
    main()
