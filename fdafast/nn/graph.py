"""A small layer graph: the networks fdafast runs and costs.

A :class:`Network` is a list of :class:`Node` objects in execution order
(each node's inputs come before it) from one ``input`` node to one output.

Tensors have a leading axis (axis 0) of independent rows, the batch, and
the rest is a row's shape (what :meth:`Network.shapes` reports).  Axes in
attributes count from that leading axis (channels are axis 1) and may be
negative; no operation reaches across rows: an attribute that names axis 0,
a constant that varies along it or a reshape that merges rows raises
:class:`GraphError`.  A reshape may split a row into several (ONNX's
Flatten with an axis > 1 does): the network then has more output rows than
input rows (:meth:`Network.row_factors`).

Operations (``Node.op``) and their attributes:

====================  ==============================================================
``input``             the network input, ``attrs['shape']`` without the batch
``conv``              ``stride``, ``padding`` (per axis an int, or a (low, high) pair),
                      ``dilation``, ``groups``; params ``weight`` (Cout, Cin/groups,
                      *kernel; 1, 2 or 3 kernel axes), ``bias`` (optional)
``linear``            params ``weight`` (out, in), ``bias`` (optional): ``x @ weight.T``
                      on the last axis
``batchnorm``         ``eps``; params ``weight``, ``bias``, ``running_mean``, ``running_var``
``layernorm``         ``axis`` (normalised over ``axis..``), ``eps``; params ``weight``,
                      ``bias`` (optional, broadcast over those axes)
``act``               ``kind`` (a name of :data:`fdafast.nn.functional.ACTIVATIONS`)
                      and its arguments (e.g. ``negative_slope``)
``prelu``             params ``weight``; ``axis`` 1 (torch: one slope per channel, or
                      one) or None (ONNX: the weight broadcasts against the tensor)
``maxpool``           ``kernel``, ``stride``, ``padding`` (ints or (low, high) pairs),
                      ``dilation``, ``ceil_mode``
``avgpool``           ``kernel``, ``stride``, ``padding``, ``ceil_mode``,
                      ``count_include_pad``; optional ``dilation``, ``divisor_override``
``adaptive_avgpool``  ``output_size`` (None keeps an axis)
``add``               elementwise sum of inputs of one shape (residual connections)
``binary``            ``kind`` (add, sub, mul, div, pow, max, min) of two inputs, or of
                      one input and the constant param ``other`` (or attr ``value``),
                      numpy broadcasting; ``swap``: the constant is the left operand
``concat``            along ``axis``; constant operands: params, and ``parts`` (the
                      order: an input's index or a param's name)
``flatten``           from ``start`` (1) to ``end`` (-1)
``reshape``           ``shape``: a row's new shape (one entry may be -1); a shape with
                      fewer elements splits each row into several
``transpose``         ``perm`` of all axes (``perm[0] == 0``)
``pad``               ``pads`` ((low, high) per row axis; negative crops), ``mode``
                      (constant, reflect, edge, wrap), ``value``
``slice``             ``slices``: (start, stop, step) per row axis (stop None: the end)
``gather``            ``axis``, ``indices`` (an int drops the axis, a list keeps it)
``reduce``            ``kind`` (mean, sum, max, min, prod), ``axes``, ``keepdims``
``softmax``           along ``axis``; ``log``: log-softmax; ``flatten``: over the axes
                      ``axis..`` jointly (ONNX before opset 13)
``dropout``           identity at inference
``identity``
====================  ==============================================================

Parameters are named ``<node>.<param>`` (:meth:`Network.state_dict`), which
for the zoo follows torchvision's module names, so official weights load
with :meth:`Network.load_weights`.
"""
import dataclasses
import math
import pathlib
import zipfile

import numpy as np

from .._tiling import dilated_extent, output_size
from ..errors import InvalidArgumentError, ShapeError
from ..workloads import Layer, conv_layer
from . import execute
from . import functional as F

__all__ = ["Node", "Network", "GraphError", "WeightsError", "OPS", "node_shape"]

#: Operations a node may have.
OPS = ("input", "conv", "linear", "batchnorm", "layernorm", "act", "prelu", "maxpool",
       "avgpool", "adaptive_avgpool", "add", "binary", "concat", "flatten", "reshape",
       "transpose", "pad", "slice", "gather", "reduce", "softmax", "dropout", "identity")
#: Modes of a ``pad`` node (ONNX's names; numpy's 'reflect', 'edge', 'wrap').
PAD_MODES = ("constant", "reflect", "edge", "wrap")
#: Buffers that may come with a state dict and are not parameters of the model.
IGNORED_BUFFERS = ("num_batches_tracked",)


class GraphError(InvalidArgumentError):
    """A network description that is malformed or uses what fdafast does not support."""


class WeightsError(InvalidArgumentError):
    """Weights that do not match a network (missing, unexpected or mis-shaped tensors)."""


@dataclasses.dataclass
class Node:
    """One operation of a network (see the module docstring for ``op`` and ``attrs``)."""

    name: str
    op: str
    inputs: tuple = ()
    attrs: dict = dataclasses.field(default_factory=dict)
    params: dict = dataclasses.field(default_factory=dict)


# -- shapes --------------------------------------------------------------------------------
def _fail(node, what):
    return GraphError(f"node {node.name!r} ({node.op}): {what}")


def row_axis(node, axis, rank, what="axis"):
    """``axis`` of a tensor of ``rank`` axes (the batch included) normalised to 1..rank-1;
    axis 0, the rows, and axes out of range raise :class:`GraphError`."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
            or not -rank <= axis < rank:
        raise _fail(node, f"{what} {axis!r} is out of range for a tensor of {rank} axes")
    axis = int(axis) % rank
    if axis == 0:
        raise _fail(node, f"{what} {axis} is the batch axis; fdafast keeps the rows of a "
                          f"batch independent (supported: axes 1..{rank - 1} or negative)")
    return axis


def const_row_shape(node, const, rank, what="constant"):
    """The shape a constant broadcasts with per row: numpy aligns it with a tensor of
    ``rank`` axes (the batch included) from the right, so a constant of ``rank`` axes
    must have 1 along the batch axis (which is then dropped)."""
    shape = tuple(np.shape(const))
    if len(shape) > rank or (len(shape) == rank and shape[0] != 1):
        raise _fail(node, f"the {what} of shape {shape} varies along the batch axis of a "
                          f"tensor of {rank} axes (supported: rank < {rank}, or 1 along axis 0)")
    return shape[1:] if len(shape) == rank else shape


def broadcast(node, *shapes):
    """numpy's broadcast of row shapes, or :class:`ShapeError` naming the node."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"node {node.name!r} ({node.op}): shapes {list(shapes)} do not "
                         f"broadcast") from None


def _conv_shape(node, shapes):
    shape, w = shapes[0], node.params["weight"]
    nd = w.ndim - 2
    a = node.attrs
    if nd not in (1, 2, 3):
        raise _fail(node, f"weight of shape {w.shape} has {nd} kernel axes (supported 1-3)")
    if len(shape) != nd + 1:
        raise ShapeError(f"node {node.name!r} ({nd}D conv) needs (C, "
                         f"{', '.join('DHW'[3 - nd:]) if nd > 1 else 'L'}) inputs, got {shape}")
    if shape[0] != w.shape[1] * a["groups"]:
        raise ShapeError(f"node {node.name!r} expects {w.shape[1] * a['groups']} input "
                         f"channels, got {shape[0]}")
    pads = F.pad_pairs(a["padding"], nd)
    out = [output_size(n, dilated_extent(k, d), lo, hi, s) for n, k, s, (lo, hi), d in
           zip(shape[1:], w.shape[2:], a["stride"], pads, a["dilation"])]
    if min(out) < 1:
        raise ShapeError(f"node {node.name!r}: kernel {w.shape[2:]} does not fit the input "
                         f"{shape[1:]} with padding {a['padding']}")
    return (w.shape[0],) + tuple(out)


def _pool_shape(node, shapes):
    shape, a = shapes[0], node.attrs
    nd = len(a["kernel"])
    if len(shape) != nd + 1:
        raise ShapeError(f"node {node.name!r} ({nd}D pooling) got an input of shape {shape}")
    dil = a.get("dilation") or (1,) * nd
    out = [F.pool_output_size(n, k, s, p, d, a["ceil_mode"]) for n, k, s, p, d in
           zip(shape[1:], a["kernel"], a["stride"], F.pad_pairs(a["padding"], nd), dil)]
    if min(out) < 1:
        raise ShapeError(f"node {node.name!r}: pooling window {a['kernel']} does not fit the "
                         f"input {shape[1:]}")
    return (shape[0],) + tuple(out)


def _adaptive_shape(node, shapes):
    shape = shapes[0]
    if len(shape) != len(node.attrs["output_size"]) + 1:
        raise ShapeError(f"node {node.name!r}: output_size {node.attrs['output_size']} does "
                         f"not fit an input of shape {shape}")
    return (shape[0],) + F.adaptive_output_size(node.attrs["output_size"], shape[1:])


def _linear_shape(node, shapes):
    shape, w = shapes[0], node.params["weight"]
    if not shape or shape[-1] != w.shape[1]:
        raise ShapeError(f"node {node.name!r} expects {w.shape[1]} input features on the "
                         f"last axis, got rows of shape {shape}")
    return tuple(shape[:-1]) + (w.shape[0],)


def _batchnorm_shape(node, shapes):
    c = node.params["running_mean"].shape[0]
    if not shapes[0] or shapes[0][0] != c:
        raise ShapeError(f"node {node.name!r} normalises {c} channels, got {shapes[0]}")
    return shapes[0]


def _layernorm_shape(node, shapes):
    shape = shapes[0]
    axis = row_axis(node, node.attrs["axis"], len(shape) + 1)
    for k in ("weight", "bias"):
        if k in node.params and broadcast(node, shape[axis - 1:],
                                          node.params[k].shape) != shape[axis - 1:]:
            raise ShapeError(f"node {node.name!r}: {k} of shape {node.params[k].shape} does "
                             f"not broadcast to the normalised axes {shape[axis - 1:]}")
    return shape


def _act_shape(node, shapes):
    kind = node.attrs.get("kind")
    if kind not in F.ACTIVATIONS:
        raise _fail(node, f"activation {kind!r} is not supported; supported: "
                          f"{', '.join(F.ACTIVATIONS)}")
    extra = set(node.attrs) - {"kind"} - set(F.ACTIVATION_ARGS[kind])
    if extra:
        raise _fail(node, f"activation {kind!r} takes {F.ACTIVATION_ARGS[kind]}, not "
                          f"{sorted(extra)}")
    return shapes[0]


def _prelu_shape(node, shapes):
    shape, w = shapes[0], node.params["weight"]
    if node.attrs.get("axis", 1) is None:
        slope = const_row_shape(node, w, len(shape) + 1, "slope")
        if broadcast(node, shape, slope) != shape:
            raise ShapeError(f"node {node.name!r}: slope of shape {w.shape} does not "
                             f"broadcast to rows of shape {shape}")
    elif w.size != 1 and (w.ndim != 1 or not shape or w.shape[0] != shape[0]):
        raise ShapeError(f"node {node.name!r}: the weight must have 1 or {shape[:1]} "
                         f"entries, got shape {w.shape}")
    return shape


def _add_shape(node, shapes):
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(f"node {node.name!r} adds inputs of different shapes {shapes}")
    return shapes[0]


def _binary_shape(node, shapes):
    kind = node.attrs.get("kind")
    if kind not in F.BINARY:
        raise _fail(node, f"kind {kind!r} is not supported; supported: {', '.join(F.BINARY)}")
    if len(shapes) == 2:
        if len(shapes[0]) != len(shapes[1]):
            raise _fail(node, f"operands of ranks {len(shapes[0]) + 1} and "
                              f"{len(shapes[1]) + 1} would align the batch axis with another "
                              f"(supported: two tensors of one rank)")
        return broadcast(node, *shapes)
    other = node.params["other"] if "other" in node.params else node.attrs["value"]
    return broadcast(node, shapes[0], const_row_shape(node, other, len(shapes[0]) + 1))


def concat_parts(node, inputs):
    """The operands of a concat node in order: ``inputs`` and its constant params
    (attr ``parts``: an input's index, or a param's name)."""
    parts = node.attrs.get("parts")
    if parts is None:
        return list(inputs)
    return [inputs[p] if isinstance(p, int) else node.params[p] for p in parts]


def _concat_shape(node, shapes):
    rank = len(shapes[0]) + 1
    shapes = [s if isinstance(s, tuple) else const_row_shape(node, s, rank)
              for s in concat_parts(node, shapes)]
    ax = row_axis(node, node.attrs["axis"], rank) - 1
    rest = [s[:ax] + s[ax + 1:] for s in shapes]
    if any(len(s) != len(shapes[0]) for s in shapes) or any(r != rest[0] for r in rest):
        raise ShapeError(f"node {node.name!r} concatenates incompatible shapes {shapes}")
    return shapes[0][:ax] + (sum(s[ax] for s in shapes),) + shapes[0][ax + 1:]


def _flatten_shape(node, shapes):
    shape = shapes[0]
    rank = len(shape) + 1
    start = row_axis(node, node.attrs.get("start", 1), rank, "start")
    end = row_axis(node, node.attrs.get("end", -1), rank, "end") if rank > 1 else 0
    if end < start:
        raise _fail(node, f"end axis {end} comes before start axis {start}")
    return shape[:start - 1] + (math.prod(shape[start - 1:end]),) + shape[end:]


def _reshape_shape(node, shapes):
    shape, target = shapes[0], tuple(int(v) for v in node.attrs["shape"])
    known = math.prod(v for v in target if v != -1)
    if sum(v == -1 for v in target) > 1 or any(v < -1 or v == 0 for v in target):
        raise _fail(node, f"shape {target} must have positive entries and at most one -1")
    if -1 in target:
        if known == 0 or math.prod(shape) % known:
            raise ShapeError(f"node {node.name!r}: rows of shape {shape} cannot take the "
                             f"shape {target}")
        target = tuple(math.prod(shape) // known if v == -1 else v for v in target)
    elif math.prod(shape) % known:
        raise ShapeError(f"node {node.name!r}: rows of shape {shape} ({math.prod(shape)} "
                         f"elements) do not split into rows of shape {target}; merging rows "
                         f"would mix the batch")
    return target


def _transpose_shape(node, shapes):
    shape, perm = shapes[0], tuple(node.attrs["perm"])
    if sorted(perm) != list(range(len(shape) + 1)):
        raise _fail(node, f"perm {perm} is not a permutation of {len(shape) + 1} axes")
    if perm[0] != 0:
        raise _fail(node, f"perm {perm} moves the batch axis 0; fdafast keeps it first")
    return tuple(shape[p - 1] for p in perm[1:])


def _pad_shape(node, shapes):
    shape, a = shapes[0], node.attrs
    pads = tuple(tuple(p) for p in a["pads"])
    if len(pads) != len(shape) or a.get("mode", "constant") not in PAD_MODES:
        raise _fail(node, f"pads {pads} (one (low, high) pair per row axis of {shape}) and "
                          f"mode {a.get('mode')!r} (one of {PAD_MODES}) do not fit")
    out = tuple(n + lo + hi for n, (lo, hi) in zip(shape, pads))
    if min(out, default=1) < 1:
        raise ShapeError(f"node {node.name!r}: pads {pads} leave nothing of {shape}")
    mode = a.get("mode", "constant")
    for n, (lo, hi) in zip(shape, pads):
        limit = n - 1 if mode == "reflect" else n
        if mode != "constant" and max(lo, hi) > limit:
            raise _fail(node, f"mode {mode!r} pads at most {limit} along an axis of {n}, got "
                              f"{pads} (ONNX Runtime and torch refuse more)")
    return out


def _slice_shape(node, shapes):
    shape, slices = shapes[0], node.attrs["slices"]
    if len(slices) != len(shape):
        raise _fail(node, f"slices {slices} need one (start, stop, step) per row axis of {shape}")
    out = tuple(len(range(n)[slice(*s)]) for n, s in zip(shape, slices))
    if min(out, default=1) < 1:
        raise ShapeError(f"node {node.name!r}: slices {slices} of {shape} are empty")
    return out


def _gather_shape(node, shapes):
    shape = shapes[0]
    ax = row_axis(node, node.attrs["axis"], len(shape) + 1) - 1
    idx = np.asarray(node.attrs["indices"])
    if idx.dtype.kind not in "iu" or idx.size == 0 or idx.min() < -shape[ax] \
            or idx.max() >= shape[ax]:
        raise _fail(node, f"indices {node.attrs['indices']} must be ints in range for an axis "
                          f"of {shape[ax]}")
    return shape[:ax] + idx.shape + shape[ax + 1:]


def _reduce_shape(node, shapes):
    shape, a = shapes[0], node.attrs
    if a.get("kind") not in F.REDUCE:
        raise _fail(node, f"kind {a.get('kind')!r} is not supported; supported: "
                          f"{', '.join(F.REDUCE)}")
    axes = {row_axis(node, ax, len(shape) + 1, "reduced axis") - 1 for ax in a["axes"]}
    if not axes:
        raise _fail(node, "no axes to reduce (reducing every axis would mix the batch)")
    if a.get("keepdims", True):
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _softmax_shape(node, shapes):
    row_axis(node, node.attrs.get("axis", 1), len(shapes[0]) + 1)
    return shapes[0]


_SHAPES = {"conv": _conv_shape, "linear": _linear_shape, "maxpool": _pool_shape,
           "avgpool": _pool_shape, "adaptive_avgpool": _adaptive_shape,
           "batchnorm": _batchnorm_shape, "layernorm": _layernorm_shape, "act": _act_shape,
           "prelu": _prelu_shape, "add": _add_shape, "binary": _binary_shape,
           "concat": _concat_shape, "flatten": _flatten_shape, "reshape": _reshape_shape,
           "transpose": _transpose_shape, "pad": _pad_shape, "slice": _slice_shape,
           "gather": _gather_shape, "reduce": _reduce_shape, "softmax": _softmax_shape,
           "dropout": lambda node, shapes: shapes[0],
           "identity": lambda node, shapes: shapes[0]}
#: The inputs each operation reads: (fewest, most).
_ARITY = {"add": (1, None), "concat": (1, None), "binary": (1, 2)}


def node_shape(node, shapes):
    """Output shape (a row's, without the batch) of ``node`` given its inputs' shapes;
    raises :class:`GraphError` or :class:`~fdafast.ShapeError` naming the node."""
    lo, hi = _ARITY.get(node.op, (1, 1))
    if not lo <= len(shapes) <= (hi or len(shapes)) or \
            (node.op == "binary" and len(shapes) == 1 and "other" not in node.params
             and "value" not in node.attrs):
        raise _fail(node, f"reads {len(shapes)} inputs")
    try:
        return tuple(int(v) for v in _SHAPES[node.op](node, shapes))
    except (KeyError, TypeError, IndexError) as exc:     # a missing or malformed attribute
        raise _fail(node, f"malformed attributes or parameters ({type(exc).__name__}: "
                          f"{exc}); see fdafast.nn.graph's docstring") from None


def row_factor(node, factors, shapes, out):
    """Output rows per input row of ``node`` (see :meth:`Network.row_factors`)."""
    if any(f != factors[0] for f in factors):
        raise ShapeError(f"node {node.name!r} combines tensors of {factors} rows per batch "
                         f"row")
    if node.op == "reshape" and -1 not in node.attrs["shape"]:
        return factors[0] * math.prod(shapes[0]) // math.prod(out)
    return factors[0]


class Network:
    """A network: nodes in execution order from the ``input`` node to ``output``.

    Parameters
    ----------
    nodes : list of Node
        The first is the ``input`` node; every node's inputs appear before it.
    output : str, optional
        The output node (default: the last node).
    name : str
    """

    def __init__(self, nodes, output=None, name="network"):
        self.nodes = list(nodes)
        self.name = name
        self.output = output or self.nodes[-1].name
        self._index = {}
        #: Incremented whenever the parameters change (executors rebuild their plans).
        self.version = 0
        self._check()

    def _check(self):
        if not self.nodes or self.nodes[0].op != "input":
            raise GraphError("a network starts with an 'input' node")
        for node in self.nodes:
            if node.op not in OPS:
                raise GraphError(f"node {node.name!r} has unsupported operation {node.op!r}; "
                                 f"supported: {', '.join(OPS)}")
            if node.name in self._index:
                raise GraphError(f"two nodes are named {node.name!r}")
            missing = [i for i in node.inputs if i not in self._index]
            if missing:
                raise GraphError(f"node {node.name!r} reads {missing}, which do not come "
                                 f"before it")
            self._index[node.name] = node
        if self.output not in self._index:
            raise GraphError(f"output {self.output!r} is not a node")
        self._infer()                                      # every shape must work out

    @property
    def input_shape(self):
        """The input's shape without the batch, e.g. (3, 16, 112, 112)."""
        return tuple(self.nodes[0].attrs["shape"])

    def node(self, name):
        return self._index[name]

    def _infer(self):
        shapes, factors = {}, {}
        for node in self.nodes:
            if node.op == "input":
                shapes[node.name], factors[node.name] = tuple(node.attrs["shape"]), 1
                continue
            ins = [shapes[i] for i in node.inputs]
            shapes[node.name] = node_shape(node, ins)
            factors[node.name] = row_factor(node, [factors[i] for i in node.inputs], ins,
                                            shapes[node.name])
        return shapes, factors

    def shapes(self):
        """Output shape (a row's, without the batch) of every node."""
        return self._infer()[0]

    def row_factors(self):
        """Rows of every node's output per input row: 1, unless a reshape split rows
        (ONNX's Flatten with axis 2 turns a batch of N rows (C, L) into N*C rows (L,))."""
        return self._infer()[1]

    @property
    def output_shape(self):
        """The output's shape per input row (after the batch axis; see :meth:`row_factors`)."""
        return self.shapes()[self.output]

    # -- weights -----------------------------------------------------------------------
    def state_dict(self):
        """``{'<node>.<param>': array}`` of every parameter (the arrays themselves)."""
        return {f"{n.name}.{k}": v for n in self.nodes for k, v in n.params.items()}

    def load_weights(self, source):
        """Replace the parameters from a ``.npz`` file, a torch state-dict file
        (``.pt``/``.pth``, needs torch) or a mapping of names to arrays.

        Every tensor is checked first: missing, unexpected (other than
        ``num_batches_tracked``) and mis-shaped tensors are all listed in one
        :class:`WeightsError`, and then nothing is changed.
        """
        new = _read_weights(source)
        own = self.state_dict()
        missing = sorted(set(own) - set(new))
        extra = sorted(k for k in set(new) - set(own)
                       if k.rsplit(".", 1)[-1] not in IGNORED_BUFFERS)
        bad = sorted(f"{k}: expected {own[k].shape}, got {tuple(np.shape(new[k]))}"
                     for k in set(own) & set(new) if tuple(np.shape(new[k])) != own[k].shape)
        common = sorted(set(own) & set(new))
        kinds = {k: np.asarray(new[k]).dtype.kind for k in common}
        wrong = [f"{k}: {np.asarray(new[k]).dtype}" for k in common if kinds[k] not in "fiu"]
        # the parameters are stored as float32: check what float32 makes of them
        with np.errstate(over="ignore"):
            cast = {k: np.asarray(new[k]).astype(np.float32) for k in common
                    if kinds[k] in "fiu"}
            nonfinite = [k for k, v in cast.items() if not np.all(np.isfinite(v))]
        problems = [f"missing: {', '.join(missing)}" if missing else "",
                    f"unexpected: {', '.join(extra)}" if extra else "",
                    f"mis-shaped: {'; '.join(bad)}" if bad else "",
                    f"not real numbers: {'; '.join(wrong)}" if wrong else "",
                    f"not finite: {', '.join(nonfinite)}" if nonfinite else ""]  # as float32
        problems = [p for p in problems if p]
        if problems:
            raise WeightsError(f"weights do not match network {self.name!r} "
                               f"(nothing was loaded): " + " | ".join(problems))
        for node in self.nodes:
            for k in node.params:
                node.params[k] = cast[f"{node.name}.{k}"]
        self.version += 1
        return self

    def save_weights(self, path):
        """Write the parameters to a ``.npz`` file :meth:`load_weights` reads."""
        np.savez(path, **self.state_dict())

    # -- the cost model's view ---------------------------------------------------------------
    def layers(self, batch=1):
        """The conv and linear nodes as :class:`fdafast.workloads.Layer` objects
        (what :func:`fdafast.estimate` takes)."""
        shapes, factors = self._infer()
        out = []
        for node in self.nodes:
            rows = batch * factors[node.name]
            if node.op == "conv":
                a = node.attrs
                out.append(conv_layer(node.name, shapes[node.inputs[0]],
                                      node.params["weight"].shape, a["stride"], a["padding"],
                                      a["dilation"], a["groups"], rows))
            elif node.op == "linear":
                w = node.params["weight"]
                rows *= math.prod(shapes[node.inputs[0]][:-1])
                out.append(Layer(node.name, "linear", w.shape[1], w.shape[0], batch=rows))
        return out

    def fold_batchnorm(self):
        """A copy with every batch norm that follows a conv (its only reader)
        folded into the conv's weights and bias."""
        readers = {}
        for n in self.nodes:
            for i in n.inputs:
                readers.setdefault(i, []).append(n.name)
        rename, nodes = {}, []
        for n in self.nodes:
            src = self._index.get(n.inputs[0]) if n.inputs else None
            if (n.op == "batchnorm" and src is not None and src.op == "conv"
                    and readers.get(src.name) == [n.name] and src.name != self.output):
                conv = nodes[-1] if nodes and nodes[-1].name == src.name else None
                if conv is not None:
                    nodes[-1] = _folded(conv, n)
                    rename[n.name] = conv.name
                    continue
            nodes.append(Node(n.name, n.op, tuple(rename.get(i, i) for i in n.inputs),
                              dict(n.attrs), dict(n.params)))
        return Network(nodes, rename.get(self.output, self.output), self.name)

    # -- running -----------------------------------------------------------------------------
    def run(self, x, mode="fft", **options):
        """Run the network on ``x`` (batch first); see :func:`fdafast.nn.execute.run`."""
        return execute.run(self, x, mode, **options)

    def __repr__(self):
        return (f"<Network {self.name!r}: {len(self.nodes)} nodes, input "
                f"{self.input_shape}, output {self.output_shape}>")


def _folded(conv, bn):
    p = bn.params
    scale = p["weight"].astype(np.float64) / np.sqrt(p["running_var"].astype(np.float64)
                                                     + bn.attrs["eps"])
    w = conv.params["weight"].astype(np.float64)
    b = conv.params.get("bias")
    b = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
    params = {"weight": (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))),
              "bias": (b - p["running_mean"]) * scale + p["bias"]}
    return Node(conv.name, "conv", conv.inputs, dict(conv.attrs), params)


def _read_weights(source):
    if isinstance(source, dict):
        return {k: np.asarray(_to_numpy(v)) for k, v in source.items()}
    path = pathlib.Path(source)
    if not path.exists():
        raise WeightsError(f"no weights file at {str(path)!r}")
    if not path.is_file():
        raise WeightsError(f"{str(path)!r} is not a file")
    if path.suffix == ".npz":
        try:
            f = np.load(path, allow_pickle=False)
            if not hasattr(f, "files"):
                raise ValueError("it holds a single array, not an archive")
            with f:
                return {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise WeightsError(f"cannot read {str(path)!r} as an .npz archive of arrays: "
                               f"{exc}") from None
    try:
        import torch
    except ImportError:
        raise WeightsError(f"{str(path)!r} is not .npz; reading torch files needs torch "
                           f"(pip install torch)") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:                              # torch raises many kinds
        raise WeightsError(f"cannot read {str(path)!r} as a torch state dict: {exc}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsError(f"{str(path)!r} holds a {type(obj).__name__}, not a state dict")
    return {k: _to_numpy(v) for k, v in obj.items()}


def _to_numpy(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return np.asarray(v)
