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


@numba.njit(**JIT)
def _chunk(a, shift, mask):
    # DAC value of input chunk (shift, mask) of integer a in two's complement
    return (np.int64(a) >> shift) & mask


@numba.njit(**JIT_PARALLEL)
def _emulate(A, G, route, mult, shifts, masks, sig, rows_per_block, N, step, adc_max,
             read_sigma, seed):
    """General devices: float64 conductances, column sums in physical row order."""
    B, _, M, R = A.shape
    chunks = shifts.shape[0]
    ncols = G.shape[2]
    nblocks = (R + rows_per_block - 1) // rows_per_block
    C = np.zeros((B, M, 2, N), np.int64)
    for bm in numba.prange(B * M):
        bb, m = bm // M, bm % M
        S = np.empty(ncols, np.float64)
        for b in range(nblocks):
            r0 = b * rows_per_block
            r1 = min(R, r0 + rows_per_block)
            for q in range(2):
                for c in range(chunks):
                    S[:] = 0.0
                    for r in range(r0, r1):
                        u = np.float64(_chunk(A[bb, q, m, r], shifts[c], masks[c]))
                        if u != 0.0:
                            for j in range(ncols):
                                S[j] = S[j] + u * G[bb, r, j]
                    conv0 = np.uint64(((((bb * M + m) * nblocks + b) * 2 + q) * chunks + c)
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
def _emulate_packed(A, Gp, bits, ncols, route, mult, shifts, masks, sig, rows_per_block, N,
                    lut):
    """Ideal devices: integer column sums packed as bit fields of uint64 words.

    Column j is field j % F of word j // F, F = 64 // bits; every column sum
    fits its field (bits covers S_max), so packed adds never carry across
    fields and each field is the exact sum.  Codes come from the ADC table.
    """
    B, _, M, R = A.shape
    chunks = shifts.shape[0]
    nwords = Gp.shape[2]
    F = 64 // bits
    fmask = np.uint64((1 << bits) - 1)
    nblocks = (R + rows_per_block - 1) // rows_per_block
    ngroups = ncols // N
    C = np.zeros((B, M, 2, N), np.int64)
    for bm in numba.prange(B * M):
        bb, m = bm // M, bm % M
        Sp = np.empty(nwords, np.uint64)
        code = np.empty(ncols, np.int64)
        for b in range(nblocks):
            r0 = b * rows_per_block
            r1 = min(R, r0 + rows_per_block)
            for q in range(2):
                for c in range(chunks):
                    Sp[:] = 0
                    for r in range(r0, r1):
                        u = _chunk(A[bb, q, m, r], shifts[c], masks[c])
                        if u == 1:
                            for k in range(nwords):
                                Sp[k] += Gp[bb, r, k]
                        elif u != 0:
                            uu = np.uint64(u)
                            for k in range(nwords):
                                Sp[k] += uu * Gp[bb, r, k]
                    for j in range(ncols):
                        f = np.uint64(bits * (j % F))
                        code[j] = lut[np.int64((Sp[j // F] >> f) & fmask)]
                    for g in range(ngroups):
                        t = route[q, g * N]
                        wgt = sig[c] * mult[q, g * N]
                        for n in range(N):
                            C[bb, m, t, n] += wgt * code[g * N + n]
    return C


@numba.njit(**JIT_PARALLEL)
def _column_sum_hist(A, Gp, bits, ncols, shifts, masks, rows_per_block, s_max, parts):
    """Histogram (length s_max + 1) of every column sum of an ideal emulation.

    The (batch, row) pairs are split into ``parts`` contiguous ranges, each
    counted into its own row of a partial histogram, so the result does not
    depend on scheduling.
    """
    B, _, M, R = A.shape
    chunks = shifts.shape[0]
    nwords = Gp.shape[2]
    F = 64 // bits
    fmask = np.uint64((1 << bits) - 1)
    nblocks = (R + rows_per_block - 1) // rows_per_block
    total = B * M
    hist = np.zeros((parts, s_max + 1), np.int64)
    for p in numba.prange(parts):
        Sp = np.empty(nwords, np.uint64)
        for bm in range(p * total // parts, (p + 1) * total // parts):
            bb, m = bm // M, bm % M
            for b in range(nblocks):
                r0 = b * rows_per_block
                r1 = min(R, r0 + rows_per_block)
                for q in range(2):
                    for c in range(chunks):
                        Sp[:] = 0
                        for r in range(r0, r1):
                            u = np.uint64(_chunk(A[bb, q, m, r], shifts[c], masks[c]))
                            if u != 0:
                                for k in range(nwords):
                                    Sp[k] += u * Gp[bb, r, k]
                        for j in range(ncols):
                            f = np.uint64(bits * (j % F))
                            hist[p, np.int64((Sp[j // F] >> f) & fmask)] += 1
    return hist.sum(axis=0)


def column_sum_histogram(A, G, rows_per_block, config, threads):
    """Counts of each integer column sum 0..S_max over an ideal emulation's conversions."""
    from ..crossbar import input_chunking
    set_threads(threads)
    shifts, masks, _ = input_chunking(config)
    bits = int(config.s_max).bit_length()
    return _column_sum_hist(np.ascontiguousarray(A), pack_columns(G, bits), bits, G.shape[-1],
                            shifts, masks, rows_per_block, int(config.s_max), 4 * threads)


def pack_columns(G, bits):
    """Integer levels (..., R, ncols) packed as ``bits``-wide fields of uint64 words."""
    F = 64 // bits
    ncols = G.shape[-1]
    nwords = -(-ncols // F)
    pad = np.zeros(G.shape[:-1] + (nwords * F,), np.uint64)
    pad[..., :ncols] = G
    shifts = np.arange(F, dtype=np.uint64) * np.uint64(bits)
    return np.bitwise_or.reduce(pad.reshape(G.shape[:-1] + (nwords, F)) << shifts, axis=-1)


def adc_lut(s_max, step, adc_max):
    """ADC codes of every integer column sum 0..s_max (the spec's formula, in float64)."""
    s = np.arange(s_max + 1, dtype=np.float64)
    return np.minimum(np.maximum(np.floor(s / step + 0.5), 0), adc_max).astype(np.int64)


#: Integer column sums up to this size use the packed kernels and an ADC table.
LUT_MAX = 1 << 20


def adc_multiply_shift(lut, adc_max):
    """(mul, add) with ``min((S*mul + add) >> 32, adc_max) == lut[S]`` for every S, or None.

    The C kernel converts with this multiply-shift; it is used only when it
    reproduces the spec's float64 formula (the table) exactly for every
    possible column sum.
    """
    s = np.arange(lut.shape[0], dtype=np.int64)
    top = int(lut.max(initial=0))
    # estimate 1/step from the table's first step up, then try neighbours
    nz = np.flatnonzero(lut)
    if nz.size == 0:
        return (0, 0)
    first = int(nz[0])                       # smallest S with code 1: ~ step/2
    for step in {2.0 * first - 1, 2.0 * first, 2.0 * first + 1, 2.0 * first - 0.5,
                 2.0 * first + 0.5} | {float(lut.shape[0] - 1) / max(top, 1)}:
        if step <= 0:
            continue
        base = int(round(2 ** 32 / step))
        for mul in (base - 1, base, base + 1):
            for add in (2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1):
                code = np.minimum((s * mul + add) >> 32, adc_max)
                if np.array_equal(code, lut):
                    return (mul, add)
    return None


def level_planes(weights, np_, word=64):
    """Bit planes of cell levels for the C kernel: (B, nblocks, planes, nw, ngroups*np_).

    Built by the C layer straight from the integer weights (the level array of
    every cell never exists): rows are the physical rows of each
    block (rowpair: 2k holds Re w, 2k+1 Im w; colpair: k) in ``word``-row words
    (uint64 or uint32; bit i of word w is row word*w + i), plane p holds bit p
    of the levels, and each column group (rowpair: (set, slice); colpair:
    (part, set, slice)) is padded to ``np_`` columns of zero levels.
    """
    from .. import _native
    from .._args import default_threads
    from ..crossbar import PE
    config = weights.config
    B, K, N = weights.shape
    rpb, cb, ns, sets = weights.rows_per_block, config.cell_bits, config.slices, config.sets
    rowpair = config.pe is PE.ROWPAIR
    R = (2 if rowpair else 1) * K
    nblocks = -(-R // rpb)
    nw = -(-rpb // word)
    ngroups = (1 if rowpair else 2) * sets * ns
    out = np.zeros((B, nblocks, cb, nw, ngroups * np_), np.uint64 if word == 64 else np.uint32)
    return _native.xbar_pack(weights.wr, weights.wi, rowpair, sets, ns, cb,
                             config.weight_bits, rpb, np_, out, default_threads())


def adc_fma32(lut, step, adc_max):
    """float32 (a, b) with ``min(trunc(fma(S, a, b)), adc_max) == lut[S]`` for every S, or None.

    The fast C path converts with one float32 fused multiply-add; it is used
    only when that reproduces the spec's float64 formula exactly.  The FMA is
    emulated exactly here: S * a is exact in float64 (S < 2^24), and the sum
    is rounded once to float32.
    """
    if lut.shape[0] > (1 << 24):
        return None
    s = np.arange(lut.shape[0], dtype=np.float64)
    a0, b0 = np.float32(1.0 / step), np.float32(0.5)
    for da in (0, 1, -1, 2, -2):
        a = np.float32(a0)
        for _ in range(abs(da)):
            a = np.nextafter(a, np.float32(np.inf if da > 0 else 0), dtype=np.float32)
        for db in (0, -1, 1):
            b = b0 if db == 0 else np.nextafter(b0, np.float32(np.inf if db > 0 else 0),
                                                dtype=np.float32)
            t = (s * np.float64(a) + np.float64(b)).astype(np.float32)
            code = np.minimum(np.trunc(t).astype(np.int64), adc_max)
            if np.array_equal(code, lut):
                return float(a), float(b)
    return None


def _desc_common(weights, step):
    """Descriptor fields both C kernels take: geometry, routing, ADC range, offset."""
    from ..crossbar import PE
    config, route, mult, N = weights.config, weights.route, weights.mult, weights.N
    gmult = mult[:, ::N]
    return dict(rowpair=int(config.pe is PE.ROWPAIR), cpb=config.channels_per_block,
                ngroups=route.shape[1] // N, input_bits=config.input_bits,
                dac_bits=config.dac_bits, route=route[:, ::N],
                wshift=np.log2(np.abs(gmult)).astype(np.int64),
                wneg=(gmult < 0).astype(np.int64), adc_max=config.adc_max,
                offset=0 if config.sets == 2 else 1 << (config.weight_bits - 1), n_out=N,
                step=step)


def native_setup(weights, step):
    """Descriptor fields and bit planes for the C kernel, or None where it does not apply.

    The C kernel needs ideal devices, column sums whose ADC table the exact
    multiply-shift reproduces, at most 128 column groups, blocks of at most
    4096 rows and inputs of at most 16 bits.
    """
    from .. import _native
    from ..crossbar import PE
    config, route, N = weights.config, weights.route, weights.N
    rows_per_block = weights.rows_per_block
    if not config.ideal_devices or config.s_max > LUT_MAX:
        return None
    lut = adc_lut(config.s_max, step, config.adc_max)
    adc = adc_multiply_shift(lut, config.adc_max)
    ngroups = route.shape[1] // N
    nw = -(-rows_per_block // 64)
    if adc is None or ngroups > 128 or nw > 64 or config.input_bits > 16:
        return None
    fast = None
    if _native.xbar_has_fast32() and config.adc_bits + config.input_bits <= 30:
        fast = adc_fma32(lut, step, config.adc_max)
    np_ = -(-N // (16 if fast else 8)) * (16 if fast else 8)
    P = P32 = None
    if fast:
        P32 = level_planes(weights, np_, word=32)
    else:
        P = level_planes(weights, np_)
    desc = dict(_desc_common(weights, step), N=np_,
                nblocks=-(-(2 if config.pe is PE.ROWPAIR else 1) * weights.shape[1]
                          // rows_per_block),
                planes=config.cell_bits, nw=nw, adc_mul=adc[0], adc_add=adc[1],
                adc_a=fast[0] if fast else 0.0, adc_b=fast[1] if fast else 0.0,
                nw32=P32.shape[3] if fast else 0)
    return ("ideal", desc, P, P32)


def float_setup(weights, step):
    """Descriptor fields of the C float kernel (device non-idealities), or None."""
    config = weights.config
    if weights.route.shape[1] // weights.N > 128 or config.input_bits > 16:
        return None
    desc = dict(_desc_common(weights, step), N=weights.N)
    return ("float", desc, np.ascontiguousarray(weights.G, np.float64),
            float(config.read_sigma), weights.seed)


def native_run(setup, xr, xi, threads, out=None, strides=None, scales=(None, None, None)):
    """step*C + D from the C kernel (see :func:`native_setup`).

    Without ``out``: returns y (B, M, N) complex128.  With ``out = (yre, yim)``
    float64 planes and element ``strides`` (b, m, n): writes there, scaled by
    ``scales`` = (per-row, per-column, per-batch) factors (None: 1).
    """
    from .. import _native
    B, M, K = xr.shape
    N = setup[1]["n_out"]
    y = None
    if out is None:
        # write the complex result in place: real parts at even, imaginary
        # parts at odd float64 offsets of one interleaved buffer
        y = np.empty((B, M, N), np.complex128)
        flat = y.reshape(-1).view(np.float64)
        out, strides = (flat, flat[1:]), (2 * M * N, 2 * N, 2)
    xr, xi = np.ascontiguousarray(xr, np.int32), np.ascontiguousarray(xi, np.int32)
    if setup[0] == "float":
        _, desc, G, read_sigma, seed = setup
        _native.xbar_float(dict(desc, B=B, M=M, K=K, ys=strides, nthreads=threads), xr, xi,
                           G, read_sigma, seed, out[0], out[1], *scales)
    else:
        _, desc, P, P32 = setup
        _native.xbar_ideal(dict(desc, B=B, M=M, K=K, ys=strides, nthreads=threads), xr, xi,
                           P, P32, out[0], out[1], *scales)
    return y


def emulate(A, G, route, mult, rows_per_block, N, step, config, seed, threads):
    """Integer accumulators C, shape (B, M, 2, N) (real, imaginary), of the emulation.

    The Numba kernels: packed integer sums for ideal devices, float sums in
    row order otherwise.  :func:`native_run` (the C kernel) agrees with
    both bit for bit and is tried first for ideal devices.
    """
    from ..crossbar import input_chunking
    set_threads(threads)
    shifts, masks, sig = input_chunking(config)
    A = np.ascontiguousarray(A)
    route = np.ascontiguousarray(route)
    mult = np.ascontiguousarray(mult)
    if config.ideal_devices and config.s_max <= LUT_MAX:
        lut = adc_lut(config.s_max, step, config.adc_max)
        bits = int(config.s_max).bit_length()
        return _emulate_packed(A, pack_columns(G, bits), bits, G.shape[-1], route, mult,
                               shifts, masks, sig, rows_per_block, N, lut)
    return _emulate(A, np.ascontiguousarray(G, np.float64), route, mult, shifts, masks, sig,
                    rows_per_block, N, float(step), config.adc_max,
                    float(config.read_sigma), np.uint64(seed))
