"""fdafast.metrics against values worked out by hand."""
import math

import numpy as np
import pytest

from fdafast import metrics


def test_errors_by_hand():
    ref = np.array([[3.0, 4.0]], np.float32)          # ||ref|| = 5
    y = ref + np.array([[0.3, -0.4]], np.float32)      # ||y - ref|| = 0.5
    assert metrics.rel_l2(y, ref) == pytest.approx(0.1, rel=1e-6)
    assert metrics.snr_db(y, ref) == pytest.approx(20.0, rel=1e-6)     # 20 log10(5 / 0.5)
    e = metrics.layer_error(y, ref)
    assert (e.rel_l2, e.snr_db) == (metrics.rel_l2(y, ref), metrics.snr_db(y, ref))


def test_equal_and_zero_references():
    ref = np.arange(6.0).reshape(2, 3)
    assert metrics.layer_error(ref, ref) == metrics.LayerError(0.0, math.inf)
    zero = np.zeros((2, 3))
    assert metrics.rel_l2(zero + 2.0, zero) == pytest.approx(math.sqrt(24))   # ||y|| when ref is 0
    assert metrics.snr_db(zero + 2.0, zero) == -math.inf
    assert metrics.layer_error(zero, zero) == metrics.LayerError(0.0, math.inf)


def test_top1_agreement_by_hand():
    ref = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.1, 0.2, 0.7], [0.0, 0.0, 1.0]])
    assert metrics.top1_agreement(y, ref) == 0.5
    assert metrics.top1_agreement(ref[:, None, :], ref[:, None, :]) == 1.0   # items flattened


# -- accuracy statistics (data-set evaluations) ----------------------------------------------------------
def test_topk_hits_and_ties():
    scores = np.array([[0.1, 0.5, 0.5, 0.0], [3.0, 2.0, 1.0, 0.0]])
    assert metrics.topk_hits(scores, [2, 3], 1).tolist() == [False, False]   # tie: lower index
    assert metrics.topk_hits(scores, [2, 3], 2).tolist() == [True, False]
    assert metrics.topk_hits(scores, [2, 3], 5).tolist() == [True, True]


def test_wilson_interval_by_hand_and_against_scipy():
    z2 = metrics.Z95 ** 2
    assert metrics.wilson_interval(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))
    assert metrics.wilson_interval(10, 10) == pytest.approx((10 / (10 + z2), 1.0))
    assert all(math.isnan(v) for v in metrics.wilson_interval(0, 0))
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(3, 10), (81, 263), (1, 1), (499, 500), (3783 // 2, 3783)]:
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert metrics.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_paired_interval_cases_by_hand():
    a = np.array([1, 1, 0, 0], bool)     # no discordant pair: z sqrt((1/m) / m), m = n + 2
    half = metrics.Z95 / 6
    assert metrics.paired_difference_interval(a, a) == pytest.approx((0.0, -half, half))
    d, lo, hi = metrics.paired_difference_interval([1, 1, 1, 0, 0], [1, 0, 0, 0, 0])
    assert d == pytest.approx(0.4) and lo < 0.4 < hi and -1 <= lo and hi <= 1
    d, lo, hi = metrics.paired_difference_interval([1] * 20, [0] * 20)      # every pair differs
    assert d == 1.0 and lo > 0.7 and hi == 1.0
    assert all(math.isnan(v) for v in metrics.paired_difference_interval([], []))


def test_paired_interval_keeps_its_coverage():
    """Agresti and Min's interval covers the true difference about 95 % of the time."""
    rng = np.random.default_rng(7)
    for n, p, flip in [(60, 0.8, 0.15), (200, 0.6, 0.05), (40, 0.9, 0.05), (30, 0.5, 0.02)]:
        true = p * (1 - flip) + (1 - p) * flip
        covered = 0
        for _ in range(400):
            a = rng.random(n) < p
            b = a ^ (rng.random(n) < flip)
            _, lo, hi = metrics.paired_difference_interval(a, b)
            covered += lo <= p - true <= hi
        # conservative (never below) where discordant pairs are few
        top = 0.995 if n * flip >= 5 else 1.0
        assert 0.92 <= covered / 400 <= top, (n, p, flip, covered / 400)


def test_confusion_matrix_by_hand():
    m = metrics.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
