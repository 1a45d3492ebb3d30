"""Speed-up tables of fdafast against torch and pyFFTW, with the issue's targets.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.conv [--quick]

(``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` are set on the development machine
and slow numpy down; the script leaves the environment alone, so unset them
on the command line as above.)

Options: ``--repeat N`` timed runs per case (default 7, 3 with ``--quick``),
``--threads T`` threads for every backend (default 2), ``--only SUBSTRING``
to run the cases whose id contains it (``c3d``, ``vgg16-conv3_1``, ``fft``),
``--quick`` for a short run.

What is timed
-------------
* Convolutions (batch 1, float32): a :class:`fdafast.ConvPlan` built before
  timing (weight spectra already computed) called with ``threads=T``, against
  ``torch.nn.functional.conv2d``/``conv3d`` with ``torch.set_num_threads(T)``.
  Plans are built with ``threads=T`` so that the tile choice assumes the
  thread count they run with.
* Tile FFTs: fdafast's fused forward plus inverse tile transform
  (``fdafast.fft.rfft_tiles`` then ``irfft_tiles``) on a batch of tiles, against pyFFTW
  ``FFTW`` objects (``FFTW_MEASURE``, ``T`` threads) for ``rfftn`` and
  ``irfftn`` over the last axes of the same batch, planned before timing
  and run with ``execute()`` (unnormalised, like fdafast's inverse).

Each case gets one warm-up call per backend (also used for the error
column), then ``repeat`` rounds timed with ``time.perf_counter``; a round
times each backend once, the backends interleaved (alternating order) so
that machine noise hits both, each timed call right after an untimed one of
the same backend so that it runs with its own data in cache; the table shows
medians.  "ratio" is reference time / fdafast time: above 1 means
fdafast is faster.  "err" is the largest absolute difference from the
reference output relative to the reference's largest magnitude.

Memory: tracemalloc (numpy reports its allocations to it, and the C layer
allocates nothing itself) around the first and a later call of a freshly
planned C3D conv2a; the figure checked against 1 GB is the weight spectra
plus the first call's peak beyond its output (which includes the workspace
the plan allocates then and keeps).

The exit status is 0 whether or not the targets pass: this reports, it does
not gate.
"""
import argparse
import dataclasses
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

from .cases import C3D, CONV2D, CONV_CASES, FFT_CASES, GROUPS, by_id, select
from .runners import fdafast_tile_fft

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is optional: fdafast alone is timed
    torch = None
try:
    import pyfftw
except ImportError:
    pyfftw = None

GIB = 2 ** 30
MIB = 2 ** 20
SEED = 20240607


@dataclasses.dataclass
class Row:
    """One measured case."""

    case: object
    t_fda: float                 #: median seconds
    t_ref: float | None          #: median seconds of the reference, None if not run
    ref: str                     #: reference backend name
    tile: tuple | None
    err: float | None

    @property
    def ratio(self):
        return None if self.t_ref is None else self.t_ref / self.t_fda


# -- timing -------------------------------------------------------------------
#: Pause before switching backends, so the other runtime's threads stop spinning.
SETTLE_S = 0.02


def interleaved_medians(fns, repeat, prime=True):
    """Median seconds of each callable over ``repeat`` rounds, run in turn.

    Each round times every callable once, in alternating order, so that slow
    phases of the machine hit all backends alike.  With ``prime``, each timed
    call follows an untimed call of the same callable, so that it finds its
    own buffers in cache as in a back-to-back loop (and as pytest-benchmark
    times it): alternating 25 MiB tile batches otherwise evict each other
    from a 32 MiB L3 and the FFT ratio measures DRAM rather than the code.
    Before a backend's calls the loop sleeps ``SETTLE_S``: torch's and
    fdafast's OpenMP runtimes (two separate libgomp copies) keep their worker
    threads spinning for a while after a parallel region, and on two cores
    those spinning threads would otherwise steal the next backend's cores.
    The first warm-up of a case is left to the caller.
    """
    times = [[] for _ in fns]
    for r in range(repeat):
        order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
        for i in order:
            if len(fns) > 1:
                time.sleep(SETTLE_S)
            if prime:
                fns[i]()
            t0 = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def rel_err(a, ref):
    """max |a - ref| / max |ref|."""
    ref = np.asarray(ref)
    return float(np.max(np.abs(np.asarray(a) - ref)) / max(np.max(np.abs(ref)), 1e-30))


# -- convolutions -------------------------------------------------------------
def torch_conv(case, x, w):
    """A no-argument callable running torch's convolution, or None without torch."""
    if torch is None:
        return None
    fn = F.conv3d if case.nd == 3 else F.conv2d
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)

    def run():
        with torch.no_grad():
            return fn(xt, wt, padding=case.padding)
    return run


def algorithm(plan):
    """What a plan computes with: its FFT tile, or 'spatial' (fdafast.direct)."""
    from fdafast.direct import FloatDirect
    return "spatial" if isinstance(plan.engine, FloatDirect) else tuple(plan.tile)


def measure_conv(case, rng, threads, repeat):
    """Plan (untimed), warm up and check, then time fdafast and torch interleaved."""
    import fdafast
    x, w = case.make(rng)
    plan = fdafast.ConvPlan(w, x.shape, padding=case.padding, threads=threads)

    def fda():
        return plan(x, threads=threads)
    ref = torch_conv(case, x, w)
    y = fda()
    if ref is None:
        (t_fda,) = interleaved_medians([fda], repeat)
        return Row(case, t_fda, None, "torch", algorithm(plan), None)
    err = rel_err(y, ref().numpy())
    t_fda, t_ref = interleaved_medians([fda, ref], repeat)
    return Row(case, t_fda, t_ref, "torch", algorithm(plan), err)


# -- tile FFTs ----------------------------------------------------------------
def fftw_tile_fft(case, tiles, threads):
    """pyFFTW forward + inverse over the case's axes; returns (run, spectra()) or None."""
    if pyfftw is None:
        return None
    cdt = np.result_type(tiles.dtype, np.complex64)
    a = pyfftw.empty_aligned(tiles.shape, tiles.dtype)
    b = pyfftw.empty_aligned(case.spectrum_shape, cdt)
    c = pyfftw.empty_aligned(tiles.shape, tiles.dtype)
    flags = ("FFTW_MEASURE",)
    fwd = pyfftw.FFTW(a, b, axes=case.axes, direction="FFTW_FORWARD", flags=flags,
                      threads=threads)
    inv = pyfftw.FFTW(b, c, axes=case.axes, direction="FFTW_BACKWARD", flags=flags,
                      threads=threads)
    a[...] = tiles                      # after planning: FFTW_MEASURE overwrites the arrays
    spectra = {}

    def run():
        fwd.execute()
        if not spectra:                 # the first call keeps the spectra (c2r destroys b)
            spectra["b"] = b.copy()
        inv.execute()
        return c
    return run, lambda: spectra["b"]


def measure_fft(case, rng, threads, repeat):
    """Time the fused tile FFT of fdafast against pyFFTW on the same batch."""
    tiles = case.make(rng)
    fda, fda_spec = fdafast_tile_fft(case, tiles, threads)
    fda()
    ref = fftw_tile_fft(case, tiles, threads)
    if ref is None:
        (t_fda,) = interleaved_medians([fda], repeat)
        return Row(case, t_fda, None, "fftw", case.tile, None)
    ref_run, ref_spec = ref
    ref_run()
    err = rel_err(fda_spec(), ref_spec())
    t_fda, t_ref = interleaved_medians([fda, ref_run], repeat)
    return Row(case, t_fda, t_ref, "fftw", case.tile, err)


# -- memory -------------------------------------------------------------------
def measure_memory(case, rng, threads):
    """Bytes a planned call of ``case`` holds beyond its input and output.

    Returns a dict: ``spectra`` (plan.spectrum_nbytes), ``workspace`` (the
    buffer the plan keeps after a call), ``first_call`` and ``later_call``
    (tracemalloc peak during a call minus the output it returns), ``total``
    (spectra + first_call).
    """
    import fdafast
    x, w = case.make(rng)
    plan = fdafast.ConvPlan(w, x.shape, padding=case.padding, threads=threads)
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(2):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            y = plan(x, threads=threads)
            peaks.append(tracemalloc.get_traced_memory()[1] - base - y.nbytes)
            del y
    finally:
        tracemalloc.stop()
    workspace = plan.workspace_nbytes
    return {"case": case, "spectra": plan.spectrum_nbytes, "workspace": workspace,
            "first_call": peaks[0], "later_call": peaks[1],
            "total": plan.spectrum_nbytes + peaks[0]}


# -- targets ------------------------------------------------------------------
def geomean(values):
    values = [v for v in values if v is not None]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


@dataclasses.dataclass
class Target:
    text: str
    value: str
    ok: bool | None             #: None: not measured


def _ratio_target(text, ratio, need):
    if ratio is None:
        return Target(text, "not run", None)
    return Target(text, f"{ratio:.2f}x", ratio >= need)


def targets(rows, memory):
    """The issue's targets, evaluated on what was measured."""
    r = {row.case.id: row.ratio for row in rows}
    c3d = [r.get(c.id) for c in C3D[1:]]
    have = None not in c3d
    out = [_ratio_target("C3D conv2a..conv5b geometric mean >= 1.5x",
                         geomean(c3d) if have else None, 1.5),
           _ratio_target("C3D conv2a..conv5b every layer >= 1.0x",
                         min(c3d) if have else None, 1.0)]
    for c in CONV2D:
        if c.net == "VGG16":
            out.append(_ratio_target(f"VGG16 {c.layer} >= 1.0x", r.get(c.id), 1.0))
    out.append(_ratio_target("7x7 layer (32->32 @ 64x64) >= 2.0x", r.get("k7-32x64"),
                             2.0))
    for c in FFT_CASES:
        out.append(_ratio_target(f"fused tile FFT {c.name} vs pyFFTW >= 1.0x", r.get(c.id), 1.0))
    if memory is None:
        out.append(Target("C3D conv2a planned call memory <= 1 GB", "not run", None))
    else:
        tot = memory["total"]
        out.append(Target("C3D conv2a planned call memory <= 1 GB", f"{tot / MIB:.0f} MiB",
                          tot <= GIB))
    return out


# -- output -------------------------------------------------------------------
def _ms(t):
    return "-" if t is None else f"{t * 1e3:.2f}"


def group_table(group, rows):
    """(title, header, body rows, footer row) of one group's table."""
    ref = rows[0].ref
    header = ["layer", "shape", "fdafast ms", f"{ref} ms", f"{ref}/fdafast", "tile", "err"]
    body = [[row.case.id, row.case.shape_text, _ms(row.t_fda), _ms(row.t_ref),
             "-" if row.ratio is None else f"{row.ratio:.2f}x",
             ("x".join(map(str, row.tile)) if isinstance(row.tile, tuple) else row.tile)
             if row.tile else "-",
             "-" if row.err is None else f"{row.err:.1e}"] for row in rows]
    gm = geomean([row.ratio for row in rows])
    footer = ["geomean", "", "", "", "-" if gm is None else f"{gm:.2f}x", "", ""]
    return group, header, body, footer


def print_table(title, header, body, footer=None):
    """A rich table if rich is installed, else plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        allrows = [header] + body + ([footer] if footer else [])
        widths = [max(len(str(r[i])) for r in allrows) for i in range(len(header))]

        def line(r):        # the first two columns are text (left), the rest numbers (right)
            return "  ".join(str(v).rjust(w) if i >= 2 else str(v).ljust(w)
                             for i, (v, w) in enumerate(zip(r, widths))).rstrip()
        rule = "-" * len(line(header))
        print(f"\n{title}\n{rule}\n{line(header)}\n{rule}")
        for r in body:
            print(line(r))
        if footer:
            print(f"{rule}\n{line(footer)}")
        return
    table = Table(title=title, show_footer=footer is not None)
    for i, h in enumerate(header):
        table.add_column(h, footer=footer[i] if footer else "",
                         justify="right" if i >= 2 else "left")
    for r in body:
        table.add_row(*map(str, r))
    Console().print(table)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_machine(threads):
    import fdafast
    from fdafast import _native
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPU: {cpu_model()} ({usable} usable CPUs); benchmark threads: {threads}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}, "
          f"pyfftw {pyfftw.__version__ if pyfftw else 'not installed'}, "
          f"fdafast {fdafast.__version__} (OpenMP: {'yes' if _native.has_openmp() else 'no'})")
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()
        busy = "; other work may be running, expect noise" if load[0] > 0.5 else ""
        print("load average (1, 5, 15 min): %.2f %.2f %.2f%s" % (*load, busy))
    odd = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if odd:
        print(f"note: {', '.join(odd)} set; numpy may be slow "
              f"(run with env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)")


def print_memory(m):
    print(f"\nmemory of a planned {m['case'].id} call ({m['case'].shape_text}), beyond input "
          f"and output:\n  weight spectra {m['spectra'] / MIB:.1f} MiB, workspace "
          f"{m['workspace'] / MIB:.1f} MiB;\n  tracemalloc peak of the first call "
          f"{m['first_call'] / MIB:.1f} MiB (includes the workspace), of a later call "
          f"{m['later_call'] / MIB:.1f} MiB;\n  total (spectra + first call) "
          f"{m['total'] / MIB:.1f} MiB")


def print_targets(tgts):
    body = [[t.text, t.value, "n/a" if t.ok is None else ("PASS" if t.ok else "FAIL")]
            for t in tgts]
    print_table("targets", ["target", "measured", "result"], body)


# -- driver -------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.conv", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per case (default 7, or 3 with --quick)")
    p.add_argument("--threads", type=int, default=2, help="threads for every backend")
    p.add_argument("--only", default=None, help="run only cases whose id contains this")
    p.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 7
    if args.repeat < 1 or args.threads < 1:
        p.error("--repeat and --threads must be >= 1")
    return args


def setup_threads(threads):
    os.environ["FDAFAST_NUM_THREADS"] = str(threads)   # the tile choice reads it
    if torch is not None:
        torch.set_num_threads(threads)


def main(argv=None):
    args = parse_args(argv)
    setup_threads(args.threads)
    t_start = time.perf_counter()
    print_machine(args.threads)
    print(f"repeat {args.repeat}, medians after one warm-up; ratio > 1: fdafast is faster")
    rng = np.random.default_rng(SEED)
    rows = [measure_conv(c, rng, args.threads, args.repeat)
            for c in select(CONV_CASES, args.only)]
    rows += [measure_fft(c, rng, args.threads, args.repeat)
             for c in select(FFT_CASES, args.only)]
    for g in GROUPS:
        grp = [r for r in rows if r.case.group == g]
        if grp:
            print_table(*group_table(g, grp))
    mem_case = by_id("c3d-conv2a")
    memory = None
    if mem_case in select(CONV_CASES, args.only):
        memory = measure_memory(mem_case, rng, args.threads)
        print_memory(memory)
    print_targets(targets(rows, memory))
    print(f"\n({time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
