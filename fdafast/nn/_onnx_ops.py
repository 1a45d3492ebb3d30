"""The converters of :func:`fdafast.nn.from_onnx`: one function per ONNX operator.

A converter ``f(im, node, attrs)`` reads an ONNX node whose data input is a
computed tensor and appends fdafast nodes through the importer ``im``
(:class:`fdafast.nn.from_onnx._Importer`: the constants, the labels and
the row shapes made so far), with the semantics of the importer's opset;
what it cannot compute exactly raises :class:`~fdafast.nn.graph.GraphError`.
"""
import math

import numpy as np

from .graph import GraphError

#: ONNX element types of float tensors (FLOAT, DOUBLE).
FLOAT_TYPES = {1: "float32", 11: "float64"}


class Lead:
    """The size of a tensor's first axis when the batch is symbolic: N times ``factor``."""

    def __init__(self, factor):
        self.factor = factor

    def __repr__(self):
        return "N" if self.factor == 1 else f"{self.factor}N"


def attributes(node):
    from onnx import helper                  # optional dependency, imported by from_onnx
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def ints(v):
    return tuple(int(x) for x in np.asarray(v).ravel())


# -- convolutions and pooling ----------------------------------------------------------------------
def _pads(im, label, a, kernel, what="pads"):
    """Per-axis (low, high) padding from ``pads`` or ``auto_pad`` (ONNX's rules)."""
    nd = len(kernel)
    sizes = im.shape[label][1:]
    strides = ints(a.get("strides", [1] * nd))
    dil = ints(a.get("dilations", [1] * nd))
    ext = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
    auto = a.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return ((0, 0),) * nd
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-n // s) for n, s in zip(sizes, strides)]
        total = [max(0, (o - 1) * s + e - n) for o, s, e, n in zip(out, strides, ext, sizes)]
        small = [t // 2 for t in total]
        if auto == "SAME_UPPER":
            return tuple((m, t - m) for m, t in zip(small, total))
        return tuple((t - m, m) for m, t in zip(small, total))
    if auto != "NOTSET":
        raise GraphError(f"auto_pad={auto!r} is not supported (NOTSET, VALID, SAME_UPPER, "
                         f"SAME_LOWER are)")
    pads = ints(a.get("pads", [0] * 2 * nd))
    if len(pads) != 2 * nd or min(pads) < 0:
        raise GraphError(f"{what} {list(pads)} must be {2 * nd} non-negative ints")
    return tuple(zip(pads[:nd], pads[nd:]))


def _compact(pairs):
    """Symmetric pairs as ints (what torch and the cost model write)."""
    return tuple(lo if lo == hi else (lo, hi) for lo, hi in pairs)


def _conv(im, node, a):
    w = im.const(node, 1, "the weight")
    x = im.tensor(node)
    nd = w.ndim - 2
    if not 1 <= nd <= 3:
        raise GraphError(f"the weight has shape {w.shape}: 1 to 3 kernel axes are supported")
    if "kernel_shape" in a and ints(a["kernel_shape"]) != w.shape[2:]:
        raise GraphError(f"kernel_shape {ints(a['kernel_shape'])} differs from the weight's "
                         f"{w.shape[2:]}")
    params = {"weight": w}
    b = im.const(node, 2, "the bias")
    if b is not None:
        params["bias"] = b
    attrs = {"stride": ints(a.get("strides", [1] * nd)),
             "padding": _compact(_pads(im, x, a, w.shape[2:])),
             "dilation": ints(a.get("dilations", [1] * nd)), "groups": int(a.get("group", 1))}
    im.emit(node, "conv", [x], attrs, params, node.input[1])


def _pool(im, node, a):
    x = im.tensor(node)
    k = ints(a["kernel_shape"])
    nd = len(k)
    pads = _pads(im, x, a, k)
    dil = ints(a.get("dilations", [1] * nd))
    if any(max(p) >= d * (kk - 1) + 1 for p, kk, d in zip(pads, k, dil)):
        raise GraphError(f"pads {pads} must be smaller than the (dilated) kernel {k} (as ONNX "
                         f"Runtime requires: a window must see the input)")
    attrs = {"kernel": k, "stride": ints(a.get("strides", [1] * nd)),
             "padding": _compact(pads), "ceil_mode": bool(a.get("ceil_mode", 0)),
             "dilation": dil}
    if node.op_type == "MaxPool":
        im.unused_outputs(node, what="Indices outputs")
        if a.get("storage_order", 0) not in (0,):
            raise GraphError("storage_order=1 only changes the indices output, which is "
                             "not supported")
        return im.emit(node, "maxpool", [x], attrs)
    attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
    im.emit(node, "avgpool", [x], attrs)


def _global_pool(im, node, a):
    x = im.tensor(node)
    nd = im.rank(x) - 2
    if nd < 1:
        raise GraphError(f"needs (N, C, *spatial) inputs, got rows of shape {im.shape[x]}")
    if node.op_type == "GlobalAveragePool":
        return im.emit(node, "adaptive_avgpool", [x], {"output_size": (1,) * nd})
    im.emit(node, "reduce", [x], {"kind": "max", "axes": tuple(range(2, nd + 2)),
                                  "keepdims": True})


# -- linear layers ---------------------------------------------------------------------------------
def _gemm(im, node, a):
    x = im.tensor(node)
    if a.get("transA", 0):
        raise GraphError("transA=1 contracts over the batch axis of A (rows must stay "
                         "independent); supported: transA=0")
    if im.rank(x) != 2:
        raise GraphError(f"A must be 2-D (ONNX), got rows of shape {im.shape[x]}")
    b = im.const(node, 1, "B")
    w = b if a.get("transB", 0) else b.T
    params = {"weight": np.ascontiguousarray(w * np.float32(a.get("alpha", 1.0)))}
    c = im.const(node, 2, "C")
    if c is not None:
        if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
            raise GraphError(f"C of shape {c.shape} varies along the batch axis of the "
                             f"(M, N) result; supported: C of shape (), (N,), (1, N)")
        params["bias"] = np.broadcast_to(c.reshape(c.shape[-1:]) if c.ndim else c,
                                         (w.shape[0],)) * np.float32(a.get("beta", 1.0))
        params["bias"] = np.ascontiguousarray(params["bias"], np.float32)
    im.emit(node, "linear", [x], {}, params, node.input[1])


def _matmul(im, node, a):
    if im.is_const(node, 0) or not im.is_const(node, 1):
        raise GraphError("supported: a computed A times a constant B (fdafast maps B to "
                         "crossbar weights)")
    x = im.tensor(node)
    b = im.const(node, 1, "B")
    if im.rank(x) < 2:
        raise GraphError("A is 1-D: its only axis is the batch axis, which MatMul would "
                         "contract")
    if b.ndim > 2:
        raise GraphError(f"B of shape {b.shape} is a stack of matrices; supported: B of 1 or "
                         f"2 axes")
    if b.ndim == 2:
        return im.emit(node, "linear", [x], {}, {"weight": np.ascontiguousarray(b.T)},
                       node.input[1])
    # a 1-D B: a linear layer of one output, whose axis numpy's matmul then drops
    lin = im.add(im.label(node, node.input[1]), "linear", [x], {},
                 {"weight": b.reshape(1, -1)})
    im.emit(node, "reshape", [lin], {"shape": im.shape[lin][:-1]})


# -- normalisation ---------------------------------------------------------------------------------
def _batchnorm(im, node, a):
    x = im.tensor(node)
    if a.get("training_mode", 0):
        raise GraphError("training_mode=1 (batch statistics) is not supported; inference "
                         "(training_mode=0) is")
    if im.opset < 9 and not a.get("spatial", 1):
        raise GraphError("spatial=0 (statistics per position) is not supported")
    if im.opset < 7 and not a.get("is_test", 0):
        raise GraphError("is_test=0 (training: batch statistics) is not supported; is_test=1 "
                         "is")
    im.unused_outputs(node, what="running-statistics outputs")
    names = ("weight", "bias", "running_mean", "running_var")
    params = {n: im.const(node, i + 1, n) for i, n in enumerate(names)}
    im.emit(node, "batchnorm", [x], {"eps": float(a.get("epsilon", 1e-5))}, params,
            node.input[1])


def _layernorm(im, node, a):
    x = im.tensor(node)
    im.unused_outputs(node, what="Mean and InvStdDev outputs")
    params = {"weight": im.const(node, 1, "Scale")}
    b = im.const(node, 2, "B")
    if b is not None:
        params["bias"] = b
    im.emit(node, "layernorm", [x], {"axis": int(a.get("axis", -1)),
                                     "eps": float(a.get("epsilon", 1e-5))}, params,
            node.input[1])


def _instancenorm(im, node, a):
    x = im.tensor(node)
    if im.rank(x) < 3:
        raise GraphError(f"needs (N, C, *spatial) inputs, got rows of shape {im.shape[x]}")
    scale, b = im.const(node, 1, "scale"), im.const(node, 2, "B")
    per_channel = (-1,) + (1,) * (im.rank(x) - 2)
    base = im.label(node, node.input[1])
    y = im.add(base + ".norm", "layernorm", [x], {"axis": 2,
                                                   "eps": float(a.get("epsilon", 1e-5))})
    y = im.add(base + ".scale", "binary", [y], {"kind": "mul"},
               {"other": scale.reshape(per_channel)})
    im.emit(node, "binary", [y], {"kind": "add"}, {"other": b.reshape(per_channel)})


# -- elementwise -----------------------------------------------------------------------------------
#: ONNX activation -> (fdafast kind, {ONNX attribute: (fdafast argument, ONNX default)}).
_ACTS = {"Relu": ("relu", {}), "Sigmoid": ("sigmoid", {}), "Tanh": ("tanh", {}),
         "LeakyRelu": ("leaky_relu", {"alpha": ("negative_slope", 0.01)}),
         "Elu": ("elu", {"alpha": ("alpha", 1.0)}),
         "Selu": ("selu", {"alpha": ("alpha", 1.67326319217681884765625),
                           "gamma": ("scale", 1.05070102214813232421875)}),
         "Celu": ("celu", {"alpha": ("alpha", 1.0)}),
         "HardSigmoid": ("hardsigmoid", {"alpha": ("alpha", 0.2), "beta": ("beta", 0.5)}),
         "HardSwish": ("hardswish", {}), "Softsign": ("softsign", {}), "Mish": ("mish", {}),
         "Gelu": ("gelu", {"approximate": ("approximate", "none")}),
         "Erf": ("erf", {}), "Exp": ("exp", {}), "Log": ("log", {}), "Sqrt": ("sqrt", {}),
         "Neg": ("neg", {}), "Abs": ("abs", {}), "Reciprocal": ("reciprocal", {})}


def _activation(im, node, a):
    x = im.tensor(node)
    if node.op_type == "Softplus":
        return im.emit(node, "act", [x], {"kind": "softplus", "threshold": None})
    kind, args = _ACTS[node.op_type]
    attrs = {"kind": kind}
    for onnx_name, (name, default) in args.items():
        v = a.get(onnx_name, default)
        attrs[name] = v if isinstance(v, str) else float(v)
    im.emit(node, "act", [x], attrs)


def _clip(im, node, a):
    x = im.tensor(node)
    if im.opset < 11:
        lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
    else:
        lo_c, hi_c = im.const(node, 1, "min", None), im.const(node, 2, "max", None)
        lo = -np.inf if lo_c is None else float(lo_c)
        hi = np.inf if hi_c is None else float(hi_c)
    kinds = {(0.0, 6.0): {"kind": "relu6"}, (0.0, np.inf): {"kind": "relu"}}
    im.emit(node, "act", [x], kinds.get((lo, hi), {"kind": "hardtanh", "min_val": lo,
                                                    "max_val": hi}))


def _prelu(im, node, a):
    im.emit(node, "prelu", [im.tensor(node)], {"axis": None},
            {"weight": im.const(node, 1, "slope")}, node.input[1])


_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
           "Max": "max", "Min": "min", "Sum": "add"}


def _binary(im, node, a):
    kind = _BINARY[node.op_type]
    if im.opset < 7 and "axis" in a:
        raise GraphError("legacy broadcasting along 'axis' (opset < 7) is not supported")
    present = [i for i, n in enumerate(node.input) if n]
    if node.op_type in ("Max", "Min", "Sum") and len(present) != 2:
        return _variadic(im, node, kind, present)
    if len(present) != 2:
        raise GraphError(f"{len(present)} operands; supported: 2")
    tensors = [i for i in present if not im.is_const(node, i)]
    if len(tensors) == 2:
        xs = [im.tensor(node, i) for i in tensors]
        if kind == "add" and im.shape[xs[0]] == im.shape[xs[1]]:
            return im.emit(node, "add", xs)
        return im.emit(node, "binary", xs, {"kind": kind})
    c = 1 - tensors[0]
    other = im.const(node, c, "the constant operand")
    im.emit(node, "binary", [im.tensor(node, tensors[0])], {"kind": kind, "swap": c == 0},
            {"other": other}, node.input[c])


def _variadic(im, node, kind, present):
    """Max, Min or Sum of 1 or 3+ operands: a chain of pairs (they commute)."""
    tensors = [i for i in present if not im.is_const(node, i)]
    if not tensors:
        raise GraphError("no computed operand")
    x = im.tensor(node, tensors[0])
    rest = [i for i in present if i != tensors[0]]
    if not rest:
        return im.emit(node, "identity", [x])
    base = im.label(node)
    for k, i in enumerate(rest):
        last = k == len(rest) - 1
        if im.is_const(node, i):
            args = ([x], {"kind": kind}, {"other": im.const(node, i, f"operand {i}")})
        else:
            args = ([x, im.tensor(node, i)], {"kind": kind}, {})
        if last:
            return im.emit(node, "binary", *args)
        x = im.add(f"{base}.{k}", "binary", *args)


# -- shapes ----------------------------------------------------------------------------------------
def _axes(im, node, a, i, name="axes"):
    """``axes`` from the attribute (older opsets) or input ``i`` (None if absent)."""
    if name in a:
        return ints(a[name])
    if len(node.input) > i and node.input[i]:
        return ints(im.const(node, i, name, np.int64))
    return None


def _reshape_to(im, node, x, row):
    im.emit(node, "reshape", [x], {"shape": tuple(row)})


def _flatten(im, node, a):
    x = im.tensor(node)
    r = im.rank(x)
    axis = int(a.get("axis", 1))
    if not -r <= axis <= r:
        raise GraphError(f"axis {axis} is out of range for a tensor of {r} axes")
    axis %= r + 1 if axis == r else r
    if axis == 0:
        raise GraphError("axis=0 flattens the batch into one row; supported: axis >= 1 "
                         "(or a negative axis that is)")
    if axis == 1:
        return im.emit(node, "flatten", [x], {"start": 1})
    # axis > 1: ONNX's (prod(shape[:axis]), prod(shape[axis:])) splits each row
    _reshape_to(im, node, x, (math.prod(im.shape[x][axis - 1:]),))


def _reshape(im, node, a):
    x = im.tensor(node)
    if len(node.input) > 1 and node.input[1] not in im.consts:
        raise GraphError("the shape (input 1) must be a constant or a folded subgraph")
    target = list(im.consts[node.input[1]] if len(node.input) > 1 else a.get("shape", []))
    row, lead = im.shape[x], im.lead(x)
    full = [lead] + list(row)
    zero = not a.get("allowzero", 0)
    target = [full[i] if zero and not isinstance(v, Lead) and int(v) == 0 and i < len(full)
              else v for i, v in enumerate(target)]
    if not target or any(isinstance(v, Lead) for v in target[1:]):
        raise GraphError(f"shape {target} moves the batch axis")
    first, rest = target[0], [int(v) for v in target[1:]]
    if any(v == 0 for v in rest) or (not isinstance(first, Lead) and int(first) == 0):
        raise GraphError(f"shape {target} has an empty axis")
    if isinstance(first, Lead):
        if first.factor != im.factor[x]:
            raise GraphError(f"shape {target} changes the rows' count with a symbolic size")
        return _reshape_to(im, node, x, rest)
    first = int(first)
    if first == -1:
        if -1 in rest:
            raise GraphError(f"shape {target} has two -1 entries")
        return _reshape_to(im, node, x, rest)
    if im.batch is None:
        raise GraphError(f"shape {target} fixes the first axis to {first} while the batch "
                         f"is symbolic")
    total = im.batch * im.factor[x] * math.prod(row)
    known = first * math.prod(v for v in rest if v != -1)
    rest = [total // known if v == -1 else v for v in rest]
    if first % im.batch or first * math.prod(rest) != total:
        raise GraphError(f"shape {target} does not keep the batch of {im.batch} rows apart")
    _reshape_to(im, node, x, rest)


def _transpose(im, node, a):
    x = im.tensor(node)
    perm = ints(a["perm"]) if "perm" in a else tuple(range(im.rank(x)))[::-1]
    im.emit(node, "transpose", [x], {"perm": perm})


def _squeeze(im, node, a):
    x = im.tensor(node)
    row, r = im.shape[x], im.rank(x)
    axes = _axes(im, node, a, 1)
    if axes is None:
        if im.batch is None or im.batch * im.factor[x] == 1:
            raise GraphError("Squeeze without axes would also squeeze a batch of 1; give "
                             "the axes")
        axes = tuple(i + 1 for i, n in enumerate(row) if n == 1)
    axes = {v % r if -r <= v < r else None for v in axes}
    if None in axes or 0 in axes:
        raise GraphError(f"axes {_axes(im, node, a, 1)} must be in range and not the batch "
                         f"axis 0")
    if any(row[v - 1] != 1 for v in axes):
        raise GraphError(f"axes {sorted(axes)} of rows of shape {row} are not all 1")
    _reshape_to(im, node, x, [n for i, n in enumerate(row) if i + 1 not in axes])


def _unsqueeze(im, node, a):
    x = im.tensor(node)
    axes = _axes(im, node, a, 1)
    if not axes:
        raise GraphError("Unsqueeze needs axes")
    r = im.rank(x) + len(axes)
    norm = sorted(v % r if -r <= v < r else -1 for v in axes)
    if -1 in norm or 0 in norm or len(set(norm)) != len(norm):
        raise GraphError(f"axes {axes} must be distinct, in range and not the new first "
                         f"axis")
    row = list(im.shape[x])
    for v in norm:
        row.insert(v - 1, 1)
    _reshape_to(im, node, x, row)


def _concat(im, node, a):
    tensors = [i for i, n in enumerate(node.input) if n and n not in im.consts]
    if not tensors:
        raise GraphError("no computed input")
    rank = im.rank(im.tensor(node, tensors[0]))
    inputs, parts, params = [], [], {}
    for i, n in enumerate(node.input):
        if not n:
            continue
        if i in tensors:                      # a computed operand: its index among inputs
            parts.append(len(inputs))
            inputs.append(im.tensor(node, i))
            continue
        c = im.const(node, i, f"operand {i}")
        if c.ndim != rank or c.shape[0] != 1:
            raise GraphError(f"constant operand {i} of shape {c.shape} varies along the batch "
                             f"axis (supported: 1 along axis 0)")
        params[f"const{i}"] = c
        parts.append(f"const{i}")
    attrs = {"axis": int(a["axis"])}
    if params:
        attrs["parts"] = tuple(parts)
    im.emit(node, "concat", inputs, attrs, params)


def _pad(im, node, a):
    x = im.tensor(node)
    r = im.rank(x)
    if im.opset < 11:
        pads, value = ints(a.get("pads", a.get("paddings", []))), float(a.get("value", 0.0))
        axes = tuple(range(r))
    else:
        pads = ints(im.const(node, 1, "pads", np.int64))
        v = im.const(node, 2, "constant_value", None)
        value = 0.0 if v is None or v.size == 0 else float(v.reshape(-1)[0])
        axes = _axes(im, node, {}, 3) or tuple(range(r))
    axes = [ax % r for ax in axes]
    if len(pads) != 2 * len(axes):
        raise GraphError(f"pads {list(pads)} need 2 entries per padded axis {axes}")
    pairs = [[0, 0] for _ in range(r)]
    for k, ax in enumerate(axes):
        pairs[ax] = [pads[k], pads[k + len(axes)]]
    if pairs[0] != [0, 0]:
        raise GraphError(f"pads {list(pads)} pad the batch axis")
    mode = a.get("mode", "constant")
    im.emit(node, "pad", [x], {"pads": tuple(tuple(p) for p in pairs[1:]), "mode": mode,
                               "value": value})


def _slice(im, node, a):
    x = im.tensor(node)
    r = im.rank(x)
    if im.opset < 10:
        starts, ends = ints(a["starts"]), ints(a["ends"])
        axes, steps = ints(a.get("axes", range(len(starts)))), (1,) * len(starts)
    else:
        starts = ints(im.const(node, 1, "starts", np.int64))
        ends = ints(im.const(node, 2, "ends", np.int64))
        axes = _axes(im, node, {}, 3) or tuple(range(len(starts)))
        steps = _axes(im, node, {}, 4, "steps") or (1,) * len(starts)
    full = [None] + list(im.shape[x])
    slices = [(0, n, 1) for n in im.shape[x]]
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax %= r
        if ax == 0:
            if s == 0 and st == 1 and (e >= 2 ** 31 - 1 or (im.batch and e >= im.lead(x))):
                continue                           # the whole batch axis: nothing to do
            raise GraphError(f"slicing axis 0 ({s}:{e}:{st}) would select batch rows")
        if st == 0:
            raise GraphError("a step of 0")
        start, stop, step = slice(s, e, st).indices(full[ax])
        slices[ax - 1] = (start, None if stop < 0 else stop, step)
    im.emit(node, "slice", [x], {"slices": tuple(slices)})


def _gather(im, node, a):
    x = im.tensor(node)
    idx = im.const(node, 1, "indices", np.int64)
    im.emit(node, "gather", [x], {"axis": int(a.get("axis", 0)), "indices": idx.tolist()})


def _split(im, node, a):
    x = im.tensor(node)
    r = im.rank(x)
    axis = int(a.get("axis", 0)) % r if -r <= int(a.get("axis", 0)) < r else None
    if not axis:
        raise GraphError(f"axis {a.get('axis', 0)} is the batch axis or out of range")
    n = im.shape[x][axis - 1]
    sizes = ints(a["split"]) if "split" in a else (
        ints(im.const(node, 1, "split", np.int64)) if len(node.input) > 1 and node.input[1]
        else None)
    if sizes is None:
        k = int(a.get("num_outputs", len(node.output)))
        sizes = [-(-n // k)] * (k - 1) + [n - (k - 1) * -(-n // k)]
    if sum(sizes) != n or len(sizes) != len(node.output) or min(sizes) < 1:
        raise GraphError(f"split {list(sizes)} does not cut an axis of {n} into "
                         f"{len(node.output)} non-empty parts")
    start = 0
    for o, size in enumerate(sizes):
        slices = [(0, m, 1) for m in im.shape[x]]
        slices[axis - 1] = (start, start + size, 1)
        im.emit(node, "slice", [x], {"slices": tuple(slices)}, output=o)
        start += size


_REDUCE = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min",
           "ReduceProd": "prod"}


def _reduce(im, node, a):
    x = im.tensor(node)
    axes = _axes(im, node, a, 1)
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return im.emit(node, "identity", [x])
        raise GraphError("no axes: reducing every axis would reduce over the batch")
    im.emit(node, "reduce", [x], {"kind": _REDUCE[node.op_type], "axes": axes,
                                  "keepdims": bool(a.get("keepdims", 1))})


def _softmax(im, node, a):
    x = im.tensor(node)
    old = im.opset < 13
    attrs = {"axis": int(a.get("axis", 1 if old else -1)),
             "log": node.op_type == "LogSoftmax"}
    if old:
        attrs["flatten"] = True        # opset < 13: over the axes axis.. jointly
    im.emit(node, "softmax", [x], attrs)


def _dropout(im, node, a):
    x = im.tensor(node)
    im.unused_outputs(node, what="mask outputs")
    if im.opset < 7 and not a.get("is_test", 0):
        raise GraphError("is_test=0 (training: random dropout) is not supported; is_test=1 is")
    if im.opset >= 12 and len(node.input) > 2 and node.input[2]:
        training = im.const(node, 2, "training_mode", None)
        ratio = im.const(node, 1, "ratio", None)
        ratio = 0.5 if ratio is None else float(ratio)
        if bool(np.asarray(training).reshape(-1)[0]) and ratio != 0.0:
            raise GraphError("training_mode=True (random dropout) is not supported; "
                             "inference (training_mode=False) is")
    im.emit(node, "dropout", [x])


def _identity(im, node, a):
    if node.op_type == "CastLike" and im.is_const(node, 0):
        # a constant cast like a computed tensor, which is float (fdafast computes in float)
        im.consts[node.output[0]] = im.const(node, 0, "the input", np.float64)
        return
    x = im.tensor(node)
    if node.op_type in ("Cast", "CastLike"):
        to = a.get("to") if node.op_type == "Cast" else 1
        if node.op_type == "CastLike" and im.is_const(node, 1):
            to = {np.dtype(np.float32): 1, np.dtype(np.float64): 11}.get(
                im.consts[node.input[1]].dtype)
        if to not in FLOAT_TYPES:
            raise GraphError(f"casting a computed tensor to ONNX type {to} is not supported "
                             f"(only to float and double, which fdafast computes in)")
    im.alias[node.output[0]] = x


#: ONNX operator -> converter(importer, node, attributes) for computed inputs.
CONVERTERS = {
    "Conv": _conv, "MaxPool": _pool, "AveragePool": _pool,
    "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool,
    "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm, "InstanceNormalization": _instancenorm,
    **{k: _activation for k in _ACTS}, "Softplus": _activation, "Clip": _clip,
    "PRelu": _prelu, **{k: _binary for k in _BINARY},
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Concat": _concat, "Pad": _pad,
    "Slice": _slice, "Gather": _gather, "Split": _split, **{k: _reduce for k in _REDUCE},
    "Softmax": _softmax, "LogSoftmax": _softmax, "Dropout": _dropout,
    "Identity": _identity, "Cast": _identity, "CastLike": _identity,
}
