"""Laying weight spectra out in the float engine's packed panels (see conv.plan_spectra)."""
import numba

from . import JIT


@numba.njit(**JIT)
def place_panel(out, re, im, start):
    """``out[b, start + 2 k p + j] = re[b, k, j]`` and ``out[b, start + 2 k p + p + j] =
    im[b, k, j]`` for a panel of ``p = re.shape[2]`` columns: per bin and input
    channel, the panel's real parts then its imaginary parts, rounded to out's dtype.
    Serial (nogil): callers run blocks on their own threads."""
    nb, kk, p = re.shape
    for b in range(nb):
        for k in range(kk):
            base = start + 2 * k * p
            for j in range(p):
                out[b, base + j] = re[b, k, j]
                out[b, base + p + j] = im[b, k, j]
