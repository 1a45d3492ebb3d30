"""Real crossbar products (``fdafast.crossbar.matmul``, linear layers) on the C kernels.

The C kernels take real products with ``fda_xbar_desc.real`` (one cycle per
input chunk, one row per input channel, one column set per weight, one
output plane).  Checked here, on every instruction-set variant this machine
runs:

* the C kernels (``fdafast._dispatch.forced('c')``) against the loop reference
  (``naive_crossbar.matmul_reference``) and the Numba kernels
  (``forced('numba')``), bit for bit, over random shapes and widths: K not a
  multiple of the rows, N not a multiple of the kernels' panel width, one
  row, several words of rows, 1..input_bits-1 DAC bits, 1..4 cell bits, both
  encodings (sets 2 and 1), ADC steps of 1 and above, explicit and
  calibrated full scales, device effects with read noise and a seed;
* the event counts, unchanged (closed form and reference);
* the dispatcher's choice for real products, and that the C kernel is what
  runs;
* ``emulate`` with output planes, strides and scales, and the exact-row
  split (ADC step 1), against the Numba kernels;
* a network's linear layer in ``reram`` mode, C against Numba;
* the ideal-device setups' two C kernels, the table kernel (fda_xbar_table,
  byte planes; with its 16-bit ADC where one exists and with its float32
  ADC, ``_xbar.USE_ADC16``) and the popcount kernel (fda_xbar_ideal), on
  every case above (``_xbar.USE_TABLE``), and on complex products too;
* the 16-bit ADC's constants (``_xbar.adc_mulhi16``) against the ADC table;
* the C layer's checks: NULL and inconsistent arguments give a status, never
  a write outside the buffers.
"""
import contextlib
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fdafast import CrossbarConfig, _dispatch, _native, _xbar, crossbar, quant
from fdafast._dispatch import Kernel
from fdafast.crossbar import (ConfigError, CrossbarCounts, PreparedWeights, cmatmul,
                              column_sum_histogram, crossbar_counts, emulate, matmul)
from fdafast.errors import FdafastError, NativeError
from naive_crossbar import Geometry, cmatmul_reference, matmul_reference

RUNNABLE = [v for v in _dispatch.isa_variants() if v in _dispatch.isa_supported()]
ENCODINGS = ("differential", "offset")
C_KERNELS = (Kernel.C_IDEAL, Kernel.C_FLOAT)


def limit(bits):
    return (1 << (bits - 1)) - 1


def ints(rng, shape, bits):
    return rng.integers(-limit(bits), limit(bits) + 1, shape).astype(np.float64)


@pytest.fixture
def rng():
    return np.random.default_rng(2718)


@contextlib.contextmanager
def c_kernel_spy():
    """Count the calls of the C crossbar kernels inside the block: ``ideal`` (either
    ideal-device kernel), ``table`` (the table kernel alone), ``float``."""
    with mock.patch.object(_native, "xbar_ideal", wraps=_native.xbar_ideal) as ideal, \
            mock.patch.object(_native, "xbar_table", wraps=_native.xbar_table) as table, \
            mock.patch.object(_native, "xbar_float", wraps=_native.xbar_float) as flt:
        calls = {}
        yield calls
        calls["table"] = table.call_count
        calls["ideal"] = ideal.call_count + table.call_count
        calls["float"] = flt.call_count


@contextlib.contextmanager
def table_kernel(use, adc16=True):
    """Let the ideal-device setups choose the table kernel (``use``) or not (the
    popcount kernel), and the table kernel its 16-bit ADC (``adc16``) or not."""
    with mock.patch.object(_xbar, "USE_TABLE", use), mock.patch.object(_xbar, "USE_ADC16", adc16):
        yield


#: The ideal-device C kernels' variants a case runs on: (table kernel, 16-bit ADC).
KERNEL_MODES = ((True, True), (True, False), (False, False))


def c_kernel(config, full_scale=None):
    """The kernel a real product runs on while the C family is forced."""
    with _dispatch.forced("c"):
        return _dispatch.crossbar_kernel(config, config.step_for(full_scale), real=True)


def run_c(x, w, config, seed=None, threads=None):
    """matmul on the C kernels under every runnable variant, with and without the
    table kernel: {(variant, table): (y, counts)}; checks that a C kernel is the
    one that ran where the dispatcher chooses one (an ADC table without an exact
    multiply-shift stays on Numba)."""
    out = {}
    for v in RUNNABLE:
        for table, adc16 in KERNEL_MODES:
            with _dispatch.use_isa(v), _dispatch.forced("c"), table_kernel(table, adc16), \
                    c_kernel_spy() as calls:
                out[v, table, adc16] = matmul(x, w, config, seed=seed, threads=threads)
            ran = calls["ideal"] + calls["float"]
            assert ran == (c_kernel(config) in C_KERNELS), (v, config, ran)
            assert not calls["table"] or table
    return out


def run_numba(x, w, config, seed=None):
    with _dispatch.forced("numba"):
        return matmul(x, w, config, seed=seed)


def check_c(x, w, config, seed=None, reference=True, require_c=True):
    """C (every variant) == Numba (== loop reference), bit for bit; counts exact.
    ``require_c``: the configuration must run on a C kernel."""
    assert not require_c or c_kernel(config) in C_KERNELS, config
    y_nb, counts_nb = run_numba(x, w, config, seed)
    if reference:
        y_ref, counts_ref = matmul_reference(x, w, config, seed=seed)
        assert np.array_equal(y_nb, y_ref)
        assert counts_nb == CrossbarCounts(**counts_ref)
    assert counts_nb == crossbar_counts(*x.shape, w.shape[1], config, real=True)
    for v, (y, counts) in run_c(x, w, config, seed).items():
        assert y.dtype == np.float64 and y.shape == y_nb.shape
        assert np.array_equal(y, y_nb), (v, config, np.abs(y - y_nb).max())
        assert counts == counts_nb
    return y_nb


# -- the dispatcher ---------------------------------------------------------------------------

@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
@pytest.mark.parametrize("enc", ENCODINGS)
def test_real_products_choose_the_c_kernels(pe, enc):
    c = CrossbarConfig(rows=128, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=6, pe=pe, weight_encoding=enc)
    step = c.step_for(None)
    assert _dispatch.crossbar_kernel(c, step, real=True) is Kernel.C_IDEAL
    assert _dispatch.crossbar_kernel(c.replace(read_sigma=0.1), step, real=True) \
        is Kernel.C_FLOAT
    with _dispatch.forced("numba"):
        assert _dispatch.crossbar_kernel(c, step, real=True) is Kernel.NUMBA_PACKED
        assert _dispatch.crossbar_kernel(c.replace(read_sigma=0.1), step, real=True) \
            is Kernel.NUMBA_FLOAT
    # an ADC that cannot clip: the exact shortcut, unless emulation is asked for
    exact = c.replace(adc_bits=12)
    assert _dispatch.crossbar_kernel(exact, 1.0, real=True) is Kernel.EXACT
    assert _dispatch.crossbar_kernel(exact, 1.0, allow_exact=False, real=True) \
        is Kernel.C_IDEAL


def test_real_products_past_the_c_limits_run_on_numba():
    """More rows per block than the C kernel's words hold (4096): Numba, still
    bit for bit (a real product's block is ``rows`` rows, not rows/2)."""
    c = CrossbarConfig(rows=_native.XBAR_MAX_NW * 64 + 1, cell_bits=1, weight_bits=3,
                       input_bits=3, dac_bits=1, adc_bits=4)
    assert _dispatch.crossbar_kernel(c, c.step_for(None), real=True) is Kernel.NUMBA_PACKED
    c64 = c.replace(rows=_native.XBAR_MAX_NW * 64)
    assert _dispatch.crossbar_kernel(c64, c64.step_for(None), real=True) is Kernel.C_IDEAL


# -- bit for bit against the references -------------------------------------------------------

@st.composite
def real_cases(draw, noisy=False, big=False):
    """(config, x, w, seed) of random geometry, widths, ADC and operands."""
    wb = draw(st.integers(2, 10))
    ib = draw(st.integers(2, 10))
    rows = draw(st.sampled_from([1, 2, 3, 5, 8, 13, 31, 64, 65, 100, 128, 129]) if big
                else st.integers(1, 12))
    kw = dict(rows=rows, cols=draw(st.integers(1, 9)), weight_bits=wb,
              cell_bits=draw(st.integers(1, min(4, wb))), input_bits=ib,
              dac_bits=draw(st.integers(1, ib - 1)), adc_bits=draw(st.integers(1, 9)),
              weight_encoding=draw(st.sampled_from(ENCODINGS)),
              pe=draw(st.sampled_from(["rowpair", "colpair"] if rows >= 2 else ["colpair"])))
    s_max = Geometry(CrossbarConfig(**kw)).s_max
    kw["adc_full_scale"] = draw(st.none() | st.floats(1.0, s_max * 1.5))
    if noisy:
        kw.update(read_sigma=draw(st.sampled_from([0.0, 0.3, 2.0])),
                  program_sigma=draw(st.sampled_from([0.0, 0.05, 0.5])),
                  stuck_off_rate=draw(st.sampled_from([0.0, 0.1])),
                  stuck_on_rate=draw(st.sampled_from([0.0, 0.1])),
                  on_off_ratio=draw(st.none() | st.floats(1.01, 100.0)))
    if big:
        M, K, N = draw(st.integers(1, 40)), draw(st.integers(1, 300)), draw(st.integers(1, 70))
    elif noisy:                                 # the reference draws per conversion: slow
        M, K, N = draw(st.integers(1, 3)), draw(st.integers(1, 16)), draw(st.integers(1, 9))
    else:
        M, K, N = draw(st.integers(1, 5)), draw(st.integers(1, 30)), draw(st.integers(1, 19))
    seed = draw(st.integers(0, 2 ** 64 - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = ints(rng, (M, K), ib)
    w = ints(rng, (K, N), wb)
    if draw(st.booleans()):                    # the extremes of the ranges
        x.flat[rng.integers(0, x.size)] = -limit(ib)
        w.flat[rng.integers(0, w.size)] = limit(wb)
    return CrossbarConfig(**kw), x, w, seed


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(real_cases())
def test_ideal_c_equals_reference(case):
    config, x, w, _ = case
    check_c(x, w, config, require_c=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(real_cases(noisy=True))
def test_device_effects_c_equals_reference(case):
    config, x, w, seed = case
    check_c(x, w, config, seed=seed, require_c=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(real_cases(big=True))
def test_ideal_c_equals_numba_larger(case):
    """Several 64-row words and row blocks, wide N: C against Numba only."""
    config, x, w, _ = case
    check_c(x, w, config, reference=False, require_c=False)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(real_cases(noisy=True, big=True))
def test_device_effects_c_equals_numba_larger(case):
    config, x, w, seed = case
    check_c(x, w, config, seed=seed, reference=False, require_c=False)


@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("cb", [1, 2, 3, 4])
@pytest.mark.parametrize("db", [1, 2, 3, 7])
def test_widths(enc, cb, db, rng):
    """Every cell width with DACs from 1 bit to input_bits - 1 (the unrolled 1-bit
    paths and the general one), K not a multiple of the rows, N not of the panel."""
    c = CrossbarConfig(rows=9, cols=7, cell_bits=cb, weight_bits=8, input_bits=8, dac_bits=db,
                       adc_bits=5, weight_encoding=enc)
    check_c(ints(rng, (3, 22), 8), ints(rng, (22, 11), 8), c)


@pytest.mark.parametrize("rows", [1, 63, 64, 65, 128, 192, 256])
@pytest.mark.parametrize("cb", [1, 2, 4])
def test_block_words(rows, cb, rng):
    """Blocks of one to four 64-row words (the kernels' unrolled cases and the rest)
    at the benchmark's widths."""
    c = CrossbarConfig(rows=rows, cell_bits=cb, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=6, pe="colpair")            # pe plays no part in real products
    K = 2 * rows + 3
    check_c(ints(rng, (6, K), 8), ints(rng, (K, 21), 8), c, reference=rows <= 64)


@pytest.mark.parametrize("noise", [dict(read_sigma=0.8), dict(program_sigma=0.1),
                                   dict(read_sigma=0.5, program_sigma=0.1, stuck_on_rate=0.05,
                                        stuck_off_rate=0.1, on_off_ratio=15.0)])
@pytest.mark.parametrize("enc", ENCODINGS)
def test_device_effects_seeded(noise, enc, rng):
    c = CrossbarConfig(rows=6, cols=5, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=6, weight_encoding=enc, **noise)
    x, w = ints(rng, (3, 13), 5), ints(rng, (13, 9), 5)
    y = check_c(x, w, c, seed=99)
    with _dispatch.forced("c"):
        assert np.array_equal(matmul(x, w, c, seed=99, threads=1)[0], y)
        assert np.array_equal(matmul(x, w, c, seed=99, threads=3)[0], y)
        if "read_sigma" in noise or "program_sigma" in noise:
            assert not np.array_equal(matmul(x, w, c, seed=100)[0], y)


@pytest.mark.parametrize("fs", [1.0, 2.0, 7.5, 40.0, 1000.0])
@pytest.mark.parametrize("enc", ENCODINGS)
def test_full_scales(fs, enc, rng):
    """Explicit full scales: ADC steps of 1 (clipping) and above."""
    c = CrossbarConfig(rows=5, cols=4, cell_bits=2, weight_bits=6, input_bits=6, dac_bits=2,
                       adc_bits=3, adc_full_scale=fs, weight_encoding=enc)
    check_c(ints(rng, (4, 12), 6), ints(rng, (12, 10), 6), c)


def test_exact_configurations_emulated(rng):
    """An ADC that cannot clip, emulated on the C kernels, gives x @ w."""
    c = CrossbarConfig(rows=70, cell_bits=2, weight_bits=6, input_bits=5, dac_bits=2,
                       adc_bits=12)
    assert c.exact
    x, w = ints(rng, (5, 150), 5), ints(rng, (150, 19), 6)
    assert np.array_equal(check_c(x, w, c, reference=False), x @ w)


# -- emulate: output planes, scales, calibrated full scale, exact rows ---------------------------

def prepared(rng, config, M=7, K=45, N=13, B=2):
    xr = rng.integers(-limit(config.input_bits), limit(config.input_bits) + 1,
                      (B, M, K)).astype(np.int32)
    w = rng.integers(-limit(config.weight_bits), limit(config.weight_bits) + 1, (B, K, N))
    return xr, PreparedWeights(w, None, config, 77)


@pytest.mark.parametrize("noisy", [False, True])
def test_emulate_into_planes_with_scales(noisy, rng):
    c = CrossbarConfig(rows=16, cell_bits=2, weight_bits=7, input_bits=6, dac_bits=2,
                       adc_bits=5, read_sigma=0.4 if noisy else 0.0)
    xr, weights = prepared(rng, c)
    B, M, _ = xr.shape
    N = weights.N
    rs, cs, bs = rng.random(M) + 0.5, rng.random(N) + 0.5, rng.random(B) + 0.5
    strides = (1, N * B, B)                               # bins fastest, as reram.py lays out
    results = []
    for family, v in [("numba", RUNNABLE[-1])] + [("c", v) for v in RUNNABLE]:
        plane = np.full(B * M * N + 5, np.nan)
        with _dispatch.use_isa(v), _dispatch.forced(family), c_kernel_spy() as calls:
            assert emulate(xr, None, weights, 2, out=(plane,), strides=strides,
                           scales=(rs, cs, bs)) is None
            y = emulate(xr, None, weights, 2)
        assert (calls["ideal"] + calls["float"] > 0) == (family == "c")
        assert np.isnan(plane[-5:]).all()                 # nothing past the output
        got = plane[:-5].reshape(M, N, B).transpose(2, 0, 1)
        want = y * rs[None, :, None] * cs[None, None, :] * bs[:, None, None]
        assert np.array_equal(got, want)
        results.append((y, got))
    for y, got in results[1:]:
        assert np.array_equal(y, results[0][0]) and np.array_equal(got, results[0][1])


def test_calibrated_full_scale(rng):
    """A full scale from the column-sum histogram (what linear layers calibrate)."""
    c = CrossbarConfig(rows=32, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=5)
    xr, weights = prepared(rng, c, M=9, K=80, N=17, B=1)
    hist = column_sum_histogram(xr, None, weights.wr, None, c, 2)
    fs = quant.percentile_level(hist, 99.0, c.s_max)
    assert fs < c.s_max
    with _dispatch.forced("numba"):
        ref = emulate(xr, None, weights, 2, full_scale=fs)
    for v in RUNNABLE:
        with _dispatch.use_isa(v), c_kernel_spy() as calls:
            y = emulate(xr, None, weights, 2, full_scale=fs)
        assert calls["ideal"] == 1 and np.array_equal(y, ref)


@pytest.mark.parametrize("enc", ENCODINGS)
def test_exact_rows_split_on_c(enc, rng):
    """ADC step 1 with clipping: rows that provably never clip take the exact product,
    the others the C kernel, unforced; equal to the loop reference."""
    c = CrossbarConfig(rows=6, cell_bits=2, weight_bits=5, input_bits=5, dac_bits=2,
                       adc_bits=4, adc_full_scale=10.0, weight_encoding=enc)
    assert c.step_for(None) == 1.0 and not c.exact
    x = ints(rng, (12, 20), 5)
    x[::3] = rng.integers(-1, 2, (4, 20))                 # small rows: provably exact
    w = ints(rng, (20, 9), 5)
    assert _dispatch.exact_rows_apply(Kernel.C_IDEAL, c, 1.0)
    y_ref, _ = matmul_reference(x, w, c)
    for v in RUNNABLE:
        with _dispatch.use_isa(v), c_kernel_spy() as calls:
            y, _ = matmul(x, w, c)
        assert calls["ideal"] >= 1 and np.array_equal(y, y_ref)


def test_benchmark_shape_subset(rng):
    """The benchmark's settings (8-bit operands, 2-bit cells, 1-bit DACs, 6-bit ADC,
    128 rows) on 200 rows of its shape: C against Numba."""
    c = CrossbarConfig(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                       dac_bits=1, adc_bits=6)
    x, w = ints(rng, (200, 128), 8), ints(rng, (128, 128), 8)
    check_c(x, w, c, reference=False)
    check_c(x, w, c.replace(weight_encoding="offset"), reference=False)


def test_counts_unchanged(rng):
    for kw in [dict(rows=128), dict(rows=7, cols=5, cell_bits=3, weight_bits=6, input_bits=5,
                                    dac_bits=2), dict(rows=3, cols=64, cell_bits=1)]:
        c = CrossbarConfig(**kw)
        for M, K, N in [(1, 1, 1), (4, 11, 3), (3, 130, 70)]:
            assert crossbar_counts(M, K, N, c, real=True) == \
                CrossbarCounts(**counts_reference_real(M, K, N, c))
        x, w = ints(rng, (4, 11), c.input_bits), ints(rng, (11, 3), c.weight_bits)
        with _dispatch.forced("c"):
            _, counts = matmul(x, w, c)
        assert counts == crossbar_counts(4, 11, 3, c, real=True)


def counts_reference_real(M, K, N, config):
    """The counts of a real product from the loop reference on zero operands."""
    return matmul_reference(np.zeros((M, K)), np.zeros((K, N)), config)[1]


# -- linear layers ----------------------------------------------------------------------------

def test_linear_layer_in_reram_mode(rng):
    torch = pytest.importorskip("torch")
    from fdafast.nn import from_torch
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(150, 37)).eval()
    x = rng.standard_normal((5, 3, 50)).astype(np.float32)
    net = from_torch(m, torch.from_numpy(x[:1]))
    opts = dict(crossbar=dict(rows=64, weight_bits=8, input_bits=8, adc_bits=6, dac_bits=1,
                              cell_bits=2), seed=3)
    outs = {}
    for family in ("numba", "c"):
        for calibrate in (False, True):
            with _dispatch.forced(family), c_kernel_spy() as calls:
                outs[family, calibrate] = net.run(x, mode="reram", calibrate=calibrate,
                                                  **opts)
            assert (calls["ideal"] > 0) == (family == "c")
        with _dispatch.forced(family), c_kernel_spy() as calls:
            outs[family, "noisy"] = net.run(x, mode="reram", calibrate=False,
                                            **dict(opts, crossbar=dict(opts["crossbar"],
                                                                       read_sigma=0.3)))
        assert (calls["float"] > 0) == (family == "c")
    for key in [(False,), (True,), ("noisy",)]:
        assert np.array_equal(outs[("c",) + key], outs[("numba",) + key])
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    assert np.corrcoef(outs["c", True].ravel(), ref.ravel())[0, 1] > 0.9


# -- the C layer's checks ------------------------------------------------------------------------

def real_setup(rng, kind="ideal", rows=16, K=40, N=12):
    c = CrossbarConfig(rows=rows, cell_bits=2, weight_bits=6, input_bits=6, dac_bits=2,
                       adc_bits=5, read_sigma=0.2 if kind == "float" else 0.0)
    _, weights = prepared(rng, c, M=3, K=K, N=N, B=1)
    step = c.step_for(None)
    kernel = Kernel.C_IDEAL if kind == "ideal" else Kernel.C_FLOAT
    with table_kernel(False):                    # the popcount kernel (the table's: below)
        setup = weights.layout(kernel, step, 1)
    xr = rng.integers(-31, 32, (1, 3, K)).astype(np.int32)
    return setup, xr, weights


@pytest.mark.parametrize("kind", ["ideal", "float"])
def test_real_descriptor_checks(kind, rng):
    setup, xr, _ = real_setup(rng, kind)
    desc = setup[1]
    assert desc.real and not desc.rowpair
    y = np.empty(3 * desc.n_out)
    _xbar.run(setup, xr, None, 1, out=(y,), strides=(0, desc.n_out, 1))
    call = _native.xbar_ideal if kind == "ideal" else _native.xbar_float
    args = (setup[2], setup[3]) if kind == "ideal" else (setup[2], setup[3], setup[4])
    # too small an output plane: refused by the C layer before any write
    small = np.full(3 * desc.n_out - 1 + 4, np.nan)
    with pytest.raises(NativeError):
        call(desc, xr, None, *args, small[:-4], None, (0, desc.n_out, 1), 1)
    assert np.isnan(small).all()
    # real and rowpair together: refused in Python and in C
    with pytest.raises(FdafastError, match="rowpair"):
        _native.XbarDesc(**{**desc.__dict__, "rowpair": True})
    d = _native._xbar_struct(desc, 1, 3, xr.shape[2], (0, desc.n_out, 1), 1)
    d.rowpair = 1
    st = c_call(kind, d, xr, None, setup, y, None)
    assert st == _native.lib.FDA_ERR_GEOMETRY
    d.rowpair, d.real = 0, 2
    assert c_call(kind, d, xr, None, setup, y, None) == _native.lib.FDA_ERR_GEOMETRY
    d.real = 1
    assert c_call(kind, d, xr, None, setup, y, None) == _native.lib.FDA_OK
    for field, value in (("wshift", 16), ("adc_max", 1 << 16)):    # past the kernels' bounds
        if field == "wshift":
            d.wshift[0][0] = value
        else:
            d.adc_max = value
        y[:] = np.nan
        assert c_call(kind, d, xr, None, setup, y, None) == _native.lib.FDA_ERR_GEOMETRY
        assert np.isnan(y).all()
        d = _native._xbar_struct(desc, 1, 3, xr.shape[2], (0, desc.n_out, 1), 1)
    # a complex descriptor needs xi and yim
    d.real = 0
    assert c_call(kind, d, xr, None, setup, y, None) == _native.lib.FDA_ERR_NULL
    # the Python wrappers insist on None for real products, arrays for complex ones
    with pytest.raises(FdafastError, match="None"):
        call(desc, xr, xr, *args, y, y, (0, desc.n_out, 1), 1)
    with pytest.raises(FdafastError):
        _xbar.run(setup, xr, xr, 1)


def c_call(kind, d, xr, xi, setup, yre, yim):
    ffi, lib = _native.ffi, _native.lib
    ptr = lambda a, t: ffi.NULL if a is None else ffi.cast(t, a.ctypes.data)
    if kind == "ideal":
        P, P32 = setup[2], setup[3]
        return lib.fda_xbar_ideal(d, ptr(xr, "int32_t *"), ptr(xi, "int32_t *"), xr.size,
                                  ptr(P, "uint64_t *"), 0 if P is None else P.size,
                                  ptr(P32, "uint32_t *"), 0 if P32 is None else P32.size,
                                  ffi.NULL, ffi.NULL, ffi.NULL, ptr(yre, "double *"),
                                  ptr(yim, "double *"), yre.size)
    G = setup[2]
    return lib.fda_xbar_float(d, ptr(xr, "int32_t *"), ptr(xi, "int32_t *"), xr.size,
                              ptr(G, "double *"), G.size, 0.2, 5, ffi.NULL, ffi.NULL, ffi.NULL,
                              ptr(yre, "double *"), ptr(yim, "double *"), yre.size)


@pytest.mark.parametrize("real", [True, False])
def test_products_that_could_overflow_are_refused_in_python_first(real, rng):
    """Up to PreparedWeights.max_channels the C kernels take a product (their own
    int64 bound holds); past it, a ConfigError names the limit before any kernel runs."""
    c = CrossbarConfig(rows=2, cell_bits=1, weight_bits=16, input_bits=16, dac_bits=15,
                       adc_bits=16, read_sigma=0.1)
    w = np.ones((1, 8, 8), np.int32)
    k = crossbar.PreparedWeights(w, None if real else w, c, 1).max_channels()
    assert k == (32768 if real else 8192)
    x = np.full((1, 1, k), 3, np.int32)
    w = rng.integers(-9, 10, (1, k, 8)).astype(np.int32)
    pw = crossbar.PreparedWeights(w, None if real else w, c, 1)
    with _dispatch.forced("c"):
        y = emulate(x, None if real else x, pw, 2)
    exact = (x[0].astype(np.int64) @ w[0]).astype(float)
    assert np.abs(np.real(y[0]) - exact).max() < 0.01 * np.abs(exact).max() + 1e4
    big = np.ones((1, 1, k + 1), np.int32)
    wb = np.ones((1, k + 1, 8), np.int32)
    pb = crossbar.PreparedWeights(wb, None if real else wb, c, 1)
    with pytest.raises(ConfigError, match=f"at most {k} channels"):
        emulate(big, None if real else big, pb, 1)


def test_real_pack_checks(rng):
    """fda_xbar_pack with wi NULL packs one part; rowpair with it is refused; the
    planes are the cell levels of the real layout (row k, groups (set, slice))."""
    c = CrossbarConfig(rows=20, cell_bits=2, weight_bits=6)
    w = rng.integers(-31, 32, (1, 45, 7)).astype(np.int32)
    planes = _xbar.level_planes(c, w, None, 20, 8, 1)
    assert planes.shape == (1, 3, 2, 1, c.sets * c.slices * 8)
    levels = crossbar._slices(w[0], c)                     # (sets, slices, K, N)
    for k in range(45):
        blk, r = divmod(k, 20)
        for g in range(c.sets * c.slices):
            for n in range(7):
                lev = sum(int((planes[0, blk, p, 0, g * 8 + n] >> np.uint64(r)) & np.uint64(1))
                          << p for p in range(2))
                assert lev == levels[g // c.slices, g % c.slices, k, n]
    assert not planes.reshape(1, 3, 2, 1, -1, 8)[..., 7:].any()   # padding columns
    out = np.zeros_like(planes)
    with pytest.raises(NativeError):
        _native.xbar_pack(w, None, True, c.sets, c.slices, 2, 6, 20, 8, out, 1)
    assert not out.any()
    with pytest.raises(NativeError):                       # wrong plane size
        _native.xbar_pack(w, None, False, c.sets, c.slices, 2, 6, 20, 8, out[:, :2].copy(), 1)


# -- the table kernel -----------------------------------------------------------------------------

def test_the_table_kernel_runs_the_benchmark_settings(rng):
    """Where the variant has no 32-bit fast path, the benchmark's settings take the
    table kernel, for real and complex products."""
    c = CrossbarConfig(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=8,
                       dac_bits=1, adc_bits=6)
    x, w = ints(rng, (20, 128), 8), ints(rng, (128, 40), 8)
    for v in RUNNABLE:
        with _dispatch.use_isa(v), c_kernel_spy() as calls:
            matmul(x, w, c)
            cmatmul(x[:, :64] + 1j * x[:, 64:], w[:64] + 1j * w[64:], c)
        assert calls["table"] == (0 if _native.xbar_has_fast32() else 2), v


@pytest.mark.parametrize("pe", ["rowpair", "colpair"])
@pytest.mark.parametrize("kw", [dict(rows=128, cell_bits=2, dac_bits=1, adc_bits=6),
                                dict(rows=64, cell_bits=1, dac_bits=1, adc_bits=5),
                                dict(rows=20, cell_bits=3, dac_bits=2, adc_bits=4,
                                     weight_encoding="offset"),
                                dict(rows=9, cell_bits=4, dac_bits=3, adc_bits=7,
                                     adc_full_scale=30.0)])
def test_complex_products_on_both_kernels(pe, kw, rng):
    """cmatmul on the table and popcount kernels, every variant, against Numba and
    the loop reference."""
    c = CrossbarConfig(weight_bits=8, input_bits=8, pe=pe, **kw)
    lim = limit(8)
    x = rng.integers(-lim, lim + 1, (3, 45)) + 1j * rng.integers(-lim, lim + 1, (3, 45))
    w = rng.integers(-lim, lim + 1, (45, 37)) + 1j * rng.integers(-lim, lim + 1, (45, 37))
    with _dispatch.forced("numba"):
        y_nb, _ = cmatmul(x, w, c)
    assert np.array_equal(y_nb, cmatmul_reference(x, w, c)[0])
    for v in RUNNABLE:
        for table, adc16 in KERNEL_MODES:
            with _dispatch.use_isa(v), _dispatch.forced("c"), table_kernel(table, adc16), \
                    c_kernel_spy() as calls:
                y, _ = cmatmul(x, w, c)
            assert calls["ideal"] == 1 and np.array_equal(y, y_nb), (v, table, adc16)


@pytest.mark.parametrize("M", [1, 7, 130, 300])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_table_kernel_rows_and_threads(M, threads, rng):
    """Blocks of rows of every size (one row, fewer rows than threads, partial
    blocks) and any thread count: the same integers."""
    c = CrossbarConfig(rows=100, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=6)
    x, w = ints(rng, (M, 250), 8), ints(rng, (250, 70), 8)
    with _dispatch.forced("numba"):
        ref, _ = matmul(x, w, c)
    for adc16 in (True, False):
        with _dispatch.forced("c"), table_kernel(True, adc16), c_kernel_spy() as calls:
            y, _ = matmul(x, w, c, threads=threads)
        assert np.array_equal(y, ref), adc16
        assert calls["table"] == (0 if _native.xbar_has_fast32() else 1)


def test_adc_mulhi16_reproduces_the_adc_table():
    """The 16-bit ADC constants, where found, give the ADC table's codes for every
    column sum without a lane wrapping; found for most steps (and the benchmark's)."""
    found = tried = 0
    for rows, cb, ab, db in [(128, 2, 6, 1), (64, 1, 5, 1), (32, 3, 4, 2), (100, 4, 8, 1),
                             (20, 2, 7, 3), (256, 3, 5, 1)]:
        c = CrossbarConfig(rows=rows, cell_bits=cb, adc_bits=ab, dac_bits=db, weight_bits=8,
                           input_bits=8)
        for fs in (None, 0.37 * c.s_max, 0.81 * c.s_max, 3.0):
            step = c.step_for(fs)
            lut = c.adc_table(step)
            got = _xbar.adc_mulhi16(lut, step, c.adc_max)
            tried += 1
            if got is None:
                continue
            found += 1
            k, m, cc, j = got
            s = np.arange(lut.size, dtype=np.int64)
            t = (((s << k) * m) >> 16) + cc
            assert (s << k).max() < 1 << 16 and 0 < m < 1 << 16 and t.max() < 1 << 16
            assert (t >> j).max() < 1 << 15
            assert np.array_equal(np.minimum(t >> j, c.adc_max), lut), (rows, cb, ab, db, fs)
    assert found >= 0.8 * tried
    c = CrossbarConfig(rows=128, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                       adc_bits=6)
    assert _xbar.adc_mulhi16(c.adc_table(c.adc_step), c.adc_step, c.adc_max) is not None
    assert _xbar.adc_mulhi16(np.array([0, 2, 1, 3]), 1.0, 3) is None          # not monotonic
    assert _xbar.adc_mulhi16(np.zeros((1 << 15) + 1, np.int64), 1e9, 3) is None  # sums past 2^15


@pytest.mark.parametrize("wb, cb", [(8, 2), (16, 1), (16, 4)])
def test_table_kernel_wide_sums(wb, cb, rng):
    """Code sums that fit the table kernel's int32 accumulators (8-bit weights) and
    sums that need its int64 ones (16-bit weights: shifts up to 2^15), at the
    operands' extremes: against Numba and the loop reference, every variant."""
    c = CrossbarConfig(rows=64, cell_bits=cb, weight_bits=wb, input_bits=8, dac_bits=1,
                       adc_bits=8, adc_full_scale=20.0)
    x = rng.choice([-limit(8), limit(8), -1, 0], (7, 150)).astype(np.float64)
    w = rng.choice([-limit(wb), limit(wb), -limit(wb) + 1], (150, 35)).astype(np.float64)
    check_c(x, w, c)
    check_c(-x, w, c, reference=False)


@pytest.mark.parametrize("kw, form", [
    (dict(rows=128, cell_bits=2, input_bits=8, adc_bits=6), "int16 sums"),
    (dict(rows=40, cell_bits=2, input_bits=10, adc_bits=7, adc_full_scale=200.0), "int32 sums"),
    (dict(rows=64, cell_bits=4, input_bits=8, adc_bits=7), None)])
def test_table_kernel_adc_forms(kw, form, rng):
    """The table kernel's ADC forms: the 16-bit ADC with the codes summed in int16
    or (their sums past int16) in int32, and the float32 ADC alone (no 16-bit
    constants fit): each against Numba and the loop reference, every variant."""
    c = CrossbarConfig(weight_bits=8, dac_bits=1, **kw)
    step = c.step_for(None)
    assert (_xbar.adc_mulhi16(c.adc_table(step), step, c.adc_max) is None) == (form is None)
    if form is not None:
        assert ((c.adc_max << (c.input_bits - 1)) < 1 << 15) == (form == "int16 sums")
    x, w = ints(rng, (9, 70), c.input_bits), ints(rng, (70, 40), 8)
    check_c(x, w, c)


def table_setup(rng, real=True):
    c = CrossbarConfig(rows=64, cell_bits=2, weight_bits=6, input_bits=6, dac_bits=1,
                       adc_bits=5)
    w = rng.integers(-31, 32, (1, 40, 12))
    weights = PreparedWeights(w, None if real else w, c, 0)
    step = c.step_for(None)
    with table_kernel(True):
        setup = _xbar.ideal_setup(c, weights.wr, weights.wi, weights.route, weights.mult,
                                  weights.rows_per_block, step, _dispatch.ideal_adc(c, step), 1)
    xr = rng.integers(-31, 32, (1, 3, 40)).astype(np.int32)
    return setup, xr


def test_table_kernel_checks(rng):
    """fda_xbar_table refuses what it cannot run exactly, before writing anything."""
    import dataclasses
    setup, xr = table_setup(rng)
    if setup[0] != "table":
        pytest.skip("this variant prepares 32-bit planes (avx512)")
    desc, P8 = setup[1], setup[2]
    strides = (0, desc.n_out, 1)
    y = np.full(3 * desc.n_out + 4, np.nan)
    _native.xbar_table(desc, xr, None, P8, y[:-4], None, strides, 2)
    assert np.isnan(y[-4:]).all() and not np.isnan(y[:-4]).any()
    bad = [dataclasses.replace(desc, N=desc.N - 8, n_out=min(desc.n_out, desc.N - 8)),
           dataclasses.replace(desc, planes=5), dataclasses.replace(desc, adc_a=-0.5),
           dataclasses.replace(desc, adc_a=float("nan")),
           dataclasses.replace(desc, adc_a=1e6),                 # codes past 2^24
           dataclasses.replace(desc, input_bits=16, adc_max=1 << 15),   # int32 code sums
           dataclasses.replace(desc, adc16=(16, 1, 0, 0)),              # S << 16 wraps
           dataclasses.replace(desc, adc16=(0, 1 << 16, 0, 0)),         # m past 16 bits
           dataclasses.replace(desc, adc16=(9, 1 << 15, 0, 0)),         # 192 << 9 wraps
           dataclasses.replace(desc, adc16=(8, 65535, 20000, 8)),       # sum + c wraps
           dataclasses.replace(desc, adc16=(0, 1, 40000, 0)),           # past 2^15 before min
           dataclasses.replace(desc, wshift=desc.wshift + 16),          # shifts past 15
           dataclasses.replace(desc, adc_max=1 << 16)]                  # codes past 16 bits
    for d in bad:
        out = np.full(3 * desc.n_out, np.nan)
        with pytest.raises(NativeError):
            _native.xbar_table(d, xr, None, P8, out, None, strides, 2)
        assert np.isnan(out).all()
    for P in (P8[..., :-1].copy(), P8.reshape(-1)[:-32].copy()):     # wrong plane sizes
        with pytest.raises(NativeError):
            _native.xbar_table(desc, xr, None, P, y[:-4], None, strides, 2)
    small = np.full(3 * desc.n_out - 1, np.nan)                       # too small an output
    with pytest.raises(NativeError):
        _native.xbar_table(desc, xr, None, P8, small, None, strides, 2)
    assert np.isnan(small).all()
    ffi, lib = _native.ffi, _native.lib
    d = _native._xbar_struct(desc, 1, 3, 40, strides, 1)
    yp = ffi.cast("double *", y.ctypes.data)
    xp = ffi.cast("int32_t *", xr.ctypes.data)
    pp = ffi.cast("uint8_t *", P8.ctypes.data)
    args = (ffi.NULL, ffi.NULL, ffi.NULL)
    assert lib.fda_xbar_table(d, xp, ffi.NULL, xr.size, ffi.NULL, P8.size, *args, yp,
                              ffi.NULL, y.size) == lib.FDA_ERR_NULL
    d.real = 0                                             # complex: xi and yim needed
    assert lib.fda_xbar_table(d, xp, ffi.NULL, xr.size, pp, P8.size, *args, yp, ffi.NULL,
                              y.size) == lib.FDA_ERR_NULL
    d.real, d.rowpair = 1, 1
    assert lib.fda_xbar_table(d, xp, ffi.NULL, xr.size, pp, P8.size, *args, yp, ffi.NULL,
                              y.size) == lib.FDA_ERR_GEOMETRY


def test_byte_planes_are_the_bit_planes(rng):
    """fda_xbar_pack with 8-row words holds the same bits as with 64-row words."""
    c = CrossbarConfig(rows=100, cell_bits=3, weight_bits=8, pe="colpair")
    w = rng.integers(-127, 128, (2, 150, 21)).astype(np.int32)
    for wi in (None, rng.integers(-127, 128, (2, 150, 21)).astype(np.int32)):
        p64 = _xbar.level_planes(c, w, wi, 100, 32, 2, word=64)
        p8 = _xbar.level_planes(c, w, wi, 100, 32, 2, word=8)
        assert p8.shape[3] == 13 and p64.shape[3] == 2
        rows8 = np.unpackbits(p8, axis=3, bitorder="little")            # row 8w + r
        bytes64 = np.ascontiguousarray(np.swapaxes(p64, 3, 4)).view(np.uint8)
        rows64 = np.swapaxes(np.unpackbits(bytes64, axis=4, bitorder="little"), 3, 4)
        assert np.array_equal(rows8[:, :, :, :100], rows64[:, :, :, :100])
        assert not rows8[:, :, :, 100:].any() and not rows64[:, :, :, 100:].any()
