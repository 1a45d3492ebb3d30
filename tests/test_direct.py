"""The spatial float engine (fdafast.direct) and the float engine's choice of algorithm."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fdafast
from fdafast import _tiling
from fdafast._kernels.im2col import gather_columns, gather_rows
from fdafast.conv import FloatDirect, FloatFFT
from fdafast.direct import (LAYOUTS, _blocks, _largest_block, choose_layout, conv_direct,
                            product_blocks, weight_matrix)
from fdafast.engine import PHASES

from naive import conv_direct as naive_conv

C3D = {"conv2a": (64, 128, (16, 56, 56)), "conv3b": (256, 256, (8, 28, 28)),
       "conv4b": (512, 512, (4, 14, 14)), "conv5a": (512, 512, (2, 7, 7))}


@st.composite
def conv_problems(draw):
    nd = draw(st.sampled_from([2, 3]))
    groups = draw(st.sampled_from([1, 2, 3]))
    cig, cog = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    ext = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    spatial = tuple(draw(st.integers(max(1, e - lo - hi), e + 6))
                    for e, (lo, hi) in zip(ext, pads))
    batch = draw(st.integers(1, 3))
    return dict(x_shape=(batch, cig * groups) + spatial, w_shape=(cog * groups, cig) + kernel,
                stride=stride, padding=pads, dilation=dilation, groups=groups,
                bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])),
                threads=draw(st.integers(1, 3)), column_bytes=draw(st.sampled_from([1, 300,
                                                                                      1 << 20])),
                layout=draw(st.sampled_from([None, "channels-first", "channels-last"])))


@settings(max_examples=120, deadline=None, derandomize=True)
@given(conv_problems())
def test_direct_engine_matches_the_loop_reference(assert_close, p):
    rng = np.random.default_rng(sum(p["x_shape"]) * 31 + sum(p["w_shape"]))
    x = rng.standard_normal(p["x_shape"]).astype(p["dtype"])
    w = rng.standard_normal(p["w_shape"]).astype(p["dtype"])
    b = rng.standard_normal(p["w_shape"][0]).astype(p["dtype"]) if p["bias"] else None
    plan = fdafast.ConvPlan(w, x.shape, b, p["stride"], p["padding"], p["dilation"],
                            p["groups"], threads=p["threads"],
                            engine=FloatDirect(p["column_bytes"], p["layout"]))
    y = plan(x)
    want = naive_conv(x, w, b, p["stride"], p["padding"], p["dilation"], p["groups"])
    assert y.dtype == x.dtype
    assert_close(y, want, floor=np.sqrt(want.size))


def test_direct_conv1d_and_unbatched_inputs(assert_close, rng):
    x, w = rng.standard_normal((4, 19)), rng.standard_normal((6, 2, 3))
    plan = fdafast.ConvPlan(w, x.shape, stride=2, padding=((3, 1),), dilation=2, groups=2,
                            engine=FloatDirect())
    want = naive_conv(x[None, :, None], w[:, :, None], None, (1, 2), ((0, 0), (3, 1)),
                      (1, 2), 2)[0, :, 0]
    assert_close(plan(x), want)


#: The geometry the gather tests use: uneven kernel, padding, stride and dilation.
GATHER_GEOMETRY = ((2, 3, 2), (1, 0, 2), (1, 2, 1), (2, 1, 2))


def sliding_windows(x, kernel, pad, stride, dil):
    """(the outputs per axis, the windows (n, c, d, h, w, a, b, e)) of ``x``, the
    zero padding included, from numpy's sliding windows."""
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, e) for p, e in zip(pad, ext)])
    out = [(n + p - e) // s + 1 for n, p, e, s in zip(x.shape[2:], pad, ext, stride)]
    win = np.lib.stride_tricks.sliding_window_view(xp, ext, axis=(2, 3, 4))
    return out, win[:, :, :out[0] * stride[0]:stride[0], :out[1] * stride[1]:stride[1],
                    :out[2] * stride[2]:stride[2], ::dil[0], ::dil[1], ::dil[2]]


def test_gather_columns_against_sliding_windows(rng):
    x = rng.standard_normal((2, 3, 4, 5, 6))
    kernel, pad, stride, dil = GATHER_GEOMETRY
    out, win = sliding_windows(x, *GATHER_GEOMETRY)
    want = win.transpose(1, 5, 6, 7, 0, 2, 3, 4).reshape(3 * 12, -1)
    cols = np.full(want.shape, np.nan)
    blk = np.array([0, 2, 0, out[0], 0, out[1]])
    gather_columns(x, cols, blk, *(np.array(v) for v in (kernel, pad, stride, dil)), out[2])
    np.testing.assert_array_equal(cols, want)


@pytest.mark.parametrize("groups", [1, 3])
def test_gather_rows_against_sliding_windows(rng, groups):
    """The channels-last rows: a row per output position, columns by group, tap and
    the group's channels; taps in the padding read zero."""
    x = rng.standard_normal((2, 6, 4, 5, 6))
    kernel, pad, stride, dil = GATHER_GEOMETRY
    out, win = sliding_windows(x, *GATHER_GEOMETRY)
    # (n, g, c, d, h, w, a, b, e) -> (n, d, h, w, g, a, b, e, c)
    win = win.reshape((2, groups, 6 // groups) + win.shape[2:])
    want = win.transpose(0, 3, 4, 5, 1, 6, 7, 8, 2).reshape(-1, 6 * 12)
    for n0, n1, d0, d1, h0, h1 in [(0, 2, 0, out[0], 0, out[1]), (1, 2, 1, 2, 1, out[1])]:
        xcl = np.ascontiguousarray(x[n0:n1].transpose(0, 2, 3, 4, 1))
        rows = np.full(((n1 - n0) * (d1 - d0) * (h1 - h0) * out[2], 6 * 12), np.nan)
        blk = np.array([0, n1 - n0, d0, d1, h0, h1])
        gather_rows(xcl, rows, blk, *(np.array(v) for v in (kernel, pad, stride, dil)),
                    out[2], groups)
        sel = want.reshape(2, out[0], out[1], out[2], -1)[n0:n1, d0:d1, h0:h1]
        np.testing.assert_array_equal(rows, sel.reshape(rows.shape))


def test_layout_is_chosen_by_the_longer_runs_and_can_be_forced(assert_close, rng):
    assert choose_layout(512, 7) == "channels-last"
    assert choose_layout(3, 112) == choose_layout(8, 8) == "channels-first"
    x = rng.standard_normal((1, 24, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((8, 24, 3, 3, 3)).astype(np.float32)
    ys = {}
    for layout in (None, "channels-first", "channels-last"):
        plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=FloatDirect(layout=layout))
        assert repr(layout) in repr(plan.engine)
        ys[layout] = plan(x)
        assert_close(ys[layout], naive_conv(x, w, None, 1, 1))
    np.testing.assert_array_equal(ys[None], ys["channels-last"])      # 24 channels > 5 wide
    with pytest.raises(fdafast.InvalidArgumentError, match="layout"):
        FloatDirect(layout="NHWC")
    with pytest.raises(fdafast.InvalidArgumentError, match="layout"):
        conv_direct(x, weight_matrix(w, 1, np.float32), None, np.empty((1, 8, 2, 5, 5)),
                    kernel3=(3, 3, 3), pad3=(1, 1, 1), stride3=(1, 1, 1), dilation3=(1, 1, 1),
                    threads=1, layout="nchw")


def test_direct_plans_count_their_work_arrays():
    """nbytes_needed: the output, the largest block's columns and, channels last, the
    copy of the images."""
    x_shape, w = (2, 24, 2, 5, 5), np.zeros((8, 24, 3, 3, 3), np.float32)
    need = {}
    for layout in LAYOUTS:
        plan = fdafast.ConvPlan(w, x_shape, padding=1, engine=FloatDirect(layout=layout))
        need[layout] = plan._prepared.nbytes_needed(2, np.float32)
    out, cols, images = 2 * 8 * 50 * 4, 24 * 27 * 2 * 50 * 4, 2 * 24 * 50 * 4
    assert need == {"channels-first": out + cols, "channels-last": out + cols + images}
    small = fdafast.ConvPlan(w, x_shape, padding=1, engine=FloatDirect(column_bytes=1))
    row = 24 * 27 * 5 * 4                                       # one output row's columns
    assert small._prepared.nbytes_needed(2, np.float32) == out + row + images


@pytest.mark.parametrize("budget", [1, 50, 700, 10 ** 5, 10 ** 9])
@pytest.mark.parametrize("out3", [(1, 1, 1), (2, 3, 4), (4, 14, 14)])
def test_the_largest_block_is_the_first_and_is_counted_without_listing(out3, budget):
    for batch, per_position in itertools.product((1, 2, 5), (1, 7, 100)):
        sizes = [(n1 - n0) * (d1 - d0) * (h1 - h0) * out3[2]
                 for n0, n1, d0, d1, h0, h1 in _blocks(batch, out3, per_position, budget)]
        assert sizes[0] == max(sizes) == _largest_block(batch, out3, per_position, budget)
    # a problem of 10^18 outputs: counted at once (its blocks are never listed)
    assert _largest_block(10 ** 6, (10 ** 4,) * 3, 4, 1 << 20) == 10 ** 4 * 26


@pytest.mark.parametrize("budget", [1, 50, 10 ** 9])
def test_blocks_cover_the_output_exactly_once(budget):
    batch, out3 = 3, (2, 3, 4)
    seen = np.zeros((batch,) + out3, int)
    for n0, n1, d0, d1, h0, h1 in _blocks(batch, out3, 7, budget):
        seen[n0:n1, d0:d1, h0:h1] += 1
    assert (seen == 1).all()


def test_direct_results_do_not_depend_on_blocks_and_repeat_exactly(rng):
    x = rng.standard_normal((3, 8, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((10, 8, 3, 3, 3)).astype(np.float32)
    wm = weight_matrix(w, 1, np.float32)
    ys = []
    for budget in (1, 4000, 1 << 30):
        y = np.empty((3, 10, 5, 6, 7), np.float32)
        conv_direct(x, wm, None, y, kernel3=(3, 3, 3), pad3=(1, 1, 1), stride3=(1, 1, 1),
                    dilation3=(1, 1, 1), threads=2, column_bytes=budget)
        ys.append(y)
    again = np.empty_like(ys[0])
    conv_direct(x, wm, None, again, kernel3=(3, 3, 3), pad3=(1, 1, 1), stride3=(1, 1, 1),
                dilation3=(1, 1, 1), threads=2, column_bytes=1)
    np.testing.assert_array_equal(again, ys[0])
    for y in ys[1:]:
        np.testing.assert_allclose(y, ys[0], rtol=1e-5, atol=1e-4)


def test_direct_profile_times_every_phase(rng):
    x, w = rng.random((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    plan = fdafast.ConvPlan(w, x.shape, padding=1, engine=FloatDirect(), threads=2)
    y, phases = plan.profile(x, threads=1)
    np.testing.assert_allclose(y, plan(x), rtol=1e-12)
    assert set(phases) == set(PHASES) and sum(phases.values()) > 0


def test_direct_engine_refuses_bad_budgets():
    for bad in (0, -5, 2.5, True, "1"):
        with pytest.raises(fdafast.InvalidArgumentError, match="column_bytes"):
            FloatDirect(bad)


def _layer(name, batch=1):
    cin, cout, spatial = C3D[name]
    return dict(batch=batch, cin=cin, cout=cout, groups=1, out=spatial, stride=(1, 1, 1),
                kext=(3, 3, 3), itemsize=4, lanes=8, threads=2)


@pytest.mark.parametrize("isa", ["avx2", "avx512", "baseline"])
def test_choice_keeps_the_fft_for_large_maps(isa):
    params = _tiling.cost_params(isa)
    for name in ("conv2a", "conv3b", "conv4b"):
        kw = _layer(name)
        tile = _tiling.choose_tile(params=params, **kw)
        assert _tiling.choose_algorithm(tile=tile, taps=27, params=params, **kw) == "fft", name


def test_choice_goes_spatial_for_conv5_on_avx2():
    """Measured on a Zen 3 (avx2): conv5a FFT 18.5 ms, spatial 12.1 ms (2 threads)."""
    params = _tiling.cost_params("avx2")
    kw = _layer("conv5a")
    tile = _tiling.choose_tile(params=params, **kw)
    assert _tiling.choose_algorithm(tile=tile, taps=27, params=params, **kw) == "direct"
    kw16 = _layer("conv5a", batch=16)        # larger batches amortise the spectra again
    tile16 = _tiling.choose_tile(params=params, **kw16)
    assert _tiling.choose_algorithm(tile=tile16, taps=27, params=params, **kw16) == "fft"


def test_direct_cost_counts_only_the_strided_outputs():
    kw = dict(batch=2, cin=64, cout=64, groups=1, taps=9, itemsize=4, threads=1,
              params=_tiling.CostParams(cache_bytes=0, bytes_per_s=1e30))
    full = _tiling.direct_cost(out=(1, 32, 32), **kw)
    strided = _tiling.direct_cost(out=(1, 16, 16), **kw)
    assert strided == pytest.approx(full / 4)
    assert _tiling.direct_cost(out=(1, 32, 32), **dict(kw, itemsize=8)) > full


def test_default_engine_follows_the_choice_and_a_tile_forces_the_fft(assert_close, rng):
    cin, cout, spatial = 32, 32, (2, 3, 3)
    x = rng.standard_normal((1, cin) + spatial).astype(np.float32)
    w = rng.standard_normal((cout, cin, 3, 3, 3)).astype(np.float32)
    auto = fdafast.ConvPlan(w, x.shape, padding=1)
    g = auto.geometry
    want = _tiling.choose_algorithm(
        tile=g.tile3, batch=1, cin=cin, cout=cout, groups=1, out=g.out3, stride=g.stride3,
        kext=g.kext3, taps=27, itemsize=4, lanes=fdafast._native.lanes(np.float32),
        threads=auto.threads, params=_tiling.cost_params(fdafast._dispatch.isa()))
    assert isinstance(auto.engine, FloatDirect if want == "direct" else FloatFFT)
    tiled = fdafast.ConvPlan(w, x.shape, padding=1, tile=4)
    assert isinstance(tiled.engine, FloatFFT)
    assert_close(auto(x), tiled(x))
    if isinstance(auto.engine, FloatDirect):
        assert auto.spectrum_nbytes == 0
        assert auto.weight_nbytes == w.nbytes
        assert "spatial" in repr(auto)


def test_nn_fft_mode_runs_the_float_engines_choice(rng):
    from fdafast.nn import execute, zoo
    net = zoo.tiny3d()
    x = rng.standard_normal((1,) + tuple(net.input_shape)).astype(np.float32)
    y = net.run(x, mode="fft")
    plans = [p for k, p in execute.executor(net).plans.items() if k[0].mode == "fft"]
    assert plans
    for p in plans:
        again = fdafast.ConvPlan(np.zeros((p.cout, p.cin // p.groups) + p.kernel, np.float32),
                                 (None, p.cin) + p.in_spatial, None, p.stride, p.padding,
                                 p.dilation, p.groups, threads=p.threads)
        assert type(p.engine) is type(again.engine)
    np.testing.assert_allclose(y, net.run(x.astype(np.float64), mode="direct"), rtol=1e-3,
                               atol=1e-4)


@pytest.mark.parametrize("layout", ["channels-first", "channels-last"])
@pytest.mark.parametrize("groups,cout", [(1, 600), (2, 20), (48, 48)])
def test_direct_results_do_not_depend_on_the_thread_count(rng, groups, cout, layout):
    x = rng.standard_normal((2, 48, 3, 9, 70)).astype(np.float32)
    w = rng.standard_normal((cout, 48 // groups, 3, 3, 3)).astype(np.float32)
    plan = fdafast.ConvPlan(w, x.shape, padding=1, groups=groups,
                            engine=FloatDirect(layout=layout))
    ys = [plan(x, threads=t) for t in (1, 2, 3)]
    for y in ys[1:]:
        np.testing.assert_array_equal(y, ys[0])


@pytest.mark.parametrize("groups,cog,npos", [(1, 600, 9000), (3, 100, 10), (512, 1, 5000),
                                              (2, 256, 4096)])
def test_product_blocks_cover_every_output_once(groups, cog, npos):
    seen = np.zeros((groups, cog, npos), int)
    for g0, g1, c0, c1, p0, p1 in product_blocks(groups, cog, npos):
        seen[g0:g1, c0:c1, p0:p1] += 1
    assert (seen == 1).all()


@pytest.mark.parametrize("layout", ["channels-first", "channels-last"])
@pytest.mark.parametrize("batch", [1, 2])
def test_direct_with_several_position_blocks(assert_close, rng, batch, layout):
    """More outputs per image than one GEMM takes (GEMM_POSITIONS), written in place
    for one image and through the result buffer for two, with a bias."""
    x = rng.standard_normal((batch, 3, 4, 40, 41))
    w, b = rng.standard_normal((5, 3, 3, 3, 3)), rng.standard_normal(5)
    plan = fdafast.ConvPlan(w, x.shape, b, padding=1, engine=FloatDirect(layout=layout),
                            threads=2)
    assert_close(plan(x), naive_conv(x, w, b, 1, 1))


def test_kernels_wider_than_any_fft_tile_run_spatially(assert_close, rng):
    """The default float engine computes a kernel no FFT tile holds (dilated extent
    67 > 64); the FFT engine refuses it, naming the spatial one."""
    x, w = rng.standard_normal((1, 3, 70, 8)), rng.standard_normal((2, 3, 3, 3))
    plan = fdafast.ConvPlan(w, x.shape, dilation=(33, 1))
    assert isinstance(plan.engine, FloatDirect) and plan.tile is None
    assert_close(plan(x), naive_conv(x, w, None, 1, 0, (33, 1)))
    with pytest.raises(fdafast.TileError, match="spatial engine"):
        fdafast.ConvPlan(w, x.shape, dilation=(33, 1), engine=FloatFFT())
