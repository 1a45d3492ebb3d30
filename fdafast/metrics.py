"""How far a simulated output is from its reference: relative error, SNR, top-1 agreement.

Numpy only; every other module (:func:`fdafast.simulate`, the sweeps) measures
with these.

>>> import numpy as np
>>> from fdafast import metrics
>>> ref = np.array([[3.0, 4.0]])
>>> e = metrics.layer_error(ref + [[0.0, 0.05]], ref)
>>> round(e.rel_l2, 6), round(e.snr_db, 6), metrics.top1_agreement(ref[:, ::-1], ref)
(0.01, 40.0, 0.0)
"""
import dataclasses
import math

import numpy as np

__all__ = ["LayerError", "layer_error", "rel_l2", "snr_db", "top1_agreement"]


@dataclasses.dataclass(frozen=True)
class LayerError:
    """Error of one layer's output against the float reference (whole batch)."""

    rel_l2: float       #: ||y - ref|| / ||ref||
    snr_db: float       #: 20 log10(||ref|| / ||y - ref||); inf when equal


def _norms(y, ref):
    """(||y - ref||, ||ref||), Euclidean norms over all elements, in float64."""
    ref = np.asarray(ref, np.float64)
    err = float(np.linalg.norm((np.asarray(y, np.float64) - ref).ravel()))
    return err, float(np.linalg.norm(ref.ravel()))


def _rel(err, norm):
    return err / norm if norm else err


def _snr(err, norm):
    if err == 0:
        return math.inf
    return 20 * math.log10(norm / err) if norm else -math.inf


def rel_l2(y, ref):
    """Relative L2 error of ``y`` against ``ref``.

    Parameters
    ----------
    y, ref : array_like
        Arrays of one shape (any rank; all elements count).

    Returns
    -------
    float
        ``||y - ref|| / ||ref||`` (Euclidean norms over all elements, in
        float64); ``||y - ref||`` itself when ``ref`` is all zero.
    """
    return _rel(*_norms(y, ref))


def snr_db(y, ref):
    """Signal-to-noise ratio of ``y`` against ``ref``, in decibels.

    Parameters
    ----------
    y, ref : array_like
        Arrays of one shape (any rank; all elements count).

    Returns
    -------
    float
        ``20 log10(||ref|| / ||y - ref||)``; ``inf`` when ``y`` equals
        ``ref``, ``-inf`` when ``ref`` is all zero and ``y`` is not.
    """
    return _snr(*_norms(y, ref))


def layer_error(y, ref):
    """:func:`rel_l2` and :func:`snr_db` of ``y`` against ``ref``, from one pass over the data.

    Parameters
    ----------
    y, ref : array_like
        Arrays of one shape.

    Returns
    -------
    LayerError
    """
    err, norm = _norms(y, ref)
    return LayerError(_rel(err, norm), _snr(err, norm))


def top1_agreement(y, ref):
    """Fraction of batch items whose arg-max class in ``y`` equals the one in ``ref``.

    Parameters
    ----------
    y, ref : array_like
        Batches ``(N, ...)``; each item is flattened before its arg-max.

    Returns
    -------
    float
        ``mean_i [argmax y_i == argmax ref_i]``, in [0, 1].
    """
    y, ref = np.asarray(y), np.asarray(ref)
    a = y.reshape(len(y), -1).argmax(axis=1)
    b = ref.reshape(len(ref), -1).argmax(axis=1)
    return float(np.mean(a == b))
