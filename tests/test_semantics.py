"""Issue 12's cases one by one: torch's and ONNX's semantics, or a clear refusal.

Small ONNX models are built with ``onnx.helper`` and checked against ONNX's
reference implementation (``onnx.reference.ReferenceEvaluator``) in
'direct' and 'fft' modes; the functional ops and ``from_torch`` against
torch.
"""
import numpy as np
import pytest

import fdafast
from fdafast import workloads
from fdafast.nn import GraphError, from_torch, to_torch
from fdafast.nn import functional as F

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

TF = torch.nn.functional
tnn = torch.nn


def rel(a, b):
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(b), 1e-30))


# -- functional ops on unbatched and empty inputs --------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unbatched_functional_ops_match_torch(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((3,) + (7,) * nd)
    tx = torch.from_numpy(x)
    cases = [(f"max_pool{nd}d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
             (f"avg_pool{nd}d", (2,), dict(padding=1, count_include_pad=False)),
             (f"adaptive_avg_pool{nd}d", ((3,) * nd,), {})]
    for name, args, kw in cases:
        want = getattr(TF, name)(tx, *args, **kw).numpy()
        got = getattr(F, name)(x, *args, **kw)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=name)
    w = rng.standard_normal((4, 3) + (2,) * nd)
    want = getattr(TF, f"conv{nd}d")(tx, torch.from_numpy(w), padding="same").numpy()
    for fn in (getattr(F, f"conv{nd}d"), getattr(fdafast, f"conv{nd}d")):
        got = fn(x, w, padding="same")
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_adaptive_none_sizes_divisor_override_and_empty_softmax():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9))
    tx = torch.from_numpy(x)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (None, 4)),
                               TF.adaptive_avg_pool2d(tx, (None, 4)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, 1, divisor_override=5),
                               TF.avg_pool2d(tx, 3, 2, 1, divisor_override=5).numpy(),
                               rtol=1e-12)
    for shape in [(0,), (0, 3), (2, 0, 4)]:
        for fn in (F.softmax, F.log_softmax):
            assert fn(np.zeros(shape, np.float32), dim=-1).shape == shape


def test_batch_norm_checks_channels_and_refuses_training():
    x = np.random.default_rng(0).standard_normal((4, 3))
    m, v = np.zeros(3), np.ones(3)
    want = TF.batch_norm(torch.from_numpy(x), torch.from_numpy(m), torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(F.batch_norm(x, m, v), want, rtol=1e-12)
    with pytest.raises(fdafast.ShapeError, match="1-D statistics of C entries"):
        F.batch_norm(x, np.zeros(4), np.ones(4))
    with pytest.raises(fdafast.InvalidArgumentError, match="training=True"):
        F.batch_norm(x, m, v, training=True)


# -- small ONNX models against ONNX's reference ----------------------------------------------------
def model(nodes, x_shape, inits=(), opset=17, y_name="y", batch=None):
    """A model of ``nodes`` from input 'x' (first axis ``batch`` or static) to 'y'."""
    shape = [batch or x_shape[0]] + list(x_shape[1:])
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def node(op, inputs, **attrs):
    return helper.make_node(op, inputs, ["y"], name=f"the_{op.lower()}", **attrs)


W33 = f32(4, 3, 3, 3, seed=1)
W24 = f32(4, 3, 2, 4, seed=2)

#: id -> (model, input shape): each matches ONNX's reference in 'direct' and 'fft'.
MATCH = {
    "averagepool-dilations": (model([node("AveragePool", ["x"], kernel_shape=[2, 2],
                                          dilations=[2, 2], pads=[1, 0, 1, 2])],
                                    (1, 2, 7, 7), opset=19), (1, 2, 7, 7)),
    "flatten-axis2": (model([node("Flatten", ["x"], axis=2)], (1, 2, 4, 5)), (1, 2, 4, 5)),
    "flatten-axis-minus1": (model([node("Flatten", ["x"], axis=-1)], (1, 2, 4, 5)),
                            (1, 2, 4, 5)),
    "clip-max-only": (model([node("Clip", ["x", "", "hi"])], (2, 5), [("hi", np.float32(0.3))]),
                      (2, 5)),
    "clip-opset6-attrs": (model([node("Clip", ["x"], max=0.5)], (2, 5), opset=6), (2, 5)),
    "concat-constant-negative-axis": (
        model([node("Concat", ["c", "x"], axis=-3)], (1, 2, 3, 3), [("c", f32(1, 3, 3, 3))]),
        (1, 2, 3, 3)),
    "softmax-opset11": (model([node("Softmax", ["x"], axis=1)], (2, 3, 4), opset=11), (2, 3, 4)),
    "logsoftmax-opset11": (model([node("LogSoftmax", ["x"])], (2, 3, 4), opset=11), (2, 3, 4)),
    "softmax-opset13": (model([node("Softmax", ["x"], axis=1)], (2, 3, 4), opset=13), (2, 3, 4)),
    "gemm-transB-row-bias": (model([node("Gemm", ["x", "w", "c"], transB=1, alpha=0.5,
                                         beta=2.0)], (3, 4),
                                   [("w", f32(5, 4)), ("c", f32(1, 5))]), (3, 4)),
    "gemm-bias-graph-input": (model([node("Gemm", ["x", "w", "c"])], (3, 4),
                                    [("w", f32(4, 5)), ("c", f32(5))]), (3, 4)),
    "matmul-1d": (model([node("MatMul", ["x", "w"])], (2, 3, 4), [("w", f32(4))]), (2, 3, 4)),
    "sub-constant-first": (model([node("Sub", ["c", "x"])], (2, 3, 4, 4),
                                 [("c", f32(3, 1, 1))]), (2, 3, 4, 4)),
    "div-constant": (model([node("Div", ["x", "c"])], (2, 3, 4), [("c", np.float32(4.0))]),
                     (2, 3, 4)),
    "pad-reflect": (model([node("Pad", ["x", "p"], mode="reflect")], (1, 2, 4, 5),
                          [("p", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))]), (1, 2, 4, 5)),
    "pad-constant-crop": (model([node("Pad", ["x", "p", "v"])], (1, 2, 4, 5),
                                [("p", np.array([0, 0, -1, 2, 0, 0, 1, -2], np.int64)),
                                 ("v", np.float32(1.5))]), (1, 2, 4, 5)),
    "transpose": (model([node("Transpose", ["x"], perm=[0, 2, 3, 1])], (2, 3, 4, 5)),
                  (2, 3, 4, 5)),
    "squeeze-unsqueeze": (model([helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
                                 node("Squeeze", ["u", "b"])], (2, 3, 4),
                                [("a", np.array([-1, 2], np.int64)),
                                 ("b", np.array([4], np.int64))]), (2, 3, 4)),
    "reshape-general": (model([node("Reshape", ["x", "s"])], (2, 6, 4),
                              [("s", np.array([0, 3, -1, 2], np.int64))]), (2, 6, 4)),
    "prelu": (model([node("PRelu", ["x", "s"])], (2, 3, 4, 4), [("s", f32(3, 1, 1))]),
              (2, 3, 4, 4)),
    "conv-same-upper-stride2-even": (
        model([node("Conv", ["x", "w"], auto_pad="SAME_UPPER", strides=[2, 2])], (1, 3, 9, 8),
              [("w", W24)]), (1, 3, 9, 8)),
    "conv-same-lower-stride3": (
        model([node("Conv", ["x", "w"], auto_pad="SAME_LOWER", strides=[3, 1])], (1, 3, 8, 7),
              [("w", W24)]), (1, 3, 8, 7)),
    "conv-asymmetric-pads": (model([node("Conv", ["x", "w", "b"], pads=[0, 2, 1, 0])],
                                   (2, 3, 6, 6), [("w", W33), ("b", f32(4))]), (2, 3, 6, 6)),
    "maxpool-same-upper": (model([node("MaxPool", ["x"], kernel_shape=[2, 3],
                                       auto_pad="SAME_UPPER", strides=[2, 2])], (1, 2, 7, 6)),
                           (1, 2, 7, 6)),
    "conv1d-pads": (model([node("Conv", ["x", "w"], pads=[2, 1])], (2, 3, 11),
                          [("w", f32(5, 3, 4))]), (2, 3, 11)),
    "constant-node-shape": (model([
        helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(
            np.array([1, -1], np.int64))), node("Reshape", ["x", "s"])], (1, 2, 3)), (1, 2, 3)),
    "layernorm": (model([node("LayerNormalization", ["x", "g", "b"], axis=-2)], (2, 3, 4),
                        [("g", f32(3, 4)), ("b", f32(4))]), (2, 3, 4)),
}


def _coerced_softmax(x, axis, log):
    """Softmax before opset 13, by its spec: x as 2-D (prod(shape[:axis]), rest), along
    the rows (ONNX's reference implementation has only opset 13's semantics)."""
    x2 = x.reshape(int(np.prod(x.shape[:axis])), -1).astype(np.float64)
    e = np.exp(x2 - x2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return (np.log(y) if log else y).reshape(x.shape)


def _reference(m, x):
    n = m.graph.node[-1]
    if n.name == "the_pad" and len(n.input) == 3:     # negative pads: the reference cannot
        return np.pad(x[:, :, 1:, :3], [(0, 0), (0, 0), (0, 1), (2, 0)], constant_values=1.5)
    if n.op_type in ("Softmax", "LogSoftmax") and m.opset_import[0].version < 13:
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
        return _coerced_softmax(x, axis, n.op_type == "LogSoftmax")
    return ReferenceEvaluator(m).run(None, {"x": x})[0]


@pytest.mark.parametrize("case", sorted(MATCH))
def test_onnx_operator_matches_reference(case):
    m, shape = MATCH[case]
    x = f32(*shape, seed=7)
    want = _reference(m, x)
    net = fdafast.from_onnx(m)
    for mode in ("direct", "fft"):
        y = net.run(x, mode=mode)
        assert y.shape == want.shape, (case, mode)
        assert rel(y, want) < 1e-5, (case, mode)
    try:                                   # the same graph through torch (to_torch)
        module = to_torch(net)
    except GraphError:                     # torch has no asymmetric pooling pads
        return
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    assert y.shape == want.shape and rel(y, want) < 1e-5, (case, "to_torch")


def test_weights_as_graph_inputs_with_values():
    m, shape = MATCH["conv-asymmetric-pads"]
    for name in ("w", "b"):          # older exporters list initializers as inputs too
        m.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    x = f32(*shape, seed=3)
    assert rel(fdafast.from_onnx(m).run(x, mode="direct"), _reference(m, x)) < 1e-6


def test_shape_subgraph_with_a_dynamic_batch_is_folded():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             node("Reshape", ["x", "target"])]
    inits = [("zero", np.array(0, np.int64)), ("ax", np.array([0], np.int64)),
             ("minus1", np.array([-1], np.int64))]
    m = model(nodes, (1, 3, 4, 5), inits, opset=13, batch="N")
    net = fdafast.from_onnx(m)
    x = f32(3, 3, 4, 5)
    np.testing.assert_array_equal(net.run(x, mode="direct"), _reference(m, x))
    assert [n.op for n in net.nodes] == ["input", "reshape"]


def test_rows_split_by_flatten_are_costed():
    m = model([helper.make_node("Flatten", ["x"], ["f"], axis=2),
               node("Gemm", ["f", "w"], transB=1)], (1, 2, 4, 5), [("w", f32(3, 20))])
    net = fdafast.from_onnx(m)
    x = f32(3, 2, 4, 5)
    y = net.run(x, mode="fft")
    assert y.shape == (6, 3) and rel(y, _reference(m, x)) < 1e-5
    assert net.row_factors()[net.output] == 2
    assert net.layers(batch=3)[0].batch == 6


REFUSED = {
    "dropout-training": (model([node("Dropout", ["x", "r", "t"])], (2, 3),
                               [("r", np.float32(0.5)), ("t", np.array(True))], opset=13),
                         "training_mode=True"),
    "gemm-matrix-bias": (model([node("Gemm", ["x", "w", "c"])], (3, 4),
                               [("w", f32(4, 5)), ("c", f32(3, 5))]), "varies along the batch"),
    "gemm-transA": (model([node("Gemm", ["x", "w"], transA=1)], (4, 3), [("w", f32(4, 5))]),
                    "transA=1"),
    "concat-batch-axis": (model([node("Concat", ["x", "c"], axis=0)], (1, 3),
                                [("c", f32(1, 3))]), "batch axis"),
    "softmax-batch-axis": (model([node("Softmax", ["x"], axis=0)], (2, 3)), "batch axis"),
    "flatten-axis0": (model([node("Flatten", ["x"], axis=0)], (2, 3)), "axis=0"),
    "unknown-op": (model([node("Sin", ["x"])], (2, 3)), "'Sin' is not supported"),
    "training-batchnorm": (model([node("BatchNormalization", ["x", "s", "b", "m", "v"],
                                       training_mode=1)], (2, 3),
                                 [(k, np.ones(3, np.float32)) for k in "sbmv"], opset=15),
                           "training_mode=1"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_onnx_refusals_name_node_operator_and_what_is_supported(case):
    m, match = REFUSED[case]
    with pytest.raises(fdafast.FdafastError, match=match) as info:
        fdafast.from_onnx(m)
    assert "ONNX node 'the_" in str(info.value)


# -- from_torch ------------------------------------------------------------------------------------
def test_from_torch_refuses_a_gru_by_name():
    class Recurrent(tnn.Module):
        def __init__(self):
            super().__init__()
            self.gru = tnn.GRU(4, 5, batch_first=True)

        def forward(self, x):
            return self.gru(x)[0]

    with pytest.raises(GraphError, match="module GRU is not supported"):
        from_torch(Recurrent(), torch.randn(2, 3, 4))


class _Audio(tnn.Module):
    """A temporal CNN: conv1d, batch norm, pooling with divisor_override, PReLU."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv1d(3, 8, 5, padding=2)
        self.bn1 = tnn.BatchNorm1d(8)
        self.act = tnn.PReLU(8)
        self.pool = tnn.AvgPool2d((1, 2), divisor_override=3)
        self.conv2 = tnn.Conv1d(8, 8, 4, stride=2, padding="valid", groups=2)
        self.gap = tnn.AdaptiveAvgPool1d(1)
        self.fc = tnn.Linear(8, 4)

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)))
        y = self.pool(y.unsqueeze(2)).squeeze(2)
        y = self.gap(torch.relu(self.conv2(y)))
        return TF.log_softmax(self.fc(torch.flatten(y, 1)), dim=1)


def test_conv1d_network_in_every_mode_with_its_cost():
    torch.manual_seed(0)
    m = _Audio().eval()
    m.bn1.running_mean.uniform_(-1, 1)
    m.bn1.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 40)
    net = from_torch(m, x)
    with torch.no_grad():
        ref = m(x).numpy()
    assert rel(net.run(x.numpy(), mode="direct"), ref) < 1e-6
    assert rel(net.run(x.numpy(), mode="fft"), ref) < 1e-5
    assert rel(net.run(x.numpy(), mode="quant"), ref) < 1e-2
    assert np.all(np.isfinite(net.run(x.numpy(), mode="reram")))
    layers = net.layers(batch=2)
    assert [l.kind for l in layers] == ["conv2d", "conv2d", "linear"]
    assert layers[0].spatial == (1, 40) and layers[0].output_spatial == (1, 40)
    assert layers[1].output_spatial == (1, 9)
    report = fdafast.estimate(layers, "fda")
    assert report.totals["latency_s"] > 0
    r = fdafast.simulate(net, x.numpy(), mode="quant")
    assert set(r.errors) == {"conv1", "conv2", "fc"}


def test_asymmetric_padding_costs_the_same_outputs():
    layer = workloads.conv_layer("c", (3, 8, 8), (4, 3, 2, 2), (1, 1), ((0, 1), (1, 0)),
                                 (1, 1), 1)
    assert layer.output_spatial == (8, 8)
    assert layer.macs == 4 * 64 * 3 * 4
