"""Glue between the crossbar emulation and its C kernels (private).

What the C kernels need beyond the operands, built from plain values: the
descriptor (:class:`fdafast._native.XbarDesc`) with the column routing, the
cell levels as bit planes (ideal devices) or the conductances (device
effects), and the ADC as an exact integer multiply-shift or float32 FMA.
Which kernel runs for a call is decided in :mod:`fdafast._dispatch`; the
semantics are those of :mod:`fdafast.crossbar`.

Real products (:func:`fdafast.crossbar.matmul`: weights with ``wi`` None, the
one-cycle routing of ``_routing(N, config, real=True)``) run on the same
kernels with the descriptor's ``real`` flag: one cycle per input chunk, one
row per input channel (``rows`` per block), one column set per weight, one
output plane.
"""
import functools

import numpy as np

from . import _native
from .crossbar_config import PE
from .errors import FdafastError

__all__ = ["adc_multiply_shift", "adc_fma32", "adc_mulhi16", "level_planes", "ideal_setup",
           "float_setup", "run"]


def _multiply_shift_from_thresholds(lut, adc_max):
    """(mul, add) solved from the table's thresholds, or None.

    With T_c the smallest S of code >= c, the multiply-shift reproduces the
    table iff, for every code c it can reach, ``T_c*mul + add >= c*2^32`` and
    ``(T_c - 1)*mul + add < c*2^32`` (S*mul + add grows with S; codes above
    ``adc_max`` are clamped).  For a fixed ``add`` these bound ``mul`` from both
    sides; a few values of ``add`` are tried, round-half-up (2^31) first.
    """
    n = lut.shape[0]
    top = int(lut[-1])
    if lut[0] != 0 or np.any(np.diff(lut) < 0):
        return None
    codes = np.arange(1, min(top + 1, adc_max) + 1, dtype=np.int64)
    if codes.size == 0:
        return (0, 0)
    T = np.searchsorted(lut, codes, side="left").astype(np.int64)   # n where never reached
    one = np.int64(1 << 32)
    reached, above = T < n, T >= 2
    for add in [1 << 31] + [(1 << 31) + d for d in (-1, 1, -2, 2)] + \
            [i << 26 for i in range(64)] + [(1 << 32) - 1]:
        a = np.int64(add)
        lo = int(np.max(-((a - codes[reached] * one) // T[reached]), initial=0))
        hi = int(np.min((codes[above] * one - a - 1) // (T[above] - 1), initial=one))
        if lo <= hi:
            mul = lo + (hi - lo) // 2
            return mul, add
    return None


def adc_multiply_shift(lut, adc_max):
    """(mul, add) with ``min((S*mul + add) >> 32, adc_max) == lut[S]`` for every S, or None.

    The C kernel converts with this multiply-shift; it is used only when it
    reproduces the spec's float64 formula (the table) exactly for every
    possible column sum (checked here on the whole table).
    """
    s = np.arange(lut.shape[0], dtype=np.int64)
    solved = _multiply_shift_from_thresholds(np.asarray(lut, np.int64), adc_max)
    if solved is not None:
        mul, add = solved
        if 0 <= mul <= 1 << 32 and np.array_equal(np.minimum((s * mul + add) >> 32, adc_max),
                                                  lut):
            return (int(mul), int(add))
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


def adc_mulhi16(lut, step, adc_max):
    """(k, m, c, j) with ``min(((((S << k) * m) >> 16) + c) >> j, adc_max) == lut[S]``
    for every S, every step in 16-bit unsigned lanes, or None.

    The table kernel's 16-bit ADC (one high-half multiply per lane): ``S << k``
    takes the largest k that keeps every S below 2^16, ``m`` ~ 2^(16+j-k)/step
    keeps j fraction bits of S/step, and ``c`` (~ 2^(j-1), the rounding half)
    is chosen between the bounds the thresholds T_code (smallest S of each
    code) set: ``t(T) + c >= code 2^j > t(T - 1) + c``, t(S) the product's high
    half.  The value before the clamp stays below 2^15 (signed 16-bit min on
    SSE2).  Checked here on the whole table; None where no j and m near the
    ideal one fit (the kernel then takes the float32 ADC).
    """
    lut = np.asarray(lut, np.int64)
    smax = lut.shape[0] - 1
    if smax < 1 or smax >= 1 << 15 or lut[0] != 0 or np.any(np.diff(lut) < 0):
        return None
    s = np.arange(smax + 1, dtype=np.int64)
    top = int(lut[-1])
    codes = np.arange(1, top + 1, dtype=np.int64)
    T = np.searchsorted(lut, codes, side="left")
    k = 0
    while (smax << (k + 1)) < 1 << 16:
        k += 1
    for j in range(15, -1, -1):
        m0 = int(round(2.0 ** (16 + j - k) / step))
        for m in sorted(range(m0 - 8, m0 + 9), key=lambda v: abs(v - m0)):
            if not 0 < m < 1 << 16:
                continue
            t = ((s << k) * m) >> 16
            c_lo = max(0, int(np.max((codes << j) - t[T], initial=0)))
            c_hi = int(np.min((codes << j) - 1 - t[T - 1], initial=1 << 16))
            if top < adc_max:
                c_hi = min(c_hi, ((top + 1) << j) - 1 - int(t[-1]))
            c_hi = min(c_hi, (1 << 16) - 1 - int(t[-1]), ((1 << 15) << j) - 1 - int(t[-1]))
            if c_lo > c_hi:
                continue
            c = (c_lo + c_hi) // 2
            pre = (t + c) >> j
            if np.array_equal(np.minimum(pre, adc_max), lut) and pre.max() < 1 << 15:
                return k, m, c, j
    return None


@functools.lru_cache(maxsize=64)
def _fma_adc(config, step):
    """:func:`adc_fma32` of ``config``'s ADC table at ``step`` (computed once)."""
    return adc_fma32(config.adc_table(step), step, config.adc_max)


@functools.lru_cache(maxsize=64)
def _mulhi16_adc(config, step):
    """:func:`adc_mulhi16` of ``config``'s ADC table at ``step`` (computed once)."""
    return adc_mulhi16(config.adc_table(step), step, config.adc_max)


#: Weights (bins x K x N) packed per call of the C layer by :func:`level_planes`.
PACK_CHUNK = 1 << 20


def level_planes(config, wr, wi, rows_per_block, np_, threads, word=64):
    """Bit planes of cell levels for the C kernel: (B, nblocks, planes, nw, ngroups*np_).

    Built by the C layer from the integer weights ``wr``, ``wi`` (B, K, N), int16 or
    int32, a few bins at a time (:data:`PACK_CHUNK`: int32 copies of int16 weights
    stay cache-sized, and the level array of every cell never exists): rows are
    the physical rows of each block (rowpair: 2k holds Re w, 2k+1 Im w; colpair and real weights,
    ``wi`` None: k) in ``word``-row words (uint64, uint32 or uint8; bit i of word w
    is row word*w + i), plane p holds bit p of the levels, and each column group
    (rowpair and real: (set, slice); colpair: (part, set, slice)) is padded to
    ``np_`` columns of zero levels.
    """
    B, K, _ = wr.shape
    cb, ns, sets = config.cell_bits, config.slices, config.sets
    real = wi is None
    rowpair = config.pe is PE.ROWPAIR and not real
    nblocks = -(-(2 if rowpair else 1) * K // rows_per_block)
    nw = -(-rows_per_block // word)
    ngroups = (1 if rowpair or real else 2) * sets * ns
    out = np.zeros((B, nblocks, cb, nw, ngroups * np_),
                   {64: np.uint64, 32: np.uint32, 8: np.uint8}[word])
    step = max(1, PACK_CHUNK // max(1, K * wr.shape[2]))
    for b0 in range(0, B, step):
        part = slice(b0, min(B, b0 + step))
        _native.xbar_pack(np.ascontiguousarray(wr[part], np.int32),
                          None if real else np.ascontiguousarray(wi[part], np.int32),
                          rowpair, sets, ns, cb, config.weight_bits, rows_per_block, np_,
                          out[part], threads)
    return out


def _desc(config, route, mult, n_out, step, **fields):
    """The descriptor's routing, ADC range and offset for ``n_out`` outputs, plus
    ``fields``.  A one-cycle routing (``route`` of one row) describes a real
    product: one row per channel, ``rows`` channels per block; its tables are
    repeated into the descriptor's two rows (the kernels read row 0 only)."""
    N = n_out
    real = route.shape[0] == 1
    groute, gmult = route[:, ::N], mult[:, ::N]
    if real:
        groute, gmult = np.repeat(groute, 2, axis=0), np.repeat(gmult, 2, axis=0)
    return _native.XbarDesc(
        rowpair=config.pe is PE.ROWPAIR and not real,
        cpb=config.rows if real else config.channels_per_block,
        ngroups=route.shape[1] // N, input_bits=config.input_bits, dac_bits=config.dac_bits,
        route=groute, wshift=np.log2(np.abs(gmult)).astype(np.int64),
        wneg=(gmult < 0).astype(np.int64), adc_max=config.adc_max,
        offset=0 if config.sets == 2 else 1 << (config.weight_bits - 1), n_out=N, step=step,
        real=real, **fields)


#: Column sums the table kernel (fda_xbar_table) takes: below 2^16 (16-bit sums).
TABLE_SMAX = 1 << 16
#: Whether :func:`ideal_setup` may choose the table kernel (tests switch it off to
#: run the popcount kernel on the same cases).
USE_TABLE = True
#: Whether the table kernel may take the 16-bit ADC (:func:`adc_mulhi16`) where one
#: exists (tests switch it off to run its float32 ADC on the same cases).
USE_ADC16 = True


def ideal_setup(config, wr, wi, route, mult, rows_per_block, step, adc, threads):
    """The ideal-device kernel's descriptor and weight planes, one of

    * ``('ideal', desc, None, P32)``: where the variant has the 32-bit fast path
      (avx512) and a float32 FMA reproduces the ADC table exactly;
    * ``('table', desc, P8)``: the table kernel (fda_xbar_table) on byte planes,
      where the float32 FMA reproduces the ADC table exactly, cells have at
      most 4 bits and column sums stay below :data:`TABLE_SMAX`;
    * ``('ideal', desc, P, None)``: the popcount kernel on 64-bit planes, with the
      exact multiply-shift ``adc`` (:func:`adc_multiply_shift`) the dispatcher
      found.

    All give the same integers.  Real weights: ``wi`` None with the one-cycle
    ``route``/``mult`` of a real product.
    """
    N = wr.shape[2]
    fma = None
    if config.adc_bits + config.input_bits <= 30:
        fast32 = _native.xbar_has_fast32()
        table = (USE_TABLE and config.cell_bits <= 4 and config.s_max < TABLE_SMAX
                 and step < 2.0 ** 20)
        if fast32 or table:
            fma = _fma_adc(config, step)
    kind = "ideal" if fma is None else ("fast32" if _native.xbar_has_fast32() else "table")
    width, word = {"ideal": (8, 64), "fast32": (16, 32), "table": (32, 8)}[kind]
    np_ = -(-N // width) * width
    planes = level_planes(config, wr, wi, rows_per_block, np_, threads, word)
    rowpair = config.pe is PE.ROWPAIR and wi is not None
    nblocks = -(-(2 if rowpair else 1) * wr.shape[1] // rows_per_block)
    desc = _desc(config, route, mult, N, step, N=np_, nblocks=nblocks,
                 planes=config.cell_bits, nw=-(-rows_per_block // 64), adc_mul=adc[0],
                 adc_add=adc[1], adc_a=fma[0] if fma else 0.0,
                 adc_b=fma[1] if fma else 0.0, nw32=planes.shape[3] if kind == "fast32" else 0,
                 adc16=(USE_ADC16 and kind == "table" and _mulhi16_adc(config, step))
                 or (0, 0, 0, 0))
    if kind == "table":
        return ("table", desc, planes)
    return ("ideal", desc, None if fma else planes, planes if fma else None)


def float_setup(config, G, route, mult, N, step, seed):
    """``('float', desc, G, read_sigma, seed)``: the device-effects kernel's inputs for
    conductances ``G`` (B, R, ngroups*N) (real products: ``route`` of one cycle,
    R = K)."""
    desc = _desc(config, route, mult, N, step, N=N)
    return ("float", desc, np.ascontiguousarray(G, np.float64), float(config.read_sigma), seed)


def run(setup, xr, xi, threads, out=None, strides=None, scales=(None, None, None)):
    """``step*C + D`` from the C kernel of ``setup`` (:func:`ideal_setup`/:func:`float_setup`).

    Without ``out``: returns y (B, M, N) complex128, float64 for a real product
    (``xi`` None).  With ``out = (yre, yim)`` float64 planes (``(yre,)`` or
    ``(yre, None)`` for a real product) and element ``strides`` (b, m, n):
    writes there, scaled by ``scales`` = (per-row, per-column, per-batch)
    factors (None: 1).
    """
    B, M, _ = xr.shape
    desc = setup[1]
    N = desc.n_out
    if desc.real != (xi is None):
        raise FdafastError("internal: real weights take real inputs (xi None), complex "
                         "weights complex ones")
    y = None
    if out is None and desc.real:
        y = np.empty((B, M, N), np.float64)
        out, strides = (y.reshape(-1), None), (M * N, N, 1)
    elif out is None:
        # write the complex result in place: real parts at even, imaginary
        # parts at odd float64 offsets of one interleaved buffer
        y = np.empty((B, M, N), np.complex128)
        flat = y.reshape(-1).view(np.float64)
        out, strides = (flat, flat[1:]), (2 * M * N, 2 * N, 2)
    elif desc.real:
        out = (out[0], None)
    xr = np.ascontiguousarray(xr, np.int32)
    xi = None if xi is None else np.ascontiguousarray(xi, np.int32)
    if setup[0] == "float":
        _, desc, G, read_sigma, seed = setup
        _native.xbar_float(desc, xr, xi, G, read_sigma, seed, out[0], out[1], strides,
                           threads, *scales)
    elif setup[0] == "table":
        _, desc, P8 = setup
        _native.xbar_table(desc, xr, xi, P8, out[0], out[1], strides, threads, *scales)
    else:
        _, desc, P, P32 = setup
        _native.xbar_ideal(desc, xr, xi, P, P32, out[0], out[1], strides, threads, *scales)
    return y
