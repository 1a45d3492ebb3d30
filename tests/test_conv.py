"""Tests of :func:`fdafast.conv2d`, :func:`fdafast.conv3d` and :class:`fdafast.ConvPlan`.

Every result is compared with the loop-level reference
:func:`naive.conv_direct` (float64) within the per-dtype tolerance of
``conftest.REL_L2_TOL``.

* Property tests (hypothesis) draw shapes, kernels, strides, paddings,
  dilations, groupings, tiles, dtypes and memory layouts at random.
* Explicit parametrised cases pin each awkward situation (sizes not
  divisible by the tile or smaller than it, size 1, 1x1 kernels, kernels
  wider than half the tile, 'same' with even kernels, strides 2 and 3,
  dilation 2, groups, depthwise, batches, non-contiguous and Fortran
  inputs) so that they run whatever hypothesis draws.
* Identities: different tiles agree with each other and with the direct
  convolution; a plan accepts several batch sizes; repeated calls and
  thread counts give bit-identical results; the output follows the
  input's dtype.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fdafast
from fdafast import _tiling
from naive import conv_direct, pad_pairs

DTYPES = (np.float32, np.float64)
CONV = {2: fdafast.conv2d, 3: fdafast.conv3d}


# -- helpers ---------------------------------------------------------------

def lay_out(a, layout, rng):
    """``a`` (same values) in a layout: 'C', 'F', 'sliced', 'reversed' or 'readonly'."""
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "sliced":
        # every other element of a larger array along the last two axes, one
        # leading channel skipped: neither C- nor F-contiguous
        big = rng.standard_normal((a.shape[0], a.shape[1] + 1) + a.shape[2:-2]
                                  + (2 * a.shape[-2], 2 * a.shape[-1])).astype(a.dtype)
        view = big[:, 1:, ..., ::2, ::2]
        view[...] = a
        return view
    if layout == "readonly":
        a = np.array(a)
        a.setflags(write=False)
        return a
    if layout == "reversed":
        # negative strides along the spatial axes
        flipped = np.ascontiguousarray(np.flip(a, axis=tuple(range(2, a.ndim))))
        return np.flip(flipped, axis=tuple(range(2, a.ndim)))
    raise ValueError(layout)


def make_arrays(rng, xshape, wshape, dtype, bias, layout="C", wdtype=None):
    """Random x, w (and bias or None) of the given shapes and dtypes."""
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal(wshape).astype(wdtype or dtype)
    b = rng.standard_normal(wshape[0]).astype(wdtype or dtype) if bias else None
    return lay_out(x, layout, rng), w, b


def check_conv(assert_close, x, w, b, *, tile=None, threads=None, **kw):
    """Run conv2d/conv3d and compare it with the direct convolution; return the result."""
    nd = x.ndim - 2
    y = CONV[nd](x, w, b, tile=tile, threads=threads, **kw)
    ref = conv_direct(x, w, b, **kw)
    assert y.dtype == x.dtype
    assert y.shape == ref.shape
    assert y.flags.c_contiguous
    # only outputs that see nothing but padding make the reference (nearly) all
    # zero; then the error is measured against the scale of the products
    floor = 1e-2 * np.sqrt(ref.size) * np.abs(x).max() * np.abs(w).max()
    assert_close(y, ref, what=f"conv{nd}d x{x.shape} w{w.shape} {kw} tile={tile}",
                 floor=floor)
    return y


def kext_of(kernel, dilation):
    """Dilated kernel extents."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))


# -- hypothesis property tests ---------------------------------------------

@st.composite
def conv_problems(draw, nd):
    """A random valid convolution problem for ``nd`` spatial axes.

    Returns a dict with xshape, wshape, kwargs (stride, padding, dilation,
    groups), tile, dtype, bias, layout and seed.
    """
    mode = draw(st.sampled_from(["dense", "groups2", "depthwise", "depthwise_mult"]))
    if mode == "dense":
        groups, cig, cog = 1, draw(st.integers(1, 4)), draw(st.integers(1, 4))
    elif mode == "groups2":
        groups, cig, cog = 2, draw(st.integers(1, 3)), draw(st.integers(1, 3))
    elif mode == "depthwise":
        groups, cig, cog = draw(st.integers(1, 5)), 1, 1
    else:
        groups, cig, cog = draw(st.integers(1, 4)), 1, draw(st.integers(2, 3))
    kmax, smax = (5, 24) if nd == 2 else (3, 9)
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    kext = kext_of(kernel, dilation)
    pad_kind = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if pad_kind == "same":
        stride, padding = (1,) * nd, "same"
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        if pad_kind == "int":
            padding = draw(st.integers(0, 2))
        elif pad_kind == "tuple":
            padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        else:
            padding = "valid"
    pads = pad_pairs(padding, nd, kext, stride)
    sizes = tuple(max(draw(st.integers(1, smax)), k - lo - hi)
                  for k, (lo, hi) in zip(kext, pads))
    tile = None
    if draw(st.booleans()):
        max_t = 64 if nd == 2 else 32
        tile = tuple(draw(st.sampled_from(
            [t for t in _tiling.SUPPORTED_TILE_SIZES
             if max(k, 2 if a == nd - 1 else 1) <= t <= max_t]))
            for a, k in enumerate(kext))
        if math.prod(tile) > 16384:      # keep one draw cheap
            tile = None
    return dict(
        xshape=(draw(st.integers(1, 3)), cig * groups) + sizes,
        wshape=(cog * groups, cig) + kernel,
        kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
        tile=tile, dtype=draw(st.sampled_from(DTYPES)), bias=draw(st.booleans()),
        layout=draw(st.sampled_from(["C", "F", "sliced", "reversed", "readonly"])),
        seed=draw(st.integers(0, 2 ** 32 - 1)))


def _check_problem(assert_close, p):
    rng = np.random.default_rng(p["seed"])
    x, w, b = make_arrays(rng, p["xshape"], p["wshape"], p["dtype"], p["bias"], p["layout"])
    check_conv(assert_close, x, w, b, tile=p["tile"], **p["kwargs"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=conv_problems(2))
def test_conv2d_matches_direct(assert_close, p):
    _check_problem(assert_close, p)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=conv_problems(3))
def test_conv3d_matches_direct(assert_close, p):
    _check_problem(assert_close, p)


# -- explicit awkward cases --------------------------------------------------

def case(id, xshape, wshape, tile=None, layout="C", bias=True, **kw):
    """One explicit configuration, as a pytest.param with a readable id."""
    return pytest.param(xshape, wshape, tile, layout, bias, kw, id=id)


AWKWARD = [
    # sizes against the tile
    case("2d-not-divisible-by-tile", (1, 3, 13, 11), (4, 3, 3, 3), tile=(8, 8), padding=1),
    case("2d-prime-sizes-default-tile", (2, 2, 17, 23), (3, 2, 3, 3)),
    case("2d-smaller-than-tile", (1, 2, 5, 6), (3, 2, 3, 3), tile=(16, 16)),
    case("2d-much-smaller-than-tile", (1, 2, 3, 2), (2, 2, 2, 2), tile=(64, 64), padding=1),
    case("3d-not-divisible-by-tile", (1, 2, 7, 9, 5), (3, 2, 3, 3, 3), tile=(4, 4, 4),
         padding=1),
    case("3d-smaller-than-tile", (1, 2, 3, 5, 6), (2, 2, 3, 3, 3), tile=(8, 8, 8), padding=1),
    # size 1
    case("2d-size1", (1, 3, 1, 1), (2, 3, 1, 1)),
    case("2d-size1-padded", (2, 1, 1, 1), (2, 1, 3, 3), padding=1),
    case("2d-size1-one-axis", (1, 2, 1, 9), (2, 2, 1, 3)),
    case("3d-size1", (1, 2, 1, 1, 1), (3, 2, 1, 1, 1)),
    case("3d-size1-depth", (1, 2, 1, 6, 7), (2, 2, 1, 3, 3), padding=(0, 1, 1)),
    # 1x1 kernels
    case("2d-1x1", (2, 5, 7, 9), (3, 5, 1, 1)),
    case("2d-1x1-tile-1x2", (1, 3, 5, 7), (2, 3, 1, 1), tile=(1, 2)),
    case("2d-1x1-stride3", (1, 3, 10, 8), (2, 3, 1, 1), stride=3),
    case("3d-1x1x1", (1, 4, 3, 5, 6), (2, 4, 1, 1, 1)),
    # kernels wider than half the tile
    case("2d-k5-tile8", (1, 2, 19, 14), (3, 2, 5, 5), tile=(8, 8), padding=2),
    case("2d-k7-tile8", (1, 2, 16, 13), (2, 2, 7, 7), tile=(8, 8)),
    case("2d-k8-tile8", (1, 2, 12, 10), (2, 2, 8, 8), tile=(8, 8), padding=1),
    case("2d-k9-tile16", (1, 2, 30, 21), (2, 2, 9, 9), tile=(16, 16), padding=4),
    case("2d-k3-dil3-tile8", (1, 2, 20, 15), (2, 2, 3, 3), tile=(8, 8), dilation=3),
    case("2d-k2x5-tile2x8", (1, 2, 9, 11), (2, 2, 2, 5), tile=(2, 8)),
    case("3d-k3-tile4", (1, 2, 9, 7, 6), (2, 2, 3, 3, 3), tile=(4, 4, 4), padding=1),
    case("3d-k4-tile4", (1, 2, 6, 7, 5), (2, 2, 4, 4, 4), tile=(4, 4, 4)),
    # padding modes
    case("2d-same-even", (1, 2, 8, 9), (3, 2, 4, 2), padding="same"),
    case("2d-same-even-dilated", (1, 2, 9, 8), (3, 2, 2, 4), padding="same", dilation=(2, 1)),
    case("2d-same-odd", (2, 2, 7, 7), (2, 2, 3, 5), padding="same"),
    case("3d-same-even", (1, 2, 5, 6, 7), (2, 2, 2, 4, 3), padding="same"),
    case("2d-valid", (1, 3, 10, 12), (2, 3, 3, 5), padding="valid"),
    case("3d-valid", (1, 2, 5, 6, 7), (2, 2, 3, 2, 3), padding="valid"),
    case("2d-asymmetric-padding", (1, 2, 6, 9), (2, 2, 3, 3), padding=(0, 2)),
    case("2d-padding-wider-than-kernel", (1, 2, 4, 4), (2, 2, 3, 3), padding=3),
    case("2d-outputs-only-see-padding", (1, 2, 5, 1), (2, 2, 3, 1), padding=2, stride=3,
         bias=False),
    # strides and dilation
    case("2d-stride2", (1, 3, 15, 16), (4, 3, 3, 3), stride=2, padding=1),
    case("2d-stride3", (1, 3, 17, 14), (4, 3, 3, 3), stride=3, padding=1),
    case("2d-stride-2x3", (1, 2, 13, 19), (2, 2, 5, 3), stride=(2, 3), padding=(2, 0),
         tile=(8, 4)),
    case("2d-stride-larger-than-kernel", (1, 2, 11, 13), (2, 2, 2, 2), stride=3),
    case("3d-stride2", (1, 2, 9, 8, 7), (2, 2, 3, 3, 3), stride=2, padding=1),
    case("3d-stride-1x2x3", (1, 2, 6, 9, 11), (2, 2, 3, 3, 3), stride=(1, 2, 3)),
    case("2d-dilation2", (1, 2, 14, 13), (3, 2, 3, 3), dilation=2, padding=2),
    case("2d-dilation2-stride2", (1, 2, 15, 14), (3, 2, 3, 2), dilation=2, stride=2),
    case("3d-dilation2", (1, 2, 7, 8, 9), (2, 2, 3, 3, 2), dilation=2, padding=1),
    # groups
    case("2d-groups2", (1, 4, 9, 10), (6, 2, 3, 3), groups=2, padding=1),
    case("2d-depthwise", (2, 5, 9, 8), (5, 1, 3, 3), groups=5, padding=1),
    case("2d-depthwise-mult2", (1, 3, 8, 9), (6, 1, 3, 3), groups=3, padding=1),
    case("2d-depthwise-many-channels", (1, 21, 6, 7), (21, 1, 3, 3), groups=21, padding=1),
    case("3d-groups2", (1, 4, 5, 6, 5), (4, 2, 3, 3, 3), groups=2, padding=1),
    case("3d-depthwise", (1, 3, 5, 6, 5), (3, 1, 3, 3, 3), groups=3, padding=1),
    case("3d-depthwise-mult3", (1, 2, 4, 5, 6), (6, 1, 3, 3, 3), groups=2),
    # channels past the SIMD width (vector column blocks and scalar tails)
    case("2d-channels-20-to-33", (1, 20, 6, 7), (33, 20, 3, 3), padding=1),
    case("2d-groups3-cog17", (1, 6, 6, 5), (51, 2, 3, 3), groups=3, padding=1),
    # batches and layouts
    case("2d-batch3", (3, 2, 9, 7), (3, 2, 3, 3), padding=1),
    case("3d-batch2", (2, 2, 5, 4, 6), (2, 2, 3, 3, 3), padding=1),
    case("2d-sliced", (2, 3, 9, 8), (2, 3, 3, 3), layout="sliced", padding=1),
    case("2d-fortran", (2, 3, 9, 8), (2, 3, 3, 3), layout="F", padding=1),
    case("2d-reversed", (1, 3, 9, 8), (2, 3, 3, 3), layout="reversed", padding=1),
    case("3d-sliced", (1, 2, 4, 5, 6), (2, 2, 3, 3, 3), layout="sliced", padding=1),
    case("3d-fortran", (2, 2, 4, 5, 6), (2, 2, 3, 3, 3), layout="F", padding=1),
    case("2d-readonly", (1, 2, 7, 8), (2, 2, 3, 3), layout="readonly", padding=1),
    # without bias
    case("2d-no-bias", (1, 2, 7, 7), (2, 2, 3, 3), bias=False, padding=1),
    case("3d-no-bias", (1, 2, 4, 4, 4), (2, 2, 3, 3, 3), bias=False, padding=1),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, tile, layout, bias, kw", AWKWARD)
def test_awkward_case(assert_close, rng, xshape, wshape, tile, layout, bias, kw, dtype):
    x, w, b = make_arrays(rng, xshape, wshape, dtype, bias, layout)
    check_conv(assert_close, x, w, b, tile=tile, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_weight_layouts(assert_close, rng, dtype):
    """Non-contiguous weights and bias give the same result as contiguous ones."""
    x, w, b = make_arrays(rng, (1, 3, 8, 9), (4, 3, 3, 3), dtype, True)
    ref = conv_direct(x, w, b, padding=1)
    for layout in ("F", "sliced", "reversed", "readonly"):
        y = fdafast.conv2d(x, lay_out(w, layout, rng), b[::-1].copy()[::-1], padding=1)
        assert_close(y, ref, what=f"weight layout {layout}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_all_zero_and_constant_weights(assert_close, rng, dtype):
    """All-zero weights give exactly the bias; all-one weights give window sums."""
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    b = np.array([1.5, -2.0], dtype)
    y = fdafast.conv2d(x, np.zeros((2, 3, 3, 3), dtype), b, padding=1)
    np.testing.assert_array_equal(y, np.broadcast_to(b[None, :, None, None], y.shape))
    ones = np.ones((2, 3, 3, 3), dtype)
    assert_close(fdafast.conv2d(x, ones, padding=1), conv_direct(x, ones, padding=1))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_large_magnitudes(assert_close, rng, dtype):
    """Scaling inputs by a large power of two scales the result (relative error kept)."""
    scale = dtype(2.0 ** 40)
    x = (rng.standard_normal((1, 2, 11, 9)) * scale).astype(dtype)
    w = (rng.standard_normal((3, 2, 3, 3)) * scale).astype(dtype)
    check_conv(assert_close, x, w, None, padding=1)


def test_chunked_workspace_matches_direct(assert_close, rng):
    """A tiny workspace budget forces many chunks of tiles; the result is unchanged."""
    x, w, b = make_arrays(rng, (2, 3, 23, 19), (5, 3, 3, 3), np.float64, True)
    plan = fdafast.ConvPlan(w, x.shape, b, padding=1, tile=(8, 8), max_workspace_bytes=1)
    assert_close(plan(x, threads=2), conv_direct(x, w, b, padding=1))
    assert_close(plan(x, threads=1), conv_direct(x, w, b, padding=1))


# -- identities --------------------------------------------------------------

TILES_2D = [(4, 4), (8, 8), (16, 16), (32, 32), (4, 32), (32, 4), (64, 64), None]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tile_identity_2d(assert_close, rng, dtype):
    """Tiled (small tiles) == one tile covering everything (untiled) == direct."""
    x, w, b = make_arrays(rng, (2, 3, 27, 21), (4, 3, 3, 3), dtype, True)
    ref = conv_direct(x, w, b, padding=1)
    results = {t: fdafast.conv2d(x, w, b, padding=1, tile=t) for t in TILES_2D}
    for t, y in results.items():
        assert_close(y, ref, what=f"tile {t}")
        assert_close(y, results[(32, 32)].astype(np.float64), dtype=dtype,
                     what=f"tile {t} vs one 32x32 tile")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tile_identity_3d(assert_close, rng, dtype):
    x, w, b = make_arrays(rng, (1, 2, 9, 10, 11), (3, 2, 3, 3, 3), dtype, True)
    ref = conv_direct(x, w, b, padding=1, stride=(1, 2, 1))
    for t in [(4, 4, 4), (8, 8, 8), (16, 16, 16), (4, 8, 16), (16, 4, 4), None]:
        y = fdafast.conv3d(x, w, b, padding=1, stride=(1, 2, 1), tile=t)
        assert_close(y, ref, what=f"tile {t}")


@pytest.mark.parametrize("nd", [2, 3])
def test_plan_without_batch_accepts_several_batch_sizes(assert_close, rng, nd):
    spatial = (7, 9) if nd == 2 else (4, 5, 6)
    w = rng.standard_normal((3, 2) + (3,) * nd)
    b = rng.standard_normal(3)
    for input_shape in [(None, 2) + spatial, (2,) + spatial]:
        plan = fdafast.ConvPlan(w, input_shape, b, padding=1)
        for n in (1, 4, 2, 1):
            x = rng.standard_normal((n, 2) + spatial)
            y = plan(x)
            assert y.shape == plan.output_shape(n)
            assert_close(y, conv_direct(x, w, b, padding=1), what=f"batch {n}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_plan_called_twice_is_bit_identical(rng, dtype):
    x, w, b = make_arrays(rng, (2, 3, 13, 11), (4, 3, 3, 3), dtype, True)
    plan = fdafast.ConvPlan(w, x.shape, b, padding=1, stride=(1, 2))
    y1 = plan(x)
    y2 = plan(x)
    # a call in the other dtype in between must not disturb the cached state
    plan(x.astype(np.float64 if dtype == np.float32 else np.float32))
    y3 = plan(x)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y3)
    assert y1 is not y2
    np.testing.assert_array_equal(fdafast.conv2d(x, w, b, padding=1, stride=(1, 2)), y1)


THREAD_CASES = [
    pytest.param((2, 5, 29, 31), (7, 5, 3, 3), dict(padding=1), id="2d-dense"),
    pytest.param((2, 20, 17, 15), (33, 20, 3, 3), dict(padding=1), id="2d-wide-channels"),
    pytest.param((3, 4, 19, 20), (4, 1, 5, 5), dict(groups=4, stride=2), id="2d-depthwise"),
    pytest.param((2, 3, 9, 10, 11), (4, 3, 3, 3, 3), dict(padding=1), id="3d"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, kw", THREAD_CASES)
def test_threads_bit_identical(rng, xshape, wshape, kw, dtype):
    """threads=1 and threads=2 give bit-identical results (fixed order per output)."""
    x, w, b = make_arrays(rng, xshape, wshape, dtype, True)
    conv = CONV[x.ndim - 2]
    tile = (8,) * (x.ndim - 2)
    y1 = conv(x, w, b, tile=tile, threads=1, **kw)
    y2 = conv(x, w, b, tile=tile, threads=2, **kw)
    np.testing.assert_array_equal(y1, y2)


def test_threads_bit_identical_with_chunks(rng):
    """Also when a small workspace makes the chunking depend on the thread count."""
    x, w, b = make_arrays(rng, (2, 5, 29, 31), (7, 5, 3, 3), np.float32, True)
    plan = fdafast.ConvPlan(w, x.shape, b, padding=1, tile=(8, 8), max_workspace_bytes=1)
    np.testing.assert_array_equal(plan(x, threads=1), plan(x, threads=2))


def test_env_thread_default_matches_explicit(rng, monkeypatch):
    """threads=None follows FDAFAST_NUM_THREADS; the result does not change."""
    x, w, b = make_arrays(rng, (1, 3, 17, 18), (4, 3, 3, 3), np.float64, True)
    monkeypatch.setenv("FDAFAST_NUM_THREADS", "1")
    y_env = fdafast.conv2d(x, w, b, padding=1, tile=(8, 8))
    np.testing.assert_array_equal(y_env, fdafast.conv2d(x, w, b, padding=1, tile=(8, 8),
                                                        threads=2))


def test_plan_concurrent_calls_from_python_threads(rng):
    """Calls from several Python threads on one plan (GIL released in C) agree with serial ones."""
    from concurrent.futures import ThreadPoolExecutor
    w = rng.standard_normal((6, 4, 3, 3))
    plan = fdafast.ConvPlan(w, (None, 4, 21, 19), rng.standard_normal(6), padding=1)
    xs = [rng.standard_normal((n, 4, 21, 19)).astype(dt)
          for n, dt in [(1, np.float64), (3, np.float32), (2, np.float64), (4, np.float32)] * 2]
    serial = [plan(x, threads=1) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda x: plan(x, threads=1), xs))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_plan_is_a_snapshot_of_weights_and_bias(assert_close, rng):
    """Changing w or bias in place after planning does not change the plan's results."""
    x = rng.standard_normal((1, 2, 8, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    ref = conv_direct(x, w, b, padding=1)
    plan = fdafast.ConvPlan(w, x.shape, b, padding=1)
    w[...] = 0.0
    b[...] = 0.0
    assert_close(plan(x.astype(np.float32)), ref, what="float32 call after the change")
    assert_close(plan(x), ref, what="float64 call after the change")


@pytest.mark.parametrize("xdt, wdt", list(itertools.product(DTYPES, DTYPES)),
                         ids=lambda d: np.dtype(d).name)
def test_output_dtype_follows_input(assert_close, rng, xdt, wdt):
    x, w, b = make_arrays(rng, (1, 2, 8, 7), (3, 2, 3, 3), xdt, True, wdtype=wdt)
    y = fdafast.conv2d(x, w, b, padding=1)
    assert y.dtype == np.dtype(xdt)
    assert_close(y, conv_direct(x, w, b, padding=1))
    x3, w3, b3 = make_arrays(rng, (1, 2, 4, 5, 3), (2, 2, 3, 3, 3), xdt, True, wdtype=wdt)
    y3 = fdafast.conv3d(x3, w3, b3, padding=1)
    assert y3.dtype == np.dtype(xdt)
    assert_close(y3, conv_direct(x3, w3, b3, padding=1))


def test_plan_attributes_and_reuse_across_dtypes(assert_close, rng):
    w = rng.standard_normal((4, 2, 3, 5))
    plan = fdafast.ConvPlan(w, (None, 2, 12, 10), padding=(1, 2), stride=(2, 1))
    assert plan.nd == 2
    assert plan.out_spatial == ((12 + 2 - 3) // 2 + 1, (10 + 4 - 5) + 1)
    assert plan.output_shape(3) == (3, 4) + plan.out_spatial
    assert len(plan.tile) == 2
    _tiling.check_tile((1,) + tuple(plan.tile), (1, 3, 5))
    assert "conv2d" in repr(plan)
    x = rng.standard_normal((2, 2, 12, 10))
    for dtype in DTYPES:
        xd = x.astype(dtype)
        y = plan(xd)
        assert y.dtype == np.dtype(dtype)
        assert_close(y, conv_direct(xd, w, padding=(1, 2), stride=(2, 1)))


def test_accepts_python_lists(assert_close):
    """array_like inputs (nested lists of floats) are accepted."""
    x = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]]
    w = [[[[1.0, 0.0], [0.0, -1.0]]]]
    y = fdafast.conv2d(x, w, [0.5])
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, conv_direct(x, w, [0.5]), rtol=0, atol=1e-12)
