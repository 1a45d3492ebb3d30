"""Fixtures of the pytest-benchmark suite: a seeded rng and the thread setup.

Threads default to 2 for every backend; change with ``--bench-threads N``.
``bench_*.py`` files are collected when ``bench/`` itself is given to pytest
(``python -m pytest bench --benchmark-only``); a plain ``pytest`` run stays in
``tests/`` (the project's ``testpaths``).
"""
import os
import pathlib

import numpy as np
import pytest

SEED = 20240607
BENCH_DIR = pathlib.Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int, default=2,
                     help="threads for fdafast, torch and FFTW in the benchmarks (default 2)")


def pytest_collect_file(file_path, parent):
    """Collect ``bench_*.py`` when ``bench/`` is named on the command line.

    pytest only collects ``test_*.py`` by default; a file named explicitly is
    collected anyway, so it is left alone here.  Requiring ``bench/`` itself
    to be named keeps a bare ``pytest`` (even one that falls back to the
    repository root) from running the benchmarks.
    """
    session = parent.session
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") \
            and session.isinitpath(BENCH_DIR) and not session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, so every backend sees the same data."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def threads(pytestconfig):
    """The thread count, applied to torch and to fdafast's tile choice for the session."""
    n = pytestconfig.getoption("--bench-threads")
    old_env = os.environ.get("FDAFAST_NUM_THREADS")
    os.environ["FDAFAST_NUM_THREADS"] = str(n)       # ConvPlan picks its tile for n threads
    try:
        import torch
    except ImportError:
        torch = None
    old_torch = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(n)
    yield n
    if torch:
        torch.set_num_threads(old_torch)
    if old_env is None:
        os.environ.pop("FDAFAST_NUM_THREADS", None)
    else:
        os.environ["FDAFAST_NUM_THREADS"] = old_env
