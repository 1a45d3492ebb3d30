"""Batched small real FFTs of tiles: the codelets under the convolution engine.

These are the transforms fdafast's convolutions run on every tile, exposed
for tests, benchmarks and users who want the tile spectra themselves.  The
layout is numpy's: ``rfft_tiles(t)`` equals ``numpy.fft.rfftn`` over the last
three axes, returned as separate real and imaginary planes.
"""
import functools
import math

import numpy as np

from . import _blas, _native, _tiling
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


#: A kernel of ``taps`` nonzero samples is transformed as a GEMM against its DFT
#: matrix (``4 taps nbins`` flops per kernel, at BLAS speed) while that costs at most
#: this many times the tile FFT's ``5 vol log2(vol)`` flops; the FFT beyond.  The
#: tile FFT of a small kernel mostly transforms zeros, and the GEMM writes the
#: spectra straight into the layout a caller asks for.
DFT_GEMM_MAX_RATIO = 16.0

#: Padded kernels the tile FFT path transforms at once (no layer-sized temporaries).
FFT_BLOCK_BYTES = 32 << 20


@functools.lru_cache(maxsize=64)
def _dft_matrix(kshape, tile, dilation):
    """(re, im) float64 (taps, nbins): ``conj(DFT) / prod(tile)`` of each kernel tap.

    Tap ``p`` (row-major over ``kshape``, at ``p * dilation`` in the tile) and
    bin ``b`` (``numpy.fft.rfftn`` order) meet at the phase
    ``2 pi sum_a (b_a p_a mod T_a) / T_a``, reduced exactly in integers to
    ``2 pi k / L`` with ``L = max(tile)`` (the tile sizes are powers of two).
    Kept read-only and cached: a network reuses a handful of them.
    """
    L = max(tile)
    phase = np.zeros((math.prod(kshape), _tiling.bins(tile)), np.int64)
    axes_b = np.meshgrid(np.arange(tile[0]), np.arange(tile[1]), np.arange(tile[2] // 2 + 1),
                         indexing="ij")
    axes_p = np.meshgrid(*(np.arange(k) * d for k, d in zip(kshape, dilation)), indexing="ij")
    for t, b, p in zip(tile, axes_b, axes_p):
        phase += (np.outer(p.reshape(-1), b.reshape(-1)) % t) * (L // t)
    angle = (2 * np.pi / L) * (phase % L)
    vol = math.prod(tile)
    re, im = np.cos(angle) / vol, np.sin(angle) / vol
    re.flags.writeable = im.flags.writeable = False
    return re, im


def _use_dft(kshape, tile):
    vol = math.prod(tile)
    fft_flops = 5.0 * vol * max(1.0, math.log2(vol))
    return 4.0 * math.prod(kshape) * _tiling.bins(tile) <= DFT_GEMM_MAX_RATIO * fft_flops


def kernel_spectra(w, tile, dilation, threads=None, bins_first=False):
    """Half spectra of dilated kernels: ``conj(rfftn(w_dilated, tile)) / prod(tile)``.

    Parameters
    ----------
    w : ndarray, shape (C0, C1, k0, k1, k2)
    tile, dilation : tuples of 3 ints
    threads : int, optional
    bins_first : bool
        Return the bins as the first axis, (nbins, C1, C0): the layout of the
        per-bin products (inputs x ``C1`` times ``C1`` x ``C0``).

    Returns
    -------
    re, im : float64 ndarrays, shape (C0, C1, nbins), or (nbins, C1, C0)
        Bins in ``numpy.fft.rfftn`` order over the last three axes.  Small
        kernels (see :data:`DFT_GEMM_MAX_RATIO`) are transformed by a float64
        GEMM against their DFT matrix, larger ones by the C tile FFT in float64;
        both agree with ``numpy.fft.rfftn`` to float64 rounding.
    """
    tile, dilation, kshape = tuple(tile), tuple(dilation), tuple(w.shape[2:])
    c0, c1, nb = w.shape[0], w.shape[1], _tiling.bins(tile)
    if _use_dft(kshape, tile):
        dre, dim = _dft_matrix(kshape, tile, dilation)
        taps = dre.shape[0]
        if bins_first:       # (nbins, taps) @ (taps, C1 * C0), taps ordered (k, c1, c0)
            wt = np.ascontiguousarray(np.moveaxis(w.reshape(c0, c1, taps), 2, 0)
                                      .transpose(0, 2, 1), np.float64).reshape(taps, c1 * c0)
            return ((dre.T @ wt).reshape(nb, c1, c0), (dim.T @ wt).reshape(nb, c1, c0))
        wf = np.asarray(w, np.float64).reshape(c0 * c1, taps)
        return (wf @ dre).reshape(c0, c1, nb), (wf @ dim).reshape(c0, c1, nb)
    kext = [_tiling.dilated_extent(k, d) for d, k in zip(dilation, kshape)]
    vol = math.prod(tile)
    re, im = np.empty((c0, c1, nb)), np.empty((c0, c1, nb))
    step = max(1, FFT_BLOCK_BYTES // (c1 * vol * 8))     # bounds the padded kernels
    for o0 in range(0, c0, step):
        o1 = min(c0, o0 + step)
        blk = np.zeros((o1 - o0, c1) + tile, np.float64)
        blk[:, :, :kext[0]:dilation[0], :kext[1]:dilation[1], :kext[2]:dilation[2]] = w[o0:o1]
        _native.tile_rfft(blk.reshape(-1, *tile), re[o0:o1].reshape(-1, nb),
                          im[o0:o1].reshape(-1, nb), threads_arg(threads))
    re /= vol
    im /= -vol
    if bins_first:
        return (np.ascontiguousarray(re.transpose(2, 1, 0)),
                np.ascontiguousarray(im.transpose(2, 1, 0)))
    return re, im


#: Bytes of one block of :func:`kernel_spectra_blocks` (both planes): cache-sized.
SPECTRA_BLOCK_BYTES = 2 << 20


def kernel_spectra_map(w, tile, dilation, out_block, fn, threads=1, block_bytes=None):
    """Call ``fn(o0, o1, k0, k1, re, im)`` with the spectra of :func:`kernel_spectra`
    (``bins_first=True``) block by block, on ``threads`` threads.

    ``re``, ``im`` are the float64 spectra (nbins, k1 - k0, o1 - o0) of kernels
    ``w[o0:o1, k0:k1]``, for blocks of at most ``out_block`` kernels along C0
    (starting at multiples of it) and as many along C1 as keep a block near
    ``block_bytes`` (default :data:`SPECTRA_BLOCK_BYTES`).  The values are those a whole-layer call gives up to
    float64 rounding, and the same whatever ``threads`` (BLAS runs one thread
    per call, :mod:`fdafast._blas`).  ``fn`` runs concurrently on different
    blocks: it must only write where its block alone writes, or lock.  Lets a
    caller quantize or re-lay the spectra from cache, without layer-sized
    float64 planes.
    """
    tile, dilation, kshape = tuple(tile), tuple(dilation), tuple(w.shape[2:])
    c0, c1, nb = w.shape[0], w.shape[1], _tiling.bins(tile)
    block_bytes = SPECTRA_BLOCK_BYTES if block_bytes is None else block_bytes
    dft = _use_dft(kshape, tile)
    if dft:
        dre, dim = _dft_matrix(kshape, tile, dilation)
        dre_t, dim_t = np.ascontiguousarray(dre.T), np.ascontiguousarray(dim.T)
        taps = dre.shape[0]
        wt = np.moveaxis(np.asarray(w).reshape(c0, c1, taps), 2, 0)     # (taps, C0, C1) view
    blocks = []
    for o0 in range(0, c0, out_block):
        o1 = min(c0, o0 + out_block)
        kb = max(1, block_bytes // (16 * nb * (o1 - o0)))
        blocks += [(o0, o1, k0, min(c1, k0 + kb)) for k0 in range(0, c1, kb)]

    def work(share):
        for o0, o1, k0, k1 in share:
            if dft:             # columns ordered (k, o)
                cols = np.ascontiguousarray(wt[:, o0:o1, k0:k1].transpose(0, 2, 1),
                                            np.float64).reshape(taps, -1)
                shape = (nb, k1 - k0, o1 - o0)
                fn(o0, o1, k0, k1, (dre_t @ cols).reshape(shape), (dim_t @ cols).reshape(shape))
            else:
                fn(o0, o1, k0, k1, *kernel_spectra(w[o0:o1, k0:k1], tile, dilation, 1,
                                                   bins_first=True))

    _blas.share_out(work, blocks, int(threads_arg(threads)))
