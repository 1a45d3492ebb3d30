"""Import a PyTorch model into a :class:`~fdafast.nn.graph.Network` (torch.fx tracing).

``from_torch(module, example_input)`` traces ``module`` symbolically, checks
that every module it calls is supported, runs the example through the trace
to learn every tensor's shape, and maps each call to a node with torch's
semantics: modules keep their qualified names (so ``state_dict`` names carry
over), functions and methods take the trace's node names.  The model is put
in eval mode; parameters are copied as float32.  The example's first axis
is the batch: what would reach across it (``torch.cat`` along dim 0, a
softmax over it, ``torch.flatten(x)`` from dim 0) is refused.  An operation
with no fdafast counterpart (a GRU, ``torch.sin``, a tensor attribute used
directly) raises :class:`~fdafast.nn.graph.GraphError` naming it and the node.
Reshapes are read from the traced shapes, so give an example batch of 2 or
more: with a batch of 1, ``x.view(1, -1)`` (which merges rows) cannot be told
from ``x.view(x.size(0), -1)``.
"""
import inspect
import math
import operator

import numpy as np

from . import functional as npF
from .graph import GraphError, Network, Node

__all__ = ["from_torch"]

#: Parameter names of torch builtins (functions and Tensor methods) without signatures.
_SIGNATURES = {
    "cat": ("tensors", "dim"), "concat": ("tensors", "dim"),
    "flatten": ("input", "start_dim", "end_dim"),
    "mean": ("input", "dim", "keepdim", "dtype"), "sum": ("input", "dim", "keepdim", "dtype"),
    "amax": ("input", "dim", "keepdim"), "amin": ("input", "dim", "keepdim"),
    "softmax": ("input", "dim", "dtype"), "log_softmax": ("input", "dim", "dtype"),
    "permute": ("input", "dims"), "transpose": ("input", "dim0", "dim1"),
    "reshape": ("input", "shape"), "view": ("input", "shape"),
    "squeeze": ("input", "dim"), "unsqueeze": ("input", "dim"),
    "add": ("input", "other", "alpha"), "sub": ("input", "other", "alpha"),
    "mul": ("input", "other"), "div": ("input", "other", "rounding_mode"),
    "pow": ("input", "exponent"), "clamp": ("input", "min", "max"),
}
_DEFAULTS = {"start_dim": 0, "end_dim": -1, "keepdim": False, "alpha": 1, "dtype": None,
             "rounding_mode": None, "min": None, "max": None, "dim": None}


def _tuple(v, nd):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * nd


def _params(m, names):
    out = {}
    for n in names:
        t = getattr(m, n, None)
        if t is not None:
            out[n] = t.detach().cpu().numpy().astype(np.float32)
    return out


# -- modules -------------------------------------------------------------------------------------
def _conv(m, name, meta):
    nd = m.weight.ndim - 2
    if m.padding_mode != "zeros":
        raise GraphError(f"node {name!r}: padding_mode={m.padding_mode!r} is not supported "
                         f"(only zero padding)")
    pad = m.padding
    if pad == "valid":
        pad = (0,) * nd
    elif pad == "same":                  # torch: total d(k-1), the extra sample at the end
        ext = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
        pad = tuple(e // 2 if e % 2 == 0 else (e // 2, e - e // 2) for e in ext)
    attrs = {"stride": _tuple(m.stride, nd), "padding": tuple(pad) if isinstance(pad, tuple)
             else _tuple(pad, nd), "dilation": _tuple(m.dilation, nd), "groups": m.groups}
    return "conv", attrs, _params(m, ("weight", "bias"))


def _pool(m, name, kind, nd):
    if getattr(m, "return_indices", False):
        raise GraphError(f"node {name!r}: max pooling with return_indices is not supported")
    attrs = {"kernel": _tuple(m.kernel_size, nd), "stride": _tuple(m.stride or m.kernel_size, nd),
             "padding": _tuple(m.padding, nd), "ceil_mode": bool(m.ceil_mode)}
    if kind == "maxpool":
        attrs["dilation"] = _tuple(m.dilation, nd)
    else:
        attrs["count_include_pad"] = bool(m.count_include_pad)
        if getattr(m, "divisor_override", None):
            attrs["divisor_override"] = int(m.divisor_override)
    return kind, attrs, {}


def _norm(m, name, tnn):
    if isinstance(m, tnn.LayerNorm):
        params = _params(m, ("weight", "bias"))
        return "layernorm", {"axis": -len(m.normalized_shape), "eps": float(m.eps)}, params
    if m.running_mean is None:
        raise GraphError(f"node {name!r}: batch norm without running statistics is not "
                         f"supported")
    params = _params(m, ("running_mean", "running_var"))
    c = params["running_mean"].shape[0]
    params["weight"] = _params(m, ("weight",)).get("weight", np.ones(c, np.float32))
    params["bias"] = _params(m, ("bias",)).get("bias", np.zeros(c, np.float32))
    return "batchnorm", {"eps": float(m.eps)}, params


def _activation_module(m, tnn):
    """(kind, attrs) of an activation module, or None."""
    plain = {tnn.ReLU: "relu", tnn.ReLU6: "relu6", tnn.Sigmoid: "sigmoid", tnn.Tanh: "tanh",
             tnn.Hardswish: "hardswish", tnn.Hardsigmoid: "hardsigmoid", tnn.SiLU: "silu",
             tnn.Mish: "mish", tnn.SELU: "selu", tnn.Softsign: "softsign"}
    if type(m) in plain:
        return plain[type(m)], {}
    fields = {tnn.LeakyReLU: ("leaky_relu", {"negative_slope": "negative_slope"}),
              tnn.Hardtanh: ("hardtanh", {"min_val": "min_val", "max_val": "max_val"}),
              tnn.ELU: ("elu", {"alpha": "alpha"}), tnn.CELU: ("celu", {"alpha": "alpha"}),
              tnn.GELU: ("gelu", {"approximate": "approximate"}),
              tnn.Softplus: ("softplus", {"beta": "beta", "threshold": "threshold"})}
    if type(m) in fields:
        kind, names = fields[type(m)]
        return kind, {k: getattr(m, v) for k, v in names.items()}
    return None


def _pad_module(m, tnn):
    modes = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect",
             "Replication": "edge", "Circular": "wrap"}
    for prefix, mode in modes.items():
        if type(m).__name__.startswith(prefix + "Pad"):
            flat = list(m.padding)
            pairs = tuple(zip(flat[0::2], flat[1::2]))[::-1]      # torch: last axis first
            return mode, pairs, float(getattr(m, "value", 0.0))
    return None


def _module_node(m, name, tnn, meta_in, meta_out):
    act = _activation_module(m, tnn)
    if act is not None:
        return "act", {"kind": act[0], **act[1]}, {}
    if isinstance(m, (tnn.Conv1d, tnn.Conv2d, tnn.Conv3d)):
        return _conv(m, name, meta_out)
    if isinstance(m, tnn.Linear):
        return "linear", {}, _params(m, ("weight", "bias"))
    if isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.BatchNorm3d, tnn.LayerNorm)):
        return _norm(m, name, tnn)
    if isinstance(m, tnn.PReLU):
        return "prelu", {"axis": 1}, _params(m, ("weight",))
    pools = {tnn.MaxPool1d: ("maxpool", 1), tnn.MaxPool2d: ("maxpool", 2),
             tnn.MaxPool3d: ("maxpool", 3), tnn.AvgPool1d: ("avgpool", 1),
             tnn.AvgPool2d: ("avgpool", 2), tnn.AvgPool3d: ("avgpool", 3)}
    if type(m) in pools:
        return _pool(m, name, *pools[type(m)])
    if isinstance(m, (tnn.AdaptiveAvgPool1d, tnn.AdaptiveAvgPool2d, tnn.AdaptiveAvgPool3d)):
        return "adaptive_avgpool", {"output_size": tuple(meta_out.shape[2:])}, {}
    if isinstance(m, tnn.Flatten):
        return "flatten", {"start": m.start_dim, "end": m.end_dim}, {}
    if isinstance(m, (tnn.Softmax, tnn.LogSoftmax)):
        dim = m.dim if m.dim is not None else (0 if len(meta_in.shape) in (0, 1, 3) else 1)
        return "softmax", {"axis": dim, "log": isinstance(m, tnn.LogSoftmax)}, {}
    if isinstance(m, (tnn.Dropout, tnn.Dropout1d, tnn.Dropout2d, tnn.Dropout3d,
                      tnn.AlphaDropout)):
        return "dropout", {}, {}
    if isinstance(m, tnn.Identity):
        return "identity", {}, {}
    pad = _pad_module(m, tnn)
    if pad is not None:
        return "pad", {"mode": pad[0], "pads": _row_pads(pad[1], len(meta_in.shape)),
                       "value": pad[2]}, {}
    raise GraphError(f"node {name!r}: module {type(m).__name__} is not supported")


def _row_pads(pairs, rank):
    """(low, high) per row axis from torch's pairs of the last axes."""
    return ((0, 0),) * (rank - 1 - len(pairs)) + tuple(tuple(p) for p in pairs)


# -- functions and methods -------------------------------------------------------------------------
def _bind(node, names):
    """Arguments of an fx call by name (positional ones mapped through ``names``)."""
    args = dict(zip(names, node.args))
    args.update(node.kwargs)
    return {**{k: v for k, v in _DEFAULTS.items() if k in names}, **args}


def _act_function(fn, node, F, torch):
    """(kind, attrs) of an activation function call, or None."""
    kinds = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid",
             F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh", F.hardswish: "hardswish",
             F.hardsigmoid: "hardsigmoid", F.silu: "silu", F.mish: "mish", F.gelu: "gelu",
             F.leaky_relu: "leaky_relu", F.elu: "elu", F.selu: "selu", F.celu: "celu",
             F.hardtanh: "hardtanh", F.softplus: "softplus", F.softsign: "softsign",
             torch.exp: "exp", torch.sqrt: "sqrt", torch.erf: "erf", torch.abs: "abs",
             torch.neg: "neg", torch.log: "log"}
    kind = kinds.get(fn)
    if kind is None:
        return None
    try:                                    # torch's Python functions have signatures
        bound = inspect.signature(fn).bind(*node.args, **node.kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
    except (TypeError, ValueError):         # builtins: the input alone
        if len(node.args) != 1 or node.kwargs:
            raise GraphError(f"node {node.name!r}: {fn.__name__} with extra arguments is "
                             f"not supported") from None
        given = {}
    return kind, {k: v for k, v in given.items() if k in npF.ACTIVATION_ARGS[kind]}


def _binary(node, kind, args, alias):
    """A sum, difference, product, quotient or power of tensors and scalars."""
    a, b = args["input"], args["other" if "other" in args else "exponent"]
    if args.get("alpha", 1) != 1 or args.get("rounding_mode") is not None:
        raise GraphError(f"node {node.name!r}: {kind} with alpha or rounding_mode is not "
                         f"supported")
    ta, tb = hasattr(a, "name"), hasattr(b, "name")
    if any(hasattr(v, "name") and v.name not in alias for v in (a, b)):
        raise GraphError(f"node {node.name!r}: {kind} with a value computed from shapes is "
                         f"not supported")
    if ta and tb:
        return "binary", {"kind": kind}, [alias[a.name], alias[b.name]]
    if not (ta or tb) or not isinstance(b if ta else a, (int, float)):
        raise GraphError(f"node {node.name!r}: {kind} of {a!r} and {b!r}: supported are "
                         f"tensors and Python numbers")
    return "binary", {"kind": kind, "value": float(b if ta else a), "swap": not ta}, \
        [alias[(a if ta else b).name]]


_OPERATORS = {operator.add: "add", operator.iadd: "add", operator.sub: "sub",
              operator.isub: "sub", operator.mul: "mul", operator.imul: "mul",
              operator.truediv: "div", operator.itruediv: "div", operator.pow: "pow"}


def _call(name, node, meta, metas, alias):
    """(op, attrs, inputs) of a call of the function or method ``name``."""
    args = _bind(node, _SIGNATURES.get(name, ("input",)))
    x = args.get("input")
    inputs = [alias[x.name]] if hasattr(x, "name") else []
    rank = len(metas[0].shape) if metas and hasattr(metas[0], "shape") else 0
    if name in ("add", "sub", "mul", "div", "pow"):
        return _binary(node, name, args, alias)
    if name in ("cat", "concat"):
        return "concat", {"axis": args["dim"] or 0}, [alias[t.name] for t in args["tensors"]]
    if name == "flatten":
        return "flatten", {"start": args["start_dim"], "end": args["end_dim"]}, inputs
    if name in ("mean", "sum", "amax", "amin"):
        dims = args["dim"]
        if dims is None or args.get("dtype") is not None:
            raise GraphError(f"node {node.name!r}: {name} over every axis (or with a dtype) "
                             f"is not supported: it would reduce over the batch")
        kind = {"amax": "max", "amin": "min"}.get(name, name)
        return "reduce", {"kind": kind, "axes": _tuple(dims, 1) if isinstance(dims, int)
                          else tuple(dims), "keepdims": bool(args["keepdim"])}, inputs
    if name in ("softmax", "log_softmax"):
        if args.get("dtype") is not None:
            raise GraphError(f"node {node.name!r}: {name} with a dtype is not supported")
        dim = args["dim"] if args["dim"] is not None else (0 if rank in (0, 1, 3) else 1)
        return "softmax", {"axis": dim, "log": name == "log_softmax"}, inputs
    if name in ("permute", "transpose"):
        if name == "permute":
            dims = node.kwargs.get("dims", node.args[1] if len(node.args) == 2 and isinstance(
                node.args[1], (tuple, list)) else node.args[1:])
            perm = tuple(int(d) % rank for d in dims)
        else:
            perm = list(range(rank))
            d0, d1 = args["dim0"] % rank, args["dim1"] % rank
            perm[d0], perm[d1] = perm[d1], perm[d0]
        return "transpose", {"perm": tuple(perm)}, inputs
    if name in ("reshape", "view", "squeeze", "unsqueeze"):
        return (*_reshape(node, meta, metas[0]), inputs)
    if name == "clamp":
        lo = -math.inf if args["min"] is None else float(args["min"])
        hi = math.inf if args["max"] is None else float(args["max"])
        return "act", {"kind": "hardtanh", "min_val": lo, "max_val": hi}, inputs
    if name in ("contiguous", "clone", "detach"):
        return "identity", {}, inputs
    raise GraphError(f"node {node.name!r}: {name!r} is not supported")


def _reshape(node, meta, meta_in):
    """A view/reshape/squeeze/unsqueeze as a row reshape (from the traced shapes)."""
    out, n = tuple(meta.shape), meta_in.shape[0]
    if not out or out[0] % n:
        raise GraphError(f"node {node.name!r}: {tuple(meta_in.shape)} -> {out} merges or "
                         f"moves the batch axis")
    return "reshape", {"shape": out[1:]}         # more rows: each row split (the graph's
    #                                              row factor out[0] // n follows)


def _function(fn, node, meta, metas, alias, F, torch):
    act = _act_function(fn, node, F, torch)
    if act is not None:
        return "act", {"kind": act[0], **act[1]}, [alias[node.args[0].name]]
    if fn in _OPERATORS:
        return _binary(node, _OPERATORS[fn], {"input": node.args[0], "other": node.args[1]},
                       alias)
    if fn in (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d):
        return "adaptive_avgpool", {"output_size": tuple(meta.shape[2:])}, \
            [alias[node.args[0].name]]
    if fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d):
        args = _bind(node, ("input", "p", "training", "inplace"))
        if args.get("training", True) and args.get("p", 0.5) != 0:
            raise GraphError(f"node {node.name!r}: {fn.__name__} with training=True drops "
                             f"at random even in eval mode; pass training=self.training")
        return "dropout", {}, [alias[node.args[0].name]]
    if fn is F.pad:
        args = _bind(node, ("input", "pad", "mode", "value"))
        flat = list(args["pad"])
        mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}[args.get("mode") or "constant"]
        pairs = tuple(zip(flat[0::2], flat[1::2]))[::-1]
        return "pad", {"mode": mode, "pads": _row_pads(pairs, len(metas[0].shape)),
                       "value": float(args.get("value") or 0.0)}, [alias[node.args[0].name]]
    name = getattr(fn, "__name__", str(fn))
    if getattr(torch, name, None) is fn or getattr(F, name, None) is fn:
        return _call(name, node, meta, metas, alias)
    raise GraphError(f"node {node.name!r}: function {name!r} is not supported")


# -- the trace -------------------------------------------------------------------------------------
def _trace(module, x):
    import torch                          # optional dependency, imported by from_torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as exc:                 # torch.fx raises many kinds
        raise GraphError(f"torch.fx cannot trace {type(module).__name__}: {exc}") from None
    mods = dict(gm.named_modules())
    for n in gm.graph.nodes:                 # refuse unsupported modules before running
        if n.op == "call_module":
            _module_node(mods[n.target], n.target, torch.nn, _Meta(), _Meta())
    with torch.no_grad():
        try:
            ShapeProp(gm).propagate(x)
        except Exception as exc:             # the model's own errors on the example
            raise GraphError(f"running {type(module).__name__} on the example input "
                             f"{tuple(x.shape)} failed: {type(exc).__name__}: {exc}") from None
    return gm, mods


class _Meta:
    """Stand-in shapes for the check before shapes are known."""

    shape = (1, 1, 1, 1, 1)


def _convert(n, mods, alias, torch):
    """(op, attrs, params, inputs, label) of one traced call."""
    import torch.nn.functional as F
    meta = n.meta.get("tensor_meta")
    if not hasattr(meta, "shape"):
        raise GraphError(f"node {n.name!r}: {n.op} {n.target!r} does not produce one tensor "
                         f"({type(meta).__name__}); not supported")
    metas = [a.meta.get("tensor_meta") for a in n.all_input_nodes]
    if n.op == "call_module":
        first = metas[0] if metas else meta
        op, attrs, params = _module_node(mods[n.target], n.target, torch.nn, first, meta)
        return op, attrs, params, [alias[a.name] for a in n.all_input_nodes], n.target
    if n.op == "call_function":
        op, attrs, inputs = _function(n.target, n, meta, metas, alias, F, torch)
    else:
        op, attrs, inputs = _call(n.target, n, meta, metas, alias)
    return op, attrs, {}, inputs, n.name


def from_torch(module, example_input, name=None):
    """A :class:`~fdafast.nn.graph.Network` equivalent to ``module`` at inference.

    Parameters
    ----------
    module : torch.nn.Module
        Built from supported operations (see :data:`fdafast.nn.graph.OPS` and
        ``docs/networks.md``).
    example_input : torch.Tensor or ndarray
        One batch of the input (its shape without the batch becomes the network's).
    name : str, optional
    """
    try:
        import torch                      # optional dependency: pip install torch
    except ImportError:
        raise GraphError("from_torch needs torch (pip install torch)") from None
    module = module.eval()
    x = torch.as_tensor(np.asarray(example_input) if not torch.is_tensor(example_input)
                        else example_input).float()
    gm, mods = _trace(module, x)
    nodes, alias, used = [], {}, {"input"}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            if nodes:
                raise GraphError(f"node {n.name!r}: models with several inputs are not supported")
            nodes.append(Node("input", "input", attrs={"shape": tuple(x.shape[1:])}))
            alias[n.name] = "input"
            continue
        if n.op == "output":
            out = n.args[0]
            if not hasattr(out, "name"):
                raise GraphError("models with several outputs are not supported")
            return Network(nodes, alias[out.name], name or type(module).__name__)
        if n.op == "get_attr":
            raise GraphError(f"node {n.name!r}: direct use of the tensor {n.target!r} is not "
                             f"supported")
        if n.op in ("call_method", "call_function") and n.meta.get("tensor_meta") is None:
            continue                  # shape arithmetic (x.size(0)): reshapes use traced shapes
        op, attrs, params, inputs, label = _convert(n, mods, alias, torch)
        if label in used:                       # a module called again (e.g. a ReLU)
            if params:
                raise GraphError(f"node {n.name!r}: module {n.target!r} is called twice; "
                                 f"shared weights are not supported")
            label = n.name
        alias[n.name] = label
        used.add(label)
        nodes.append(Node(label, op, tuple(inputs), attrs, params))
    raise GraphError("the traced graph has no output")
