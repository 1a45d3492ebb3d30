"""A small golden report per preset, regenerated only on purpose.

Any change to the cost model's numbers shows up here.  After a deliberate
change, regenerate with ``FDAFAST_REGEN_GOLDEN=1 python -m pytest
tests/test_golden.py`` and say why in the commit.
"""
import json
import os
import pathlib

import pytest

from fdafast import Accelerator, cost
from fdafast.workloads import Layer

GOLDEN = pathlib.Path(__file__).parent / "golden"
NET = [Layer("c1", "conv2d", 3, 16, (32, 32), (3, 3), padding=(1, 1)),
       Layer("c2", "conv2d", 16, 32, (16, 16), (3, 3), stride=(2, 2), padding=(1, 1)),
       Layer("c3", "conv3d", 32, 32, (4, 8, 8), (3, 3, 3), padding=(1, 1, 1)),
       Layer("fc", "linear", 2048, 10)]


def _compare(got, want, path="report"):
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for k in want:
            _compare(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-300), path
    else:
        assert got == want, path


#: Beside the presets: FDA in the frequency domain, reprogrammed on a one-tile chip, so
#: that the golden reports cover folds, writes and both weight loads.
VARIANTS = {"fda-reprogram": ("fda", dict(execution__residency="reprogram",
                                          execution__mappings=["frequency"],
                                          organisation__tiles=1))}


@pytest.mark.filterwarnings("ignore::fdafast.cost.AdcResolutionWarning")
@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft", "fda-reprogram"])
def test_golden_report(preset):
    name, overrides = VARIANTS.get(preset, (preset, {}))
    acc = Accelerator.from_preset(name, **overrides)
    got = json.loads(cost.estimate(NET, acc).to_json())
    path = GOLDEN / f"tiny_{preset}.json"
    if os.environ.get("FDAFAST_REGEN_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    _compare(got, json.loads(path.read_text()))
