"""Tests of the C kernel layer through :mod:`fdafast._native`.

* Smoke test: the compiled cffi module imports and reports its SIMD width.
* The tile transforms ``tile_rfft`` / ``tile_irfft`` against
  ``numpy.fft.rfftn`` / ``irfftn`` over the last three axes, for every
  codelet length, counts that do not fill the SIMD lanes, and both dtypes.
* Status codes: a failing C call raises :class:`fdafast.NativeError`
  carrying the ``FDA_ERR_*`` status.
* The array checks done before pointers are taken.
"""
import numpy as np
import pytest

import fdafast
from fdafast import _native
from fdafast.errors import FdafastError, NativeError

DTYPES = (np.float32, np.float64)
TILES = [(1, 1, 2), (1, 4, 4), (8, 8, 8), (4, 8, 16), (1, 16, 16), (16, 16, 16), (1, 64, 64),
         (2, 1, 32), (64, 8, 64)]
COUNTS = [1, 16, 17]


def half_shape(tile):
    return tuple(tile[:2]) + (tile[2] // 2 + 1,)


def test_native_module_imports():
    from fdafast import _fdafast_cffi  # noqa: F401  (the compiled module)
    # the selected variant's vectors: 16 (baseline, neon), 32 (avx2) or 64 bytes (avx512)
    assert _native.lanes(np.float32) in (4, 8, 16)
    assert _native.lanes(np.float32) == 2 * _native.lanes(np.float64)
    assert isinstance(_native.has_openmp(), bool)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("tile", TILES, ids=lambda t: "x".join(map(str, t)))
def test_tile_rfft_matches_numpy(assert_close, rng, tile, count, dtype):
    tiles = rng.standard_normal((count,) + tile).astype(dtype)
    re = np.full((count,) + half_shape(tile), np.nan, dtype)
    im = np.full_like(re, np.nan)
    _native.tile_rfft(tiles, re, im, 2)
    ref = np.fft.rfftn(tiles.astype(np.float64), axes=(1, 2, 3))
    assert_close(re + 1j * im.astype(np.float64), ref, dtype=dtype, what=f"rfft {tile}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("tile", TILES, ids=lambda t: "x".join(map(str, t)))
def test_tile_irfft_matches_numpy(assert_close, rng, tile, count, dtype):
    """The inverse is unnormalised: numpy's irfftn times T0*T1*T2."""
    signal = rng.standard_normal((count,) + tile)
    spec = np.fft.rfftn(signal, axes=(1, 2, 3))       # a Hermitian-consistent half spectrum
    re = np.ascontiguousarray(spec.real, dtype)
    im = np.ascontiguousarray(spec.imag, dtype)
    out = np.full((count,) + tile, np.nan, dtype)
    _native.tile_irfft(re, im, out, 2)
    ref = np.fft.irfftn(re.astype(np.float64) + 1j * im, s=tile, axes=(1, 2, 3)) * np.prod(tile)
    assert_close(out, ref, dtype=dtype, what=f"irfft {tile}")
    assert_close(out / np.prod(tile), signal, dtype=dtype, what=f"round trip {tile}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tile_fft_thread_count_does_not_change_results(rng, dtype):
    tiles = rng.standard_normal((37, 8, 8, 8)).astype(dtype)
    outs = []
    for threads in (1, 2, 3):
        re = np.empty((37, 8, 8, 5), dtype)
        im = np.empty_like(re)
        _native.tile_rfft(tiles, re, im, threads)
        back = np.empty_like(tiles)
        _native.tile_irfft(re, im, back, threads)
        outs.append((re, im, back))
    for re, im, back in outs[1:]:
        np.testing.assert_array_equal(re, outs[0][0])
        np.testing.assert_array_equal(im, outs[0][1])
        np.testing.assert_array_equal(back, outs[0][2])


# -- status codes ----------------------------------------------------------

def geom_fields(**override):
    """Fields of a valid small 2D geometry (3x3 kernel, 8x8 input, tile 1x8x8)."""
    f = dict(batch=1, cin=2, cout=3, groups=1, rows_per_chunk=4, nthreads=1,
             out=(1, 6, 6), kext=(1, 3, 3), pad=(0, 0, 0), stride=(1, 1, 1),
             tile=(1, 8, 8), ntiles=(1, 1, 1))
    f["in"] = (1, 8, 8)
    f.update(override)
    return f


def test_valid_geometry_has_a_workspace():
    for dtype in DTYPES:
        n = _native.conv_workspace(_native.make_geom(**geom_fields()), dtype)
        assert n > 0


@pytest.mark.parametrize("override, status", [
    (dict(tile=(1, 3, 8)), "FDA_ERR_TILE"),
    (dict(tile=(1, 8, 128)), "FDA_ERR_TILE"),
    (dict(tile=(1, 8, 1), kext=(1, 1, 1)), "FDA_ERR_TILE"),
    (dict(tile=(1, 2, 8)), "FDA_ERR_TILE"),                 # tile smaller than the kernel
    (dict(nthreads=0), "FDA_ERR_THREADS"),
    (dict(groups=2, cout=3), "FDA_ERR_GEOMETRY"),
    (dict(ntiles=(1, 1, 0)), "FDA_ERR_GEOMETRY"),
    (dict(out=(1, 20, 6)), "FDA_ERR_GEOMETRY"),             # the tiles do not cover the output
    (dict(rows_per_chunk=0), "FDA_ERR_GEOMETRY"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_native_error_carries_status(override, status):
    geom = _native.make_geom(**geom_fields(**override))
    with pytest.raises(NativeError, match=r"fdafast C status \d") as info:
        _native.conv_workspace(geom, np.float32)
    assert info.value.status == getattr(_native.lib, status)
    assert isinstance(info.value, FdafastError) and isinstance(info.value, RuntimeError)
    assert f"status {info.value.status}" in str(info.value)


def test_native_error_messages_name_the_problem():
    geom = _native.make_geom(**geom_fields(tile=(1, 8, 3)))
    with pytest.raises(NativeError, match="unsupported FFT tile"):
        _native.conv_workspace(geom, np.float64)
    with pytest.raises(NativeError, match="thread count") as info:
        _native.tile_rfft(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 3)),
                          np.zeros((1, 1, 4, 3)), 0)
    assert info.value.status == _native.lib.FDA_ERR_THREADS


def test_tile_fft_rejects_bad_tile_shape():
    tiles = np.zeros((2, 3, 4, 4))
    with pytest.raises(NativeError) as info:
        _native.tile_rfft(tiles, np.zeros((2, 3, 4, 3)), np.zeros((2, 3, 4, 3)), 1)
    assert info.value.status == _native.lib.FDA_ERR_TILE


# -- checks before pointers are taken ---------------------------------------

def test_pointer_checks_reject_wrong_dtype_and_layout():
    tiles = np.zeros((2, 4, 4, 4))
    re = np.zeros((2, 4, 4, 3))
    with pytest.raises(FdafastError, match="re must be a float64"):
        _native.tile_rfft(tiles, re.astype(np.float32), re, 1)
    with pytest.raises(FdafastError, match="C-contiguous"):
        _native.tile_rfft(np.asfortranarray(tiles), re, re.copy(), 1)
    with pytest.raises(FdafastError, match="C-contiguous"):
        _native.tile_irfft(re, re.copy(), np.zeros((2, 4, 4, 8))[..., ::2], 1)


@pytest.mark.parametrize("which", ["rfft", "irfft"])
def test_tile_fft_rejects_short_spectrum_buffers(which):
    """A spectrum buffer one element short must be refused, not overrun.

    The short buffer is a view into a larger allocation with a sentinel
    after it, so the current overrun stays inside owned memory.
    """
    count, tile = 17, (8, 8, 8)
    n = count * 8 * 8 * 5
    tiles = np.ones((count,) + tile)
    backing = np.full(n, 7.0)
    short = backing[:n - 1]                         # C-contiguous, 1-D, one too short
    full = np.zeros(n)
    with pytest.raises(FdafastError):
        if which == "rfft":
            _native.tile_rfft(tiles, short, full, 1)
        else:
            _native.tile_irfft(short, full, tiles, 1)
    assert backing[-1] == 7.0


def test_aligned_empty_is_aligned():
    for n in (1, 7, 1000):
        for dtype in DTYPES:
            a = _native.aligned_empty(n, dtype)
            assert a.size == n and a.dtype == np.dtype(dtype)
            assert a.ctypes.data % _native.ALIGN == 0


def test_public_modules_do_not_import_the_compiled_module():
    """Only fdafast._native touches fdafast._fdafast_cffi (layering rule)."""
    import pathlib
    import re
    pkg = pathlib.Path(fdafast.__file__).parent
    pattern = re.compile(r"^\s*(from|import)\s.*_fdafast_cffi", re.MULTILINE)
    users = [p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")
             if pattern.search(p.read_text())]
    assert users == ["_native.py"]
