"""Import an ONNX model into a :class:`~fdafast.nn.graph.Network` (needs ``onnx``).

Every operator is read with the semantics of the model's opset (ONNX's
``ai.onnx`` domain, opsets 1 to 21 as far as the operators below go); what
fdafast cannot compute exactly raises :class:`~fdafast.nn.graph.GraphError`
(or :class:`~fdafast.ShapeError`) naming the ONNX node, its operator and
opset, the attribute and what is supported.  The supported operators and
what is refused are listed in ``docs/networks.md`` and in :data:`CONVERTERS`.

How a model is read
-------------------
* One graph input that is not an initializer (the data; a float tensor
  with a static shape after its first axis, the batch, which may be
  symbolic), one graph output.  Initializers that are also listed as graph
  inputs (older exporters) are constants.
* Constant subgraphs are folded at import: a node whose inputs are all
  constants is evaluated with ONNX's reference implementation
  (``onnx.reference``), and ``Shape`` of a tensor is known but for its
  batch entry, which stays symbolic through Gather, Concat, Slice,
  Unsqueeze, Squeeze, Cast and Reshape (what ``x.view(x.size(0), -1)``
  exports to), so such a shape feeds a Reshape.
* Each operator becomes nodes whose shapes are inferred as they are made.
  Tensors keep their first axis as independent rows (the batch): what
  would reach across it (a Transpose moving it, a Concat along it, a
  constant that varies along it, a Gemm with transA, a reduction over it)
  is refused.
* A node whose weights are initializers named ``<prefix>.weight`` (as
  torch's exporter writes them) takes ``<prefix>`` as its name, or else the
  module path in a torch-exported node name (``/layer1/conv1/Conv`` ->
  ``layer1.conv1``), so state-dict names carry over.
"""
import math

import numpy as np

from ..errors import FdafastError
from ._onnx_ops import CONVERTERS, FLOAT_TYPES, Lead, attributes, ints
from .graph import GraphError, Network, Node, node_shape, row_factor

__all__ = ["from_onnx", "CONVERTERS"]


def _symbolic(a):
    return isinstance(a, np.ndarray) and a.dtype == object


def _settle(a):
    """An object array with no symbolic entry as int64."""
    a = np.asarray(a, dtype=object)
    if any(isinstance(v, Lead) for v in a.ravel()):
        return a
    return a.astype(np.int64)


class _Importer:
    """The state of one import: constants, tensors made so far, their shapes."""

    def __init__(self, model, batch):
        from onnx import numpy_helper        # optional dependency, imported by from_onnx
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.batch = batch
        self.nodes, self.alias, self.used = [], {}, set()
        self.shape, self.factor = {}, {}
        self.consumed = {i for n in model.graph.node for i in n.input} | {
            o.name for o in model.graph.output}

    # -- names and tensors -----------------------------------------------------------------
    def label(self, node, weight=None):
        """The weight's module path (``<path>.weight``), else the module path torch's
        exporter writes into node names (``/layer1/conv1/Conv``), else the node's name."""
        name = node.name or node.output[0]
        if weight is not None and weight.endswith(".weight"):
            name = weight[:-len(".weight")]
        elif weight is not None and name.startswith("/") and name.count("/") >= 2:
            name = ".".join(name.strip("/").split("/")[:-1])
        while name in self.used or not name:
            name += "_"
        self.used.add(name)
        return name

    def add(self, label, op, inputs, attrs=None, params=None):
        """Append a node (its shape inferred now) and return its label."""
        node = Node(label, op, tuple(inputs), attrs or {}, params or {})
        shapes = [self.shape[i] for i in inputs]
        self.shape[label] = node_shape(node, shapes)
        self.factor[label] = row_factor(node, [self.factor[i] for i in inputs], shapes,
                                        self.shape[label])
        self.nodes.append(node)
        return label

    def emit(self, node, op, inputs, attrs=None, params=None, weight=None, output=0):
        """One fdafast node for ONNX ``node``'s output ``output``."""
        label = self.add(self.label(node, weight), op, inputs, attrs, params)
        self.alias[node.output[output]] = label
        return label

    def tensor(self, node, i=0):
        """The label of input ``i`` of ``node``, a computed tensor."""
        name = node.input[i] if len(node.input) > i else ""
        if name not in self.alias:
            raise GraphError(f"input {i} ({name!r}) must be a computed tensor, not a constant"
                             if name in self.consts else f"input {i} is missing")
        return self.alias[name]

    def const(self, node, i, what, dtype=np.float32):
        """Input ``i`` of ``node`` as a constant array (None if absent)."""
        name = node.input[i] if len(node.input) > i else ""
        if not name:
            return None
        if name not in self.consts:
            raise GraphError(f"{what} (input {i}) must be a constant (an initializer or "
                             f"folded subgraph), not a computed tensor")
        v = self.consts[name]
        if _symbolic(v):
            raise GraphError(f"{what} (input {i}) depends on the batch size")
        return np.asarray(v, dtype) if dtype is not None else np.asarray(v)

    def is_const(self, node, i):
        return len(node.input) > i and node.input[i] in self.consts

    def rank(self, label):
        """Axes of the tensor ``label``, the batch included."""
        return len(self.shape[label]) + 1

    def lead(self, label):
        """The size of the first axis of ``label``: an int if the batch is static."""
        f = self.factor[label]
        return Lead(f) if self.batch is None else self.batch * f

    def unused_outputs(self, node, first=1, what="optional outputs"):
        used = [o for o in node.output[first:] if o and o in self.consumed]
        if used:
            raise GraphError(f"{what} {used} are used; only the first output is supported")


# -- constant folding ------------------------------------------------------------------------------
def _fold_shape(im, node, a):
    x = im.tensor(node)
    full = [im.lead(x)] + list(im.shape[x])
    if node.op_type == "Size":
        if im.batch is None:
            raise GraphError("the size of a tensor with a symbolic batch is not a constant")
        return [np.array(math.prod(full), np.int64)]
    start, end = int(a.get("start", 0)), a.get("end")
    return [_settle(np.array(full[slice(start, None if end is None else int(end))],
                             dtype=object))]


def _fold_symbolic(im, node, a, values):
    """Shape arithmetic with a symbolic batch entry (see :class:`Lead`)."""
    t, v = node.op_type, values[0]
    if t in ("Identity", "Cast"):
        return [v]
    if t == "Gather":
        return [_settle(np.take(v, np.asarray(values[1], np.int64), axis=int(a.get("axis", 0))))]
    if t == "Concat":
        return [_settle(np.concatenate([np.asarray(x, dtype=object) for x in values],
                                       axis=int(a["axis"])))]
    if t in ("Unsqueeze", "Squeeze"):
        axes = ints(a["axes"]) if "axes" in a else (
            ints(values[1]) if len(values) > 1 else None)
        if t == "Squeeze":
            return [_settle(np.squeeze(v, axis=None if axes is None else tuple(axes)))]
        r = v.ndim + len(axes)
        return [_settle(np.expand_dims(v, tuple(ax % r for ax in axes)))]
    if t == "Slice" and v.ndim == 1 and len(values) >= 3:
        steps = ints(values[4]) if len(values) > 4 else (1,)
        return [_settle(v[int(values[1][0]):int(values[2][0]):steps[0]])]
    if t == "Reshape":
        return [_settle(np.reshape(v, ints(values[1])))]
    raise GraphError(f"{t} of a shape that holds the symbolic batch size is not supported "
                     f"(fdafast folds Shape through Gather, Concat, Slice, Unsqueeze, "
                     f"Squeeze, Cast and Reshape)")


def _fold(im, node, a):
    """Evaluate a node whose inputs are all constants; returns its outputs."""
    values = [im.consts[n] if n else None for n in node.input]
    if any(_symbolic(v) for v in values):
        return _fold_symbolic(im, node, a, [v for v in values if v is not None])
    from onnx.reference import ReferenceEvaluator   # optional dependency (onnx)
    feeds = {n: im.consts[n] for n in node.input if n}
    try:
        return ReferenceEvaluator(node, opsets={"": im.opset}).run(None, feeds)
    except Exception as exc:                       # the reference raises many kinds
        raise GraphError(f"folding this constant subgraph failed in ONNX's reference "
                         f"implementation: {type(exc).__name__}: {exc}") from None


def _convert(im, node):
    a = attributes(node)
    t = node.op_type
    if node.domain not in ("", "ai.onnx"):
        raise GraphError(f"operator domain {node.domain!r} is not supported (ai.onnx is)")
    if t in ("Shape", "Size") and node.input[0] in im.alias:
        outs = _fold_shape(im, node, a)
    elif all(n in im.consts for n in node.input if n) and t not in (
            "RandomNormal", "RandomUniform", "Multinomial", "Bernoulli"):
        if t == "Constant" and any(k.startswith("sparse") for k in a):
            raise GraphError("sparse constants are not supported")
        outs = _fold(im, node, a)
    elif t in CONVERTERS:
        return CONVERTERS[t](im, node, a)
    else:
        raise GraphError(f"ONNX operator {t!r} is not supported")
    for name, v in zip(node.output, outs):
        if name:
            im.consts[name] = v if _symbolic(v) else np.asarray(v)


def _input(model, consts):
    inputs = [i for i in model.graph.input if i.name not in consts]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise GraphError(f"models with one input and one output are supported, got "
                         f"{len(inputs)} inputs ({[i.name for i in inputs]}) and "
                         f"{len(model.graph.output)} outputs")
    t = inputs[0].type.tensor_type
    if t.elem_type not in FLOAT_TYPES:
        raise GraphError(f"input {inputs[0].name!r} has ONNX element type {t.elem_type}; "
                         f"float and double are supported")
    dims = t.shape.dim
    shape = tuple(d.dim_value for d in dims[1:])
    if not dims or any(v <= 0 for v in shape):
        raise GraphError(f"input {inputs[0].name!r} needs a static shape after the batch, got "
                         f"{[d.dim_param or d.dim_value for d in dims]}")
    return inputs[0].name, shape, (dims[0].dim_value or None)


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

    The input's shape must be static after its first axis (the batch, which
    may be symbolic).  See the module docstring for what is read and how.
    """
    try:
        import onnx                          # optional dependency: pip install onnx
    except ImportError:
        raise GraphError("from_onnx needs the onnx package (pip install onnx)") from None
    model = path if isinstance(path, onnx.ModelProto) else _load(onnx, path)
    try:
        return _import(model, name)
    except FdafastError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError,
            UnicodeDecodeError) as exc:
        # a graph that references what it never defines, attributes of the wrong
        # type: a corrupt or hand-made file, refused (the converters assume a valid model)
        raise GraphError(f"the ONNX model is malformed: {type(exc).__name__}: {exc}") \
            from None


def _import(model, name):
    consts = {t.name for t in model.graph.initializer}
    data, shape, batch = _input(model, consts)
    im = _Importer(model, batch)
    im.nodes.append(Node("input", "input", attrs={"shape": shape}))
    im.alias[data], im.shape["input"], im.factor["input"] = "input", shape, 1
    im.used.add("input")
    for node in model.graph.node:
        try:
            _convert(im, node)
        except FdafastError as exc:
            raise type(exc)(f"ONNX node {node.name or node.output[0]!r} ({node.op_type}, "
                            f"opset {im.opset}): {exc}") from None
    if not model.graph.output:
        raise GraphError("the ONNX model has no output")
    out = model.graph.output[0].name
    if out not in im.alias:
        raise GraphError(f"output {out!r} is a constant, not computed from the input"
                         if out in im.consts else f"output {out!r} is not produced")
    return Network(im.nodes, im.alias[out], name or model.graph.name or "onnx")
