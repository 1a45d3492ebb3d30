"""Import a PyTorch model into a :class:`~fdafast.nn.graph.Network` (torch.fx tracing).

``from_torch(module, example_input)`` traces ``module`` symbolically, runs the
example through the trace to learn every tensor's shape, and maps each call
to a node: modules keep their qualified names (so ``state_dict`` names carry
over), functions and methods take the trace's node names.  The model is put
in eval mode; parameters are copied as float32.  An operation with no
fdafast counterpart raises :class:`~fdafast.nn.graph.GraphError` naming it
and the node.
"""
import operator

import numpy as np

from .graph import GraphError, Network, Node

__all__ = ["from_torch"]


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * nd


def _conv(m, name):
    nd = m.weight.ndim - 2
    if m.padding_mode != "zeros":
        raise GraphError(f"node {name!r}: padding_mode={m.padding_mode!r} is not supported "
                         f"(only zero padding)")
    pad = m.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0,) * nd
        else:                                         # 'same' at stride 1
            ext = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
            if any(e % 2 for e in ext):
                raise GraphError(f"node {name!r}: padding='same' with an even kernel extent "
                                 f"pads asymmetrically, which is not supported")
            pad = tuple(e // 2 for e in ext)
    attrs = {"stride": _tuple(m.stride, nd), "padding": _tuple(pad, nd),
             "dilation": _tuple(m.dilation, nd), "groups": m.groups}
    return "conv", attrs, _params(m, ("weight", "bias"))


def _params(m, names):
    out = {}
    for n in names:
        t = getattr(m, n, None)
        if t is not None:
            out[n] = t.detach().cpu().numpy().astype(np.float32)
    return out


def _pool(m, name, kind, nd):
    if getattr(m, "return_indices", False):
        raise GraphError(f"node {name!r}: max pooling with return_indices is not supported")
    if getattr(m, "divisor_override", None):
        raise GraphError(f"node {name!r}: avg pooling with divisor_override is not supported")
    attrs = {"kernel": _tuple(m.kernel_size, nd), "stride": _tuple(m.stride or m.kernel_size, nd),
             "padding": _tuple(m.padding, nd), "ceil_mode": bool(m.ceil_mode)}
    if kind == "maxpool":
        attrs["dilation"] = _tuple(m.dilation, nd)
    else:
        attrs["count_include_pad"] = bool(m.count_include_pad)
    return kind, attrs, {}


def _module_node(m, name, out_shape):
    import torch.nn as tnn
    acts = {tnn.ReLU: ("relu", {}), tnn.ReLU6: ("relu6", {}), tnn.Sigmoid: ("sigmoid", {}),
            tnn.Tanh: ("tanh", {}), tnn.Hardswish: ("hardswish", {})}
    for cls, (kind, kw) in acts.items():
        if type(m) is cls:
            return "act", {"kind": kind, **kw}, {}
    if isinstance(m, tnn.LeakyReLU):
        return "act", {"kind": "leaky_relu", "negative_slope": m.negative_slope}, {}
    if isinstance(m, tnn.Hardtanh) and type(m) is tnn.Hardtanh:
        return "act", {"kind": "hardtanh", "min_val": m.min_val, "max_val": m.max_val}, {}
    if isinstance(m, tnn.ELU):
        return "act", {"kind": "elu", "alpha": m.alpha}, {}
    if isinstance(m, (tnn.Conv2d, tnn.Conv3d)):
        return _conv(m, name)
    if isinstance(m, tnn.Linear):
        return "linear", {}, _params(m, ("weight", "bias"))
    if isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.BatchNorm3d)):
        if m.running_mean is None:
            raise GraphError(f"node {name!r}: batch norm without running statistics is not "
                             f"supported")
        params = _params(m, ("running_mean", "running_var"))
        c = params["running_mean"].shape[0]
        params["weight"] = _params(m, ("weight",)).get("weight", np.ones(c, np.float32))
        params["bias"] = _params(m, ("bias",)).get("bias", np.zeros(c, np.float32))
        return "batchnorm", {"eps": float(m.eps)}, params
    for cls, kind, nd in ((tnn.MaxPool2d, "maxpool", 2), (tnn.MaxPool3d, "maxpool", 3),
                          (tnn.AvgPool2d, "avgpool", 2), (tnn.AvgPool3d, "avgpool", 3)):
        if isinstance(m, cls):
            return _pool(m, name, kind, nd)
    if isinstance(m, (tnn.AdaptiveAvgPool2d, tnn.AdaptiveAvgPool3d)):
        return "adaptive_avgpool", {"output_size": tuple(out_shape[2:])}, {}
    if isinstance(m, tnn.Flatten):
        if m.end_dim != -1:
            raise GraphError(f"node {name!r}: Flatten(end_dim={m.end_dim}) is not supported "
                             f"(only flattening to the last axis)")
        return "flatten", {"start": m.start_dim}, {}
    if isinstance(m, (tnn.Dropout, tnn.Dropout2d, tnn.Dropout3d, tnn.AlphaDropout)):
        return "dropout", {}, {}
    if isinstance(m, tnn.Identity):
        return "identity", {}, {}
    if isinstance(m, tnn.Softmax):
        return "softmax", {"axis": m.dim}, {}
    raise GraphError(f"node {name!r}: module {type(m).__name__} is not supported")


def _function_node(fn, node, meta):
    import torch
    import torch.nn.functional as F
    acts = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid",
            F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh", F.hardswish: "hardswish"}
    if fn in acts:
        return "act", {"kind": acts[fn]}
    if fn in (operator.add, operator.iadd, torch.add):
        if len(node.all_input_nodes) != 2 or len(node.args) != 2 or node.kwargs:
            raise GraphError(f"node {node.name!r}: only the sum of two tensors is supported "
                             f"(no constants, no alpha)")
        return "add", {}
    if fn is torch.flatten:
        return "flatten", {"start": node.kwargs.get("start_dim", node.args[1]
                                                    if len(node.args) > 1 else 0)}
    if fn is torch.cat:
        return "concat", {"axis": node.kwargs.get("dim", node.args[1] if len(node.args) > 1
                                                  else 0)}
    if fn in (F.adaptive_avg_pool2d, F.adaptive_avg_pool3d):
        return "adaptive_avgpool", {"output_size": tuple(meta.shape[2:])}
    if fn in (F.dropout, F.dropout2d, F.dropout3d):
        return "dropout", {}
    if fn in (F.softmax, torch.softmax):
        return "softmax", {"axis": node.kwargs.get("dim", node.args[1]
                                                   if len(node.args) > 1 else 1)}
    raise GraphError(f"node {node.name!r}: function {getattr(fn, '__name__', fn)!r} is not "
                     f"supported")


def _method_node(node, meta, in_meta):
    if node.target == "flatten":
        return "flatten", {"start": node.args[1] if len(node.args) > 1
                           else node.kwargs.get("start_dim", 0)}
    if node.target in ("view", "reshape") and in_meta is not None:
        shape = tuple(meta.shape)
        if len(shape) == 2 and shape[0] == in_meta.shape[0]:
            return "flatten", {"start": 1}
    if node.target == "relu":
        return "act", {"kind": "relu"}
    if node.target in ("contiguous",):
        return "identity", {}
    raise GraphError(f"node {node.name!r}: method {node.target!r} is not supported")


def from_torch(module, example_input, name=None):
    """A :class:`~fdafast.nn.graph.Network` equivalent to ``module`` at inference.

    Parameters
    ----------
    module : torch.nn.Module
        Built from supported operations (see :data:`fdafast.nn.graph.OPS`).
    example_input : torch.Tensor or ndarray
        One batch of the input (its shape without the batch becomes the network's).
    name : str, optional
    """
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:
        raise GraphError("from_torch needs torch (pip install torch)") from None
    module = module.eval()
    x = torch.as_tensor(np.asarray(example_input) if not torch.is_tensor(example_input)
                        else example_input).float()
    gm = torch.fx.symbolic_trace(module)
    with torch.no_grad():
        ShapeProp(gm).propagate(x)
    mods = dict(gm.named_modules())
    nodes, alias, used = [], {}, {"input"}
    for n in gm.graph.nodes:
        meta = n.meta.get("tensor_meta")
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
        inputs = tuple(alias[a.name] for a in n.all_input_nodes)
        if n.op == "call_module":
            op, attrs, params = _module_node(mods[n.target], n.target, meta.shape)
            label = n.target
            if label in used:                          # a module called again (e.g. a ReLU)
                if params:
                    raise GraphError(f"node {n.name!r}: module {n.target!r} is called twice; "
                                     f"shared weights are not supported")
                label = n.name
        elif n.op == "call_function":
            (op, attrs), params, label = _function_node(n.target, n, meta), {}, n.name
        else:
            first = n.all_input_nodes[0].meta.get("tensor_meta") if n.all_input_nodes else None
            (op, attrs), params, label = _method_node(n, meta, first), {}, n.name
        alias[n.name] = label
        used.add(label)
        nodes.append(Node(label, op, inputs, attrs, params))
    raise GraphError("the traced graph has no output")
