"""A :class:`~fdafast.nn.graph.Network` as a ``torch.nn.Module`` (needs torch).

``to_torch(net)`` evaluates the same graph with ``torch.nn.functional``, the
parameters registered under their state-dict names (dots as ``__``), so
fdafast's results can be compared with torch's CPU forward pass of exactly
the same network and weights (and the module exported with
``torch.onnx.export``).
"""
import numpy as np

from . import functional as npF
from .graph import GraphError

__all__ = ["to_torch"]


def _pads(p, nd):
    """torch's padding argument: an int per axis, or None where an axis is asymmetric."""
    pairs = npF.pad_pairs(p, nd)
    return tuple(lo for lo, _ in pairs) if all(lo == hi for lo, hi in pairs) else None


def _flat_pads(pairs):
    """``F.pad``'s argument (last axis first) from (low, high) pairs per axis."""
    return tuple(v for lo, hi in reversed(list(pairs)) for v in (int(lo), int(hi)))


def _conv(F, torch, node, x, params):
    a, w = node.attrs, params["weight"]
    nd = w.ndim - 2
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    pad = _pads(a["padding"], nd)
    if pad is None:                                    # asymmetric: pad explicitly
        x, pad = F.pad(x, _flat_pads(npF.pad_pairs(a["padding"], nd))), 0
    return fn(x, w, params.get("bias"), a["stride"], pad, a["dilation"], a["groups"])


def _check(node):
    """Refuse what torch's functions cannot express (before any call)."""
    a = node.attrs
    if node.op in ("maxpool", "avgpool") and (
            _pads(a["padding"], len(a["kernel"])) is None or (
                node.op == "avgpool" and any(d != 1 for d in a.get("dilation") or ()))):
        raise GraphError(f"node {node.name!r}: torch has no pooling with asymmetric padding "
                         f"or dilated averages")


def _pool(F, torch, node, x, params):
    a, nd = node.attrs, len(node.attrs["kernel"])
    pad = _pads(a["padding"], nd)
    if node.op == "maxpool":
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
        return fn(x, a["kernel"], a["stride"], pad, a.get("dilation") or 1, a["ceil_mode"])
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
    kw = {"divisor_override": a["divisor_override"]} if a.get("divisor_override") else {}
    return fn(x, a["kernel"], a["stride"], pad, a["ceil_mode"],
              a.get("count_include_pad", True), **kw)


def _act(F, torch, node, x, params):
    a = node.attrs
    kw = {k: v for k, v in a.items() if k != "kind"}
    simple = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
              "leaky_relu": F.leaky_relu, "hardtanh": F.hardtanh, "hardswish": F.hardswish,
              "elu": F.elu, "celu": F.celu, "silu": F.silu, "mish": F.mish, "gelu": F.gelu,
              "softsign": F.softsign, "erf": torch.erf, "exp": torch.exp, "log": torch.log,
              "sqrt": torch.sqrt, "neg": torch.neg, "abs": torch.abs,
              "reciprocal": torch.reciprocal}
    kind = a["kind"]
    if kind == "hardsigmoid":
        return torch.clamp(kw.get("alpha", 1 / 6) * x + kw.get("beta", 0.5), 0, 1)
    if kind == "selu":
        alpha, scale = kw.get("alpha", npF._SELU[0]), kw.get("scale", npF._SELU[1])
        return scale * torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))
    if kind == "softplus":
        soft = F.softplus(x, kw.get("beta", 1.0), 1e30)
        return soft if kw.get("threshold", 20.0) is None else \
            torch.where(x * kw.get("beta", 1.0) > kw.get("threshold", 20.0), x, soft)
    return simple[kind](x, **kw)


def _binary(F, torch, node, xs, params):
    a = node.attrs
    x = xs[0]
    other = xs[1] if len(xs) == 2 else params.get("other", a.get("value"))
    if not torch.is_tensor(other):
        other = torch.tensor(other, dtype=x.dtype)
    lhs, rhs = (other, x) if a.get("swap") else (x, other)
    return {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
            "pow": torch.pow, "max": torch.maximum, "min": torch.minimum}[a["kind"]](lhs, rhs)


def _softmax(F, torch, node, x, params):
    a = node.attrs
    axis = a.get("axis", 1) % x.ndim
    fn = F.log_softmax if a.get("log") else F.softmax
    if a.get("flatten"):
        return fn(x.reshape(x.shape[:axis] + (-1,)), dim=axis).reshape(x.shape)
    return fn(x, dim=axis)


def _pad(F, torch, node, x, params):
    a = node.attrs
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
            "wrap": "circular"}[a.get("mode", "constant")]
    flat = _flat_pads(a["pads"])
    if mode == "constant":
        return F.pad(x, flat, value=float(a.get("value", 0.0)))
    return F.pad(x, flat, mode=mode)


def _reduce(F, torch, node, x, params):
    a = node.attrs
    axes = tuple(sorted({ax % x.ndim for ax in a["axes"]}))
    keep = bool(a.get("keepdims", True))
    if a["kind"] in ("max", "min"):
        return (torch.amax if a["kind"] == "max" else torch.amin)(x, axes, keep)
    if a["kind"] == "prod":
        for ax in sorted(axes, reverse=True):
            x = torch.prod(x, ax, keep)
        return x
    return (torch.mean if a["kind"] == "mean" else torch.sum)(x, axes, keep)


def _one(F, torch, node, x, params):
    a, op = node.attrs, node.op
    if op == "linear":
        return F.linear(x, params["weight"], params.get("bias"))
    if op == "batchnorm":
        return F.batch_norm(x, params["running_mean"], params["running_var"], params["weight"],
                            params["bias"], False, 0.0, a["eps"])
    if op == "layernorm":                     # weight and bias broadcast (ONNX allows it)
        y = F.layer_norm(x, x.shape[a["axis"] % x.ndim:], eps=a.get("eps", 1e-5))
        y = y * params["weight"] if "weight" in params else y
        return y + params["bias"] if "bias" in params else y
    if op == "prelu":
        w = params["weight"]
        if a.get("axis", 1) is None:
            return torch.where(x >= 0, x, x * w)
        return F.prelu(x, w)
    if op == "adaptive_avgpool":
        nd = x.ndim - 2
        fn = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[nd - 1]
        return fn(x, a["output_size"])
    if op == "flatten":
        return torch.flatten(x, a.get("start", 1), a.get("end", -1))
    if op == "reshape":
        shape = tuple(a["shape"])
        return x.reshape(((x.shape[0],) if -1 in shape else (-1,)) + shape)
    if op == "transpose":
        return x.permute(*a["perm"])
    if op == "slice":
        return x[(slice(None),) + tuple(slice(*s) for s in a["slices"])]
    if op == "gather":
        idx = torch.as_tensor(np.asarray(a["indices"]), dtype=torch.long)
        return torch.index_select(x, a["axis"] % x.ndim, idx.reshape(-1)).reshape(
            x.shape[:a["axis"] % x.ndim] + tuple(idx.shape) + x.shape[a["axis"] % x.ndim + 1:])
    return x                                                   # dropout, identity


_CALLS = {"conv": _conv, "maxpool": _pool, "avgpool": _pool, "act": _act,
          "softmax": _softmax, "pad": _pad, "reduce": _reduce}


def _call(F, torch, node, xs, params):
    if node.op == "add":
        return sum(xs[1:], xs[0])
    if node.op == "concat":
        parts = node.attrs.get("parts")
        if parts is not None:              # constants (their batch axis of 1) repeated per row
            xs = [xs[p] if isinstance(p, int) else
                  (params[p] if params[p].ndim == xs[0].ndim else params[p][None]).expand(
                      (xs[0].shape[0],) + tuple(params[p].shape[-(xs[0].ndim - 1):]))
                  for p in parts]
        return torch.cat(xs, dim=node.attrs["axis"])
    if node.op == "binary":
        return _binary(F, torch, node, xs, params)
    return _CALLS.get(node.op, _one)(F, torch, node, xs[0], params)


def to_torch(net, dtype=None):
    """A torch module computing ``net`` (eval mode; float32 unless ``dtype``)."""
    import torch                         # optional dependency: imported where it is used
    import torch.nn.functional as F

    dtype = dtype or torch.float32

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for node in net.nodes:
                _check(node)
                for k, v in node.params.items():
                    self.register_buffer(f"{node.name}.{k}".replace(".", "__"),
                                         torch.as_tensor(np.asarray(v), dtype=dtype))

        def forward(self, x):
            values = {net.nodes[0].name: x}
            for node in net.nodes[1:]:
                params = {k: getattr(self, f"{node.name}.{k}".replace(".", "__"))
                          for k in node.params}
                values[node.name] = _call(F, torch, node, [values[i] for i in node.inputs],
                                          params)
            return values[net.output]

    return Graph().eval()
