"""Bit-sliced emulation of the ReRAM crossbar complex MAC of an FDA processing element.

In FDA (Liu et al., IEEE TPDS 34(12), 2023) the per-frequency-bin complex
multiply-accumulate runs inside ReRAM crossbars: a processing element keeps a
complex weight in two cells and forms one complex product in two consecutive
cycles; bit lines sum over input channels.  Only the paper's abstract is
available to us, so every rule below is fdafast's stated assumption, and the
configuration exposes each of them.

Semantics (ideal devices)
-------------------------
* Row blocks: the K input channels are spread over blocks of ``rows``
  physical rows; each block's partial sums are converted separately and
  added digitally.
* ``pe='rowpair'`` (the paper's 2-cell, 2-cycle PE): channel k uses two
  adjacent rows of one column, holding Re w and Im w.  Cycle 1 drives the
  rows with (Re x, -Im x): the column sum is the real part; cycle 2 drives
  (Im x, Re x): the imaginary part.  A block holds ``rows // 2`` channels.
  ``pe='colpair'``: channel k uses one row and two columns (Re w, Im w);
  cycle 1 drives Re x, cycle 2 Im x, and the digital side forms
  Re = ac - bd and Im = ad + bc from the four converted products.
* Weights: ``'differential'`` stores w = w+ - w- in two column sets, each
  magnitude sliced LSB-first into ``ceil((weight_bits-1)/cell_bits)`` cells;
  ``'offset'`` stores w + 2^(weight_bits-1) unsigned in
  ``ceil(weight_bits/cell_bits)`` slices and removes the offset digitally.
* Inputs: two's complement; bits 0..input_bits-2 are applied LSB-first in
  chunks of ``dac_bits`` (the last may be narrower); the sign bit alone in a
  final cycle whose result is subtracted (weight -2^(input_bits-1)).
* Every (row block, input chunk, cycle, weight slice, column) column sum S
  (at most S_max = rows (2^dac_bits - 1)(2^cell_bits - 1)) is converted:
  ``code = min(floor(S/step + 1/2), 2^adc_bits - 1)``, ``step = max(1,
  full_scale / (2^adc_bits - 1))``, ``full_scale = S_max`` by default.
* ``y = step * C + D`` in float64, with C the exact integer sum of the codes
  shifted by their significance and D the exact digital offset correction.
  When S_max <= 2^adc_bits - 1 and devices are ideal, y == x @ w exactly.

The complete contract, including the order of operations and the random
numbers of the device models, is written out in the docstrings of
:class:`CrossbarConfig` and :func:`cmatmul`, and followed literally by the
loop reference in ``tests/naive_crossbar.py``.
"""
import dataclasses
import math
import secrets

import numpy as np

from . import _blas, _dispatch, _native, _rng, _xbar
from ._args import read_key_arg, threads_arg
from ._dispatch import Kernel
from ._kernels import set_threads
from ._kernels import crossbar as _nb
from .crossbar_config import (PE, ConfigError, CrossbarConfig, WeightEncoding,
                              input_chunking)
from .errors import DTypeError, InvalidArgumentError, ShapeError

__all__ = ["PE", "WeightEncoding", "CrossbarConfig", "CrossbarCounts", "ConfigError",
           "PreparedWeights", "cmatmul", "matmul", "crossbar_counts", "emulate", "column_sum_histogram",
           "input_chunking"]


@dataclasses.dataclass(frozen=True)
class CrossbarCounts:
    """Hardware events of one crossbar complex matrix product (exact integers).

    Attributes
    ----------
    crossbars : int
        Physical arrays used: row blocks x column groups (logical columns
        split over arrays of ``cols`` columns).
    reads : int
        Crossbar reads: one input chunk of one cycle applied to one array.
    adc_conversions : int
        One per (input row, row block, cycle, chunk, logical column).
    dac_drives : int
        Row drives: one per used row of an array per read.
    shift_adds : int
        One shift-and-add per converted code.
    cells : int
        Programmed cells (rows used x logical columns).
    """

    crossbars: int
    reads: int
    adc_conversions: int
    dac_drives: int
    shift_adds: int
    cells: int

    def __add__(self, other):
        if not isinstance(other, CrossbarCounts):
            return NotImplemented
        return CrossbarCounts(*(a + b for a, b in zip(dataclasses.astuple(self),
                                                      dataclasses.astuple(other))))

    def as_dict(self):
        return dataclasses.asdict(self)


def logical_columns(N, config):
    """Logical crossbar columns for N outputs: sets*slices*N (rowpair) or twice that (colpair)."""
    per = config.sets * config.slices * N
    return per if config.pe is PE.ROWPAIR else 2 * per


def crossbar_counts(M, K, N, config, real=False):
    """Closed-form :class:`CrossbarCounts` of an (M, K) x (K, N) product; touches no data.

    Complex operands (the default) follow the PE semantics of the module
    docstring: two cycles per input chunk.  ``real=True`` counts a real
    product on the same crossbars (the cost model's spatial layers and
    self-conjugate frequency bins): one row and one column set per weight,
    one cycle per chunk.
    """
    for name, v in (("M", M), ("K", K), ("N", N)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InvalidArgumentError(f"{name} must be a positive int, got {v!r}")
    if real:
        per_block, ncols, rows_used, cycles = (config.rows, config.sets * config.slices * N,
                                               K, 1)
    else:
        per_block, ncols, cycles = config.channels_per_block, logical_columns(N, config), 2
        rows_used = 2 * K if config.pe is PE.ROWPAIR else K
    nblocks = -(-K // per_block)
    groups = -(-ncols // config.cols)
    conversions = M * nblocks * cycles * config.chunks * ncols
    return CrossbarCounts(
        crossbars=nblocks * groups,
        reads=M * nblocks * groups * cycles * config.chunks,
        adc_conversions=conversions,
        dac_drives=M * cycles * config.chunks * groups * rows_used,
        shift_adds=conversions,
        cells=rows_used * ncols,
    )


# -- operands ---------------------------------------------------------------------
def _operand(a, bits, name, real=False):
    """(re, im) int32 arrays of an integer-valued complex operand within +-(2^(bits-1)-1);
    ``real``: (re, None), for a real product (no zero imaginary part is made).

    Complex input is checked through its float64 view (one pass each for the
    range, the conversion and the integrality), then split.
    """
    a = np.asarray(a)
    if a.dtype.kind not in "iufc" or a.dtype.kind == "b":
        raise DTypeError(f"{name} has dtype {a.dtype}; cmatmul takes complex (or real) "
                         f"integer-valued numbers")
    if a.ndim != 2:
        raise ShapeError(f"{name} must be 2-D, got shape {a.shape}")
    limit = (1 << (bits - 1)) - 1
    if a.dtype in (np.complex128, np.float64) and a.size:
        re, im, bad = _native.split_int(a, limit, not real)     # one pass in C
        if bad is None:
            return re, im
    if a.dtype.kind == "c":
        flat = np.ascontiguousarray(a).view(a.real.dtype).reshape(a.shape + (2,))
    else:
        flat = a[..., None]
    if flat.size:
        # min/max first (cheap); NaN fails both comparisons, so it is caught too.
        # No abs: it wraps at an integer dtype's minimum.
        lo, hi = flat.min(), flat.max()
        if not (lo >= -limit and hi <= limit):
            bad = ~((flat >= -limit) & (flat <= limit))
            idx = np.argwhere(bad)[0]
            what = "imaginary" if idx[-1] == 1 else "real"
            raise InvalidArgumentError(f"{name} {what} part {flat[tuple(idx)].item()!r} is "
                                       f"outside [-{limit}, {limit}] ({bits}-bit operands)")
    parts = []
    for p in range(flat.shape[-1]):
        part = flat[..., p]
        q = part.astype(np.int32)                       # contiguous; in range by now
        if flat.dtype.kind == "f":
            bad = q != part
            if bad.any():
                what = "imaginary" if p == 1 else "real"
                raise InvalidArgumentError(f"{name} must be integer-valued; {what} part "
                                           f"{part[bad].flat[0].item()!r} is not")
        parts.append(q)
    if len(parts) == 1:
        parts.append(None if real else np.zeros(a.shape, np.int32))
    return parts[0], parts[1]


# -- the emulation ----------------------------------------------------------------
def _slices(v, config):
    """Cell levels of integer weights v: shape (sets, slices) + v.shape."""
    cb, ns = config.cell_bits, config.slices
    if config.sets == 2:
        mags = (np.maximum(v, 0), np.maximum(-v, 0))
    else:
        mags = (v + (1 << (config.weight_bits - 1)),)
    return np.stack([np.stack([(m >> (s * cb)) & config.levels for s in range(ns)])
                     for m in mags]).astype(np.uint8)


def _conductances(levels, config, seed):
    """Effective conductances of cells (B, part, set, slice, K, N) from their levels.

    Cell ids run in C order over that shape, so batch b's ids follow batch
    b-1's (for B = 1 they are the ids of the CrossbarConfig notes).
    """
    if config.ideal_devices:
        return levels
    ids = np.arange(levels.size, dtype=np.uint64)
    lev = levels.astype(np.float64)
    lmax = float(config.levels)
    if config.stuck_on_rate or config.stuck_off_rate:
        u = _rng.uniform(seed, 2, ids).reshape(levels.shape)
        lev = np.where(u < config.stuck_off_rate, 0.0,
                       np.where(u < config.stuck_off_rate + config.stuck_on_rate, lmax, lev))
    g = lev
    if config.on_off_ratio is not None:
        g_off = lmax / config.on_off_ratio
        g = g_off + lev * (lmax - g_off) / lmax
    if config.program_sigma:
        z = _rng.normal(seed, 1, ids).reshape(levels.shape)
        g = np.maximum(g * (1.0 + config.program_sigma * z), 0.0)
    return g


def _input_layout(xr, xi, config):
    """A (B, Q, M, R) int32: the integer driven on physical row r in cycle q (Q = 2
    cycles for complex inputs; one, driving x itself, for real ones: ``xi`` None)."""
    if xi is None:
        return np.ascontiguousarray(xr[:, None], np.int32)
    if config.pe is PE.ROWPAIR:
        a0 = np.stack([xr, -xi], axis=3).reshape(xr.shape[0], -1, 2 * xr.shape[2])
        a1 = np.stack([xi, xr], axis=3).reshape(xr.shape[0], -1, 2 * xr.shape[2])
    else:
        a0, a1 = xr, xi
    return np.stack([a0, a1], axis=1).astype(np.int32)


def _routing(N, config, real=False):
    """Column routing: ``route`` and ``mult`` (Q, ncols), the output (0 re, 1 im) each
    logical column feeds in each cycle and its signed power-of-two weight, and the
    physical rows per block."""
    ns, sets, cb = config.slices, config.sets, config.cell_bits
    set_sign = np.array([1, -1] if sets == 2 else [1], np.int64)
    slice_w = np.array([1 << (s * cb) for s in range(ns)], np.int64)
    m = np.repeat((set_sign[:, None] * slice_w[None, :]).reshape(-1), N)
    half = sets * ns * N
    if real:                                     # column (set, s, n), one cycle, one row
        return np.zeros((1, half), np.int64), m[None, :], config.rows
    if config.pe is PE.ROWPAIR:                  # column (set, s, n), both cycles alike
        route = np.stack([np.zeros(half), np.ones(half)]).astype(np.int64)
        return route, np.stack([m, m]), 2 * config.channels_per_block
    # colpair: column (part, set, s, n); Im w columns feed Im in cycle 0, -Re in cycle 1
    route = np.stack([np.concatenate([np.zeros(half), np.ones(half)]),
                      np.concatenate([np.ones(half), np.zeros(half)])]).astype(np.int64)
    mult = np.stack([np.concatenate([m, m]), np.concatenate([m, -m])])
    return route, mult, config.channels_per_block


def _conductance_rows(wr, wi, config, seed):
    """G (B, R, ncols): cell conductances in physical row order (integer levels with
    ideal devices); rowpair rows 2k (Re w) and 2k+1 (Im w), colpair row k; real
    weights (``wi`` None) row k, columns (set, slice, n)."""
    B, K, N = wr.shape
    parts = [_slices(wr, config)] + ([] if wi is None else [_slices(wi, config)])
    lev = np.stack(parts)                                            # (part, set, s, B, K, N)
    G = _conductances(lev.transpose(3, 0, 1, 2, 4, 5), config, seed)  # (B, part, set, s, K, N)
    half = config.sets * config.slices * N
    if wi is None:
        return np.ascontiguousarray(G.transpose(0, 4, 1, 2, 3, 5).reshape(B, K, half))
    if config.pe is PE.ROWPAIR:
        return np.ascontiguousarray(G.transpose(0, 4, 1, 2, 3, 5).reshape(B, 2 * K, half))
    return np.ascontiguousarray(G.transpose(0, 4, 1, 2, 3, 5).reshape(B, K, 2 * half))


def _offset_correction(xr, xi, config):
    """Exact digital offset terms (D_re, D_im), shape (B, M) int64 each (D_im zero for
    real inputs, ``xi`` None)."""
    z = np.zeros(xr.shape[:2], np.int64)
    if config.sets == 2:
        return z, z
    off = 1 << (config.weight_bits - 1)
    if xi is None:
        return -off * xr.sum(axis=2, dtype=np.int64), z
    sr, si = xr.sum(axis=2), xi.sum(axis=2)
    if config.pe is PE.ROWPAIR:
        return -off * (sr - si), -off * (si + sr)
    return -off * sr + off * si, -off * sr - off * si


def _seed_arg(seed):
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise InvalidArgumentError(f"seed must be an int or None, got {seed!r}")
    return int(seed) & ((1 << 64) - 1)


class PreparedWeights:
    """A batch of integer weight matrices (B, K, N) laid out on crossbars once.

    Holds what depends only on the weights, the configuration and the seed
    (cell levels or conductances, column routing, and, lazily, each kernel's
    own layout of them), so that a plan can emulate many inputs against them.
    ``wi=None`` prepares real weights for real products (:func:`matmul`).
    """

    def __init__(self, wr, wi, config, seed):
        # kept as int16 (weights have at most 16 bits): half the memory of a
        # network's worth of weight spectra; handed out as int32
        self._w = (np.ascontiguousarray(wr, np.int16),
                   None if wi is None else np.ascontiguousarray(wi, np.int16))
        self.config, self.seed = config, seed
        self.real = wi is None
        self.route, self.mult, self.rows_per_block = _routing(wr.shape[2], config, self.real)
        self._G = None
        self._layouts = {}
        self._max_abs = None
        self._max_channels = None

    @property
    def max_abs(self):
        """The largest weight magnitude (computed once)."""
        if self._max_abs is None:
            self._max_abs = max(max(int(w.max(initial=0)), -int(w.min(initial=0)))
                                for w in self._w if w is not None)
        return self._max_abs

    def matrix(self, b):
        """int16 (re, im) views of batch item ``b``'s weights (im None if real)."""
        return tuple(None if w is None else w[b] for w in self._w)

    @property
    def wr(self):
        """Real parts of the integer weights, (B, K, N) int32 (a fresh copy)."""
        return self._w[0].astype(np.int32)

    @property
    def wi(self):
        """Imaginary parts of the integer weights, (B, K, N) int32 (a fresh copy);
        None for real weights."""
        return None if self.real else self._w[1].astype(np.int32)

    @property
    def N(self):
        return self._w[0].shape[2]

    @property
    def shape(self):
        return self._w[0].shape

    def sample(self, b, n):
        """int32 (re, im) of bins ``b`` and output columns ``n`` only (im None if real)."""
        return tuple(None if w is None else w[b][:, :, n].astype(np.int32) for w in self._w)

    @property
    def G(self):
        """Conductances in physical row order (integer levels with ideal devices),
        computed on first use (the C kernel for ideal devices never needs them)."""
        if self._G is None:
            self._G = _conductance_rows(self.wr, self.wi, self.config, self.seed)
        return self._G

    def max_channels(self):
        """The most input channels (K) a product against these weights may have: its
        64-bit accumulators cannot overflow below it.  The bound of the C kernels:
        every chunk's code at most ``adc_max``, shifted by its input bits and its
        column group's weight, summed over the groups, cycles and row blocks,
        stays below 2^62.  Computed once."""
        if self._max_channels is not None:
            return self._max_channels
        cfg = self.config
        # one value per (cycle, column group): the columns of a group share a weight
        shifts = np.log2(np.abs(self.mult[:, ::self.N])).astype(np.int64)
        per_block = sum(math.ldexp(cfg.adc_max + 1.0, cfg.input_bits + int(s))
                        for s in shifts.reshape(-1))
        cpb = self.rows_per_block // (2 if cfg.pe is PE.ROWPAIR and not self.real else 1)
        blocks = math.floor(2.0 ** 62 / per_block)
        while blocks * per_block >= 2.0 ** 62:          # strictly below, as the C checks
            blocks -= 1
        self._max_channels = blocks * cpb
        return self._max_channels

    def read_seed(self, read_key=0):
        """The seed of the read noise drawn under ``read_key``: the device seed itself
        for key 0, else a hash of both.  The cells (and their programming
        variation and stuck faults) are the same under every key; calls with
        different keys read them with independent noise."""
        key = read_key_arg(read_key)
        if key == 0:
            return self.seed
        return _rng.hash_int(self.seed, 4, key)

    def layout(self, kernel, step, threads):
        """What ``kernel`` reads of these weights at ADC ``step`` (built once and kept)."""
        # the C ideal kernel's planes depend on the instruction-set variant (32-bit on avx512)
        key = (kernel, step if kernel is Kernel.C_IDEAL or kernel is Kernel.C_FLOAT else None,
               _dispatch.isa() if kernel is Kernel.C_IDEAL else None)
        if key not in self._layouts:
            cfg = self.config
            if kernel is Kernel.C_IDEAL:
                made = _xbar.ideal_setup(cfg, *self._w, self.route, self.mult,
                                         self.rows_per_block, step,
                                         _dispatch.ideal_adc(cfg, step), threads)
            elif kernel is Kernel.C_FLOAT:
                made = _xbar.float_setup(cfg, self.G, self.route, self.mult, self.N, step,
                                         self.seed)
            elif kernel is Kernel.NUMBA_PACKED:
                bits = int(cfg.s_max).bit_length()
                made = (_nb.pack_columns(self.G, bits), bits)
            else:
                made = np.ascontiguousarray(self.G, np.float64)
            self._layouts[key] = made
        return self._layouts[key]


#: Output elements (bins x rows x columns) of one block of the exact product.
EXACT_BLOCK = 1 << 19
#: Bytes of the converted weights (bins x K x columns) of one block of it.
EXACT_WEIGHT_BYTES = 4 << 20
#: Bins per block of the exact product: a 64-byte line of the spectra layout
#: (bins adjacent) is written whole.
EXACT_BINS = 8


def _exact_dtype(xr, xi, weights):
    """The BLAS dtype whose GEMM is exact for these integer operands: float32 (or
    complex64) when every partial sum of the products stays below 2^24 in
    magnitude, float64 (complex128) otherwise.

    A complex GEMM's real part sums ``2K`` products of at most ``max|x| max|w|``
    (the conventional four-multiplication algorithm, which BLAS ``cgemm``/``zgemm``
    use); float64 holds every such sum exactly for the operands the emulation
    takes (integers below 2^15 in magnitude, K below 2^22).
    """
    K = xr.shape[2]
    mx = max((max(int(a.max(initial=0)), -int(a.min(initial=0))) for a in (xr, xi)
              if a is not None), default=0)
    bound = (1 if weights.real else 2) * K * mx * weights.max_abs
    if bound < 1 << 24:
        return np.float32 if weights.real else np.complex64
    return np.float64 if weights.real else np.complex128


def _exact_into(xr, xi, weights, target, threads=1):
    """The exact product ``x @ w`` of the integer operands (B, M, K), written by
    ``target`` (:class:`_Target`) in blocks of :data:`EXACT_BINS` bins, as many
    columns as :data:`EXACT_WEIGHT_BYTES` and as many rows as
    :data:`EXACT_BLOCK` allow.

    One GEMM per bin, column block and row block, exact in its dtype
    (:func:`_exact_dtype`), on operands converted block by block (no
    product-sized temporaries).  The blocks of bins and columns are shared out among ``threads`` threads, each with its own
    buffers and a single-threaded BLAS (:mod:`fdafast._blas`); they write
    disjoint parts of the target, and every value is computed alike whatever
    the thread count.
    """
    B, M, K = xr.shape
    N = weights.N
    dtype = _exact_dtype(xr, xi, weights)
    nbin = min(B, EXACT_BINS)
    nc = min(N, max(8, EXACT_WEIGHT_BYTES // (nbin * K * np.dtype(dtype).itemsize)))
    mb = min(M, max(1, EXACT_BLOCK // (nbin * nc)))
    starts = [(b0, n0) for b0 in range(0, B, nbin) for n0 in range(0, N, nc)]

    def work(share):
        y = np.empty((nbin, mb, nc), dtype)
        xb, wb = np.empty((mb, K), dtype), np.empty((nbin, K, nc), dtype)
        for b0, n0 in share:
            blk, n1 = range(b0, min(B, b0 + nbin)), min(N, n0 + nc)
            w_ = wb[:, :, :n1 - n0]
            for j, b in enumerate(blk):
                wr, wi = weights.matrix(b)
                if weights.real:
                    w_[j] = wr[:, n0:n1]
                else:
                    w_[j].real, w_[j].imag = wr[:, n0:n1], wi[:, n0:n1]
            for m0 in range(0, M, mb):
                m1 = min(M, m0 + mb)
                y_ = y[:len(blk), :m1 - m0, :n1 - n0]
                for j, b in enumerate(blk):
                    if weights.real:
                        xb[:m1 - m0] = xr[b, m0:m1]
                    else:
                        xb[:m1 - m0].real, xb[:m1 - m0].imag = xr[b, m0:m1], xi[b, m0:m1]
                    np.matmul(xb[:m1 - m0], w_[j], out=y_[j])
                target.write(y_, blk, range(m0, m1), n0)

    _blas.share_out(work, starts, int(threads))


class _Target:
    """Where products go: float64 planes at element strides (b, m, n), each value
    scaled by ``rs[m] * cs[n] * bs[b]`` (multiplied in that order)."""

    def __init__(self, out, strides, scales, shape, real):
        B, M, N = shape
        self.out, self.strides = out, tuple(int(v) for v in strides)
        rs, cs, bs = scales
        ones = np.ones(max(B, M, N))
        self.rs, self.cs, self.bs = (np.ascontiguousarray(ones[:n] if v is None else v,
                                                          np.float64)
                                     for v, n in zip((rs, cs, bs), (M, N, B)))
        self.real = real
        last = sum((n - 1) * st for n, st in zip(shape, self.strides))
        for plane in out[:1 if real else 2]:
            if last >= plane.size:
                raise InvalidArgumentError(f"internal: output plane of {plane.size} elements "
                                           f"is too small for {shape} at strides {strides}")

    @classmethod
    def new(cls, shape, real):
        """A target that fills a fresh (B, M, N) float64 or complex128 array, unscaled."""
        B, M, N = shape
        y = np.empty(shape, np.float64 if real else np.complex128)
        flat = y.reshape(-1) if real else y.reshape(-1).view(np.float64)
        planes, strides = ((flat,), (M * N, N, 1)) if real else \
            ((flat, flat[1:]), (2 * M * N, 2 * N, 2))
        target = cls(planes, strides, (None, None, None), shape, real)
        target.y = y
        return target

    def write(self, y, b_idx, m_idx, n0=0):
        """Write ``y`` (b, m, n) at batch items ``b_idx``, rows ``m_idx`` (None: all,
        from 0) and the columns from ``n0`` on."""
        b_idx = np.arange(y.shape[0]) if b_idx is None else np.asarray(b_idx, np.int64)
        m_idx = np.arange(y.shape[1]) if m_idx is None else np.asarray(m_idx, np.int64)
        out_im = self.out[0][:0] if self.real else self.out[1]
        _nb.scatter_scaled(y, self.out[0], out_im, b_idx, m_idx, int(n0), *self.strides,
                           self.rs, self.cs, self.bs)


def _numba_product(kernel, xr, xi, weights, step, threads, bins=slice(None), read_key=0):
    """``step * C + D`` (B, M, N) of the Numba kernels, against the weights of ``bins``,
    with the read noise of ``read_key`` (:meth:`PreparedWeights.read_seed`)."""
    cfg = weights.config
    set_threads(threads)
    shifts, masks, sig = input_chunking(cfg)
    A = np.ascontiguousarray(_input_layout(xr, xi, cfg))
    layout = weights.layout(kernel, step, threads)
    if kernel is Kernel.NUMBA_PACKED:
        Gp, bits = layout
        C = _nb.emulate_packed(A, np.ascontiguousarray(Gp[bins]), bits,
                               weights.route.shape[1], weights.route, weights.mult, shifts,
                               masks, sig, weights.rows_per_block, weights.N,
                               cfg.adc_table(step))
    else:
        C = _nb.emulate_float(A, np.ascontiguousarray(layout[bins]), weights.route,
                              weights.mult, shifts, masks, sig, weights.rows_per_block,
                              weights.N, float(step), cfg.adc_max, float(cfg.read_sigma),
                              np.uint64(weights.read_seed(read_key)))
    d_re, d_im = _offset_correction(xr, xi, cfg)
    y = np.empty(C.shape[:2] + (C.shape[3],), np.float64 if weights.real else np.complex128)
    y.real = C[:, :, 0] * step + d_re[..., None]     # float64: step*C + D, as specified
    if not weights.real:
        y.imag = C[:, :, 1] * step + d_im[..., None]
    return y


def _kernel_product(kernel, xr, xi, weights, step, threads, bins=slice(None)):
    """``step * C + D`` (B, M, N) of ``kernel`` against the weights of ``bins``."""
    if kernel is Kernel.C_IDEAL or kernel is Kernel.C_FLOAT:
        setup = weights.layout(kernel, step, threads)
        setup = setup[:2] + tuple(a if a is None or not isinstance(a, np.ndarray)
                                  else np.ascontiguousarray(a[bins]) for a in setup[2:])
        return _xbar.run(setup, xr, xi, threads)
    return _numba_product(kernel, xr, xi, weights, step, threads, bins)


def _split_exact(kernel, xr, xi, weights, step, threads, target):
    """The exact product for the rows that provably never round or clip
    (:func:`fdafast._kernels.crossbar.provably_exact`), ``kernel`` for the others."""
    cfg = weights.config
    set_threads(threads)
    shifts, masks, _ = input_chunking(cfg)
    kind = 2 if weights.real else (0 if cfg.pe is PE.ROWPAIR else 1)
    cpb = cfg.rows if weights.real else cfg.channels_per_block
    ok = _nb.provably_exact(np.ascontiguousarray(xr, np.int32),
                            np.ascontiguousarray(xr if xi is None else xi, np.int32), kind,
                            cpb, shifts, masks, cfg.adc_max // cfg.levels)
    _exact_into(xr, xi, weights, target, threads)
    for b in np.flatnonzero(~ok.all(axis=1)):
        rows = np.flatnonzero(~ok[b])
        y = _kernel_product(kernel, xr[b:b + 1, rows], None if xi is None else xi[b:b + 1, rows],
                            weights, step, threads, slice(b, b + 1))
        target.write(y, [b], rows)


def emulate(xr, xi, weights, threads, full_scale=None, force=False, out=None, strides=None,
            scales=(None, None, None), read_key=0):
    """The emulated product of integer inputs (B, M, K) and :class:`PreparedWeights`.

    Parameters
    ----------
    xr, xi : int32 arrays (B, M, K)
    weights : PreparedWeights
    threads : int
    full_scale : float, optional
        ADC full scale (None: the configuration's); a given one never takes
        the exact shortcut.
    force : bool
        Emulate every conversion even where the configuration is exact.
    out, strides, scales
        None: return y (B, M, N) complex128 (float64 for real weights),
        ``step * C + D``.  Otherwise ``out = (yre, yim)`` float64 planes
        (one for real weights) receive ``y * rs[m] * cs[n] * bs[b]``
        (``scales = (rs, cs, bs)``, None for 1) at the element ``strides``
        (b, m, n), and nothing is returned.
    read_key : int
        Which read-noise draw (:meth:`PreparedWeights.read_seed`): calls with
        different keys see independent read noise on the same cells (e.g. one
        key per input of a data set); 0 (default) draws with the device seed.
        Irrelevant without read noise.
    """
    config = weights.config
    most = weights.max_channels()
    if xr.shape[2] > most:
        raise ConfigError(f"a product over {xr.shape[2]} input channels could overflow the "
                          f"emulation's 64-bit accumulators with {config.adc_bits}-bit ADCs, "
                          f"{config.input_bits}-bit inputs and {config.weight_bits}-bit "
                          f"weights on {config.rows}-row crossbars: at most {most} channels "
                          f"(use fewer bits or more rows)")
    step = config.step_for(full_scale)
    kernel = _dispatch.crossbar_kernel(config, step, full_scale is None and not force,
                                       real=weights.real)
    if kernel in (Kernel.C_IDEAL, Kernel.C_FLOAT) \
            and not _dispatch.exact_rows_apply(kernel, config, step):
        # straight into the output planes (or a fresh array)
        setup = weights.layout(kernel, step, threads)
        if kernel is Kernel.C_FLOAT:                    # ('float', desc, G, sigma, seed)
            setup = setup[:4] + (weights.read_seed(read_key),)
        return _xbar.run(setup, xr, xi, threads, out, strides, scales)
    shape = (xr.shape[0], xr.shape[1], weights.N)
    target = _Target.new(shape, weights.real) if out is None else \
        _Target(out, strides, scales, shape, weights.real)
    set_threads(threads)
    if kernel is Kernel.EXACT:
        _exact_into(xr, xi, weights, target, threads)
    elif _dispatch.exact_rows_apply(kernel, config, step):
        _split_exact(kernel, xr, xi, weights, step, threads, target)
    else:
        target.write(_numba_product(kernel, xr, xi, weights, step, threads,
                                    read_key=read_key), None, None)
    return getattr(target, "y", None)


def column_sum_histogram(xr, xi, wr, wi, config, threads):
    """Counts of each column sum 0..S_max that an ideal emulation of the integer
    operands (B, M, K) x (B, K, N) converts (the device effects and the ADC range
    of ``config`` are ignored); what ADC calibration takes a percentile of.  Real
    operands: ``xi`` and ``wi`` None."""
    ideal = config.ideal()
    weights = PreparedWeights(wr, wi, ideal, 0)
    bits = int(ideal.s_max).bit_length()
    shifts, masks, _ = input_chunking(ideal)
    set_threads(threads)
    A = np.ascontiguousarray(_input_layout(xr, xi, ideal))
    return _nb.column_sum_histogram(A, _nb.pack_columns(weights.G, bits), bits,
                                    weights.G.shape[-1], shifts, masks,
                                    weights.rows_per_block, int(ideal.s_max), 4 * threads)


def _product(x, w, config, seed, threads, real, read_key):
    """The checked operands through :func:`emulate`: (y, counts)."""
    if not isinstance(config, CrossbarConfig):
        raise InvalidArgumentError(f"config must be a CrossbarConfig, got {type(config).__name__}")
    read_key = read_key_arg(read_key)
    threads = threads_arg(threads)
    for name, a in (("x", x), ("w", w)):
        if real and np.asarray(a).dtype.kind == "c":
            raise DTypeError(f"{name} is complex; matmul takes real operands (cmatmul takes "
                             f"complex ones)")
    xr, xi = _operand(x, config.input_bits, "x", real)
    wr, wi = _operand(w, config.weight_bits, "w", real)
    if xr.shape[1] != wr.shape[0]:
        raise ShapeError(f"x is {xr.shape} and w is {wr.shape}: x's columns must match "
                         f"w's rows")
    M, K = xr.shape
    N = wr.shape[1]
    counts = crossbar_counts(M, K, N, config, real=real)
    weights = PreparedWeights(wr[None], None if real else wi[None], config, _seed_arg(seed))
    y = emulate(xr[None], None if real else xi[None], weights, threads, read_key=read_key)
    return y[0], counts


def cmatmul(x, w, config, *, seed=None, threads=None, read_key=0):
    """Complex matrix product through the emulated crossbars.

    Parameters
    ----------
    x : array_like, shape (M, K)
        Complex (or real) operand whose real and imaginary parts are
        integers in [-(2^(input_bits-1)-1), 2^(input_bits-1)-1].
    w : array_like, shape (K, N)
        Likewise for ``weight_bits``.
    config : CrossbarConfig
    seed : int, optional
        Fixes every random draw of the device models (cells, read noise);
        None draws a fresh seed.  Irrelevant with ideal devices.
    threads : int, optional
        Threads of the kernel; results do not depend on it.
    read_key : int, optional
        Which read-noise draw on the cells ``seed`` fixes
        (:meth:`PreparedWeights.read_seed`; default 0: the seed's own).

    Returns
    -------
    y : ndarray, shape (M, N), complex128
        In units of input LSB x weight LSB: ``step * C + D``.
    counts : CrossbarCounts
        The hardware events, equal to :func:`crossbar_counts`.

    Notes
    -----
    With ideal devices and an ADC that cannot clip (``config.exact``) the
    result is ``x @ w`` computed exactly in integers; otherwise every column
    sum goes through the ADC as described in the module docstring.
    """
    return _product(x, w, config, seed, threads, False, read_key)


def matmul(x, w, config, *, seed=None, threads=None, read_key=0):
    """Real matrix product through the emulated crossbars.

    The real counterpart of :func:`cmatmul` (linear layers, spatial
    mappings, a user's real matrices): input channel k drives one row (row
    k of its block of ``rows``), each weight takes one column set
    (``sets * slices`` columns), and each input chunk is applied in one
    cycle, so a real product does a quarter of the conversions of the same
    product through :func:`cmatmul` with zero imaginary parts.  ``pe`` plays
    no part.  The rest follows the module docstring: weight slices and
    encodings, two's-complement input chunks, the ADC, ``y = step * C + D``
    with ``D = -2^(weight_bits-1) * sum_k x_k`` for the offset encoding.
    Device randomness: cell ``(set, slice, k, n)`` has id
    ``((set*slices + slice)*K + k)*N + n``; conversion
    ``(m, block, chunk, column)`` has id
    ``((m*nblocks + block)*chunks + chunk)*ncols + column``, column
    ``(set*slices + slice)*N + n``.

    Parameters are those of :func:`cmatmul`, with real integer-valued
    operands (a complex array is refused).

    Returns
    -------
    y : ndarray, shape (M, N), float64
    counts : CrossbarCounts
        Equal to ``crossbar_counts(M, K, N, config, real=True)``.
    """
    return _product(x, w, config, seed, threads, True, read_key)
