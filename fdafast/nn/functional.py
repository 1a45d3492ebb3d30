"""numpy forms of the non-convolution operations of a network, with torch's semantics.

Two levels, as in scipy.fft: generic kernels on batched arrays (N, C,
*spatial) with 1, 2 or 3 spatial axes (:func:`max_pool`, :func:`avg_pool`,
:func:`adaptive_avg_pool`, :func:`direct_conv`), which the network
executor calls with validated arguments, and thin public names with
``torch.nn.functional``'s signatures (``max_pool2d``, ``avg_pool1d``,
``adaptive_avg_pool3d``, ``conv1d``, ``batch_norm``, ``softmax``,
``relu``...), which validate and normalise their arguments and accept
unbatched inputs (C, *spatial) as torch does (run as a batch of one and
squeezed back).  Outputs keep the input's dtype.

Pooling follows ``torch.nn.functional``: ``padding`` pads with -inf (max)
or 0 (average), ``ceil_mode`` lets a last window start inside the input or
its left padding, average pooling divides by the window's size within the
padded input (``count_include_pad``), within the input, or by
``divisor_override``.  The generic kernels also take per-axis
``(low, high)`` padding pairs and dilated average pooling (what ONNX's
pooling operators need); with those, a window never reaches past the
padded input, as in ONNX's reference implementation.
"""
import itertools
import math

import numpy as np

from .._args import (CONV_LAYOUTS, conv_shapes, float_array, int_tuple, padding_arg,
                     threads_arg)
from .._tiling import dilated_extent, to3
from ..direct import as3, choose_layout, conv_direct, weight_matrix
from ..errors import InvalidArgumentError, ShapeError

__all__ = ["pool_output_size", "max_pool", "max_pool_indices", "avg_pool", "adaptive_avg_pool", "batch_norm",
           "activation", "softmax", "log_softmax", "direct_conv", "ACTIVATIONS",
           "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "conv1d", "conv2d", "conv3d", "prelu", "layer_norm", "pad_pairs", "BINARY", "REDUCE",
           "adaptive_output_size"]


# -- argument normalisation ----------------------------------------------------------------
def pad_pairs(padding, nd):
    """Per-axis ``(low, high)`` pairs from an int, ``nd`` ints or ``nd`` pairs."""
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nd
    return tuple((int(p), int(p)) if isinstance(p, (int, np.integer)) else
                 (int(p[0]), int(p[1])) for p in padding)


def _per_axis(value, nd, name, op, minimum):
    """torch's pooling arguments: an int, or a sequence of 1 or ``nd`` ints."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    try:
        return int_tuple(value, nd, name, minimum)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{op}: {exc}") from None


def _batched(x, nd, op, channels_needed=True):
    """``x`` as a float array (N, C, *spatial) and whether it was unbatched (C, *spatial)."""
    x = float_array(x, "input")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op} needs a {nd + 2}-D input {CONV_LAYOUTS[nd]} or an unbatched "
                         f"{nd + 1}-D one, got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    if channels_needed and min(xb.shape[1:], default=1) < 1:
        raise ShapeError(f"{op} needs non-empty channel and spatial axes, got shape {x.shape}")
    return xb, unbatched


def _unbatch(y, unbatched):
    return y[0] if unbatched else y


# -- pooling -------------------------------------------------------------------------------------
def pool_output_size(n, k, s, p, d, ceil_mode):
    """Output length of a pooling window (torch's rule, ceil mode included).

    ``p`` is the padding on both sides, or a ``(low, high)`` pair.
    """
    lo, hi = (p, p) if isinstance(p, (int, np.integer)) else p
    span = n + lo + hi - dilated_extent(k, d)
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + lo:     # the last window must start inside
        out -= 1
    return out


def _padded(x, kernel, stride, pads, dilation, ceil_mode, fill):
    """x padded with ``fill`` so that every window is inside, and the output sizes."""
    sizes = x.shape[2:]
    out = [pool_output_size(n, k, s, p, d, ceil_mode)
           for n, k, s, p, d in zip(sizes, kernel, stride, pads, dilation)]
    # low: p; high: whatever the last window needs beyond the input
    hi = [max(0, (o - 1) * s + dilated_extent(k, d) - n - lo)
          for o, n, k, s, (lo, _), d in zip(out, sizes, kernel, stride, pads, dilation)]
    width = [(0, 0), (0, 0)] + [(lo, h) for (lo, _), h in zip(pads, hi)]
    xp = np.pad(x, width, constant_values=fill) if any(map(any, width)) else x
    return xp, out


def _offsets(xp, kernel, stride, dilation, out):
    """For every kernel offset, the strided view of ``xp`` its window cells form."""
    for tap in itertools.product(*[range(k) for k in kernel]):
        yield xp[(slice(None),) * 2 + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, d, o, s in zip(tap, dilation, out, stride))]


def _reduce(views, fn, dtype):
    """Accumulate ``fn`` over the views (one pass per kernel offset, no window copies)."""
    acc = None
    for v in views:
        if acc is None:
            acc = np.array(v, dtype=dtype)
        else:
            fn(acc, v, out=acc)
    return acc


def max_pool(x, kernel, stride, padding, dilation, ceil_mode=False):
    """Max pooling of a batch (N, C, *spatial) (torch's ``max_pool{1,2,3}d``);
    ``padding``: per-axis ints or ``(low, high)`` pairs."""
    pads = pad_pairs(padding, len(kernel))
    xp, out = _padded(x, kernel, stride, pads, dilation, ceil_mode, -np.inf)
    return _reduce(_offsets(xp, kernel, stride, dilation, out), np.maximum, x.dtype)


def max_pool_indices(x, kernel, stride, padding, dilation, ceil_mode=False):
    """Max pooling and, per output, the flat index of its maximum in the input's
    spatial axes (torch's ``return_indices``): the window's cells in order, the
    first maximum kept, a NaN taken over anything (the last NaN), padding never;
    a window of -inf values gives its first cell."""
    pads = pad_pairs(padding, len(kernel))
    xp, out = _padded(x, kernel, stride, pads, dilation, ceil_mode, -np.inf)
    # the flat input index of every padded cell (-1 in the padding)
    flat = np.arange(math.prod(x.shape[2:]), dtype=np.int64).reshape((1, 1) + x.shape[2:])
    fp, _ = _padded(flat, kernel, stride, pads, dilation, ceil_mode, -1)
    acc = np.full(x.shape[:2] + tuple(out), -np.inf, x.dtype)
    idx = np.full(acc.shape, -1, np.int64)
    for v, i in zip(_offsets(xp, kernel, stride, dilation, out),
                    _offsets(fp, kernel, stride, dilation, out)):
        take = ((v > acc) | np.isnan(v)) | ((idx < 0) & (i >= 0))
        acc = np.where(take, v, acc)
        idx = np.where(take, i, idx)
    return acc, idx


def avg_pool(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
             divisor_override=None, dilation=None):
    """Average pooling of a batch (N, C, *spatial) (torch's ``avg_pool{1,2,3}d``).

    The divisor of a window is ``divisor_override`` if given, else its cells
    inside the padded input (``count_include_pad``) or inside the input.
    ``padding``: per-axis ints or ``(low, high)`` pairs; ``dilation`` (ONNX
    only) spaces the window's cells.
    """
    nd = len(kernel)
    dil = (1,) * nd if dilation is None else tuple(dilation)
    pads = pad_pairs(padding, nd)
    xp, out = _padded(x, kernel, stride, pads, dil, ceil_mode, 0.0)
    total = _reduce(_offsets(xp, kernel, stride, dil, out), np.add, x.dtype)
    if total.size == 0:
        return total
    if divisor_override:
        total /= x.dtype.type(divisor_override)
        return total
    # divisor: window cells inside the padded input (or inside the input)
    ones = np.ones((1, 1) + x.shape[2:], x.dtype)
    if count_include_pad:
        ones = np.pad(ones, [(0, 0), (0, 0)] + list(pads), constant_values=1.0)
        dp, _ = _padded(ones, kernel, stride, ((0, 0),) * nd, dil, ceil_mode, 0.0)
    else:
        dp, _ = _padded(ones, kernel, stride, pads, dil, ceil_mode, 0.0)
    count = _reduce(_offsets(dp, kernel, stride, dil, out), np.add, x.dtype)
    total /= count[(slice(None),) * 2 + tuple(slice(0, o) for o in out)]
    return total


def adaptive_avg_pool(x, output_size):
    """Adaptive average pooling of a batch: output cell i of n inputs -> o outputs
    averages ``[floor(i n / o), ceil((i+1) n / o))`` (torch's rule)."""
    nd = len(output_size)
    sizes = x.shape[2:]
    if all(o == 1 for o in output_size):
        return x.mean(axis=tuple(range(2, 2 + nd)), keepdims=True).astype(x.dtype, copy=False)
    ranges = [[(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]
              for n, o in zip(sizes, output_size)]
    out = np.empty(x.shape[:2] + tuple(output_size), x.dtype)
    for idx in itertools.product(*[range(o) for o in output_size]):
        sl = tuple(slice(*ranges[a][i]) for a, i in enumerate(idx))
        out[(slice(None),) * 2 + idx] = x[(slice(None),) * 2 + sl].mean(
            axis=tuple(range(2, 2 + nd)))
    return out


def _pool_args(op, nd, kernel_size, stride, padding, dilation, max_pad_of):
    """Validated (kernel, stride, padding, dilation) of a torch pooling call."""
    k = _per_axis(kernel_size, nd, "kernel_size", op, 1)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _per_axis(stride, nd, "stride", op, 1)
    p = _per_axis(padding, nd, "padding", op, 0)
    d = _per_axis(dilation, nd, "dilation", op, 1)
    for kk, pp, dd in zip(k, p, d):
        if 2 * pp > max_pad_of(kk, dd):
            raise InvalidArgumentError(f"{op}: padding {p} exceeds half the (effective) "
                                       f"kernel {k} with dilation {d}, which torch refuses")
    return k, s, p, d


def _check_output(op, x, kernel, stride, padding, dilation, ceil_mode):
    out = [pool_output_size(n, kk, ss, pp, dd, ceil_mode)
           for n, kk, ss, pp, dd in zip(x.shape[2:], kernel, stride, padding, dilation)]
    if min(out) < 1:
        raise ShapeError(f"{op}: the window {kernel} (dilation {dilation}, padding {padding}) "
                         f"does not fit the input's spatial shape {x.shape[2:]}")


def _max_pool_nd(nd, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
    op = f"max_pool{nd}d"
    xb, unbatched = _batched(x, nd, op)
    k, s, p, d = _pool_args(op, nd, kernel_size, stride, padding, dilation, dilated_extent)
    _check_output(op, xb, k, s, p, d, ceil_mode)
    if return_indices:
        y, idx = max_pool_indices(xb, k, s, p, d, bool(ceil_mode))
        return _unbatch(y, unbatched), _unbatch(idx, unbatched)
    return _unbatch(max_pool(xb, k, s, p, d, bool(ceil_mode)), unbatched)


def _avg_pool_nd(nd, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
    op = f"avg_pool{nd}d"
    xb, unbatched = _batched(x, nd, op)
    k, s, p, d = _pool_args(op, nd, kernel_size, stride, padding, 1, lambda kk, dd: kk)
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
            divisor_override, (int, np.integer)) or divisor_override == 0):
        raise InvalidArgumentError(f"{op}: divisor_override must be a non-zero int or None, "
                                   f"got {divisor_override!r}")
    _check_output(op, xb, k, s, p, d, ceil_mode)
    return _unbatch(avg_pool(xb, k, s, p, bool(ceil_mode), bool(count_include_pad),
                             divisor_override), unbatched)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool1d`` on (N, C, L) or unbatched (C, L)."""
    return _max_pool_nd(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool2d`` on (N, C, H, W) or unbatched (C, H, W)."""
    return _max_pool_nd(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool3d`` on (N, C, D, H, W) or unbatched (C, D, H, W)."""
    return _max_pool_nd(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """``torch.nn.functional.avg_pool1d`` on (N, C, L) or unbatched (C, L)."""
    return _avg_pool_nd(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """``torch.nn.functional.avg_pool2d`` on (N, C, H, W) or unbatched (C, H, W)."""
    return _avg_pool_nd(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """``torch.nn.functional.avg_pool3d`` on (N, C, D, H, W) or unbatched (C, D, H, W)."""
    return _avg_pool_nd(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def adaptive_output_size(output_size, sizes, op="adaptive_avg_pool"):
    """torch's ``output_size``: an int or ``nd`` entries, ``None`` keeping the input's size."""
    nd = len(sizes)
    if isinstance(output_size, (list, tuple)) and len(output_size) == 1 and nd > 1:
        output_size = output_size[0]
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd or not all(
            o is None or (isinstance(o, (int, np.integer)) and not isinstance(o, bool) and o >= 1)
            for o in output_size):
        raise InvalidArgumentError(f"{op}: output_size must be a positive int or {nd} positive "
                                   f"ints or None, got {output_size!r}")
    return tuple(n if o is None else int(o) for n, o in zip(sizes, output_size))


def _adaptive_nd(nd, x, output_size):
    op = f"adaptive_avg_pool{nd}d"
    xb, unbatched = _batched(x, nd, op)
    out = adaptive_output_size(output_size, xb.shape[2:], op)
    return _unbatch(adaptive_avg_pool(xb, out), unbatched)


def adaptive_avg_pool1d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool1d`` on (N, C, L) or unbatched (C, L)."""
    return _adaptive_nd(1, x, output_size)


def adaptive_avg_pool2d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool2d``; ``None`` sizes keep the input's."""
    return _adaptive_nd(2, x, output_size)


def adaptive_avg_pool3d(x, output_size):
    """``torch.nn.functional.adaptive_avg_pool3d``; ``None`` sizes keep the input's."""
    return _adaptive_nd(3, x, output_size)


# -- normalisation ---------------------------------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Inference batch normalisation (``torch.nn.functional.batch_norm``, training=False):
    ``(x - mean) / sqrt(var + eps) * weight + bias`` along axis 1 of (N, C, *)."""
    if training:
        raise InvalidArgumentError("batch_norm: training=True (batch statistics, running "
                                   "statistics updated) is not supported; fdafast runs "
                                   "inference (training=False)")
    if running_mean is None or running_var is None:
        raise InvalidArgumentError("batch_norm: inference needs running_mean and running_var")
    x = float_array(x, "input")
    c = np.shape(running_mean)[0] if np.ndim(running_mean) == 1 else None
    ok = [np.ndim(a) == 1 and np.shape(a)[0] == c
          for a in (running_mean, running_var, weight, bias) if a is not None]
    if x.ndim < 2 or not all(ok) or x.shape[1] != c:
        raise ShapeError(f"batch_norm needs an input (N, C, *) and 1-D statistics of C "
                         f"entries, got input {x.shape} and running_mean "
                         f"{np.shape(running_mean)}")
    mean = np.asarray(running_mean, np.float64)
    scale = 1.0 / np.sqrt(np.asarray(running_var, np.float64) + eps)
    if weight is not None:
        scale = scale * np.asarray(weight, np.float64)
    shift = -mean * scale
    if bias is not None:
        shift = shift + np.asarray(bias, np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x * scale.reshape(shape).astype(x.dtype) +
            shift.reshape(shape).astype(x.dtype)).astype(x.dtype, copy=False)


def layer_norm(x, axis, weight=None, bias=None, eps=1e-5):
    """Normalise over the axes ``axis..`` (``torch.nn.functional.layer_norm`` over the
    trailing axes, ONNX's LayerNormalization): biased variance, then ``* weight + bias``."""
    axes = tuple(range(axis, x.ndim))
    xd = np.asarray(x, np.float64)
    mean = xd.mean(axis=axes, keepdims=True)
    var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (xd - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype, copy=False)


# -- activations ----------------------------------------------------------------------------------
def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _erf(x):
    try:        # scipy is optional: its erf is vectorised; math.erf is exact but slow
        from scipy.special import erf
    except ImportError:
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return erf(x).astype(x.dtype, copy=False)


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + _erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)


def _softplus(x, beta=1.0, threshold=20.0):
    bx = x * x.dtype.type(beta)
    soft = (np.logaddexp(0, bx) / x.dtype.type(beta)).astype(x.dtype, copy=False)
    return soft if threshold is None else np.where(bx > threshold, x, soft)


_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)


def _cast(f):
    """``f`` with its result in the input's dtype."""
    return lambda x, **kw: np.asarray(f(x, **kw)).astype(x.dtype, copy=False)


#: Elementwise activations by name: f(x, **attrs), torch's (and ONNX's) definitions.
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0, dtype=x.dtype),
    "relu6": _cast(lambda x: np.clip(x, 0, 6)),
    "leaky_relu": lambda x, negative_slope=0.01: np.where(
        x >= 0, x, x * x.dtype.type(negative_slope)),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "hardtanh": _cast(lambda x, min_val=-1.0, max_val=1.0: np.minimum(np.maximum(x, min_val),
                                                                       max_val)),
    "hardswish": _cast(lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": _cast(lambda x, alpha=1 / 6, beta=0.5: np.clip(alpha * x + beta, 0, 1)),
    "elu": _cast(lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))),
    "selu": _cast(lambda x, alpha=_SELU[0], scale=_SELU[1]: scale * np.where(
        x > 0, x, alpha * np.expm1(np.minimum(x, 0)))),
    "celu": _cast(lambda x, alpha=1.0: np.maximum(x, 0) + np.minimum(
        0, alpha * np.expm1(np.minimum(x, 0) / alpha))),
    "silu": _cast(lambda x: x * _sigmoid(x)),
    "mish": _cast(lambda x: x * np.tanh(np.logaddexp(0, x))),
    "gelu": _gelu,
    "softplus": _softplus,
    "softsign": _cast(lambda x: x / (1 + np.abs(x))),
    "erf": _erf,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "neg": np.negative,
    "abs": np.abs,
    "reciprocal": _cast(lambda x: 1 / x),
}
#: The keyword arguments each activation takes (what a graph node may set).
ACTIVATION_ARGS = {
    "relu": (), "relu6": (), "leaky_relu": ("negative_slope",), "sigmoid": (), "tanh": (),
    "hardtanh": ("min_val", "max_val"), "hardswish": (), "hardsigmoid": ("alpha", "beta"),
    "elu": ("alpha",), "selu": ("alpha", "scale"), "celu": ("alpha",), "silu": (), "mish": (),
    "gelu": ("approximate",), "softplus": ("beta", "threshold"), "softsign": (), "erf": (),
    "exp": (), "log": (), "sqrt": (), "neg": (), "abs": (), "reciprocal": ()}
#: torch.nn.functional's positional arguments after the input (the public names).
_TORCH_ARGS = {"leaky_relu": ("negative_slope", "inplace"), "hardtanh": ("min_val", "max_val",
               "inplace"), "elu": ("alpha", "inplace"), "celu": ("alpha", "inplace"),
               "softplus": ("beta", "threshold"), "gelu": (), "sigmoid": (), "tanh": (),
               "softsign": ()}
#: Activations that can overwrite their input (saves a fresh array per call).
IN_PLACE = {
    "relu": lambda x: np.maximum(x, 0, out=x),
    "relu6": lambda x: np.clip(x, 0, 6, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
}


def activation(name, x, in_place=False, **attrs):
    """Apply the activation ``name`` of :data:`ACTIVATIONS`; with ``in_place`` (and
    a name in :data:`IN_PLACE`) ``x`` is overwritten and returned."""
    if in_place and name in IN_PLACE and not attrs:
        return IN_PLACE[name](x)
    return ACTIVATIONS[name](x, **attrs)


def _public_activation(name):
    positional = _TORCH_ARGS.get(name, ("inplace",))
    allowed = set(positional) | {"inplace"} | ({"approximate"} if name == "gelu" else set())

    def fn(x, *pos, **kw):
        if len(pos) > len(positional) or set(kw) - allowed:
            raise InvalidArgumentError(f"{name} takes the arguments {positional}, got {pos} "
                                       f"{kw}")
        kw.update(zip(positional, pos))
        inplace = kw.pop("inplace", False)
        x = float_array(x, "input")
        if name == "hardtanh" and kw.get("min_val", -1.0) > kw.get("max_val", 1.0):
            raise InvalidArgumentError(f"hardtanh: min_val {kw['min_val']} exceeds max_val "
                                       f"{kw['max_val']} (torch refuses it)")
        y = ACTIVATIONS[name](x, **kw)
        if inplace:
            np.copyto(x, y)
            return x
        return y

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.nn.functional.{name}`` on a numpy array (any shape)."
    return fn


relu, relu6, leaky_relu, hardtanh, hardswish, hardsigmoid, elu, selu, celu, silu, mish, \
    gelu, softplus, softsign = (_public_activation(n) for n in (
        "relu", "relu6", "leaky_relu", "hardtanh", "hardswish", "hardsigmoid", "elu", "selu",
        "celu", "silu", "mish", "gelu", "softplus", "softsign"))
sigmoid = _public_activation("sigmoid")
tanh = _public_activation("tanh")
__all__ += ["relu", "relu6", "leaky_relu", "hardtanh", "hardswish", "hardsigmoid", "elu",
            "selu", "celu", "silu", "mish", "gelu", "softplus", "softsign", "sigmoid", "tanh"]


def prelu(x, weight, axis=1):
    """``torch.nn.functional.prelu``: ``x`` where ``x >= 0``, else ``weight * x``, the
    weight's C entries along ``axis`` (1; for inputs of rank < 2 one entry only).
    ``axis=None`` broadcasts ``weight`` against ``x`` as numpy does (ONNX's PRelu)."""
    x = float_array(x, "input")
    w = np.asarray(weight, x.dtype)
    if axis is not None:
        c = x.shape[axis] if x.ndim > axis else 1
        if w.size == 1 and w.ndim <= 1:
            w = w.reshape(())
        elif w.ndim == 1 and w.shape[0] == c:
            w = w.reshape((-1,) + (1,) * (x.ndim - axis - 1))
        else:
            raise ShapeError(f"prelu: the weight must have 1 or {c} entries (the input's axis "
                             f"{axis}), got shape {w.shape}")
    return np.where(x >= 0, x, x * w).astype(x.dtype, copy=False)


# -- elementwise pairs and reductions (what graph nodes name) ---------------------------------
#: Elementwise functions of two operands (numpy broadcasting), by name.
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "pow": np.power, "max": np.maximum, "min": np.minimum}
#: Reductions over axes, by name.
REDUCE = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}


# -- softmax --------------------------------------------------------------------------------------
def _softmax_dim(x, dim, op):
    if dim is None:                      # torch's legacy implicit dim (it warns)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    rank = max(x.ndim, 1)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -rank <= dim < rank:
        raise InvalidArgumentError(f"{op}: dim must be an int in [{-rank}, {rank}) for an "
                                   f"input of shape {x.shape}, got {dim!r}")
    return int(dim) % rank if x.ndim else None


def _softmax(x, dim, dtype, op, log):
    x = float_array(x, "input")
    try:
        out_dtype = x.dtype if dtype is None else np.dtype(dtype)
    except TypeError:
        out_dtype = None
    if out_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidArgumentError(f"{op}: dtype must be float32 or float64, got {dtype!r}")
    axis = _softmax_dim(x, dim, op)
    if x.size == 0:
        return np.empty(x.shape, out_dtype)
    xd = x.astype(out_dtype, copy=False)
    shifted = xd - xd.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=axis, keepdims=True)
    y = shifted - np.log(s) if log else e / s
    return y.astype(out_dtype, copy=False)


def softmax(x, dim=None, dtype=None):
    """Softmax along ``dim`` (``torch.nn.functional.softmax``), shifted by the maximum;
    ``dtype``: compute and return in it."""
    return _softmax(x, dim, dtype, "softmax", False)


def log_softmax(x, dim=None, dtype=None):
    """``log(softmax(x))`` along ``dim`` (``torch.nn.functional.log_softmax``), computed
    as ``x - max - log(sum(exp(x - max)))``."""
    return _softmax(x, dim, dtype, "log_softmax", True)


# -- convolution -----------------------------------------------------------------------------------
def direct_conv(x, w, bias, stride, padding, dilation, groups, chunk_bytes=1 << 27,
                threads=None):
    """Float64 direct convolution (torch's conv1d/2d/3d semantics) of a batch: im2col
    and one GEMM per group (:func:`fdafast.direct.conv_direct`), in blocks whose
    columns take at most ``chunk_bytes``.  ``padding``: per-axis ints or ``(low, high)``
    pairs."""
    x = np.ascontiguousarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = w.ndim - 2
    pads = pad_pairs(padding, nd)
    ext = tuple(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation))
    out = tuple((m + lo + hi - e) // s + 1 for m, (lo, hi), e, s in
                zip(x.shape[2:], pads, ext, stride))
    y = np.empty(x.shape[:1] + w.shape[:1] + out)
    if x.shape[0] == 0:
        return y
    x3, w3, pad3, stride3, dilation3 = as3(x, w, pads, stride, dilation)
    layout = choose_layout(w.shape[1], out[-1])
    conv_direct(x3, weight_matrix(w3, groups, np.float64, layout),
                None if bias is None else np.asarray(bias, np.float64),
                y.reshape(y.shape[:2] + to3(out, 1)), kernel3=w3.shape[2:], pad3=pad3,
                stride3=stride3, dilation3=dilation3, threads=threads_arg(threads),
                layout=layout, column_bytes=chunk_bytes)
    return y


def _conv_nd(nd, x, weight, bias, stride, padding, dilation, groups):
    op = f"conv{nd}d"
    x = float_array(x, "input")
    w = float_array(weight, "weight")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op} needs a {nd + 2}-D input {CONV_LAYOUTS[nd]} or an unbatched "
                         f"{nd + 1}-D one, got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    conv_shapes(xb.shape, w.shape, groups, nd)
    s = int_tuple(stride, nd, "stride", 1)
    d = int_tuple(dilation, nd, "dilation", 1)
    kext = tuple(dilated_extent(k, dd) for k, dd in zip(w.shape[2:], d))
    lo, hi = padding_arg(padding, nd, kext, s)
    sizes = [n + a + b for n, a, b in zip(xb.shape[2:], lo, hi)]
    if min(xb.shape[1:]) < 1 or any(k > m for k, m in zip(kext, sizes)):
        raise ShapeError(f"{op}: the kernel {w.shape[2:]} (dilation {d}) does not fit the "
                         f"padded input {tuple(sizes)}")
    b = None if bias is None else float_array(bias, "bias")
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(f"{op}: bias must have shape ({w.shape[0]},), got {b.shape}")
    y = direct_conv(xb, w, b, s, tuple(zip(lo, hi)), d, groups)
    return _unbatch(y.astype(np.result_type(x.dtype, w.dtype), copy=False), unbatched)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv1d`` as a float64 direct convolution (the reference),
    the result in the inputs' dtype; (N, C, L) or unbatched (C, L)."""
    return _conv_nd(1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv2d`` as a float64 direct convolution (the reference)."""
    return _conv_nd(2, x, weight, bias, stride, padding, dilation, groups)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv3d`` as a float64 direct convolution (the reference)."""
    return _conv_nd(3, x, weight, bias, stride, padding, dilation, groups)
