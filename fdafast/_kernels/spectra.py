"""Weight spectra, block by block: laid out in the float engine's panels
(:func:`fdafast.conv.plan_spectra`), and their peaks and rounding for the ReRAM
engine (:func:`fdafast.reram.quantized_weights`).

Serial (nogil) kernels: their callers run blocks on their own threads
(:func:`fdafast.fft.kernel_spectra_map`).
"""
import numba
import numpy as np

from . import JIT


@numba.njit(**JIT)
def place_panel(out, re, im, start):
    """``out[b, start + 2 k p + j] = re[b, k, j]`` and ``out[b, start + 2 k p + p + j] =
    im[b, k, j]`` for a panel of ``p = re.shape[2]`` columns: per bin and input
    channel, the panel's real parts then its imaginary parts, rounded to out's dtype."""
    nb, kk, p = re.shape
    for b in range(nb):
        for k in range(kk):
            base = start + 2 * k * p
            for j in range(p):
                out[b, base + j] = re[b, k, j]
                out[b, base + p + j] = im[b, k, j]


@numba.njit(**JIT)
def block_peaks(re, im):
    """``P[b, j] = max over k of max(|re[b, k, j]|, |im[b, k, j]|)`` (zero for none)."""
    nb, kk, p = re.shape
    P = np.zeros((nb, p))
    for b in range(nb):
        for k in range(kk):
            for j in range(p):
                v = max(abs(re[b, k, j]), abs(im[b, k, j]))
                if v > P[b, j]:
                    P[b, j] = v
    return P


@numba.njit(**JIT)
def round_block(re, im, scale, top, dst_re, dst_im, k0, j0):
    """``dst[b, k0 + k, j0 + j] = clip(rint(part[b, k, j] / s), -top, top)`` for both
    parts, ``s = scale[min(b, B-1), min(j, J-1)]`` (a scale per bin, per column, both
    or one), as int16."""
    nb, kk, p = re.shape
    sb, sj = scale.shape[0] - 1, scale.shape[1] - 1
    for b in range(nb):
        for k in range(kk):
            for j in range(p):
                s = scale[min(b, sb), min(j, sj)]
                r = np.rint(re[b, k, j] / s)
                i = np.rint(im[b, k, j] / s)
                dst_re[b, k0 + k, j0 + j] = np.int16(min(max(r, -top), top))
                dst_im[b, k0 + k, j0 + j] = np.int16(min(max(i, -top), top))
