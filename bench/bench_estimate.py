"""pytest-benchmark cases of the cost model (see bench/estimate.py for the table)."""
import pytest

import fdafast
from fdafast import cost, workloads

from .estimate import run_sweep

NETS = {"c3d": workloads.c3d, "vgg16": workloads.vgg16}


@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
@pytest.mark.parametrize("net", list(NETS))
def test_estimate_network(benchmark, preset, net):
    acc, layers = fdafast.Accelerator.from_preset(preset), NETS[net]()
    cost.estimate(layers, acc)                               # warm-up
    r = benchmark(cost.estimate, layers, acc)
    assert len(r.layers) == len(layers)


def test_sweep_1000_points_c3d(benchmark):
    secs, res = benchmark.pedantic(run_sweep, args=(workloads.c3d(),), rounds=1,
                                   iterations=1)
    assert len(res) == 1000
