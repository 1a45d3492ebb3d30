"""Fuzzing of every surface (tests/fuzz_driver.py), each in its own subprocess so that a
crash is seen as one: nothing but a correct result or a FdafastError may come out.

The examples are derandomized (the same cases every run) and bounded so that the whole
file takes about a minute; set FDAFAST_FUZZ_SCALE (e.g. 10) for a longer campaign.
"""
import os
import pathlib
import subprocess
import sys

import pytest

DRIVER = pathlib.Path(__file__).with_name("fuzz_driver.py")
SCALE = float(os.environ.get("FDAFAST_FUZZ_SCALE", "1"))
EXAMPLES = {"conv": 400, "crossbar": 300, "toml": 250, "files": 200, "cli": 150}


@pytest.mark.parametrize("surface", sorted(EXAMPLES))
def test_surface_gives_results_or_fdafast_errors(surface):
    n = max(1, int(EXAMPLES[surface] * SCALE))
    r = subprocess.run([sys.executable, str(DRIVER), surface, str(n)], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    summary = r.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{surface}: {n} examples"), r.stdout
    print(summary)
