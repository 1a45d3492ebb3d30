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

__all__ = ["LayerError", "layer_error", "rel_l2", "snr_db", "top1_agreement", "topk_hits",
           "wilson_interval", "paired_difference_interval", "confusion_matrix", "Z95"]

#: The standard normal quantile of a two-sided 95 % interval.
Z95 = 1.959963984540054


@dataclasses.dataclass(frozen=True)
class LayerError:
    """Error of one layer's output against the float reference (whole batch)."""

    rel_l2: float       #: ||y - ref|| / ||ref||
    snr_db: float       #: 20 log10(||ref|| / ||y - ref||); inf when equal


#: Elements per chunk of :func:`_norms` (bounds its float64 temporaries).
NORM_CHUNK = 1 << 20


def _norms(y, ref):
    """(||y - ref||, ||ref||), Euclidean norms over all elements, in float64, summed
    chunk by chunk (no array-sized float64 temporaries)."""
    y, ref = np.broadcast_arrays(np.asarray(y), np.asarray(ref))
    y, ref = y.reshape(-1), ref.reshape(-1)
    e2 = r2 = 0.0
    for i in range(0, ref.size, NORM_CHUNK):
        r = ref[i:i + NORM_CHUNK].astype(np.float64)
        d = y[i:i + NORM_CHUNK].astype(np.float64) - r
        e2 += float(np.vdot(d, d).real)
        r2 += float(np.vdot(r, r).real)
    return math.sqrt(e2), math.sqrt(r2)


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


def topk_hits(scores, labels, k):
    """Whether each item's label is among its ``k`` highest scores.

    Parameters
    ----------
    scores : array_like, (N, classes)
    labels : array_like of int, (N,)
    k : int
        ``k >= classes`` counts every item as a hit.

    Returns
    -------
    ndarray of bool, (N,)
        Ties are broken towards the lower class index (as ``argsort`` of the
        negated scores, stable).
    """
    scores = np.asarray(scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (order == np.asarray(labels)[:, None]).any(axis=1)


def wilson_interval(hits, n, z=Z95):
    """Wilson score interval of a binomial proportion ``hits / n``.

    Parameters
    ----------
    hits, n : int
        Successes and trials, ``0 <= hits <= n``.
    z : float
        Normal quantile (1.96 for 95 %).

    Returns
    -------
    (float, float)
        ``(centre -+ half) / (1 + z^2/n)`` with ``centre = p + z^2/(2n)`` and
        ``half = z sqrt(p(1-p)/n + z^2/(4n^2))``; ``(nan, nan)`` when ``n = 0``.

    Notes
    -----
    E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 22 (1927).  Unlike the Wald interval it stays inside
    [0, 1] and keeps its coverage near 0 and 1 (Brown, Cai and DasGupta,
    Statistical Science 16, 2001).
    """
    if n <= 0:
        return (math.nan, math.nan)
    p = hits / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom))


def paired_difference_interval(a, b, z=Z95):
    """Confidence interval of ``mean(a) - mean(b)`` for paired binary outcomes.

    Parameters
    ----------
    a, b : array_like of bool, (N,)
        Outcomes of the same N items under two conditions (e.g. top-1 hits in
        float and on the simulated hardware).
    z : float

    Returns
    -------
    (float, float, float)
        The observed difference ``(n10 - n01) / N`` and the interval's bounds,
        clipped to [-1, 1]; NaNs when N = 0.

    Notes
    -----
    The Wald interval of the paired difference after adding 1/2 to each of
    the four cells of the 2x2 table of pairs (A. Agresti and Y. Min, "Simple
    improved confidence intervals for comparing matched proportions",
    Statistics in Medicine 24, 2005): with ``m = N + 2``,
    ``p10 = (n10 + 1/2) / m``, ``p01 = (n01 + 1/2) / m``, ``d = p10 - p01``,

    ``d -+ z sqrt((p10 + p01 - d^2) / m)``.

    Fagerland, Lydersen and Laake (Statistics in Medicine 32, 2013) recommend
    it among the intervals for paired proportions; unlike the plain Wald
    interval it keeps its width when no pair is discordant, and unlike
    Newcombe's hybrid score interval it does not collapse to a point when
    both accuracies are 1/2 and every pair agrees.
    """
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    n = len(a)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    m = n + 2
    p10, p01 = (n10 + 0.5) / m, (n01 + 0.5) / m
    d = p10 - p01
    half = z * math.sqrt(max(0.0, p10 + p01 - d * d) / m)
    return ((n10 - n01) / n, max(-1.0, d - half), min(1.0, d + half))


def confusion_matrix(labels, preds, classes):
    """``m[i, j]``: items of label ``i`` predicted as ``j`` (``classes`` x ``classes``, int64)."""
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (np.asarray(labels, np.intp), np.asarray(preds, np.intp)), 1)
    return m
