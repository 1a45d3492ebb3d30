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
