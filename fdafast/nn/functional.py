"""numpy forms of the non-convolution operations of a network, with torch's semantics.

Arrays are (N, C, *spatial) with 1, 2 or 3 spatial axes; the output keeps
the input's dtype.  Pooling follows ``torch.nn.functional``: ``padding``
pads with -inf (max) or 0 (average) on both sides, ``ceil_mode`` lets a last
window start inside the input or its left padding, average pooling divides
by the window's size within the padded input (``count_include_pad``) or
within the input.
"""
import itertools
import math

import numpy as np

from .._tiling import dilated_extent

__all__ = ["pool_output_size", "max_pool", "avg_pool", "adaptive_avg_pool", "batch_norm",
           "activation", "softmax", "direct_conv", "ACTIVATIONS"]


def pool_output_size(n, k, s, p, d, ceil_mode):
    """Output length of a pooling window (torch's rule, ceil mode included)."""
    span = n + 2 * p - dilated_extent(k, d)
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:     # the last window must start inside
        out -= 1
    return out


def _padded(x, kernel, stride, padding, dilation, ceil_mode, fill):
    """x padded with ``fill`` so that every window is inside, and the output sizes."""
    sizes = x.shape[2:]
    out = [pool_output_size(n, k, s, p, d, ceil_mode)
           for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation)]
    # left: p; right: whatever the last window needs beyond the input
    hi = [max(0, (o - 1) * s + dilated_extent(k, d) - n - p)
          for o, n, k, s, p, d in zip(out, sizes, kernel, stride, padding, dilation)]
    width = [(0, 0), (0, 0)] + [(p, h) for p, h in zip(padding, hi)]
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
    """Max pooling (torch's ``max_pool{1,2,3}d``)."""
    xp, out = _padded(x, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    return _reduce(_offsets(xp, kernel, stride, dilation, out), np.maximum, x.dtype)


def avg_pool(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True):
    """Average pooling (torch's ``avg_pool{1,2,3}d``)."""
    nd = len(kernel)
    one = (1,) * nd
    xp, out = _padded(x, kernel, stride, padding, one, ceil_mode, 0.0)
    total = _reduce(_offsets(xp, kernel, stride, one, out), np.add, x.dtype)
    # divisor: window cells inside the padded input (or inside the input)
    ones = np.ones((1, 1) + x.shape[2:], x.dtype)
    if count_include_pad:
        ones = np.pad(ones, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=1.0)
        dp, _ = _padded(ones, kernel, stride, (0,) * nd, one, ceil_mode, 0.0)
    else:
        dp, _ = _padded(ones, kernel, stride, padding, one, ceil_mode, 0.0)
    count = _reduce(_offsets(dp, kernel, stride, one, out), np.add, x.dtype)
    total /= count[(slice(None),) * 2 + tuple(slice(0, o) for o in out)]
    return total


def adaptive_avg_pool(x, output_size):
    """Adaptive average pooling: output cell i of n inputs -> o outputs averages
    ``[floor(i n / o), ceil((i+1) n / o))`` (torch's rule)."""
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


def batch_norm(x, mean, var, weight, bias, eps):
    """Inference batch normalisation: ``(x - mean) / sqrt(var + eps) * weight + bias``."""
    scale = weight / np.sqrt(var + eps)
    shift = bias - mean * scale
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x * scale.reshape(shape).astype(x.dtype) +
            shift.reshape(shape).astype(x.dtype)).astype(x.dtype, copy=False)


def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


#: Elementwise activations by name: f(x, **attrs).
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0, dtype=x.dtype),
    "relu6": lambda x: np.clip(x, 0, 6).astype(x.dtype, copy=False),
    "leaky_relu": lambda x, negative_slope=0.01: np.where(
        x >= 0, x, x * x.dtype.type(negative_slope)),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "hardtanh": lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val).astype(
        x.dtype, copy=False),
    "hardswish": lambda x: (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False),
    "elu": lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(
        x.dtype, copy=False),
}
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


def softmax(x, axis=1):
    """Softmax along ``axis``, shifted by the maximum for stability."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def direct_conv(x, w, bias, stride, padding, dilation, groups, chunk_bytes=1 << 27):
    """Float64 direct convolution (torch's conv2d/conv3d semantics): im2col over
    blocks of output rows, one GEMM per group; memory bounded by ``chunk_bytes``."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = w.ndim - 2
    n, cin = x.shape[:2]
    cout, cig = w.shape[:2]
    cog = cout // groups
    kernel = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    ext = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    out = tuple((m - e) // s + 1 for m, e, s in zip(xp.shape[2:], ext, stride))
    win = np.lib.stride_tricks.sliding_window_view(xp, ext, axis=tuple(range(2, 2 + nd)))
    win = win[(slice(None),) * 2 + tuple(slice(0, (o - 1) * s + 1, s) for o, s in
                                          zip(out, stride))
              + tuple(slice(None, None, d) for d in dilation)]
    y = np.empty((n, cout) + out)
    taps = math.prod(kernel)
    per_row = max(1, math.prod(out[1:]) * cig * taps * 8)
    rows = max(1, chunk_bytes // per_row)
    wg = w.reshape(groups, cog, cig * taps)
    for g in range(groups):
        for r0 in range(0, out[0], rows):
            r1 = min(out[0], r0 + rows)
            cols = win[:, g * cig:(g + 1) * cig, r0:r1]            # (n, cig, rows.., k..)
            cols = np.moveaxis(cols, 1, 1 + nd)                      # (n, out.., cig, k..)
            cols = cols.reshape(n, -1, cig * taps)
            blk = cols @ wg[g].T                                     # (n, P, cog)
            y[:, g * cog:(g + 1) * cog, r0:r1] = np.moveaxis(blk, 2, 1).reshape(
                (n, cog, r1 - r0) + out[1:])
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape((1, cout) + (1,) * nd)
    return y
