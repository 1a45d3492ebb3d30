"""The real crossbar product ``fdafast.crossbar.matmul`` against its loop reference
(``naive_crossbar.matmul_reference``): bit for bit, counts exact, every kernel."""
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from fdafast import CrossbarConfig, _dispatch
from fdafast.crossbar import CrossbarCounts, cmatmul, crossbar_counts, matmul
from fdafast.errors import DTypeError, ShapeError
from naive_crossbar import matmul_reference
from test_crossbar import NOISE, exact_config, limit, lossy_cases


def check(x, w, config, seed=None):
    y, counts = matmul(x, w, config, seed=seed)
    y_ref, counts_ref = matmul_reference(x, w, config, seed=seed)
    assert y.dtype == np.float64 and y.shape == y_ref.shape
    assert np.array_equal(y, y_ref), (config, y, y_ref)
    assert counts == CrossbarCounts(**counts_ref)
    assert counts == crossbar_counts(*x.shape, w.shape[1], config, real=True)
    return y


def ints(rng, shape, bits):
    return rng.integers(-limit(bits), limit(bits) + 1, shape).astype(np.float64)


@pytest.fixture
def rng():
    return np.random.default_rng(17)


@pytest.mark.parametrize("enc", ["differential", "offset"])
@pytest.mark.parametrize("kw", [dict(rows=7, cols=5, cell_bits=2, weight_bits=6, input_bits=5,
                                     dac_bits=2), dict(rows=3, cols=64, cell_bits=1)])
def test_exact_configurations_give_x_at_w(enc, kw, rng):
    c = exact_config(weight_encoding=enc, **kw)
    x, w = ints(rng, (4, 11), c.input_bits), ints(rng, (11, 3), c.weight_bits)
    assert np.array_equal(check(x, w, c), x @ w)
    with _dispatch.forced("numba"):                        # emulated, not the shortcut
        assert np.array_equal(matmul(x, w, c)[0], x @ w)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lossy_cases())
def test_lossy_fast_equals_reference(case):
    config, x, w = case
    check(x.real.copy(), w.real.copy(), config)


@pytest.mark.parametrize("noise", list(NOISE))
@pytest.mark.parametrize("enc", ["differential", "offset"])
def test_nonideal_fast_equals_reference(noise, enc, rng):
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=6, weight_encoding=enc, **NOISE[noise])
    x, w = ints(rng, (3, 13), 5), ints(rng, (13, 2), 5)
    check(x, w, c, seed=99)


def test_a_real_product_does_a_quarter_of_the_complex_conversions(rng):
    c = CrossbarConfig(rows=128, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=6, pe="colpair")
    x, w = ints(rng, (50, 128), 8), ints(rng, (128, 16), 8)
    _, real = matmul(x, w, c)
    _, cplx = cmatmul(x.astype(np.complex128), w.astype(np.complex128), c)
    assert cplx.adc_conversions == 4 * real.adc_conversions
    assert dataclasses.asdict(real)["cells"] * 2 == dataclasses.asdict(cplx)["cells"]


def test_seeded_and_thread_independent(rng):
    c = CrossbarConfig(rows=16, adc_bits=5, read_sigma=0.4, program_sigma=0.05)
    x, w = ints(rng, (9, 40), 8), ints(rng, (40, 7), 8)
    a, _ = matmul(x, w, c, seed=5, threads=1)
    b, _ = matmul(x, w, c, seed=5, threads=2)
    assert np.array_equal(a, b) and not np.array_equal(a, matmul(x, w, c, seed=6)[0])


def test_errors():
    c = CrossbarConfig()
    with pytest.raises(DTypeError, match="cmatmul"):
        matmul(np.ones((2, 3), np.complex128), np.ones((3, 2)), c)
    with pytest.raises(ShapeError, match="columns must match"):
        matmul(np.ones((2, 3)), np.ones((4, 2)), c)
    with pytest.raises(Exception, match="outside"):
        matmul(np.full((2, 3), 1000.0), np.ones((3, 2)), c)
