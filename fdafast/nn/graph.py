"""A small layer graph: the networks fdafast runs and costs.

A :class:`Network` is a list of :class:`Node` objects in execution order
(each node's inputs come before it) from one ``input`` node to one output.
Operations (``Node.op``) and their attributes:

=================  ==============================================================
``input``          the network input, ``attrs['shape']`` without the batch
``conv``           ``stride``, ``padding`` (symmetric), ``dilation``, ``groups``;
                   params ``weight`` (Cout, Cin/groups, *kernel), ``bias`` (optional)
``linear``         params ``weight`` (out, in), ``bias`` (optional)
``batchnorm``      ``eps``; params ``weight``, ``bias``, ``running_mean``, ``running_var``
``act``            ``kind`` (a name of :data:`fdafast.nn.functional.ACTIVATIONS`)
                   and its arguments (e.g. ``negative_slope``)
``maxpool``        ``kernel``, ``stride``, ``padding``, ``dilation``, ``ceil_mode``
``avgpool``        ``kernel``, ``stride``, ``padding``, ``ceil_mode``, ``count_include_pad``
``adaptive_avgpool``  ``output_size``
``add``            elementwise sum of its inputs (residual connections)
``concat``         along ``axis`` (channels: 1)
``flatten``        from ``start`` (1) to the last axis
``dropout``        identity at inference
``identity``
``softmax``        along ``axis``
=================  ==============================================================

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

__all__ = ["Node", "Network", "GraphError", "WeightsError", "OPS"]

#: Operations a node may have.
OPS = ("input", "conv", "linear", "batchnorm", "act", "maxpool", "avgpool",
       "adaptive_avgpool", "add", "concat", "flatten", "dropout", "identity", "softmax")
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


# -- shapes --------------------------------------------------------------------------
def _conv_shape(node, shape):
    w = node.params["weight"]
    nd = w.ndim - 2
    a = node.attrs
    if len(shape) != nd + 1:
        raise ShapeError(f"node {node.name!r} ({nd}D conv) needs (C, {'D, ' * (nd - 2)}H, W) "
                         f"inputs, got {shape}")
    if shape[0] != w.shape[1] * a["groups"]:
        raise ShapeError(f"node {node.name!r} expects {w.shape[1] * a['groups']} input "
                         f"channels, got {shape[0]}")
    out = [output_size(n, dilated_extent(k, d), p, p, s) for n, k, s, p, d in
           zip(shape[1:], w.shape[2:], a["stride"], a["padding"], a["dilation"])]
    if min(out) < 1:
        raise ShapeError(f"node {node.name!r}: kernel {w.shape[2:]} does not fit the input "
                         f"{shape[1:]} with padding {a['padding']}")
    return (w.shape[0],) + tuple(out)


def _pool_shape(node, shape):
    a = node.attrs
    nd = len(a["kernel"])
    if len(shape) != nd + 1:
        raise ShapeError(f"node {node.name!r} ({nd}D pooling) got an input of shape {shape}")
    dil = a.get("dilation", (1,) * nd)
    out = [F.pool_output_size(n, k, s, p, d, a["ceil_mode"]) for n, k, s, p, d in
           zip(shape[1:], a["kernel"], a["stride"], a["padding"], dil)]
    if min(out) < 1:
        raise ShapeError(f"node {node.name!r}: pooling window {a['kernel']} does not fit the "
                         f"input {shape[1:]}")
    return (shape[0],) + tuple(out)


def _linear_shape(node, shape):
    w = node.params["weight"]
    if shape[-1] != w.shape[1]:
        raise ShapeError(f"node {node.name!r} expects {w.shape[1]} input features, got "
                         f"shape {shape}")
    return tuple(shape[:-1]) + (w.shape[0],)


def _same_shapes(node, shapes):
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(f"node {node.name!r} adds inputs of different shapes {shapes}")
    return shapes[0]


def _concat_shape(node, shapes):
    ax = node.attrs["axis"] - 1                          # shapes exclude the batch
    rest = [s[:ax] + s[ax + 1:] for s in shapes]
    if any(r != rest[0] for r in rest):
        raise ShapeError(f"node {node.name!r} concatenates incompatible shapes {shapes}")
    return shapes[0][:ax] + (sum(s[ax] for s in shapes),) + shapes[0][ax + 1:]


def _flatten_shape(node, shape):
    start = node.attrs.get("start", 1) - 1
    return tuple(shape[:start]) + (math.prod(shape[start:]),)


def node_shape(node, shapes):
    """Output shape (without the batch) of ``node`` given its inputs' shapes."""
    op = node.op
    if op == "conv":
        return _conv_shape(node, shapes[0])
    if op == "linear":
        return _linear_shape(node, shapes[0])
    if op in ("maxpool", "avgpool"):
        return _pool_shape(node, shapes[0])
    if op == "adaptive_avgpool":
        return (shapes[0][0],) + tuple(node.attrs["output_size"])
    if op == "add":
        return _same_shapes(node, shapes)
    if op == "concat":
        return _concat_shape(node, shapes)
    if op == "flatten":
        return _flatten_shape(node, shapes[0])
    if op == "batchnorm" and shapes[0][0] != node.params["running_mean"].shape[0]:
        raise ShapeError(f"node {node.name!r} normalises {node.params['running_mean'].shape[0]} "
                         f"channels, got {shapes[0][0]}")
    return shapes[0]


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
        self.shapes()                                      # every shape must work out

    @property
    def input_shape(self):
        """The input's shape without the batch, e.g. (3, 16, 112, 112)."""
        return tuple(self.nodes[0].attrs["shape"])

    def node(self, name):
        return self._index[name]

    def shapes(self):
        """Output shape (without the batch) of every node."""
        out = {}
        for node in self.nodes:
            if node.op == "input":
                out[node.name] = tuple(node.attrs["shape"])
            else:
                out[node.name] = node_shape(node, [out[i] for i in node.inputs])
        return out

    @property
    def output_shape(self):
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
        shapes = self.shapes()
        out = []
        for node in self.nodes:
            if node.op == "conv":
                a = node.attrs
                out.append(conv_layer(node.name, shapes[node.inputs[0]],
                                      node.params["weight"].shape, a["stride"], a["padding"],
                                      a["dilation"], a["groups"], batch))
            elif node.op == "linear":
                w = node.params["weight"]
                rows = math.prod(shapes[node.inputs[0]][:-1])
                out.append(Layer(node.name, "linear", w.shape[1], w.shape[0],
                                 batch=batch * rows))
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
