"""Glue between the crossbar emulation and its C kernels (private).

What the C kernels need beyond the operands, built from plain values: the
descriptor (:class:`fdafast._native.XbarDesc`) with the column routing, the
cell levels as bit planes (ideal devices) or the conductances (device
effects), and the ADC as an exact integer multiply-shift or float32 FMA.
Which kernel runs for a call is decided in :mod:`fdafast._dispatch`; the
semantics are those of :mod:`fdafast.crossbar`.
"""
import numpy as np

from . import _native
from .crossbar_config import PE

__all__ = ["adc_multiply_shift", "adc_fma32", "level_planes", "ideal_setup", "float_setup",
           "run"]


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


def level_planes(config, wr, wi, rows_per_block, np_, threads, word=64):
    """Bit planes of cell levels for the C kernel: (B, nblocks, planes, nw, ngroups*np_).

    Built by the C layer straight from the int32 weights ``wr``, ``wi`` (B, K, N)
    (the level array of every cell never exists): rows are the physical rows of
    each block (rowpair: 2k holds Re w, 2k+1 Im w; colpair: k) in ``word``-row
    words (uint64 or uint32; bit i of word w is row word*w + i), plane p holds
    bit p of the levels, and each column group (rowpair: (set, slice); colpair:
    (part, set, slice)) is padded to ``np_`` columns of zero levels.
    """
    B, K, _ = wr.shape
    cb, ns, sets = config.cell_bits, config.slices, config.sets
    rowpair = config.pe is PE.ROWPAIR
    nblocks = -(-(2 if rowpair else 1) * K // rows_per_block)
    nw = -(-rows_per_block // word)
    ngroups = (1 if rowpair else 2) * sets * ns
    out = np.zeros((B, nblocks, cb, nw, ngroups * np_), np.uint64 if word == 64 else np.uint32)
    return _native.xbar_pack(wr, wi, rowpair, sets, ns, cb, config.weight_bits,
                             rows_per_block, np_, out, threads)


def _desc(config, route, mult, n_out, step, **fields):
    """The descriptor's routing, ADC range and offset for ``n_out`` outputs, plus
    ``fields``."""
    N = n_out
    gmult = mult[:, ::N]
    return _native.XbarDesc(
        rowpair=config.pe is PE.ROWPAIR, cpb=config.channels_per_block,
        ngroups=route.shape[1] // N, input_bits=config.input_bits, dac_bits=config.dac_bits,
        route=route[:, ::N], wshift=np.log2(np.abs(gmult)).astype(np.int64),
        wneg=(gmult < 0).astype(np.int64), adc_max=config.adc_max,
        offset=0 if config.sets == 2 else 1 << (config.weight_bits - 1), n_out=N, step=step,
        **fields)


def ideal_setup(config, wr, wi, route, mult, rows_per_block, step, adc, threads):
    """``('ideal', desc, P, P32)``: the ideal-device kernel's descriptor and bit planes.

    ``adc`` is the exact multiply-shift (:func:`adc_multiply_shift`) that the
    dispatcher found; the 32-bit fast path is used where the build has it
    and a float32 FMA reproduces the ADC table exactly.
    """
    N = wr.shape[2]
    fast = None
    if _native.xbar_has_fast32() and config.adc_bits + config.input_bits <= 30:
        fast = adc_fma32(config.adc_table(step), step, config.adc_max)
    width = 16 if fast else 8
    np_ = -(-N // width) * width
    planes = level_planes(config, wr, wi, rows_per_block, np_, threads, 32 if fast else 64)
    nblocks = -(-(2 if config.pe is PE.ROWPAIR else 1) * wr.shape[1] // rows_per_block)
    desc = _desc(config, route, mult, N, step, N=np_, nblocks=nblocks,
                 planes=config.cell_bits, nw=-(-rows_per_block // 64), adc_mul=adc[0],
                 adc_add=adc[1], adc_a=fast[0] if fast else 0.0,
                 adc_b=fast[1] if fast else 0.0, nw32=planes.shape[3] if fast else 0)
    return ("ideal", desc, None if fast else planes, planes if fast else None)


def float_setup(config, G, route, mult, N, step, seed):
    """``('float', desc, G, read_sigma, seed)``: the device-effects kernel's inputs for
    conductances ``G`` (B, R, ngroups*N)."""
    desc = _desc(config, route, mult, N, step, N=N)
    return ("float", desc, np.ascontiguousarray(G, np.float64), float(config.read_sigma), seed)


def run(setup, xr, xi, threads, out=None, strides=None, scales=(None, None, None)):
    """``step*C + D`` from the C kernel of ``setup`` (:func:`ideal_setup`/:func:`float_setup`).

    Without ``out``: returns y (B, M, N) complex128.  With ``out = (yre, yim)``
    float64 planes and element ``strides`` (b, m, n): writes there, scaled by
    ``scales`` = (per-row, per-column, per-batch) factors (None: 1).
    """
    B, M, _ = xr.shape
    N = setup[1].n_out
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
        _native.xbar_float(desc, xr, xi, G, read_sigma, seed, out[0], out[1], strides,
                           threads, *scales)
    else:
        _, desc, P, P32 = setup
        _native.xbar_ideal(desc, xr, xi, P, P32, out[0], out[1], strides, threads, *scales)
    return y
