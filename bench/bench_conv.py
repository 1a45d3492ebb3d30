"""pytest-benchmark suite: fdafast against torch (and pyFFTW for the tile FFTs).

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/bench_conv.py --benchmark-only

Each benchmark is grouped by case, so pytest-benchmark's table compares the
backends of one case side by side.  Planning (fdafast's weight spectra,
FFTW_MEASURE plans) happens before timing, followed by one warm-up call.
A backend that is not installed is skipped.  For the speed-up tables and
the issue's targets in one run, use ``python -m bench.conv``.
"""

import pytest

from bench.cases import CONV_CASES, FFT_CASES
from bench.conv import algorithm
from bench.runners import fdafast_tile_fft

CONV_BACKENDS = ("fdafast", "torch")
FFT_BACKENDS = ("fdafast", "torch", "fftw")


# -- runners: each returns a no-argument callable, everything planned ----------
def fdafast_conv(case, x, w, threads):
    import fdafast
    plan = fdafast.ConvPlan(w, x.shape, padding=case.padding, threads=threads)
    algo = algorithm(plan)
    return lambda: plan(x, threads=threads), {"tile": algo if isinstance(algo, str) else list(algo)}


def torch_conv(case, x, w, threads):
    torch = pytest.importorskip("torch")
    fn = torch.nn.functional.conv3d if case.nd == 3 else torch.nn.functional.conv2d
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    return lambda: fn(xt, wt, padding=case.padding), {}


def fdafast_fft(case, tiles, threads):
    return fdafast_tile_fft(case, tiles, threads)[0]


def torch_fft(case, tiles, threads):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(tiles)
    dims = case.axes
    shape = tiles.shape[len(tiles.shape) - len(dims):]
    return lambda: torch.fft.irfftn(torch.fft.rfftn(t, dim=dims), s=shape, dim=dims)


def fftw_fft(case, tiles, threads):
    pyfftw = pytest.importorskip("pyfftw")
    a = pyfftw.empty_aligned(tiles.shape, tiles.dtype)
    b = pyfftw.empty_aligned(case.spectrum_shape, "complex64")
    c = pyfftw.empty_aligned(tiles.shape, tiles.dtype)
    kw = dict(axes=case.axes, flags=("FFTW_MEASURE",), threads=threads)
    fwd = pyfftw.FFTW(a, b, direction="FFTW_FORWARD", **kw)
    inv = pyfftw.FFTW(b, c, direction="FFTW_BACKWARD", **kw)
    a[...] = tiles                       # FFTW_MEASURE overwrote the arrays while planning

    def run():
        fwd.execute()
        inv.execute()                    # unnormalised, like fdafast's tile_irfft
    return run


CONV_RUNNERS = {"fdafast": fdafast_conv, "torch": torch_conv}
FFT_RUNNERS = {"fdafast": fdafast_fft, "torch": torch_fft, "fftw": fftw_fft}


# -- benchmarks ---------------------------------------------------------------
@pytest.mark.parametrize("backend", CONV_BACKENDS)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c.id)
def test_conv(benchmark, case, backend, rng, threads):
    """One batch-1 float32 convolution layer; fdafast with a prebuilt ConvPlan."""
    x, w = case.make(rng)
    run, info = CONV_RUNNERS[backend](case, x, w, threads)
    run()                                # warm-up: first-call buffers, oneDNN primitives
    benchmark.group = case.id
    benchmark.extra_info.update(backend=backend, shape=case.shape_text, gflop=case.flops / 1e9,
                                threads=threads, **info)
    benchmark(run)


@pytest.mark.parametrize("backend", FFT_BACKENDS)
@pytest.mark.parametrize("case", FFT_CASES, ids=lambda c: c.id)
def test_tile_fft(benchmark, case, backend, rng, threads):
    """Forward plus inverse real FFT of a batch of tiles (float32)."""
    tiles = case.make(rng)
    run = FFT_RUNNERS[backend](case, tiles, threads)
    run()                                # warm-up
    benchmark.group = case.id
    benchmark.extra_info.update(backend=backend, shape=case.shape_text, threads=threads)
    benchmark(run)
