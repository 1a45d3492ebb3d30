"""Numba kernel of the bit-sliced crossbar emulation (see fdafast.crossbar).

One parallel loop over input rows m; per (row block, cycle, chunk) the
column sums of all logical columns are accumulated row by row in physical
row order (exactly the reference's order), converted, and the codes are
added to exact int64 accumulators with their signed power-of-two weights.
Rows whose DAC value is 0 are skipped: they add an exact +0.0.
"""
import numba
import numpy as np

from .. import _rng
from . import JIT, JIT_PARALLEL, set_threads

_uniform = _rng.uniform_core          # register_jitable: callable from the kernels


@numba.njit(**JIT)
def _normal(seed, stream, index):
    # _rng.normal, scalar: 12 uniforms of indices 12*index + t, added in order
    base = index * np.uint64(12)
    acc = 0.0
    for t in range(12):
        acc = acc + _uniform(seed, stream, base + np.uint64(t))
    return acc - 6.0


@numba.njit(**JIT_PARALLEL)
def _emulate(U, G, route, mult, sig, rows_per_block, N, step, adc_max, lut,
             read_sigma, seed):
    _, chunks, M, R = U.shape
    ncols = G.shape[1]
    nblocks = (R + rows_per_block - 1) // rows_per_block
    C = np.zeros((M, 2, N), np.int64)
    use_lut = lut.shape[0] > 0
    for m in numba.prange(M):
        S = np.empty(ncols, G.dtype)
        for b in range(nblocks):
            r0 = b * rows_per_block
            r1 = min(R, r0 + rows_per_block)
            for q in range(2):
                for c in range(chunks):
                    S[:] = 0
                    for r in range(r0, r1):
                        u = U[q, c, m, r]
                        if u != 0:
                            for j in range(ncols):
                                S[j] = S[j] + u * G[r, j]
                    conv0 = np.uint64((((m * nblocks + b) * 2 + q) * chunks + c) * ncols)
                    for j in range(ncols):
                        s = np.float64(S[j])
                        if read_sigma != 0.0:
                            s = s + read_sigma * _normal(seed, np.uint64(3), conv0 + np.uint64(j))
                        if use_lut:
                            code = lut[np.int64(s)]
                        else:
                            code = np.int64(np.floor(s / step + 0.5))
                            if code < 0:
                                code = 0
                            elif code > adc_max:
                                code = adc_max
                        C[m, route[q, j], j % N] += sig[c] * mult[q, j] * code
    return C


@numba.njit(**JIT_PARALLEL)
def _emulate_packed(U, Gp, bits, ncols, route, mult, sig, rows_per_block, N, lut):
    """Ideal devices: integer column sums packed as bit fields of uint64 words.

    Column j is field j % F of word j // F, F = 64 // bits; every column sum
    fits its field (bits covers S_max), so packed adds never carry across
    fields and each field is the exact sum.  Codes come from the ADC table.
    """
    _, chunks, M, R = U.shape
    nwords = Gp.shape[1]
    F = 64 // bits
    mask = np.uint64((1 << bits) - 1)
    nblocks = (R + rows_per_block - 1) // rows_per_block
    ngroups = ncols // N
    C = np.zeros((M, 2, N), np.int64)
    for m in numba.prange(M):
        Sp = np.empty(nwords, np.uint64)
        code = np.empty(ncols, np.int64)
        for b in range(nblocks):
            r0 = b * rows_per_block
            r1 = min(R, r0 + rows_per_block)
            for q in range(2):
                for c in range(chunks):
                    Sp[:] = 0
                    for r in range(r0, r1):
                        u = U[q, c, m, r]
                        if u == 1:
                            for k in range(nwords):
                                Sp[k] += Gp[r, k]
                        elif u != 0:
                            uu = np.uint64(u)
                            for k in range(nwords):
                                Sp[k] += uu * Gp[r, k]
                    for j in range(ncols):
                        f = np.uint64(bits * (j % F))
                        code[j] = lut[np.int64((Sp[j // F] >> f) & mask)]
                    for g in range(ngroups):
                        t = route[q, g * N]
                        wgt = sig[c] * mult[q, g * N]
                        for n in range(N):
                            C[m, t, n] += wgt * code[g * N + n]
    return C


def pack_columns(G, bits):
    """Integer conductances (R, ncols) packed as ``bits``-wide fields of uint64 words."""
    F = 64 // bits
    R, ncols = G.shape
    nwords = -(-ncols // F)
    pad = np.zeros((R, nwords * F), np.uint64)
    pad[:, :ncols] = G.astype(np.uint64)
    shifts = (np.arange(F, dtype=np.uint64) * np.uint64(bits))
    return np.bitwise_or.reduce(pad.reshape(R, nwords, F) << shifts, axis=2)


def adc_lut(s_max, step, adc_max):
    """ADC codes of every integer column sum 0..s_max (the spec's formula, in float64)."""
    s = np.arange(s_max + 1, dtype=np.float64)
    return np.minimum(np.maximum(np.floor(s / step + 0.5), 0), adc_max).astype(np.int64)


#: Integer column sums up to this size use a lookup table for the ADC.
LUT_MAX = 1 << 20


def emulate(U, G, route, mult, sig, rows_per_block, N, step, config, seed, threads):
    """Integer accumulators C, shape (M, 2, N) (real, imaginary), of the emulation."""
    set_threads(threads)
    if config.ideal_devices and config.s_max <= LUT_MAX:
        bits = int(config.s_max).bit_length()
        lut = adc_lut(config.s_max, step, config.adc_max)
        return _emulate_packed(np.ascontiguousarray(U, np.int64), pack_columns(G, bits), bits,
                               G.shape[1], np.ascontiguousarray(route),
                               np.ascontiguousarray(mult), sig, rows_per_block, N, lut)
    dtype = np.float64
    if config.ideal_devices and config.s_max < (1 << 24):
        dtype = np.float32                  # integer levels and sums: exact in float32
    U = np.ascontiguousarray(U, dtype)      # DAC values < 2^16: exact in either
    G = G.astype(dtype)
    lut = (adc_lut(config.s_max, step, config.adc_max)
           if config.ideal_devices and config.s_max <= LUT_MAX else np.zeros(0, np.int64))
    return _emulate(U, np.ascontiguousarray(G), np.ascontiguousarray(route),
                    np.ascontiguousarray(mult), sig, rows_per_block, N, float(step),
                    config.adc_max, lut, float(config.read_sigma), np.uint64(seed))
