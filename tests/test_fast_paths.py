"""The planning and exact-product fast paths against slow, obviously correct references.

* weight spectra: the DFT-matrix GEMM, the tile FFT and the blocked generator
  against ``numpy.fft.rfftn``, in both layouts;
* quantization in chunks against the one-line formula;
* a ReRAM layer's quantized weight spectra against whole-layer planes from
  ``numpy.fft``, for every scale mode and with groups;
* the exact product (float32 where provably exact, float64 otherwise) and
  its scaled, strided writer against integer matrix products.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fdafast
from fdafast import CrossbarConfig, ReRAM, _tiling, fft, quant, reram
from fdafast import crossbar as cb
from fdafast._kernels import crossbar as nbk


def rfftn_spectra(w, tile, dilation):
    """conj(rfftn(w dilated, tile)) / prod(tile) as (C0, C1, nbins) planes, by numpy."""
    c0, c1 = w.shape[:2]
    pad = np.zeros((c0, c1) + tuple(tile))
    ext = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dilation)]
    pad[:, :, :ext[0]:dilation[0], :ext[1]:dilation[1], :ext[2]:dilation[2]] = w
    F = np.conj(np.fft.rfftn(pad, axes=(2, 3, 4))) / math.prod(tile)
    F = F.reshape(c0, c1, -1)
    return F.real, F.imag


KERNELS = [((3, 3, 3), (4, 8, 8), (1, 1, 1)), ((1, 3, 3), (1, 8, 8), (1, 1, 1)),
           ((1, 7, 7), (1, 16, 16), (1, 2, 1)), ((1, 1, 5), (1, 1, 8), (1, 1, 1)),
           ((2, 3, 1), (4, 8, 2), (2, 1, 1)), ((1, 1, 1), (1, 2, 2), (1, 1, 1)),
           ((1, 31, 31), (1, 32, 32), (1, 1, 1)),       # large: the tile FFT path
           ((1, 9, 9), (1, 64, 64), (1, 3, 3))]


@pytest.mark.parametrize("kshape,tile,dilation", KERNELS)
def test_kernel_spectra_match_numpy_in_both_layouts(kshape, tile, dilation):
    w = np.random.default_rng(1).standard_normal((5, 3) + kshape)
    ref_re, ref_im = rfftn_spectra(w, tile, dilation)
    re, im = fft.kernel_spectra(w, tile, dilation)
    np.testing.assert_allclose(re, ref_re, rtol=0, atol=1e-15 * np.abs(w).sum(axis=(2, 3, 4)).max())
    np.testing.assert_allclose(im, ref_im, rtol=0, atol=1e-15 * np.abs(w).sum(axis=(2, 3, 4)).max())
    bre, bim = fft.kernel_spectra(w, tile, dilation, bins_first=True)
    assert bre.shape == (_tiling.bins(tile), 3, 5) and bre.flags.c_contiguous
    np.testing.assert_allclose(bre, re.transpose(2, 1, 0), rtol=0, atol=1e-16)
    np.testing.assert_allclose(bim, im.transpose(2, 1, 0), rtol=0, atol=1e-16)


def test_both_transform_paths_are_taken():
    assert fft._use_dft((3, 3, 3), (4, 8, 8))
    assert not fft._use_dft((1, 31, 31), (1, 32, 32))


@pytest.mark.parametrize("kshape,tile,dilation", [KERNELS[0], KERNELS[2], KERNELS[6]])
@pytest.mark.parametrize("out_block,block_bytes,threads", [(4, 1 << 12, 1), (7, 1 << 16, 3),
                                                           (64, 1 << 30, 2)])
def test_spectra_blocks_cover_the_layer_once(kshape, tile, dilation, out_block, block_bytes,
                                             threads):
    w = np.random.default_rng(2).standard_normal((13, 11) + kshape)
    re, im = fft.kernel_spectra(w, tile, dilation, bins_first=True)
    seen = np.zeros((11, 13), np.int64)

    def check(o0, o1, k0, k1, bre, bim):
        assert o0 % out_block == 0 and o1 - o0 <= out_block
        seen[k0:k1, o0:o1] += 1
        np.testing.assert_allclose(bre, re[:, k0:k1, o0:o1], rtol=0, atol=1e-14)
        np.testing.assert_allclose(bim, im[:, k0:k1, o0:o1], rtol=0, atol=1e-14)
    fft.kernel_spectra_map(w, tile, dilation, out_block, check, threads,
                           block_bytes=block_bytes)
    assert np.all(seen == 1)


# -- quantization ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, derandomize=True)
@given(shape=st.lists(st.integers(1, 9), min_size=0, max_size=3), bits=st.integers(2, 12),
       chunk=st.integers(1, 40), complex_=st.booleans(), scale_axes=st.integers(0, 3),
       seed=st.integers(0, 2 ** 16))
def test_quantize_in_chunks_equals_the_formula(shape, bits, chunk, complex_, scale_axes, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    a = rng.standard_normal(shape) * 40
    if complex_:
        a = a + 1j * rng.standard_normal(shape) * 40
    # a scale with trailing axes of a, some of them broadcast
    sshape = tuple(n if rng.random() < 0.5 else 1 for n in shape[len(shape) - min(scale_axes, len(shape)):])
    s = np.abs(rng.standard_normal(sshape)) + 0.1
    old = quant.QUANTIZE_CHUNK
    quant.QUANTIZE_CHUNK = chunk
    try:
        re, im = quant.quantize(a, s, bits, np.int16)
    finally:
        quant.QUANTIZE_CHUNK = old
    top = (1 << (bits - 1)) - 1
    ref = [np.clip(np.rint(p / s), -top, top) for p in ((a.real, a.imag) if complex_ else (a,))]
    assert re.dtype == np.int16 and re.shape == np.shape(a)
    np.testing.assert_array_equal(re, ref[0])
    if complex_:
        np.testing.assert_array_equal(im, ref[1])
    else:
        assert im is None


def test_quantize_takes_separate_planes():
    rng = np.random.default_rng(3)
    X = reram.Split(rng.standard_normal((4, 5, 6)), rng.standard_normal((4, 5, 6)))
    s = np.abs(rng.standard_normal((4, 1, 1))) + 0.01
    re, im = quant.quantize(X, s, 8)
    np.testing.assert_array_equal(re, np.clip(np.rint(X.real / s), -127, 127))
    np.testing.assert_array_equal(im, np.clip(np.rint(X.imag / s), -127, 127))


# -- a ReRAM layer's quantized weight spectra -----------------------------------------------------
@pytest.mark.parametrize("mode", ["channel", "bin", "layer"])
@pytest.mark.parametrize("groups", [1, 3])
def test_quantized_weights_equal_whole_layer_quantization(mode, groups, monkeypatch):
    rng = np.random.default_rng(4)
    cout, cig = 12, 5
    w = rng.standard_normal((cout, cig, 3, 3, 3))
    plan = fdafast.ConvPlan(w, (1, cig * groups, 6, 9, 9), padding=1,
                                          groups=groups, tile=(4, 8, 8),
                                          engine=ReRAM(weight_scale=mode))
    geom = plan.geometry
    monkeypatch.setattr(reram, "QUANTIZE_OUT_BLOCK", 5)        # blocks cut every layout
    monkeypatch.setattr(fft, "SPECTRA_BLOCK_BYTES", 4096)
    s_w, planes = reram.quantized_weights(geom, w, mode, 8, 3)
    re, im = rfftn_spectra(w, geom.tile3, geom.dilation3)           # (Cout, Cin_g, nbins)
    re, im = re.transpose(2, 1, 0), im.transpose(2, 1, 0)            # (nbins, Cin_g, Cout)
    axes = {"channel": (0, 1), "bin": (1, 2), "layer": None}[mode]
    peak = np.maximum(np.abs(re).max(axis=axes), np.abs(im).max(axis=axes))
    ref_s = np.asarray(peak / 127).reshape({"channel": (1, 1, -1), "bin": (-1, 1, 1),
                                            "layer": (1, 1, 1)}[mode])
    np.testing.assert_allclose(s_w, ref_s, rtol=1e-13)
    cog = cout // groups
    assert len(planes) == groups
    for grp, (wr, wi) in enumerate(planes):
        cols = slice(grp * cog, (grp + 1) * cog)
        sc = s_w[:, :, cols] if mode == "channel" else s_w
        assert wr.dtype == np.int16 and wr.shape == (geom.nbins, cig, cog)
        np.testing.assert_array_equal(wr, np.clip(np.rint(re[:, :, cols] / sc), -127, 127))
        np.testing.assert_array_equal(wi, np.clip(np.rint(im[:, :, cols] / sc), -127, 127))


# -- the exact product -----------------------------------------------------------------------------
def prepared(rng, B, K, N, bits, real=False):
    top = (1 << (bits - 1)) - 1
    wr = rng.integers(-top, top + 1, (B, K, N))
    wi = None if real else rng.integers(-top, top + 1, (B, K, N))
    return cb.PreparedWeights(wr, wi, CrossbarConfig(weight_bits=bits), 0), wr, wi


def int_product(xr, xi, wr, wi):
    if wi is None:
        return np.einsum("bmk,bkn->bmn", xr.astype(np.int64), wr.astype(np.int64))
    re = np.einsum("bmk,bkn->bmn", xr.astype(np.int64), wr) - \
        np.einsum("bmk,bkn->bmn", xi.astype(np.int64), wi)
    im = np.einsum("bmk,bkn->bmn", xr.astype(np.int64), wi) + \
        np.einsum("bmk,bkn->bmn", xi.astype(np.int64), wr)
    return re, im


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("bits,K", [(8, 520), (8, 521), (8, 1040), (8, 1041), (12, 64), (15, 3)])
def test_exact_product_is_exact_at_the_float32_bound(real, bits, K):
    """Operands at their largest magnitudes: 2 K 127^2 < 2^24 up to K = 520 (complex),
    K 127^2 < 2^24 up to K = 1040 (real); past it the float64 GEMM takes over."""
    rng = np.random.default_rng(5)
    top = (1 << (bits - 1)) - 1
    B, M, N = 3, 5, 7
    w, wr, wi = prepared(rng, B, K, N, bits, real)
    w._w = tuple(None if a is None else np.where(a >= 0, top, -top).astype(np.int16)
                 for a in w._w)
    w._max_abs = None
    wr, wi = w.wr, w.wi
    xr = np.where(rng.random((B, M, K)) < 0.5, top, -top).astype(np.int32)
    xr[:, 0] = np.sign(wr[:, :, 0]) * top          # row 0, column 0 sums to the bound
    xi = None if real else np.where(rng.random((B, M, K)) < 0.5, top, -top).astype(np.int32)
    if not real:
        xi[:, 0] = -np.sign(wi[:, :, 0]) * top
    want32 = (1 if real else 2) * K * top * top < 1 << 24
    assert (cb._exact_dtype(xr, xi, w) in (np.float32, np.complex64)) == want32
    y = cb.emulate(xr, xi, w, 1) if CrossbarConfig(weight_bits=bits).exact else None
    target = cb._Target.new((B, M, N), real)
    cb._exact_into(xr, xi, w, target)
    ref = int_product(xr, xi, wr, wi)
    if real:
        np.testing.assert_array_equal(target.y, ref)
    else:
        np.testing.assert_array_equal(target.y.real, ref[0])
        np.testing.assert_array_equal(target.y.imag, ref[1])
        assert abs(ref[0][:, 0, 0]).max() == 2 * K * top * top   # the bound is reached
    if y is not None:
        np.testing.assert_array_equal(y, target.y)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(B=st.integers(1, 19), M=st.integers(1, 40), K=st.integers(1, 30), N=st.integers(1, 40),
       real=st.booleans(), scaled=st.booleans(), seed=st.integers(0, 2 ** 16),
       block=st.sampled_from([1, 7, 64, 1 << 19]), wbytes=st.sampled_from([1, 3000, 4 << 20]),
       threads=st.integers(1, 3))
def test_exact_writer_places_and_scales_every_value(B, M, K, N, real, scaled, seed, block,
                                                    wbytes, threads):
    """Into planes of the spectra layout (m, n, b) at strides (1, N*B', B'), with
    per-row, per-column and per-bin factors, blocks of any size, on any number of
    threads."""
    rng = np.random.default_rng(seed)
    w, wr, wi = prepared(rng, B, K, N, 8, real)
    xr = rng.integers(-127, 128, (B, M, K)).astype(np.int32)
    xi = None if real else rng.integers(-127, 128, (B, M, K)).astype(np.int32)
    nb = B + 2                                   # the planes hold more bins than written
    planes = [np.full(M * N * nb, np.nan) for _ in range(1 if real else 2)]
    scales = tuple(rng.random(n) + 0.5 if scaled else None for n in (M, N, B))
    old = cb.EXACT_BLOCK, cb.EXACT_WEIGHT_BYTES
    cb.EXACT_BLOCK, cb.EXACT_WEIGHT_BYTES = block, wbytes
    try:
        cb._exact_into(xr, xi, w, cb._Target(planes, (1, N * nb, nb), scales, (B, M, N), real),
                       threads)
    finally:
        cb.EXACT_BLOCK, cb.EXACT_WEIGHT_BYTES = old
    ref = int_product(xr, xi, wr, wi)
    ref = (ref,) if real else ref
    rs, cs, bs = (np.ones(n) if s is None else s for s, n in zip(scales, (M, N, B)))
    for plane, r in zip(planes, ref):
        got = plane.reshape(M, N, nb)
        want = ((r.astype(np.float64) * rs[None, :, None]) * cs[None, None, :]) * bs[:, None, None]
        np.testing.assert_array_equal(got[:, :, :B], want.transpose(1, 2, 0))
        assert np.isnan(got[:, :, B:]).all()


def test_scatter_kernel_writes_given_rows_and_bins_only():
    y = (np.arange(2 * 3 * 4) + 1j).reshape(2, 3, 4)
    re, im = np.zeros(5 * 6 * 4), np.zeros(5 * 6 * 4)
    b_idx, m_idx = np.array([4, 1]), np.array([0, 5, 2])
    one = np.ones(8)
    nbk.scatter_scaled(y, re, im, b_idx, m_idx, 0, 1, 4 * 5, 5, one, one, one)
    R, I = re.reshape(6, 4, 5), im.reshape(6, 4, 5)
    for b in range(2):
        for m in range(3):
            np.testing.assert_array_equal(R[m_idx[m], :, b_idx[b]], y[b, m].real)
            np.testing.assert_array_equal(I[m_idx[m], :, b_idx[b]], 1.0)
    assert np.count_nonzero(I) == 2 * 3 * 4


def test_blas_limit_is_shared_and_restored():
    from threadpoolctl import threadpool_info
    from fdafast import _blas

    def numpys():          # numpy's own BLAS (scipy or torch may have loaded others since)
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before = numpys()
    if not before:
        pytest.skip("threadpoolctl finds no BLAS of numpy's to limit")
    with _blas.single_threaded():
        with _blas.single_threaded():
            assert set(numpys()) == {1}
        assert set(numpys()) == {1}
    assert numpys() == before


def test_share_out_runs_every_share_once_and_propagates_errors():
    import threading
    from fdafast import _blas
    seen, names = [], set()

    def work(share):
        names.add(threading.current_thread().name)
        seen.extend(share)
    for threads in (1, 2, 5):
        seen.clear()
        _blas.share_out(work, list(range(11)), threads)
        assert sorted(seen) == list(range(11))
    assert any(n.startswith("fdafast-blas") for n in names)   # the kept pool ran shares

    def fails(share):
        if 3 in share:
            raise ValueError("share with 3")
    for threads in (1, 2, 3, 4):              # the failing share on the caller or the pool
        with pytest.raises(ValueError, match="share with 3"):
            _blas.share_out(fails, list(range(6)), threads)


def test_share_out_inside_a_share_runs_serially():
    """A share that shares out again must not wait on the pool it runs in."""
    import concurrent.futures
    from fdafast import _blas
    import threading
    out = []

    def outer(share):
        for i in share:
            places = set()

            def inner(share):
                out.extend(share)
                places.add(threading.current_thread().name)
            _blas.share_out(inner, [(i, j) for j in range(3)], 4)
            assert places == {threading.current_thread().name}   # on the sharing thread
    with concurrent.futures.ThreadPoolExecutor(1) as guard:      # fail, not hang
        guard.submit(_blas.share_out, outer, list(range(8)), 4).result(timeout=60)
    assert sorted(out) == [(i, j) for i in range(8) for j in range(3)]


def test_share_out_works_in_a_forked_child():
    import multiprocessing
    from fdafast import _blas
    _blas.share_out(lambda share: None, [0, 1], 2)            # the parent's pool exists
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_sum_in_shares, (list(range(10)),)).get(timeout=60) == 45


def _sum_in_shares(items):
    from fdafast import _blas
    total = []
    _blas.share_out(lambda share: total.append(sum(share)), items, 3)
    return sum(total)


def test_target_refuses_planes_too_small():
    with pytest.raises(Exception, match="too small"):
        cb._Target((np.zeros(10), np.zeros(10)), (1, 4, 2), (None, None, None), (2, 3, 4), False)


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 1, 64), (1, 3, 1), (4, 9, 130)])
def test_pack_columns_equals_shifted_fields(bits, shape):
    rng = np.random.default_rng(bits)
    G = rng.integers(0, 1 << bits, shape)
    F = 64 // bits
    got = nbk.pack_columns(G.astype(np.float64), bits)
    assert got.shape == shape[:-1] + (-(-shape[-1] // F),) and got.dtype == np.uint64
    for idx in np.ndindex(*shape):
        *lead, j = idx
        word = int(got[tuple(lead) + (j // F,)])
        assert (word >> (bits * (j % F))) & ((1 << bits) - 1) == G[idx]
    np.testing.assert_array_equal(nbk.pack_columns(G.astype(np.uint8) if bits <= 8 else G, bits),
                                  got)


@pytest.mark.parametrize("input_scale", ["tile", "layer", "calibrated"])
def test_calibration_from_sampled_rows_equals_the_whole_batch(input_scale):
    """Calibration quantizes only the rows it samples: the ADC range equals the one
    from quantizing every row first."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((40, 6, 3, 3, 3))
    x = rng.standard_normal((2, 6, 6, 20, 20))
    engine = ReRAM(config=CrossbarConfig(adc_full_scale="calibrate"), input_scale=input_scale,
                   bins_per_batch=50)
    plan = fdafast.ConvPlan(w, x.shape, padding=1, tile=(4, 8, 8), engine=engine)
    got = plan.calibrate(x)
    g, cfg = plan.geometry, engine.config
    X, _ = reram.input_spectra(g, x.reshape((2, 6) + g.in3), 1, fdafast.engine.Workspace())
    s_x = reram.input_scales(X, input_scale, cfg.input_bits, got.get("input_scale"))
    xr, xi = quant.quantize(X, s_x, cfg.input_bits)
    s_w, planes = reram.quantized_weights(g, w, engine.weight_scale, cfg.weight_bits, 1)
    hist = np.zeros(cfg.s_max + 1, np.int64)
    for b0 in range(0, g.nbins, 50):
        bs = slice(b0, min(g.nbins, b0 + 50))
        b, m, n = reram.calibration_sample(bs.stop - bs.start, xr.shape[1], 40)
        wr, wi = (p[bs][b][:, :, n].astype(np.int32) for p in planes[0])
        hist += cb.column_sum_histogram(xr[bs][b][:, m], xi[bs][b][:, m], wr, wi, cfg, 1)
    assert got["adc_full_scale"] == quant.percentile_level(hist, engine.percentile, cfg.s_max)
    assert 1 < got["adc_full_scale"] < cfg.s_max              # a level the sums decide


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("word", [64, 8])
def test_bit_planes_from_int16_weights_in_chunks(monkeypatch, real, word):
    """level_planes packs int16 weights a few bins at a time: the planes are those of
    the int32 weights packed whole."""
    from fdafast import _xbar
    rng = np.random.default_rng(11)
    cfg = CrossbarConfig(rows=16, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                         adc_bits=8)
    wr = rng.integers(-127, 128, (7, 13, 5))
    wi = None if real else rng.integers(-127, 128, (7, 13, 5))
    whole = _xbar.level_planes(cfg, wr.astype(np.int32),
                               None if real else wi.astype(np.int32), 16, 8, 2, word)
    monkeypatch.setattr(_xbar, "PACK_CHUNK", 2 * 13 * 5)           # two bins per call
    parts = _xbar.level_planes(cfg, wr.astype(np.int16),
                               None if real else wi.astype(np.int16), 16, 8, 2, word)
    np.testing.assert_array_equal(parts, whole)
