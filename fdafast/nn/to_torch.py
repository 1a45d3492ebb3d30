"""A :class:`~fdafast.nn.graph.Network` as a ``torch.nn.Module`` (needs torch).

``to_torch(net)`` evaluates the same graph with ``torch.nn.functional``, the
parameters registered under their state-dict names (dots as ``__``), so
fdafast's results can be compared with torch's CPU forward pass of exactly
the same network and weights.
"""
import numpy as np

__all__ = ["to_torch"]


def _pad(p):
    return tuple(int(v) for v in p)


def _call(F, torch, node, xs, params):
    a, op = node.attrs, node.op
    x = xs[0]
    if op == "conv":
        nd = params["weight"].ndim - 2
        conv = F.conv2d if nd == 2 else F.conv3d
        return conv(x, params["weight"], params.get("bias"), a["stride"], _pad(a["padding"]),
                    a["dilation"], a["groups"])
    if op == "linear":
        return F.linear(x, params["weight"], params.get("bias"))
    if op == "batchnorm":
        return F.batch_norm(x, params["running_mean"], params["running_var"], params["weight"],
                            params["bias"], False, 0.0, a["eps"])
    if op == "act":
        kw = {k: v for k, v in a.items() if k != "kind"}
        fn = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
              "leaky_relu": F.leaky_relu, "hardtanh": F.hardtanh, "hardswish": F.hardswish,
              "elu": F.elu}[a["kind"]]
        return fn(x, **kw)
    nd = x.ndim - 2
    if op == "maxpool":
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
        return fn(x, a["kernel"], a["stride"], _pad(a["padding"]),
                  a.get("dilation", 1), a["ceil_mode"])
    if op == "avgpool":
        fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
        return fn(x, a["kernel"], a["stride"], _pad(a["padding"]), a["ceil_mode"],
                  a.get("count_include_pad", True))
    if op == "adaptive_avgpool":
        fn = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[nd - 1]
        return fn(x, a["output_size"])
    if op == "add":
        return sum(xs[1:], xs[0])
    if op == "concat":
        return torch.cat(xs, dim=a["axis"])
    if op == "flatten":
        return torch.flatten(x, a.get("start", 1))
    if op == "softmax":
        return F.softmax(x, dim=a.get("axis", 1))
    return x


def to_torch(net, dtype=None):
    """A torch module computing ``net`` (eval mode; float32 unless ``dtype``)."""
    import torch
    import torch.nn.functional as F

    dtype = dtype or torch.float32

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for node in net.nodes:
                for k, v in node.params.items():
                    self.register_buffer(f"{node.name}.{k}".replace(".", "__"),
                                         torch.as_tensor(np.asarray(v), dtype=dtype))

        def forward(self, x):
            values = {"input": x}
            for node in net.nodes[1:]:
                params = {k: getattr(self, f"{node.name}.{k}".replace(".", "__"))
                          for k in node.params}
                values[node.name] = _call(F, torch, node, [values[i] for i in node.inputs],
                                          params)
            return values[net.output]

    return Graph().eval()
