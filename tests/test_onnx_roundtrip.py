"""The zoo's networks through torch's ONNX exporter and back, matching torch in 'fft' mode.

Each network is turned into a torch module (:func:`fdafast.nn.to_torch`),
exported with ``torch.onnx.export`` (the TorchScript exporter) and imported
with :func:`fdafast.from_onnx`; the import, run in 'fft' mode, must match the
torch module within 1e-4 (norm of the error relative to the output's).  The
exports use opsets 11, 13 and 17 and, at opset 17, a dynamic batch axis
(run with a batch of 2 where the export saw 1).

Runtime: the FFT engine computes every layer's weight spectra on its first
call, which grows with the parameters (about 2 s for ResNet-18's 11 million
on two cores), so networks run at small input sizes (their ``input_shape``
argument) and 10 classes.  By default tiny2d, tiny3d and ResNet-18 run
every export and MC3-18 one; ResNet-50, R3D-18, R(2+1)D-18, AlexNet and
VGG16 (whose adaptive pooling torch exports only from 223 x 223 and
224 x 224 up), and C3D (VGG16 and C3D have 138 and 78 million parameters;
C3D's input cannot shrink) run one export each, their opsets rotating, only
with ``FDAFAST_BIG_ROUNDTRIPS=1``.
"""
import io
import os
import warnings

import numpy as np
import pytest

import fdafast
from fdafast.nn import to_torch, zoo

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

#: (opset, dynamic batch) of every export.
EXPORTS = [(11, False), (13, False), (17, False), (17, True)]
#: zoo name -> (keyword arguments, exports).
NETS = {
    "tiny2d": ({}, EXPORTS),
    "tiny3d": ({}, EXPORTS),
    "resnet18": ({"input_shape": (3, 32, 32)}, EXPORTS),
    "mc3_18": ({"input_shape": (3, 4, 32, 32)}, [(17, True)]),
    "resnet50": ({"input_shape": (3, 32, 32)}, [(11, False)]),
    "alexnet": ({}, [(13, True)]),
    "r3d_18": ({"input_shape": (3, 4, 32, 32)}, [(17, True)]),
    "r2plus1d_18": ({"input_shape": (3, 4, 32, 32)}, [(11, True)]),
    "vgg16": ({}, [(17, True)]),
    "c3d": ({}, [(13, True)]),
}
BIG = {"resnet50", "alexnet", "r3d_18", "r2plus1d_18", "vgg16", "c3d"}


def _cases():
    for name, (kw, exports) in NETS.items():
        marks = [pytest.mark.skipif(name in BIG and not os.environ.get("FDAFAST_BIG_ROUNDTRIPS"),
                                    reason="big network: set FDAFAST_BIG_ROUNDTRIPS=1")]
        for opset, dynamic in exports:
            yield pytest.param(name, kw, opset, dynamic, marks=marks,
                               id=f"{name}-opset{opset}{'-dynamic' if dynamic else ''}")


def export(module, x, opset, dynamic):
    """``module`` as an onnx.ModelProto exported by torch at ``opset``."""
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, x, f, opset_version=opset, dynamo=False,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if dynamic
                          else None)
    return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize("name, kw, opset, dynamic", _cases())
def test_zoo_round_trip_matches_torch(name, kw, opset, dynamic):
    net = zoo.get(name, num_classes=10, **kw)
    module = to_torch(net)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1,) + net.input_shape).astype(np.float32)
    model = export(module, torch.from_numpy(x), opset, dynamic)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert bool(dims[0].dim_param) == dynamic
    imported = fdafast.from_onnx(model)
    assert imported.input_shape == net.input_shape
    xb = np.concatenate([x, rng.standard_normal(x.shape).astype(np.float32)]) if dynamic else x
    with torch.no_grad():
        ref = module(torch.from_numpy(xb)).numpy()
    y = imported.run(xb, mode="fft")
    assert y.shape == ref.shape
    err = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    assert err <= 1e-4, f"{name} opset {opset}: rel L2 error {err:.3g}"
