"""Crossbar emulation benchmarks and the accuracy table, in one run.

Run from the repository root (numpy is slower with these variables set)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.crossbar [--quick]

Prints, with ``--threads`` (default 2) threads everywhere:

1. ``fdafast.crossbar.cmatmul`` on M=3136, K=64, N=128 (rowpair PE, 128 rows,
   8-bit inputs and weights, 2-bit cells, 1-bit DACs, 6-bit ADC: the ADC
   quantizes) against a numpy complex64 matmul of the same shape
   (target: <= 10x);
2. C3D conv2a (64x16x56x56 -> 128, 3x3x3, padding 1) through the ReRAM
   engine with those settings against the float FFT path on the same
   layer, both planned before timing (target: <= 20x);
3. the SNR (dB) of the ReRAM output against the float path on conv2a, with
   He-initialised weights and random non-negative activations, for ADC bits
   4..10 and cell bits 1, 2, 4, without calibration (ADC full scale = the
   largest possible column sum, input scale per tile) and with it (ADC full
   scale and input scale from the 99.9th percentile of the same clip).

Medians over ``--repeat`` runs after a warm-up.  The exit status is 0
whatever the results (it reports, it does not gate).
"""
import argparse
import statistics
import time

import numpy as np

import fdafast
from fdafast import CrossbarConfig, ReRAM
from fdafast.crossbar import cmatmul

SEED = 20241127
BENCH_CONFIG = dict(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                    adc_bits=6)
CONV2A = dict(cin=64, cout=128, spatial=(16, 56, 56))


def median_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def snr_db(y, ref):
    """10 log10 of signal over error power."""
    err = np.sum((np.asarray(y, np.float64) - ref) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(ref ** 2) / err))


def conv2a_data(rng):
    """Random non-negative activations and He-initialised weights of C3D conv2a."""
    c = CONV2A
    x = rng.random((1, c["cin"]) + c["spatial"]).astype(np.float32)
    fan_in = c["cin"] * 27
    w = (rng.standard_normal((c["cout"], c["cin"], 3, 3, 3)) * np.sqrt(2.0 / fan_in))
    return x, w.astype(np.float32)


def bench_cmatmul(rng, threads, repeat):
    M, K, N = 3136, 64, 128
    cfg = CrossbarConfig(**BENCH_CONFIG)
    x = rng.integers(-127, 128, (M, K)) + 1j * rng.integers(-127, 128, (M, K))
    w = rng.integers(-127, 128, (K, N)) + 1j * rng.integers(-127, 128, (K, N))
    t_xbar = median_time(lambda: cmatmul(x, w, cfg, threads=threads), repeat)
    a, b = x.astype(np.complex64), w.astype(np.complex64)
    t_np = median_time(lambda: a @ b, 5 * repeat)
    return t_xbar, t_np


def bench_conv2a(x, w, threads, repeat):
    cfg = CrossbarConfig(**BENCH_CONFIG)
    reram = fdafast.ConvPlan(w, x.shape, padding=1, engine=ReRAM(cfg), threads=threads)
    flt = fdafast.ConvPlan(w, x.shape, padding=1, threads=threads)
    t_reram = median_time(lambda: reram(x), repeat)
    t_float = median_time(lambda: flt(x), 3 * repeat)
    return t_reram, t_float, reram.last_counts


def accuracy_table(x, w, threads, adc_bits, cell_bits):
    """SNR rows: (cell_bits, adc_bits, snr uncalibrated, snr calibrated)."""
    ref = fdafast.ConvPlan(w, x.shape, padding=1, threads=threads)(x.astype(np.float64))
    rows = []
    for cb in cell_bits:
        for ab in adc_bits:
            base = CrossbarConfig(**dict(BENCH_CONFIG, cell_bits=cb, adc_bits=ab))
            plain = fdafast.ConvPlan(w, x.shape, padding=1, threads=threads,
                                     engine=ReRAM(base))
            cal = fdafast.ConvPlan(w, x.shape, padding=1, threads=threads,
                                   engine=ReRAM(base.replace(adc_full_scale="calibrate"),
                                                input_scale="calibrated"))
            cal.calibrate(x)
            rows.append((cb, ab, snr_db(plain(x), ref), snr_db(cal(x), ref),
                         cal.calibration["adc_full_scale"], base.s_max))
            print(f"  cell_bits {cb} adc_bits {ab:2d}: {rows[-1][2]:6.1f} dB / "
                  f"{rows[-1][3]:6.1f} dB calibrated", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats; accuracy table for ADC bits 4, 6, 8 only")
    args = p.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    rng = np.random.default_rng(SEED)
    print(f"threads {args.threads}, repeat {repeat} (medians); fdafast {fdafast.__version__}, "
          f"numpy {np.__version__}")

    t_xbar, t_np = bench_cmatmul(rng, args.threads, repeat)
    r1 = t_xbar / t_np
    print("\ncmatmul 3136x64 @ 64x128, rowpair 128 rows, 8b/8b, cell 2b, DAC 1b, ADC 6b")
    print(f"  fdafast cmatmul {t_xbar * 1e3:8.2f} ms   numpy complex64 matmul "
          f"{t_np * 1e3:6.3f} ms   ratio {r1:5.1f}x   target <= 10x: "
          f"{'PASS' if r1 <= 10 else 'FAIL'}")

    x, w = conv2a_data(rng)
    t_reram, t_float, counts = bench_conv2a(x, w, args.threads, repeat)
    r2 = t_reram / t_float
    print("\nC3D conv2a (64x16x56x56 -> 128, 3x3x3, p1), same crossbar settings")
    print(f"  ReRAM engine {t_reram:7.3f} s   float FFT path {t_float * 1e3:6.2f} ms   "
          f"ratio {r2:5.1f}x   target <= 20x: {'PASS' if r2 <= 20 else 'FAIL'}")
    print(f"  events per call: {counts.adc_conversions:,} ADC conversions, "
          f"{counts.reads:,} crossbar reads, {counts.cells:,} cells")

    adc = (4, 6, 8) if args.quick else tuple(range(4, 11))
    print("\nSNR of the ReRAM engine against the float path, C3D conv2a "
          "(uncalibrated / calibrated at the 99.9th percentile)")
    rows = accuracy_table(x, w, args.threads, adc, (1, 2, 4))
    print(f"\n  {'cell bits':>9} {'ADC bits':>8} {'SNR dB':>8} {'calibrated':>10} "
          f"{'cal. full scale':>15} {'S_max':>6}")
    for cb, ab, s0, s1, fs, smax in rows:
        print(f"  {cb:9d} {ab:8d} {s0:8.1f} {s1:10.1f} {fs:15.0f} {smax:6d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
