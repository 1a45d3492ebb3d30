"""Slow, loop-level reference implementations for the tests.

Nothing here is fast or clever on purpose: the direct convolution pads the
input explicitly, then loops in Python over every output position and every
kernel tap, and vectorises only over the batch and the channels.  Every fast
path of fdafast is compared with these functions.

Functions
---------
conv_direct(x, w, bias, stride, padding, dilation, groups)
    Cross-correlation with ``torch.nn.functional.conv2d``/``conv3d``
    semantics, computed in float64.
pad_pairs(padding, nd, kext, stride)
    Per-axis ``(lo, hi)`` zero padding, written out independently of
    fdafast's own argument handling.
rel_l2(a, b)
    ``||a - b||_2 / ||b||_2`` (absolute where ``b`` is all zero).
"""
import itertools

import numpy as np


def _per_axis(value, nd):
    """An int or a sequence of ``nd`` ints as a tuple of ``nd`` ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    value = tuple(int(v) for v in value)
    assert len(value) == nd, value
    return value


def pad_pairs(padding, nd, kext, stride=1):
    """Zero padding ``((lo, hi), ...)`` per spatial axis.

    ``padding`` is an int, a tuple of ``nd`` ints (symmetric), a tuple of
    ``nd`` ``(lo, hi)`` pairs, ``'valid'`` or ``'same'``.  For ``'same'``
    torch pads ``kext - 1`` zeros in total, ``(kext - 1) // 2`` before and
    the rest after (an even kernel gets the extra zero at the end); it is
    only defined for stride 1.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        assert padding == "same" and all(s == 1 for s in _per_axis(stride, nd))
        return tuple(((k - 1) // 2, (k - 1) - (k - 1) // 2) for k in kext)
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nd
    pairs = []
    for p in padding:
        if isinstance(p, (int, np.integer)):
            pairs.append((int(p), int(p)))
        else:
            lo, hi = p
            pairs.append((int(lo), int(hi)))
    assert len(pairs) == nd
    return tuple(pairs)


def conv_direct(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct grouped, strided, dilated cross-correlation in float64.

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial)
        2 or 3 spatial axes.
    w : array_like, shape (Cout, C/groups, *kernel)
    bias : array_like, shape (Cout,), optional
    stride, dilation : int or tuple of ints
    padding : int, tuple of ints, tuple of (lo, hi) pairs, 'same' or 'valid'
    groups : int

    Returns
    -------
    ndarray, float64, shape (N, Cout, *out) with
    ``out[a] = (n[a] + lo[a] + hi[a] - kext[a]) // stride[a] + 1`` and
    ``kext[a] = dilation[a] * (k[a] - 1) + 1``.

    Notes
    -----
    ``y[n, g*Cog + o, p] = bias[g*Cog + o]
    + sum_{c < Cig} sum_m xpad[n, g*Cig + c, p*stride + m*dilation] w[g*Cog + o, c, m]``
    with explicit loops over the output positions ``p`` and the taps ``m``.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    assert nd in (2, 3) and w.ndim == x.ndim
    stride, dilation = _per_axis(stride, nd), _per_axis(dilation, nd)
    n, cin = x.shape[:2]
    cout, cig = w.shape[:2]
    assert cin == cig * groups and cout % groups == 0
    cog = cout // groups
    kernel = w.shape[2:]
    kext = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    pads = pad_pairs(padding, nd, kext, stride)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    out = [(size - k) // s + 1 for size, k, s in zip(xp.shape[2:], kext, stride)]
    assert all(o >= 1 for o in out), (x.shape, w.shape, pads)
    # Group-major views: xg (N, G, Cig, *spatial), wg (G, Cog, Cig, *kernel).
    xg = xp.reshape((n, groups, cig) + xp.shape[2:])
    wg = w.reshape((groups, cog, cig) + tuple(kernel))
    y = np.zeros((n, groups, cog) + tuple(out))
    taps = list(itertools.product(*[range(k) for k in kernel]))
    for pos in itertools.product(*[range(o) for o in out]):
        acc = np.zeros((n, groups, cog))
        for tap in taps:
            idx = tuple(p * s + m * d for p, s, m, d in zip(pos, stride, tap, dilation))
            # (N, G, Cig) x (G, Cog, Cig) -> (N, G, Cog)
            acc += np.einsum("ngc,goc->ngo", xg[(slice(None),) * 3 + idx],
                             wg[(slice(None),) * 3 + tap])
        y[(slice(None),) * 3 + pos] = acc
    y = y.reshape((n, cout) + tuple(out))
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape((1, cout) + (1,) * nd)
    return y


def rel_l2(a, b):
    """Relative L2 error ``||a - b|| / ||b||`` of ``a`` against the reference ``b``.

    Computed in float64 (complex128 for complex arrays); falls back to the
    absolute error ``||a - b||`` when ``b`` is all zero.
    """
    a, b = np.asarray(a), np.asarray(b)
    wide = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64
    a, b = a.astype(wide), b.astype(wide)
    assert a.shape == b.shape, (a.shape, b.shape)
    err = float(np.linalg.norm((a - b).ravel()))
    ref = float(np.linalg.norm(b.ravel()))
    return err / ref if ref > 0 else err
