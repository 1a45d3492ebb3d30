"""Batched small real FFTs of tiles: the codelets under the convolution engine.

These are the transforms fdafast's convolutions run on every tile, exposed
for tests, benchmarks and users who want the tile spectra themselves.  The
layout is numpy's: ``rfft_tiles(t)`` equals ``numpy.fft.rfftn`` over the last
three axes, returned as separate real and imaginary planes.
"""
import math

import numpy as np

from . import _native, _tiling
from ._args import float_array, threads_arg
from .errors import ShapeError

__all__ = ["rfft_tiles", "irfft_tiles", "spectrum_shape", "kernel_spectra"]


def spectrum_shape(tile_shape):
    """Shape of the half spectrum of a (T0, T1, T2) tile: (T0, T1, T2//2 + 1)."""
    t0, t1, t2 = tile_shape
    return (t0, t1, t2 // 2 + 1)


def _tiles_arg(tiles):
    tiles = float_array(tiles, "tiles")
    if tiles.ndim != 4:
        raise ShapeError(f"tiles must be (count, T0, T1, T2), got shape {tiles.shape}; "
                         f"add unit axes for 1D or 2D tiles, e.g. (count, 1, 16, 16)")
    _tiling.check_tile(tiles.shape[1:], (1, 1, 1))
    return np.ascontiguousarray(tiles)


def _out(out, shape, dtype, name):
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype \
            or not out.flags.c_contiguous:
        raise ShapeError(f"{name} must be a C-contiguous {np.dtype(dtype)} array of shape "
                         f"{shape}")
    return out


def rfft_tiles(tiles, *, threads=None, out=None):
    """Forward real FFTs of a batch of tiles.

    Parameters
    ----------
    tiles : array_like, shape (count, T0, T1, T2), float32 or float64
        Each side a power of two up to 64 (T2 at least 2), volume <= 32768.
    threads : int, optional
    out : (ndarray, ndarray), optional
        Real and imaginary output planes, each (count, T0, T1, T2//2+1).

    Returns
    -------
    re, im : ndarray, shape (count, T0, T1, T2//2 + 1)
        ``numpy.fft.rfftn(tiles, axes=(1, 2, 3))`` split into planes, in the
        dtype of ``tiles``.
    """
    tiles = _tiles_arg(tiles)
    shape = (tiles.shape[0],) + spectrum_shape(tiles.shape[1:])
    re, im = (None, None) if out is None else out
    re = _out(re, shape, tiles.dtype, "out[0]")
    im = _out(im, shape, tiles.dtype, "out[1]")
    _native.tile_rfft(tiles, re, im, threads_arg(threads))
    return re, im


def irfft_tiles(re, im, tile_shape, *, threads=None, out=None, normalize=True):
    """Inverse of :func:`rfft_tiles`.

    Parameters
    ----------
    re, im : array_like, shape (count, T0, T1, T2//2 + 1)
    tile_shape : tuple (T0, T1, T2)
    threads : int, optional
    out : ndarray, optional, shape (count, T0, T1, T2)
    normalize : bool
        Divide by ``T0*T1*T2`` (numpy's ``irfftn``); ``False`` returns the
        unnormalised sum, as the convolution engine uses it.

    Notes
    -----
    As numpy does, the imaginary parts of the bins that must be real for a
    real signal are not used.
    """
    re = np.ascontiguousarray(float_array(re, "re"))
    im = np.ascontiguousarray(float_array(im, "im"), re.dtype)
    tile_shape = tuple(int(t) for t in tile_shape)
    if len(tile_shape) != 3:
        raise ShapeError(f"tile_shape must be (T0, T1, T2), got {tile_shape}")
    _tiling.check_tile(tile_shape, (1, 1, 1))
    shape = (re.shape[0],) + spectrum_shape(tile_shape) if re.ndim == 4 else None
    if shape is None or re.shape != shape or im.shape != shape:
        raise ShapeError(f"re and im must both be (count,) + {spectrum_shape(tile_shape)} "
                         f"for tiles {tile_shape}, got {re.shape} and {im.shape}")
    out = _out(out, (re.shape[0],) + tile_shape, re.dtype, "out")
    _native.tile_irfft(re, im, out, threads_arg(threads))
    if normalize:
        out *= 1.0 / math.prod(tile_shape)
    return out


def kernel_spectra(w, tile, dilation, threads=None):
    """Half spectra of dilated kernels: ``conj(rfftn(w_dilated, tile)) / prod(tile)``.

    Parameters
    ----------
    w : ndarray, shape (C0, C1, k0, k1, k2)
    tile, dilation : tuples of 3 ints
    threads : int, optional

    Returns
    -------
    re, im : float64 ndarrays, shape (C0, C1, nbins)
        Bins in ``numpy.fft.rfftn`` order over the last three axes, computed
        with the C tile FFT in float64.
    """
    kext = [_tiling.dilated_extent(k, d) for d, k in zip(dilation, w.shape[2:])]
    nb, vol = _tiling.bins(tile), math.prod(tile)
    blk = np.zeros(w.shape[:2] + tuple(tile), np.float64)
    blk[:, :, :kext[0]:dilation[0], :kext[1]:dilation[1], :kext[2]:dilation[2]] = w
    re = np.empty(w.shape[:2] + (nb,))
    im = np.empty(w.shape[:2] + (nb,))
    _native.tile_rfft(blk.reshape(-1, *tile), re.reshape(-1, nb), im.reshape(-1, nb),
                      threads_arg(threads))
    re /= vol
    im /= -vol
    return re, im
