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


def quantize(a, scale, bits):
    """Round ``a / scale`` to integers, saturating at +-(2^(bits-1) - 1): (re, im) int32."""
    top = (1 << (bits - 1)) - 1
    out = []
    for part in (a.real, a.imag):
        r = part / scale
        np.rint(r, out=r)
        np.clip(r, -top, top, out=r)
        out.append(r.astype(np.int32))
    return tuple(out)


def percentile_level(hist, percentile, top):
    """The smallest value v (clamped to [1, top]) whose cumulative share of the
    histogram ``hist`` (counts of the values 0, 1, 2, ...) reaches ``percentile``
    percent: how a calibration batch sets an ADC's full scale."""
    cdf = np.cumsum(hist) / max(1, hist.sum())
    level = int(np.searchsorted(cdf, percentile / 100.0))
    return float(max(1, min(level, top)))
