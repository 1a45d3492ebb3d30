"""Numba kernels of the bit-sliced crossbar emulation (see fdafast.crossbar).

Kernels on plain arrays and scalars; the caller (:mod:`fdafast.crossbar`)
lays the operands out and validates nothing is left to check here.

Every kernel walks the same loop nest, one conversion group at a time: input
rows ``m`` of batch ``bb`` (in parallel), row blocks, the cycles ``q`` (two
for complex products, one for real ones) and the input chunks ``c``.  For each, :func:`_sums_float` or
:func:`_sums_packed` accumulates the column sums of all logical columns row
by row in physical row order (exactly the reference's order); the kernels
differ only in what they do with the sums (convert and accumulate codes, or
count them).  Rows whose DAC value is 0 are skipped: they add an exact +0.0.

Arrays: ``A`` (B, Q, M, R) int32, the integer driven on physical row r in
cycle q; ``G`` (B, R, ncols) float64 conductances, or ``Gp`` (B, R, nwords)
uint64 integer levels packed as ``bits``-wide fields (column j is field
j % F of word j // F, F = 64 // bits; every column sum fits its field, so
packed adds never carry across fields); ``route``/``mult`` (Q, ncols) the
output (0 re, 1 im) and signed power-of-two weight of each column per cycle;
``shifts``/``masks``/``sig`` the input chunks
(:func:`fdafast.crossbar_config.input_chunking`).
"""
import numba
import numpy as np

from .. import _rng
from . import JIT, JIT_PARALLEL

__all__ = ["emulate_float", "emulate_packed", "column_sum_histogram", "pack_columns",
           "provably_exact", "scatter_scaled"]

_uniform = _rng.uniform_core          # register_jitable: callable from the kernels


@numba.njit(**JIT)
def _normal(seed, stream, index):
    # _rng.normal, scalar: 12 uniforms of indices 12*index + t, added in order
    base = index * np.uint64(12)
    acc = 0.0
    for t in range(12):
        acc = acc + _uniform(seed, stream, base + np.uint64(t))
    return acc - 6.0


@numba.njit(**JIT)
def _chunk(a, shift, mask):
    # DAC value of input chunk (shift, mask) of integer a in two's complement
    return (np.int64(a) >> shift) & mask


@numba.njit(**JIT)
def _sums_float(A, G, bb, q, m, r0, r1, shift, mask, S):
    """S[j] = column sums of rows r0..r1-1 in physical row order, float64."""
    S[:] = 0.0
    for r in range(r0, r1):
        u = np.float64(_chunk(A[bb, q, m, r], shift, mask))
        if u != 0.0:
            for j in range(S.shape[0]):
                S[j] = S[j] + u * G[bb, r, j]


@numba.njit(**JIT)
def _sums_packed(A, Gp, bb, q, m, r0, r1, shift, mask, Sp):
    """Sp[k] = packed integer column sums of rows r0..r1-1."""
    Sp[:] = 0
    for r in range(r0, r1):
        u = _chunk(A[bb, q, m, r], shift, mask)
        if u == 1:
            for k in range(Sp.shape[0]):
                Sp[k] += Gp[bb, r, k]
        elif u != 0:
            uu = np.uint64(u)
            for k in range(Sp.shape[0]):
                Sp[k] += uu * Gp[bb, r, k]


@numba.njit(**JIT)
def _field(Sp, j, bits):
    """Column j's sum in the packed words Sp."""
    F = 64 // bits
    return np.int64((Sp[j // F] >> np.uint64(bits * (j % F))) & np.uint64((1 << bits) - 1))


@numba.njit(**JIT_PARALLEL)
def emulate_float(A, G, route, mult, shifts, masks, sig, rows_per_block, N, step, adc_max,
                  read_sigma, seed):
    """Code sums C (B, M, 2, N) int64 with float64 conductances (device effects)."""
    B, Q, M, R = A.shape
    chunks = shifts.shape[0]
    ncols = G.shape[2]
    nblocks = (R + rows_per_block - 1) // rows_per_block
    C = np.zeros((B, M, 2, N), np.int64)
    for bm in numba.prange(B * M):
        bb, m = bm // M, bm % M
        S = np.empty(ncols, np.float64)
        for b in range(nblocks):
            r0, r1 = b * rows_per_block, min(R, (b + 1) * rows_per_block)
            for q in range(Q):
                for c in range(chunks):
                    _sums_float(A, G, bb, q, m, r0, r1, shifts[c], masks[c], S)
                    conv0 = np.uint64(((((bb * M + m) * nblocks + b) * Q + q) * chunks + c)
                                      * ncols)
                    for j in range(ncols):
                        s = S[j]
                        if read_sigma != 0.0:
                            s = s + read_sigma * _normal(seed, np.uint64(3), conv0 + np.uint64(j))
                        code = np.floor(s / step + 0.5)
                        code = min(max(code, 0.0), np.float64(adc_max))
                        C[bb, m, route[q, j], j % N] += sig[c] * mult[q, j] * np.int64(code)
    return C


@numba.njit(**JIT_PARALLEL)
def emulate_packed(A, Gp, bits, ncols, route, mult, shifts, masks, sig, rows_per_block, N,
                   lut):
    """Code sums C (B, M, 2, N) int64 of ideal devices; codes from the ADC table ``lut``."""
    B, Q, M, R = A.shape
    chunks = shifts.shape[0]
    nblocks = (R + rows_per_block - 1) // rows_per_block
    ngroups = ncols // N
    C = np.zeros((B, M, 2, N), np.int64)
    for bm in numba.prange(B * M):
        bb, m = bm // M, bm % M
        Sp = np.empty(Gp.shape[2], np.uint64)
        code = np.empty(ncols, np.int64)
        for b in range(nblocks):
            r0, r1 = b * rows_per_block, min(R, (b + 1) * rows_per_block)
            for q in range(Q):
                for c in range(chunks):
                    _sums_packed(A, Gp, bb, q, m, r0, r1, shifts[c], masks[c], Sp)
                    for j in range(ncols):
                        code[j] = lut[_field(Sp, j, bits)]
                    for g in range(ngroups):
                        t = route[q, g * N]
                        wgt = sig[c] * mult[q, g * N]
                        for n in range(N):
                            C[bb, m, t, n] += wgt * code[g * N + n]
    return C


@numba.njit(**JIT_PARALLEL)
def column_sum_histogram(A, Gp, bits, ncols, shifts, masks, rows_per_block, s_max, parts):
    """Histogram (length s_max + 1) of every column sum of an ideal emulation.

    The (batch, row) pairs are split into ``parts`` contiguous ranges, each
    counted into its own row of a partial histogram, so the result does not
    depend on scheduling.
    """
    B, Q, M, R = A.shape
    chunks = shifts.shape[0]
    nblocks = (R + rows_per_block - 1) // rows_per_block
    total = B * M
    hist = np.zeros((parts, s_max + 1), np.int64)
    for p in numba.prange(parts):
        Sp = np.empty(Gp.shape[2], np.uint64)
        for bm in range(p * total // parts, (p + 1) * total // parts):
            bb, m = bm // M, bm % M
            for b in range(nblocks):
                r0, r1 = b * rows_per_block, min(R, (b + 1) * rows_per_block)
                for q in range(Q):
                    for c in range(chunks):
                        _sums_packed(A, Gp, bb, q, m, r0, r1, shifts[c], masks[c], Sp)
                        for j in range(ncols):
                            hist[p, _field(Sp, j, bits)] += 1
    return hist.sum(axis=0)


@numba.njit(**JIT)
def _chunk_sum(a, b, shift, mask):
    return _chunk(a, shift, mask) + _chunk(b, shift, mask)


@numba.njit(**JIT_PARALLEL)
def provably_exact(xr, xi, kind, cpb, shifts, masks, limit):
    """(B, M) bool: True where no conversion of input row (bb, m) can round or clip.

    ``xr``/``xi`` (B, M, K) int32 inputs; ``kind`` 0 rowpair, 1 colpair, 2 real
    (``xi`` ignored); ``cpb`` channels per row block.  With ideal devices a
    column sum is at most Lmax times the sum of the DAC values driven on its
    block; where that sum is at most ``limit`` = floor(adc_max / Lmax) for
    every block, cycle and chunk and the ADC step is 1, every code equals its
    integer column sum, so the row's emulated product is the exact product.
    The driven values are those of the cycles: rowpair (Re x, -Im x) then
    (Im x, Re x), colpair Re x then Im x, real x.
    """
    B, M, K = xr.shape
    chunks = shifts.shape[0]
    out = np.ones((B, M), np.bool_)
    for bm in numba.prange(B * M):
        bb, m = bm // M, bm % M
        s0 = np.empty(chunks, np.int64)
        s1 = np.empty(chunks, np.int64)
        ok = True
        for k0 in range(0, K, cpb):
            s0[:] = 0
            s1[:] = 0
            for k in range(k0, min(K, k0 + cpb)):
                re = np.int64(xr[bb, m, k])
                im = np.int64(xi[bb, m, k]) if kind != 2 else np.int64(0)
                for c in range(chunks):
                    if kind == 0:
                        s0[c] += _chunk_sum(re, -im, shifts[c], masks[c])
                        s1[c] += _chunk_sum(im, re, shifts[c], masks[c])
                    else:
                        s0[c] += _chunk(re, shifts[c], masks[c])
                        s1[c] += _chunk(im, shifts[c], masks[c])
            for c in range(chunks):
                if s0[c] > limit or s1[c] > limit:
                    ok = False
            if not ok:
                break
        out[bb, m] = ok
    return out


@numba.njit(**JIT)
def scatter_scaled(y, out_re, out_im, b_idx, m_idx, n0, s0, s1, s2, rs, cs, bs):
    """``out[b_idx[b]*s0 + m_idx[m]*s1 + (n0+n)*s2] = y[b, m, n] * rs[m'] * cs[n0+n] * bs[b']``.

    ``y`` (B, M, N) real or complex; real parts go to ``out_re``, imaginary
    ones to ``out_im`` (unused for a real ``y``); ``m'``/``b'`` are the global
    indices ``m_idx[m]``/``b_idx[b]`` and ``n0`` the first column.  The factors
    are applied in that order, in float64, like the C kernels' writer.  The
    bins are the innermost loop, so that neighbouring bins (adjacent in the
    spectra layout, ``s0 = 1``) are written together.  Serial: callers run
    it on their own threads (it releases the GIL).
    """
    B, M, N = y.shape
    for m in range(M):
        gm = m_idx[m]
        r = rs[gm]
        for n in range(N):
            base = gm * s1 + (n0 + n) * s2
            c = cs[n0 + n]
            for b in range(B):
                gb = b_idx[b]
                v = y[b, m, n]
                out_re[gb * s0 + base] = np.float64(v.real) * r * c * bs[gb]
                if out_im.size:
                    out_im[gb * s0 + base] = np.float64(v.imag) * r * c * bs[gb]


def pack_columns(G, bits):
    """Integer levels (..., R, ncols) packed as ``bits``-wide fields of uint64 words:
    column j is field j % F of word j // F (F = 64 // bits), zero-padded."""
    F = 64 // bits
    ncols = G.shape[-1]
    nwords = -(-ncols // F)
    flat = np.ascontiguousarray(G).reshape(-1, ncols)
    out = np.empty((flat.shape[0], nwords), np.uint64)
    _pack_rows(flat, bits, F, out)
    return out.reshape(G.shape[:-1] + (nwords,))


@numba.njit(**JIT_PARALLEL)
def _pack_rows(flat, bits, F, out):
    rows, ncols = flat.shape
    for r in numba.prange(rows):
        for w in range(out.shape[1]):
            word = np.uint64(0)
            for f in range(min(F, ncols - w * F)):
                word |= np.uint64(flat[r, w * F + f]) << np.uint64(f * bits)
            out[r, w] = word