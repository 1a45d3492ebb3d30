"""pytest-benchmark: the crossbar emulation against the float baselines.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/bench_crossbar.py --benchmark-only

For the ratio tables and the accuracy table in one run, use
``python -m bench.crossbar``.
"""
import numpy as np
import pytest

import fdafast
from bench.crossbar import BENCH_CONFIG, conv2a_data
from fdafast import CrossbarConfig, ReRAM
from fdafast.crossbar import cmatmul


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(7)
    M, K, N = 3136, 64, 128
    x = rng.integers(-127, 128, (M, K)) + 1j * rng.integers(-127, 128, (M, K))
    w = rng.integers(-127, 128, (K, N)) + 1j * rng.integers(-127, 128, (K, N))
    return x, w


@pytest.mark.benchmark(group="cmatmul-3136x64x128")
@pytest.mark.parametrize("backend", ["fdafast-crossbar", "numpy-complex64"])
def test_cmatmul(benchmark, backend, operands, threads):
    x, w = operands
    if backend == "numpy-complex64":
        a, b = x.astype(np.complex64), w.astype(np.complex64)
        benchmark(lambda: a @ b)
    else:
        cfg = CrossbarConfig(**BENCH_CONFIG)
        cmatmul(x, w, cfg, threads=threads)                  # warm-up
        benchmark(lambda: cmatmul(x, w, cfg, threads=threads))


@pytest.mark.benchmark(group="c3d-conv2a-engines")
@pytest.mark.parametrize("engine", ["float", "reram"])
def test_conv2a_engine(benchmark, engine, threads):
    x, w = conv2a_data(np.random.default_rng(7))
    eng = ReRAM(CrossbarConfig(**BENCH_CONFIG)) if engine == "reram" else None
    plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=eng, threads=threads)
    plan(x)                                                  # warm-up: spectra, layouts
    benchmark.pedantic(plan, args=(x,), rounds=5 if engine == "reram" else 20)
