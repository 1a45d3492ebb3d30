"""Fixed-point quantization: scales, rounding, and ranges from calibration data.

Used by the ReRAM convolution engine (:mod:`fdafast.reram`) for weight and
input spectra and by the network executor for linear layers.  A scale maps
the largest magnitude of its group to the top signed integer
``2^(bits-1) - 1``; values are rounded to the nearest integer (half to even,
``numpy.rint``) and saturate at +-(2^(bits-1) - 1).
"""
import numpy as np

__all__ = ["scale", "quantize", "max_abs_parts", "percentile_level"]


def max_abs_parts(a, axis):
    """max(|Re a|, |Im a|) over ``axis``, without array-sized temporaries."""
    out = None
    for part in (a.real, a.imag):
        m = np.maximum(part.max(axis=axis), -part.min(axis=axis))
        out = m if out is None else np.maximum(out, m)
    return out


def scale(peak, bits):
    """Scale mapping ``peak`` to the top integer 2^(bits-1) - 1 (1 where peak is 0)."""
    top = (1 << (bits - 1)) - 1
    peak = np.asarray(peak, np.float64)
    return np.where(peak > 0, peak / top, 1.0)


#: Elements rounded at once by :func:`quantize` (bounds its float temporaries).
QUANTIZE_CHUNK = 1 << 20


def quantize(a, scale, bits, dtype=np.int32):
    """Round ``a / scale`` to integers, saturating at +-(2^(bits-1) - 1).

    ``a`` is an array, or an object with ``real`` and ``imag`` array planes;
    ``scale`` broadcasts against it and has at most its number of axes.
    Returns (re, im) arrays of ``dtype`` (im None for a real ``a``), computed
    in chunks along the first axis (no float temporaries of ``a``'s size).
    """
    top = (1 << (bits - 1)) - 1
    scale = np.asarray(scale, np.float64)
    if not isinstance(a, np.ndarray) and isinstance(getattr(a, "real", None), np.ndarray):
        parts = (a.real, a.imag)                      # separate planes (reram.Split)
    else:
        a = np.asarray(a)
        parts = (a.real, a.imag) if np.iscomplexobj(a) else (a,)
    res = [np.empty(parts[0].shape, dtype) for _ in parts]
    dsts = res
    if parts[0].ndim == 0:                            # views with one axis to chunk along
        parts, dsts, scale = [p.reshape(1) for p in parts], [r.reshape(1) for r in res], \
            scale.reshape(1)
    a = parts[0]
    per = max(1, QUANTIZE_CHUNK // max(1, a[0].size))
    split = scale.ndim == a.ndim and scale.shape[0] > 1
    for i0 in range(0, a.shape[0], per):
        rows = slice(i0, i0 + per)
        sc = scale[rows] if split else scale
        for part, dst in zip(parts, dsts):
            r = part[rows] / sc
            np.rint(r, out=r)
            np.clip(r, -top, top, out=r)
            dst[rows] = r
    return res[0], (res[1] if len(res) == 2 else None)


def percentile_level(hist, percentile, top):
    """The smallest value v (clamped to [1, top]) whose cumulative share of the
    histogram ``hist`` (counts of the values 0, 1, 2, ...) reaches ``percentile``
    percent: how a calibration batch sets an ADC's full scale."""
    cdf = np.cumsum(hist) / max(1, hist.sum())
    level = int(np.searchsorted(cdf, percentile / 100.0))
    return float(max(1, min(level, top)))
