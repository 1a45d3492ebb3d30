"""Import an ONNX model into a :class:`~fdafast.nn.graph.Network` (needs ``onnx``).

Supported operators: Conv, Gemm, MatMul (with a constant right operand),
BatchNormalization, Relu, Clip (0..6 as ReLU6), Sigmoid, Tanh, LeakyRelu,
HardSwish, Elu, MaxPool, AveragePool, GlobalAveragePool, Add, Concat,
Flatten, Reshape to (batch, -1), Dropout, Identity, Softmax.  A node whose
weights are initializers named ``<prefix>.weight`` (as torch's exporter
writes them) takes ``<prefix>`` as its name, or else the module path in a
torch-exported node name (``/layer1/conv1/Conv`` -> ``layer1.conv1``), so
state-dict names carry over.
Anything else raises :class:`~fdafast.nn.graph.GraphError` naming the
operator and the node.
"""
import numpy as np

from .graph import GraphError, Network, Node

__all__ = ["from_onnx"]


def _attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads(a, nd, name):
    """Symmetric per-axis padding from ``pads`` or ``auto_pad``."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return (0,) * nd
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        ext = [d * (k - 1) for k, d in zip(a["kernel_shape"], a.get("dilations", [1] * nd))]
        if any(s != 1 for s in a.get("strides", [1] * nd)) or any(e % 2 for e in ext):
            raise GraphError(f"node {name!r}: auto_pad={auto} is supported only at stride 1 "
                             f"with odd kernel extents (symmetric padding)")
        return tuple(e // 2 for e in ext)
    if auto != "NOTSET":
        raise GraphError(f"node {name!r}: auto_pad={auto!r} is not supported")
    pads = list(a.get("pads", [0] * 2 * nd))
    lo, hi = pads[:nd], pads[nd:]
    if lo != hi:
        raise GraphError(f"node {name!r}: asymmetric pads {pads} are not supported")
    return tuple(int(p) for p in lo)


class _Importer:
    def __init__(self, model):
        from onnx import numpy_helper
        self.graph = model.graph
        self.consts = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        for n in self.graph.node:                          # Constant nodes
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"])
        self.nodes, self.alias = [], {}
        self.used = set()

    def label(self, node, weight=None):
        """The weight's module path (``<path>.weight``), else the module path torch's
        exporter writes into node names (``/layer1/conv1/Conv``), else the node's name."""
        name = node.name or node.output[0]
        if weight is not None and weight.endswith(".weight"):
            name = weight[:-len(".weight")]
        elif weight is not None and name.startswith("/") and name.count("/") >= 2:
            name = ".".join(name.strip("/").split("/")[:-1])
        while name in self.used:
            name += "_"
        self.used.add(name)
        return name

    def emit(self, node, op, inputs, attrs=None, params=None, weight=None):
        label = self.label(node, weight)
        self.nodes.append(Node(label, op, tuple(self.alias[i] for i in inputs), attrs or {},
                               params or {}))
        self.alias[node.output[0]] = label

    def tensor_inputs(self, node):
        return [i for i in node.input if i and i not in self.consts]

    def const(self, node, i, what):
        name = node.input[i] if len(node.input) > i else ""
        if not name:
            return None
        if name not in self.consts:
            raise GraphError(f"node {node.name or node.output[0]!r} ({node.op_type}): {what} "
                             f"must be a constant initializer")
        return np.asarray(self.consts[name], np.float32)


def _conv(im, node, a):
    w = im.const(node, 1, "the weight")
    nd = w.ndim - 2
    params = {"weight": w}
    b = im.const(node, 2, "the bias")
    if b is not None:
        params["bias"] = b
    a.setdefault("kernel_shape", list(w.shape[2:]))
    attrs = {"stride": tuple(a.get("strides", [1] * nd)), "padding": _pads(a, nd, node.name),
             "dilation": tuple(a.get("dilations", [1] * nd)), "groups": int(a.get("group", 1))}
    im.emit(node, "conv", im.tensor_inputs(node)[:1], attrs, params, node.input[1])


def _gemm(im, node, a):
    w = im.const(node, 1, "the right operand")
    if a.get("transA", 0):
        raise GraphError(f"node {node.name!r}: Gemm with transA is not supported")
    if node.op_type == "MatMul" or not a.get("transB", 0):
        w = w.T
    w = w * np.float32(a.get("alpha", 1.0))
    params = {"weight": np.ascontiguousarray(w)}
    b = im.const(node, 2, "the bias") if node.op_type == "Gemm" else None
    if b is not None:
        params["bias"] = (b * np.float32(a.get("beta", 1.0))).reshape(-1)
    im.emit(node, "linear", im.tensor_inputs(node)[:1], {}, params, node.input[1])


def _batchnorm(im, node, a):
    names = ("weight", "bias", "running_mean", "running_var")
    params = {n: im.const(node, i + 1, n) for i, n in enumerate(names)}
    im.emit(node, "batchnorm", im.tensor_inputs(node)[:1], {"eps": float(a.get("epsilon", 1e-5))},
            params, node.input[1])


def _pool(im, node, a):
    k = tuple(a["kernel_shape"])
    nd = len(k)
    attrs = {"kernel": k, "stride": tuple(a.get("strides", [1] * nd)),
             "padding": _pads(a, nd, node.name), "ceil_mode": bool(a.get("ceil_mode", 0))}
    if node.op_type == "MaxPool":
        if len(node.output) > 1 and node.output[1]:
            raise GraphError(f"node {node.name!r}: MaxPool indices are not supported")
        attrs["dilation"] = tuple(a.get("dilations", [1] * nd))
        op = "maxpool"
    else:
        attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        op = "avgpool"
    im.emit(node, op, im.tensor_inputs(node), attrs)


def _activation(im, node, a):
    t = node.op_type
    if t == "Clip":
        lo, hi = im.const(node, 1, "min"), im.const(node, 2, "max")
        lo = a.get("min", 0.0) if lo is None else float(lo)
        hi = a.get("max", np.inf) if hi is None else float(hi)
        kinds = {(0.0, 6.0): {"kind": "relu6"}, (0.0, np.inf): {"kind": "relu"}}
        attrs = kinds.get((lo, hi), {"kind": "hardtanh", "min_val": lo, "max_val": hi})
    else:
        attrs = {"Relu": {"kind": "relu"}, "Sigmoid": {"kind": "sigmoid"},
                 "Tanh": {"kind": "tanh"}, "HardSwish": {"kind": "hardswish"},
                 "LeakyRelu": {"kind": "leaky_relu", "negative_slope": a.get("alpha", 0.01)},
                 "Elu": {"kind": "elu", "alpha": a.get("alpha", 1.0)}}[t]
    im.emit(node, "act", im.tensor_inputs(node), attrs)


def _reshape(im, node, a):
    shape = im.consts.get(node.input[1])
    if shape is None or len(shape) != 2 or shape[1] != -1:
        out = list(shape) if shape is not None else "a computed shape"
        raise GraphError(f"node {node.name!r}: Reshape to {out} is not supported (only "
                         f"flattening to a constant (batch, -1))")
    im.emit(node, "flatten", im.tensor_inputs(node), {"start": 1})


_SIMPLE = {"Add": "add", "Dropout": "dropout", "Identity": "identity"}


def _convert(im, node):
    t, a = node.op_type, _attrs(node)
    handlers = {"Conv": _conv, "Gemm": _gemm, "MatMul": _gemm,
                "BatchNormalization": _batchnorm, "MaxPool": _pool, "AveragePool": _pool,
                "Reshape": _reshape}
    if t in handlers:
        return handlers[t](im, node, a)
    if t in ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSwish", "Elu"):
        return _activation(im, node, a)
    if t == "Flatten":
        return im.emit(node, "flatten", im.tensor_inputs(node), {"start": int(a.get("axis", 1))})
    if t == "Concat":
        return im.emit(node, "concat", im.tensor_inputs(node), {"axis": int(a["axis"])})
    if t == "Softmax":
        return im.emit(node, "softmax", im.tensor_inputs(node), {"axis": int(a.get("axis", -1))})
    if t == "GlobalAveragePool":
        src = im.alias[node.input[0]]
        nd = len(Network(im.nodes, src, "partial").shapes()[src]) - 1
        return im.emit(node, "adaptive_avgpool", im.tensor_inputs(node),
                       {"output_size": (1,) * max(nd, 1)})
    if t in ("Add", "Dropout", "Identity"):
        op = _SIMPLE[t]
        if t == "Add" and len(im.tensor_inputs(node)) != 2:
            raise GraphError(f"node {node.name!r}: Add of a constant is not supported")
        return im.emit(node, op, im.tensor_inputs(node)[:2 if t == "Add" else 1])
    if t == "Constant":
        return None
    raise GraphError(f"node {node.name or node.output[0]!r}: ONNX operator {t!r} is not "
                     f"supported")


def _load(onnx, path):
    """``onnx.load``, its failures on unreadable or corrupt files as GraphError."""
    try:
        return onnx.load(str(path))
    except FileNotFoundError:
        raise GraphError(f"no ONNX file at {str(path)!r}") from None
    except Exception as exc:           # protobuf's DecodeError, OSError, ... (onnx raises many)
        raise GraphError(f"cannot read {str(path)!r} as an ONNX model: "
                         f"{type(exc).__name__}: {exc}") from None


def from_onnx(path, name=None):
    """A :class:`~fdafast.nn.graph.Network` from an ONNX file or ``onnx.ModelProto``.

    The input's shape must be static (the batch may be symbolic).
    """
    try:
        import onnx
    except ImportError:
        raise GraphError("from_onnx needs the onnx package (pip install onnx)") from None
    model = path if isinstance(path, onnx.ModelProto) else _load(onnx, path)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, UnicodeDecodeError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        raise GraphError(f"the ONNX model is malformed: {lines[0]}") from None
    im = _Importer(model)
    inputs = [i for i in model.graph.input if i.name not in im.consts]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise GraphError(f"models with one input and one output are supported, got "
                         f"{len(inputs)} and {len(model.graph.output)}")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_value for d in dims[1:])
    if not shape or any(v <= 0 for v in shape):
        raise GraphError(f"input {inputs[0].name!r} needs a static shape after the batch, got "
                         f"{[d.dim_param or d.dim_value for d in dims]}")
    im.nodes.append(Node("input", "input", attrs={"shape": shape}))
    im.alias[inputs[0].name] = "input"
    im.used.add("input")
    for node in model.graph.node:
        _convert(im, node)
    out = model.graph.output[0].name
    if out not in im.alias:
        raise GraphError(f"output {out!r} is not produced by a supported node")
    return Network(im.nodes, im.alias[out], name or model.graph.name or "onnx")
