"""Tests of the crossbar emulation :mod:`fdafast.crossbar`.

Every fast result is compared with the loop reference
:func:`naive_crossbar.cmatmul_reference`, which follows the contract
literally; results are integers or float64 values that the contract fixes
to the last bit, so every comparison is exact (``np.array_equal``), and
event counts are compared as dataclasses.

* Derived quantities (slices, sets, chunks, channels per block, s_max, ADC
  step, ideal/exact) against :class:`naive_crossbar.Geometry`.
* Exactness: ideal devices and an ADC that cannot round give ``x @ w``
  exactly, for both PE mappings, both weight encodings, cell widths 1..4
  and 8, DAC widths 1..3, K not divisible by the block, M = 1, N = 1 and
  extreme operands (all at +max, all at -max, zeros, slice boundaries).
* Lossy ADCs: fast == reference, bit for bit, over hypothesis-drawn small
  configurations and operands.
* Device non-idealities: fast == reference with a fixed seed; the same
  seed reproduces the output (and across thread counts); different seeds
  differ; all cells stuck off leave only the offset correction.
* Counts: the closed form equals the counts of cmatmul and two loop counts.
* Errors: operand and configuration validation, each a FdafastError
  subclass whose message names the field or value and what is allowed.
"""
import dataclasses
import inspect
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fdafast
from fdafast import FdafastError, _rng
from fdafast.crossbar import (PE, CrossbarConfig, CrossbarCounts, WeightEncoding, cmatmul,
                              crossbar_counts)
from naive_crossbar import (COUNT_FIELDS, Geometry, cmatmul_reference, counts_reference,
                            exact_product, matmul_reference, offset_correction)

PES = ("rowpair", "colpair")
ENCODINGS = ("differential", "offset")
HAS_THREADS = "threads" in inspect.signature(cmatmul).parameters


# -- helpers ---------------------------------------------------------------

def exact_config(**kw):
    """A config whose ADC cannot round: adc_bits is the bit length of s_max (tightest)."""
    c = CrossbarConfig(**kw)
    return c.replace(adc_bits=max(1, Geometry(c).s_max.bit_length()))


def limit(bits):
    return 2 ** (bits - 1) - 1


def operand(rng, shape, bits, kind="random"):
    """Integer-valued complex128 array of ``shape`` within ``bits``-bit limits.

    kind: 'random', 'plus' (all +max), 'minus' (all -max), 'zero', 'mixed'
    (Re +max, Im -max) or 'boundary' (values at slice and chunk boundaries:
    0, +-1, +-(2^j - 1), +-2^j).
    """
    lim = limit(bits)
    if kind == "random":
        return (rng.integers(-lim, lim + 1, shape) + 1j * rng.integers(-lim, lim + 1, shape))
    if kind == "plus":
        return np.full(shape, lim * (1 + 1j))
    if kind == "minus":
        return np.full(shape, -lim * (1 + 1j))
    if kind == "zero":
        return np.zeros(shape, np.complex128)
    if kind == "mixed":
        return np.full(shape, lim - 1j * lim)
    assert kind == "boundary", kind
    vals = sorted({v for j in range(bits) for v in (2 ** j - 1, 2 ** j, -(2 ** j - 1), -(2 ** j))
                   if abs(v) <= lim})
    return rng.choice(vals, shape) + 1j * rng.choice(vals, shape)


def assert_counts(counts, ref):
    """``counts`` (a CrossbarCounts) equals the dict ``ref`` field by field."""
    assert isinstance(counts, CrossbarCounts)
    assert tuple(f.name for f in dataclasses.fields(CrossbarCounts)) == COUNT_FIELDS
    assert counts == CrossbarCounts(**ref), (counts, ref)


def check_fast_equals_reference(x, w, config, seed=None):
    """fast cmatmul == reference (y bit for bit, counts as dataclasses); returns y."""
    y, counts = cmatmul(x, w, config, seed=seed)
    y_ref, counts_ref = cmatmul_reference(x, w, config, seed=seed)
    assert y.dtype == np.complex128 and y.shape == y_ref.shape
    assert np.array_equal(y, y_ref), (config, x, w, y, y_ref)
    assert_counts(counts, counts_ref)
    return y


# -- derived quantities ------------------------------------------------------

GEOMETRY_CASES = [
    dict(),
    dict(rows=7, cols=3, cell_bits=1, weight_bits=2, input_bits=2, dac_bits=1, adc_bits=1),
    dict(rows=6, cell_bits=3, weight_bits=8, input_bits=7, dac_bits=3, pe="colpair"),
    dict(rows=5, cell_bits=4, weight_bits=5, input_bits=5, dac_bits=2, weight_encoding="offset"),
    dict(rows=9, cell_bits=8, weight_bits=8, dac_bits=7, adc_bits=3, adc_full_scale=100.5,
         pe="colpair", weight_encoding="offset"),
    dict(rows=2, cell_bits=2, weight_bits=3, input_bits=3, dac_bits=2, adc_bits=16),
    dict(rows=4, adc_full_scale=0.25),
    dict(program_sigma=0.1), dict(read_sigma=1.0), dict(stuck_on_rate=0.01),
    dict(stuck_off_rate=0.01), dict(on_off_ratio=20.0),
]


@pytest.mark.parametrize("kw", GEOMETRY_CASES, ids=range(len(GEOMETRY_CASES)))
def test_derived_quantities_match_the_contract(kw):
    c = CrossbarConfig(**kw)
    g = Geometry(c)
    assert (c.slices, c.sets, c.chunks, c.channels_per_block, c.s_max) == (
        g.ns, g.sets, g.chunks, g.cpb, g.s_max)
    assert c.ideal_devices == g.ideal_devices
    step = c.adc_step if not callable(c.adc_step) else c.adc_step()
    assert step == g.step
    # The contract's `exact` (ideal and s_max <= 2**ab - 1) is only exact when
    # the ADC step is 1; with adc_full_scale > 2**ab - 1 it rounds (see
    # test_exact_needs_unit_step).  Compare where the two readings agree.
    if c.adc_full_scale is None:
        assert c.exact == g.exact


def test_adc_step_is_a_property():
    c = CrossbarConfig(rows=4, adc_bits=2)
    assert c.adc_step == Geometry(c).step


def test_exact_needs_unit_step():
    """adc_full_scale above 2**ab - 1 makes the ADC round even when s_max fits.

    The contract's conversion rule (followed by the reference) gives step > 1
    here, so ``y != x @ w``; config.exact must then be False even though the
    contract's one-line definition of ``exact`` ignores adc_full_scale.
    """
    c = CrossbarConfig(rows=2, cols=4, cell_bits=1, weight_bits=3, input_bits=3, dac_bits=1,
                       adc_bits=2, adc_full_scale=7.0)
    g = Geometry(c)
    assert g.s_max <= 2 ** g.ab - 1 and g.step > 1
    x = np.array([[3 + 1j, 2 - 3j]])
    w = np.array([[1 - 2j], [3 + 3j]])
    y = check_fast_equals_reference(x, w, c)
    assert not np.array_equal(y, exact_product(x, w))
    assert not c.exact


def test_enums_and_strings_are_the_same_config():
    a = CrossbarConfig(pe="colpair", weight_encoding="offset")
    b = CrossbarConfig(pe=PE("colpair"), weight_encoding=WeightEncoding("offset"))
    assert a == b
    assert Geometry(a).rowpair is False and Geometry(b).differential is False


def test_reexported_from_package():
    assert fdafast.CrossbarConfig is CrossbarConfig


# -- exactness ---------------------------------------------------------------

EXACT_WIDTHS = [(cb, 6, db) for cb in (1, 2, 3, 4) for db in (1, 2, 3)] + [(8, 8, 1), (8, 8, 3)]


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("cb,wb,db", EXACT_WIDTHS)
def test_exact_widths(pe, enc, cb, wb, db, rng):
    # rows 6: 3 channels per rowpair block, 6 per colpair block; K = 7 divides neither
    c = exact_config(rows=6, cols=5, cell_bits=cb, weight_bits=wb, input_bits=5, dac_bits=db,
                     pe=pe, weight_encoding=enc)
    assert c.exact and Geometry(c).exact
    x, w = operand(rng, (3, 7), 5), operand(rng, (7, 2), wb)
    expected = exact_product(x, w)
    y, _ = cmatmul(x, w, c)
    y_ref, _ = cmatmul_reference(x, w, c)
    assert np.array_equal(y_ref, expected)
    assert np.array_equal(y, expected)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("kind", ["plus", "minus", "zero", "mixed", "boundary", "random"])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (1, 5, 1), (2, 6, 3), (3, 13, 2), (1, 4, 7)])
def test_exact_shapes_and_extremes(pe, enc, kind, M, K, N, rng):
    c = exact_config(rows=4, cols=3, cell_bits=2, weight_bits=7, input_bits=6, dac_bits=2,
                     pe=pe, weight_encoding=enc)
    x, w = operand(rng, (M, K), 6, kind), operand(rng, (K, N), 7, kind)
    expected = exact_product(x, w)
    y, counts = cmatmul(x, w, c)
    y_ref, counts_ref = cmatmul_reference(x, w, c)
    assert np.array_equal(y_ref, expected)
    assert np.array_equal(y, expected)
    assert_counts(counts, counts_ref)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
def test_exact_mixed_signs_per_operand(pe, enc):
    """x all +max against w all -max and the reverse (the product's extremes)."""
    c = exact_config(rows=8, cols=4, cell_bits=3, weight_bits=8, input_bits=8, dac_bits=3,
                     pe=pe, weight_encoding=enc)
    for xs, ws in [(1, -1), (-1, 1), (1j, -1j)]:
        x = np.full((2, 9), 127 * xs * (1 + 1j))
        w = np.full((9, 3), 127 * ws * (1 - 1j))
        expected = exact_product(x, w)
        assert np.array_equal(cmatmul_reference(x, w, c)[0], expected)
        assert np.array_equal(cmatmul(x, w, c)[0], expected)


def test_lossy_reference_error_is_bounded(rng):
    """Reference sanity check: with ideal devices and no clipping each conversion
    is off by at most step/2, so |y - x @ w| <= step/2 * sum |code weight|."""
    for pe, enc, db, cb in itertools.product(PES, ENCODINGS, (1, 2), (1, 3)):
        c = CrossbarConfig(rows=6, cols=4, cell_bits=cb, weight_bits=6, input_bits=5,
                           dac_bits=db, adc_bits=2, pe=pe, weight_encoding=enc)
        g = Geometry(c)
        assert g.step > 1
        x, w = operand(rng, (2, 8), 5), operand(rng, (8, 3), 6)
        y, _ = cmatmul_reference(x, w, c)
        err = y - exact_product(x, w)
        weights = (g.nblocks(8) * sum(abs(g.chunk_sig(ch)) for ch in range(g.chunks))
                   * g.sets * sum(2 ** (s * g.cb) for s in range(g.ns)) * (1 if g.rowpair else 2))
        bound = g.step / 2 * weights * (1 + 1e-12)
        assert np.abs(err.real).max() <= bound and np.abs(err.imag).max() <= bound


# -- lossy ADCs: fast == reference ------------------------------------------

@st.composite
def lossy_cases(draw):
    """(config, x, w) of small random geometry, widths, ADC and operands."""
    wb = draw(st.integers(2, 8))
    ib = draw(st.integers(2, 8))
    kw = dict(rows=draw(st.integers(2, 12)), cols=draw(st.integers(1, 9)),
              weight_bits=wb, cell_bits=draw(st.integers(1, min(4, wb))), input_bits=ib,
              dac_bits=draw(st.integers(1, min(3, ib - 1))), adc_bits=draw(st.integers(1, 8)),
              pe=draw(st.sampled_from(PES)), weight_encoding=draw(st.sampled_from(ENCODINGS)))
    s_max = Geometry(CrossbarConfig(**kw)).s_max
    kw["adc_full_scale"] = draw(st.none() | st.floats(1.0, s_max * 1.5))
    M, K, N = draw(st.integers(1, 5)), draw(st.integers(1, 11)), draw(st.integers(1, 4))

    def ints(shape, bits):
        return hnp.arrays(np.int64, shape, elements=st.integers(-limit(bits), limit(bits)))

    x = draw(ints((M, K), ib)) + 1j * draw(ints((M, K), ib))
    w = draw(ints((K, N), wb)) + 1j * draw(ints((K, N), wb))
    return CrossbarConfig(**kw), x, w


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lossy_cases())
def test_lossy_fast_equals_reference(case):
    config, x, w = case
    check_fast_equals_reference(x, w, config)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lossy_cases())
def test_inert_nonideality_changes_nothing(case):
    """A stuck rate no uniform draw can fall below (1e-300 < 2**-53) leaves every
    cell ideal: the device-model path must give the ideal path's output."""
    config, x, w = case
    y_ideal, _ = cmatmul(x, w, config)
    y_inert, _ = cmatmul(x, w, config.replace(stuck_off_rate=1e-300), seed=3)
    assert np.array_equal(y_inert, y_ideal)


@pytest.mark.parametrize("pe", PES)
def test_lossy_medium_size(pe, rng):
    """Several row blocks and column groups, more rows than any hypothesis draw."""
    c = CrossbarConfig(rows=16, cols=12, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=2,
                       adc_bits=5, pe=pe, read_sigma=0.3, program_sigma=0.02)
    x, w = operand(rng, (6, 37), 8), operand(rng, (37, 3), 8)
    check_fast_equals_reference(x, w, c, seed=2024)
    check_fast_equals_reference(x, w, c.replace(read_sigma=0.0, program_sigma=0.0))


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("fs", [None, 1.0, 7.5, 40.0, 1000.0])
def test_lossy_full_scales(pe, enc, fs, rng):
    """Explicit full scales: below, near and far above s_max (clipping and coarse steps)."""
    c = CrossbarConfig(rows=5, cols=4, cell_bits=2, weight_bits=6, input_bits=6, dac_bits=2,
                       adc_bits=3, adc_full_scale=fs, pe=pe, weight_encoding=enc)
    x, w = operand(rng, (3, 9), 6), operand(rng, (9, 2), 6)
    check_fast_equals_reference(x, w, c)


# -- device non-idealities ---------------------------------------------------

NOISE = {
    "program": dict(program_sigma=0.15),
    "read": dict(read_sigma=0.8),
    "stuck": dict(stuck_on_rate=0.1, stuck_off_rate=0.2),
    "stuck-on": dict(stuck_on_rate=0.3),
    "on-off": dict(on_off_ratio=7.0),
    "all": dict(program_sigma=0.1, read_sigma=0.5, stuck_on_rate=0.05, stuck_off_rate=0.1,
                on_off_ratio=15.0),
    "huge-program": dict(program_sigma=3.0),   # many cells clipped at G = 0
}


@pytest.mark.parametrize("family", ["c", "numba"])
@pytest.mark.parametrize("real", [False, True])
def test_read_keys_draw_independent_read_noise_on_the_same_cells(family, real, rng):
    """Under read key k the read noise is drawn from hash64(seed, 4, k) (the device
    seed itself for k = 0) and the cells stay those of the seed: each kernel family
    equals the loop reference given that read seed."""
    from fdafast.crossbar import PreparedWeights, emulate
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=6, program_sigma=0.1, read_sigma=0.7, stuck_off_rate=0.1)
    x, w = operand(rng, (4, 9), 5), operand(rng, (9, 3), 5)
    if real:
        x, w = x.real, w.real
    seed = 4242
    pw = PreparedWeights(w.real.astype(np.int32)[None],
                         None if real else w.imag.astype(np.int32)[None], c, seed)
    xr, xi = x.real.astype(np.int32)[None], None if real else x.imag.astype(np.int32)[None]
    ref = matmul_reference if real else cmatmul_reference
    ys = {}
    with fdafast._dispatch.forced(family):
        for key in (0, 1, 2 ** 64 - 1):
            read_seed = seed if key == 0 else int(_rng.hash64(
                np.array([seed], np.uint64), np.uint64(4), np.array([key], np.uint64))[0])
            assert pw.read_seed(key) == read_seed
            ys[key] = emulate(xr, xi, pw, 2, read_key=key)[0]
            want, _ = ref(x, w, c, seed=seed, read_seed=read_seed)
            np.testing.assert_array_equal(ys[key], want)
        assert not np.array_equal(ys[0], ys[1]) and not np.array_equal(ys[1], ys[2 ** 64 - 1])
        np.testing.assert_array_equal(emulate(xr, xi, pw, 1, read_key=1)[0], ys[1])
        quiet = PreparedWeights(pw.wr, pw.wi, c.replace(read_sigma=0.0), seed)
        np.testing.assert_array_equal(emulate(xr, xi, quiet, 2, read_key=7),   # no read noise:
                                      emulate(xr, xi, quiet, 2))               # keys irrelevant


def test_products_take_a_read_key(rng):
    c = CrossbarConfig(rows=6, cols=5, adc_bits=6, read_sigma=0.7, weight_bits=5,
                       input_bits=5)
    x, w = operand(rng, (3, 8), 5), operand(rng, (8, 4), 5)
    for product, a, b in ((cmatmul, x, w), (fdafast.crossbar.matmul, x.real, w.real)):
        base = product(a, b, c, seed=5)[0]
        np.testing.assert_array_equal(product(a, b, c, seed=5, read_key=0)[0], base)
        other = product(a, b, c, seed=5, read_key=11)[0]
        assert not np.array_equal(other, base)
        want = (cmatmul_reference if product is cmatmul else matmul_reference)(
            a, b, c, seed=5, read_seed=int(_rng.hash64(np.array([5], np.uint64), np.uint64(4),
                                                       np.array([11], np.uint64))[0]))[0]
        np.testing.assert_array_equal(other, want)
        for bad in (-1, 2 ** 64, 1.0, False):
            with pytest.raises(FdafastError, match="read_key"):
                product(a, b, c, seed=5, read_key=bad)


@pytest.mark.parametrize("noise", list(NOISE))
@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("adc_bits", [4, 12])
def test_nonideal_fast_equals_reference(noise, pe, enc, adc_bits, rng):
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=adc_bits, pe=pe, weight_encoding=enc, **NOISE[noise])
    assert not c.ideal_devices
    x, w = operand(rng, (3, 7), 5), operand(rng, (7, 2), 5)
    check_fast_equals_reference(x, w, c, seed=12345)


@st.composite
def noisy_cases(draw):
    config, x, w = draw(lossy_cases())
    on_off = draw(st.none() | st.floats(1.01, 100.0))
    off = draw(st.sampled_from([0.0, 0.1, 0.5]))
    on = draw(st.sampled_from([0.0, 0.1, 0.5]))
    config = config.replace(program_sigma=draw(st.sampled_from([0.0, 0.05, 0.5])),
                            read_sigma=draw(st.sampled_from([0.0, 0.3, 2.0])),
                            stuck_off_rate=off, stuck_on_rate=on, on_off_ratio=on_off)
    return config, x, w, draw(st.integers(0, 2 ** 64 - 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_cases())
def test_nonideal_random_fast_equals_reference(case):
    config, x, w, seed = case
    check_fast_equals_reference(x, w, config, seed=seed)


def noisy_setup(rng, **kw):
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=10, **{**NOISE["all"], **kw})
    return c, operand(rng, (4, 9), 5), operand(rng, (9, 3), 5)


def test_same_seed_same_output(rng):
    c, x, w = noisy_setup(rng)
    y1, _ = cmatmul(x, w, c, seed=7)
    y2, _ = cmatmul(x, w, c, seed=7)
    assert np.array_equal(y1, y2)


@pytest.mark.skipif(not HAS_THREADS, reason="cmatmul takes no threads= argument")
@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("devices", ["noisy", "ideal-lossy"])
def test_threads_do_not_change_the_output(pe, devices, rng):
    c, x, w = noisy_setup(rng, pe=pe)
    if devices == "ideal-lossy":
        c = CrossbarConfig(rows=c.rows, cols=c.cols, cell_bits=c.cell_bits,
                           weight_bits=c.weight_bits, input_bits=c.input_bits,
                           dac_bits=c.dac_bits, adc_bits=3, pe=pe)
        assert c.ideal_devices and not c.exact
    y1, c1 = cmatmul(x, w, c, seed=99, threads=1)
    y2, c2 = cmatmul(x, w, c, seed=99, threads=2)
    assert np.array_equal(y1, y2) and c1 == c2


@pytest.mark.parametrize("noise", ["program", "read", "stuck"])
def test_different_seeds_differ(noise, rng):
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=10, **NOISE[noise])
    x, w = operand(rng, (4, 9), 5), operand(rng, (9, 3), 5)
    y1, _ = cmatmul(x, w, c, seed=1)
    y2, _ = cmatmul(x, w, c, seed=2)
    assert not np.array_equal(y1, y2)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("enc", ENCODINGS)
def test_all_stuck_off_leaves_the_offset(pe, enc, rng):
    """Every cell at G = 0 (variation cannot lift 0): all codes 0, y == D."""
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=6, stuck_off_rate=1.0, program_sigma=0.3, pe=pe,
                       weight_encoding=enc)
    x, w = operand(rng, (3, 7), 5), operand(rng, (7, 2), 5)
    y, _ = cmatmul(x, w, c, seed=5)
    D = offset_correction(x, c)
    expected = np.array([[complex(dre, dim)] * 2 for dre, dim in D])
    if enc == "differential":
        assert not expected.any()
    else:
        assert expected.any()
    assert np.array_equal(y, expected)
    assert np.array_equal(cmatmul_reference(x, w, c, seed=5)[0], expected)


def test_rng_vectorised_equals_elementwise():
    idx = np.array([0, 1, 2, 12345, 2 ** 63 + 7, 2 ** 64 - 1], dtype=np.uint64)
    for fn in (_rng.uniform, _rng.normal):
        for stream in (1, 2, 3):
            v = fn(42, stream, idx)
            assert v.dtype == np.float64 and v.shape == idx.shape
            one = np.array([fn(42, stream, idx[i:i + 1])[0] for i in range(idx.size)])
            assert np.array_equal(v, one)
    u = _rng.uniform(3, 2, np.arange(10000, dtype=np.uint64))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    z = _rng.normal(3, 1, np.arange(10000, dtype=np.uint64))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    assert not np.array_equal(_rng.uniform(3, 1, idx), _rng.uniform(3, 2, idx))
    assert not np.array_equal(_rng.uniform(3, 1, idx), _rng.uniform(4, 1, idx))


# -- counts --------------------------------------------------------------------

COUNT_CASES = [
    (1, 1, 1, dict()),
    (3, 7, 2, dict(rows=6, cols=5)),
    (2, 13, 3, dict(rows=4, cols=3, pe="colpair")),
    (1, 9, 4, dict(rows=3, cols=1, weight_encoding="offset")),       # odd rows, 1 column
    (4, 12, 1, dict(rows=6, cols=200, cell_bits=1, dac_bits=3)),     # K a multiple of cpb
    (2, 5, 5, dict(rows=12, cols=7, pe="colpair", weight_encoding="offset", cell_bits=3,
                   input_bits=4, dac_bits=3)),
]


@pytest.mark.parametrize("M,K,N,kw", COUNT_CASES, ids=range(len(COUNT_CASES)))
def test_counts_closed_form_equals_loops(M, K, N, kw, rng):
    c = CrossbarConfig(**kw)
    closed = crossbar_counts(M, K, N, c)
    assert_counts(closed, counts_reference(M, K, N, c))
    x, w = operand(rng, (M, K), c.input_bits), operand(rng, (K, N), c.weight_bits)
    _, counts = cmatmul(x, w, c)
    assert counts == closed
    _, counts_emulated = cmatmul_reference(x, w, c)
    assert_counts(closed, counts_emulated)


@settings(max_examples=100, deadline=None)
@given(M=st.integers(1, 4), K=st.integers(1, 40), N=st.integers(1, 6),
       rows=st.integers(2, 20), cols=st.integers(1, 40), cb=st.integers(1, 4),
       ib=st.integers(2, 9), db=st.integers(1, 3), pe=st.sampled_from(PES),
       enc=st.sampled_from(ENCODINGS))
def test_counts_closed_form_random(M, K, N, rows, cols, cb, ib, db, pe, enc):
    c = CrossbarConfig(rows=rows, cols=cols, cell_bits=cb, weight_bits=8, input_bits=ib,
                       dac_bits=min(db, ib - 1), pe=pe, weight_encoding=enc)
    assert_counts(crossbar_counts(M, K, N, c), counts_reference(M, K, N, c))


# -- errors: operands ----------------------------------------------------------

C8 = CrossbarConfig(rows=4, cols=4)
X = np.array([[1 + 2j, -3 + 0j, 4 - 4j]])
W = np.array([[1 + 0j], [2 - 1j], [0 + 3j]])


def with_value(a, index, value):
    a = a.copy()
    a[index] = value
    return a


OPERAND_ERRORS = [
    ("x-not-integer", lambda: cmatmul(with_value(X, (0, 1), 0.5 + 1j), W, C8), r"x.*0\.5"),
    ("w-imag-not-integer", lambda: cmatmul(X, with_value(W, (2, 0), 1 + 2.25j), C8),
     r"w.*imag.*2\.25"),
    ("x-nan", lambda: cmatmul(with_value(X, (0, 0), complex(np.nan, 0)), W, C8), r"x"),
    ("x-too-large", lambda: cmatmul(with_value(X, (0, 2), 128 + 0j), W, C8), r"x.*128.*127"),
    ("x-too-small-imag", lambda: cmatmul(with_value(X, (0, 2), 1 - 130j), W, C8),
     r"x.*-130.*127"),
    ("w-too-large", lambda: cmatmul(X, with_value(W, (1, 0), 200 + 0j), C8), r"w.*200.*127"),
    ("w-limit-follows-weight-bits",
     lambda: cmatmul(X, W * 4, C8.replace(weight_bits=4, cell_bits=2)), r"w.*8.*7"),
    ("x-1d", lambda: cmatmul(X[0], W, C8), r"x.*2-D.*\(3,\)"),
    ("w-3d", lambda: cmatmul(X, W[None], C8), r"w.*2-D.*\(1, 3, 1\)"),
    ("shape-mismatch", lambda: cmatmul(X, W[:2], C8), r"\(1, 3\).*\(2, 1\)"),
    ("bool-dtype", lambda: cmatmul(X.real > 0, W, C8), r"x.*bool"),
    ("str-dtype", lambda: cmatmul(np.array([["1", "2", "3"]]), W, C8), r"x"),
    ("config-not-a-config", lambda: cmatmul(X, W, dict(rows=4)), r"CrossbarConfig"),
    ("calibrate-refused", lambda: cmatmul(X, W, C8.replace(adc_full_scale="calibrate")),
     r"calibrat"),
]


@pytest.mark.parametrize("call,match", [pytest.param(c, m, id=i) for i, c, m in OPERAND_ERRORS])
def test_operand_errors(call, match):
    with pytest.raises(FdafastError, match=match):
        call()


@pytest.mark.parametrize("x", [np.array([[-128]], np.int8),
                               np.array([[np.iinfo(np.int64).min]], np.int64)],
                         ids=["int8-min", "int64-min"])
def test_most_negative_integer_is_out_of_range(x):
    with pytest.raises(FdafastError, match=r"x.*outside.*127"):
        cmatmul(x, np.array([[1]]), C8)


def test_real_operands_are_complex_with_zero_imaginary_part(rng):
    """Real (int and float) arrays are accepted and read as complex with Im = 0."""
    c = CrossbarConfig(rows=4, cols=3, adc_bits=3, weight_bits=6, input_bits=6)
    xr = rng.integers(-31, 32, (2, 5))
    wr = rng.integers(-31, 32, (5, 3))
    y_c, _ = cmatmul(xr + 0j, wr + 0j, c)
    for x, w in [(xr, wr), (xr.astype(np.float64), wr), (xr, wr.astype(np.float32))]:
        y, _ = cmatmul(x, w, c)
        assert np.array_equal(y, y_c)
    assert np.array_equal(cmatmul_reference(xr, wr, c)[0], y_c)


def test_seed_must_be_an_int(rng):
    c, x, w = noisy_setup(rng)
    with pytest.raises(FdafastError, match="seed"):
        cmatmul(x, w, c, seed=1.5)


# -- errors: configuration -----------------------------------------------------

CONFIG_ERRORS = [
    ("unknown-key", dict(bogus=1), "bogus"),
    ("cell_bits-0", dict(cell_bits=0), "cell_bits"),
    ("cell_bits-9", dict(cell_bits=9), "cell_bits"),
    ("cell_bits-above-weight_bits", dict(cell_bits=5, weight_bits=4), "cell_bits"),
    ("rowpair-one-row", dict(rows=1, pe="rowpair"), "rows"),
    ("rows-0", dict(rows=0, pe="colpair"), "rows"),
    ("cols-0", dict(cols=0), "cols"),
    ("adc_bits-0", dict(adc_bits=0), "adc_bits"),
    ("dac_bits-0", dict(dac_bits=0), "dac_bits"),
    ("dac_bits-equal-input_bits", dict(dac_bits=8, input_bits=8), "dac_bits"),
    ("dac_bits-above-input_bits", dict(dac_bits=5, input_bits=4), "dac_bits"),
    ("program_sigma-negative", dict(program_sigma=-0.1), "program_sigma"),
    ("read_sigma-negative", dict(read_sigma=-1.0), "read_sigma"),
    ("stuck_on_rate-above-1", dict(stuck_on_rate=1.5), "stuck_on_rate"),
    ("stuck_off_rate-negative", dict(stuck_off_rate=-0.01), "stuck_off_rate"),
    ("stuck-rates-sum-above-1", dict(stuck_on_rate=0.6, stuck_off_rate=0.5),
     "stuck_on_rate.*stuck_off_rate"),
    ("on_off_ratio-1", dict(on_off_ratio=1.0), "on_off_ratio"),
    ("on_off_ratio-below-1", dict(on_off_ratio=0.5), "on_off_ratio"),
    ("adc_full_scale-0", dict(adc_full_scale=0.0), "adc_full_scale"),
    ("adc_full_scale-negative", dict(adc_full_scale=-3), "adc_full_scale"),
    ("pe-unknown", dict(pe="diagonal"), "pe"),
    ("weight_encoding-unknown", dict(weight_encoding="twos"), "weight_encoding"),
]


@pytest.mark.parametrize("kw,field", [pytest.param(k, f, id=i) for i, k, f in CONFIG_ERRORS])
@pytest.mark.parametrize("build", ["kwargs", "from_dict"])
def test_config_errors(kw, field, build):
    with pytest.raises(FdafastError, match=field) as info:
        if build == "kwargs":
            CrossbarConfig(**kw)
        else:
            CrossbarConfig.from_dict(kw)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    if field == "bogus":
        assert "cell_bits" in msg                  # lists the known fields
    else:
        assert any(ch.isdigit() for ch in msg) or "'" in msg, msg   # the allowed range or values


@pytest.mark.parametrize("kw", [dict(cell_bits=8, weight_bits=8), dict(cell_bits=1),
                                dict(dac_bits=7), dict(rows=2), dict(rows=1, pe="colpair"),
                                dict(stuck_on_rate=0.5, stuck_off_rate=0.5),
                                dict(on_off_ratio=1.0001), dict(adc_full_scale=1e-9),
                                dict(adc_full_scale="calibrate")])
def test_config_edges_accepted(kw):
    CrossbarConfig(**kw)
    CrossbarConfig.from_dict(kw)


@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
@pytest.mark.parametrize("enc", ["differential", "offset"])
def test_exact_path_equals_full_emulation(pe, enc):
    """The automatic exact path (x @ w) is bit-identical to emulating every conversion,
    in both the C and the Numba kernels."""
    from fdafast import _dispatch
    rng = np.random.default_rng(11)
    cfg = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                         adc_bits=12, pe=pe, weight_encoding=enc)
    assert cfg.exact
    x = rng.integers(-15, 16, (7, 9)) + 1j * rng.integers(-15, 16, (7, 9))
    w = rng.integers(-15, 16, (9, 4)) + 1j * rng.integers(-15, 16, (9, 4))
    y_exact, _ = cmatmul(x, w, cfg)
    with _dispatch.forced("c"):
        y_c, _ = cmatmul(x, w, cfg)                               # C kernel
    with _dispatch.forced("numba"):
        y_numba, _ = cmatmul(x, w, cfg)                           # Numba kernel
    np.testing.assert_array_equal(y_exact, x @ w)
    np.testing.assert_array_equal(y_c, y_exact)
    np.testing.assert_array_equal(y_numba, y_exact)


@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
@pytest.mark.parametrize("enc", ["differential", "offset"])
@pytest.mark.parametrize("word", [32, 64])
def test_level_planes_match_the_cell_levels(pe, enc, word):
    """The C kernel's bit planes hold bit p of every cell's level, row by row."""
    from fdafast import crossbar as xb
    from fdafast._xbar import level_planes
    rng = np.random.default_rng(3)
    cfg = CrossbarConfig(rows=70, cell_bits=3, weight_bits=7, pe=pe, weight_encoding=enc)
    B, K, N, np_ = 2, 45, 5, 8
    wr, wi = (rng.integers(-63, 64, (B, K, N)).astype(np.int32) for _ in range(2))
    weights = xb.PreparedWeights(wr, wi, cfg, 0)
    P = level_planes(cfg, weights.wr, weights.wi, weights.rows_per_block, np_, 1, word)
    G = weights.G                                          # (B, R, ngroups*N) levels
    rpb = weights.rows_per_block
    for b in range(B):
        for r in range(G.shape[1]):
            blk, local = divmod(r, rpb)
            w_, bit = divmod(local, word)
            for j in range(G.shape[2]):
                g, n = divmod(j, N)
                for p in range(cfg.cell_bits):
                    got = (int(P[b, blk, p, w_, g * np_ + n]) >> bit) & 1
                    assert got == (int(G[b, r, j]) >> p) & 1
    pad = P.reshape(P.shape[:-1] + (-1, np_))[..., N:]
    assert not pad.any()                                   # padding columns hold level 0
