"""pytest-benchmark cases of whole networks (see bench/network.py for the ratio table)."""
import numpy as np
import pytest

from fdafast.nn import to_torch, zoo

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("backend", ["fdafast", "torch"])
@pytest.mark.parametrize("name", ["c3d", "resnet18"])
def test_forward(benchmark, name, backend, threads):
    net = zoo.get(name)
    x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
    if backend == "torch":
        tm, tx = to_torch(net), torch.from_numpy(x)
        with torch.no_grad():
            tm(tx)
            benchmark(tm, tx)
    else:
        net.run(x, mode="fft", threads=threads)
        benchmark(net.run, x, mode="fft", threads=threads)
