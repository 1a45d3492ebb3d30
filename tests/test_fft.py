"""The public tile FFTs (fdafast.fft) against numpy.fft."""
import numpy as np
import pytest

from fdafast import FdafastError, ShapeError, TileError, fft

TILES = [(1, 1, 2), (1, 4, 4), (8, 8, 8), (4, 8, 16), (1, 16, 16), (2, 32, 64)]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("tile", TILES, ids=lambda t: "x".join(map(str, t)))
@pytest.mark.parametrize("count", [1, 17])
def test_round_trip_matches_numpy(tile, count, dtype, tol, rng):
    x = rng.standard_normal((count,) + tile).astype(dtype)
    re, im = fft.rfft_tiles(x, threads=2)
    ref = np.fft.rfftn(x.astype(np.float64), axes=(1, 2, 3))
    assert re.dtype == im.dtype == dtype
    assert re.shape == im.shape == ref.shape == (count,) + fft.spectrum_shape(tile)
    scale = np.abs(ref).max()
    assert np.abs(re + 1j * im - ref).max() <= tol * scale * np.log2(np.prod(tile) + 1)
    back = fft.irfft_tiles(re, im, tile)
    assert back.dtype == dtype
    assert np.abs(back - x).max() <= tol * np.abs(x).max() * np.log2(np.prod(tile) + 1)
    raw = fft.irfft_tiles(re, im, tile, normalize=False)
    np.testing.assert_allclose(raw, back * np.prod(tile),
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=tol * np.prod(tile) * np.abs(x).max())


def test_out_buffers_are_used(rng):
    x = rng.standard_normal((5, 4, 4, 8))
    re = np.empty((5, 4, 4, 5))
    im = np.empty_like(re)
    got = fft.rfft_tiles(x, out=(re, im))
    assert got[0] is re and got[1] is im
    out = np.empty_like(x)
    assert fft.irfft_tiles(re, im, (4, 4, 8), out=out) is out
    np.testing.assert_allclose(out, x, atol=1e-12)


def test_non_contiguous_tiles(rng):
    x = rng.standard_normal((6, 8, 8, 16))[::2, :, :, ::2]
    re, im = fft.rfft_tiles(x)
    np.testing.assert_allclose(re + 1j * im, np.fft.rfftn(x, axes=(1, 2, 3)), atol=1e-12)


@pytest.mark.parametrize("shape, exc, match", [
    ((4, 8, 8), ShapeError, "count, T0, T1, T2"),
    ((2, 3, 8, 8), TileError, "tile size 3"),
    ((2, 1, 8, 128), TileError, "tile size 128"),
    ((2, 1, 8, 1), TileError, "tile size 1"),
])
def test_bad_tiles(shape, exc, match):
    with pytest.raises(exc, match=match):
        fft.rfft_tiles(np.zeros(shape))


def test_bad_spectra_and_out():
    re = np.zeros((2, 8, 8, 5))
    with pytest.raises(ShapeError, match="re and im"):
        fft.irfft_tiles(re, re[:1], (8, 8, 8))
    with pytest.raises(ShapeError, match="re and im"):
        fft.irfft_tiles(re, re, (8, 8, 16))
    with pytest.raises(ShapeError, match="out"):
        fft.rfft_tiles(np.zeros((2, 8, 8, 8)), out=(re, re[:1]))
    with pytest.raises(FdafastError, match="dtype"):
        fft.rfft_tiles(np.zeros((2, 8, 8, 8), np.int32))
