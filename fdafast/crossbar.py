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
import enum
import functools
import math
import secrets

import numpy as np

from ._args import threads_arg
from .errors import InvalidArgumentError, ShapeError, DTypeError

__all__ = ["PE", "WeightEncoding", "CrossbarConfig", "CrossbarCounts", "ConfigError",
           "cmatmul", "crossbar_counts"]


class ConfigError(InvalidArgumentError):
    """A hardware configuration value is unknown, out of range or impossible."""


class PE(str, enum.Enum):
    """How a processing element holds a complex weight."""

    ROWPAIR = "rowpair"     #: two rows of one column (Re w, Im w), two input cycles
    COLPAIR = "colpair"     #: one row, two columns (Re w, Im w), two input cycles


class WeightEncoding(str, enum.Enum):
    """How signed weights map to non-negative conductances."""

    DIFFERENTIAL = "differential"   #: w = w+ - w-, two column sets
    OFFSET = "offset"               #: w + 2^(bits-1), offset removed digitally


def _enum(cls, value, name):
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}") from None


def _int_in(name, value, lo, hi):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value}")


def _float_in(name, value, lo, hi, lo_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    bad = (value <= lo if lo_open else value < lo) or value > hi or math.isnan(value)
    if bad:
        left = "(" if lo_open else "["
        raise ConfigError(f"{name} must be in {left}{lo}, {hi}], got {value}")


@dataclasses.dataclass(frozen=True)
class CrossbarConfig:
    """A ReRAM crossbar and its converters, as the complex MAC emulation sees them.

    Parameters
    ----------
    rows, cols : int
        Physical rows and columns of one crossbar array (1..65536).
    cell_bits : int
        Bits stored per cell, 1..8 (levels 0 .. 2^cell_bits - 1), at most
        ``weight_bits``.
    weight_bits, input_bits : int
        Two's complement widths of the integer weights and inputs, 2..16.
    dac_bits : int
        Input bits applied per cycle, 1 .. input_bits - 1.
    adc_bits : int
        ADC resolution, 1..16.
    adc_full_scale : None, float or 'calibrate'
        Column sum mapped to the top ADC code.  None: the largest possible
        sum S_max (never clips).  A number (in column-sum units: one
        level-1 cell driven by DAC code 1): the ADC step is
        ``max(1, full_scale / (2^adc_bits - 1))`` and larger sums clip.
        'calibrate': set from a calibration batch by the convolution engine.
    pe : 'rowpair' or 'colpair'
        See :class:`PE` and the module docstring.
    weight_encoding : 'differential' or 'offset'
        See :class:`WeightEncoding`.
    program_sigma : float
        Programming variation, relative (dimensionless): each programmed
        cell conducts ``G * (1 + program_sigma * z)``, z standard normal,
        fixed per cell (clipped at 0).
    read_sigma : float
        Read noise per conversion, in column-sum units (level-1 cell x DAC
        code 1): ``S + read_sigma * z`` with a fresh z per conversion.
    stuck_on_rate, stuck_off_rate : float
        Fractions of cells stuck at the top level / at level 0 (0..1, sum <= 1).
    on_off_ratio : float or None
        G_max / G_min of a cell (> 1), None for an ideal off state.  Level L
        conducts ``g_off + L (Lmax - g_off) / Lmax`` level-1 units with
        ``g_off = Lmax / on_off_ratio``, Lmax = 2^cell_bits - 1.

    Notes
    -----
    Device randomness comes from :mod:`fdafast._rng` with the seed given to
    :func:`cmatmul`: cell ``(part, set, slice, k, n)`` (part 0 = Re w, 1 =
    Im w) has id ``(((part*sets + set)*slices + slice)*K + k)*N + n``; it is
    stuck off if ``uniform(seed, 2, id) < stuck_off_rate``, else stuck on if
    below ``stuck_off_rate + stuck_on_rate``; its variation is
    ``normal(seed, 1, id)``.  Conversion ``(m, block, cycle, chunk, column)``
    has id ``((((m*nblocks + block)*2 + cycle)*chunks + chunk)*ncols + column)``
    and read noise ``normal(seed, 3, id)``.  Column ids: rowpair
    ``(set*slices + slice)*N + n``; colpair
    ``((part*sets + set)*slices + slice)*N + n``.
    """

    rows: int = 128
    cols: int = 128
    cell_bits: int = 2
    weight_bits: int = 8
    input_bits: int = 8
    dac_bits: int = 1
    adc_bits: int = 8
    adc_full_scale: object = None
    pe: PE = PE.ROWPAIR
    weight_encoding: WeightEncoding = WeightEncoding.DIFFERENTIAL
    program_sigma: float = 0.0
    read_sigma: float = 0.0
    stuck_on_rate: float = 0.0
    stuck_off_rate: float = 0.0
    on_off_ratio: object = None

    def __post_init__(self):
        object.__setattr__(self, "pe", _enum(PE, self.pe, "pe"))
        object.__setattr__(self, "weight_encoding",
                           _enum(WeightEncoding, self.weight_encoding, "weight_encoding"))
        _int_in("rows", self.rows, 1, 65536)
        _int_in("cols", self.cols, 1, 65536)
        _int_in("weight_bits", self.weight_bits, 2, 16)
        _int_in("input_bits", self.input_bits, 2, 16)
        _int_in("cell_bits", self.cell_bits, 1, 8)
        if self.cell_bits > self.weight_bits:
            raise ConfigError(f"cell_bits ({self.cell_bits}) must not exceed weight_bits "
                              f"({self.weight_bits}): allowed 1..{min(8, self.weight_bits)}")
        _int_in("dac_bits", self.dac_bits, 1, self.input_bits - 1)
        _int_in("adc_bits", self.adc_bits, 1, 16)
        if self.pe is PE.ROWPAIR and self.rows < 2:
            raise ConfigError(f"rows must be >= 2 with pe='rowpair' (a channel takes two "
                              f"rows), got {self.rows}")
        fs = self.adc_full_scale
        if fs is not None and not (isinstance(fs, str) and fs == "calibrate"):
            _float_in("adc_full_scale", fs, 0.0, math.inf, lo_open=True)
            object.__setattr__(self, "adc_full_scale", float(fs))
        for name in ("program_sigma", "read_sigma"):
            _float_in(name, getattr(self, name), 0.0, 1e6)
        for name in ("stuck_on_rate", "stuck_off_rate"):
            _float_in(name, getattr(self, name), 0.0, 1.0)
        if self.stuck_on_rate + self.stuck_off_rate > 1.0:
            raise ConfigError(f"stuck_on_rate + stuck_off_rate must be <= 1, got "
                              f"{self.stuck_on_rate} + {self.stuck_off_rate}")
        if self.on_off_ratio is not None:
            _float_in("on_off_ratio", self.on_off_ratio, 1.0, math.inf, lo_open=True)

    @classmethod
    def from_dict(cls, values):
        """Build from a mapping; unknown keys raise :class:`ConfigError`."""
        return cls(**dict(values))

    def replace(self, **changes):
        """A copy with some fields changed (validated like the constructor)."""
        return type(self)(**{**dataclasses.asdict(self), **changes})

    # -- derived quantities ----------------------------------------------------
    @property
    def levels(self):
        """Top cell level Lmax = 2^cell_bits - 1."""
        return (1 << self.cell_bits) - 1

    @property
    def sets(self):
        """Column sets per weight: 2 (differential) or 1 (offset)."""
        return 2 if self.weight_encoding is WeightEncoding.DIFFERENTIAL else 1

    @property
    def slices(self):
        """Cells per weight magnitude: ceil((wb-1)/cb) differential, ceil(wb/cb) offset."""
        bits = self.weight_bits - 1 if self.sets == 2 else self.weight_bits
        return -(-bits // self.cell_bits)

    @property
    def chunks(self):
        """Input cycles per complex cycle: ceil((ib-1)/db) magnitude chunks + the sign."""
        return -(-(self.input_bits - 1) // self.dac_bits) + 1

    @property
    def channels_per_block(self):
        """Input channels per row block: rows // 2 (rowpair) or rows (colpair)."""
        return self.rows // 2 if self.pe is PE.ROWPAIR else self.rows

    @property
    def s_max(self):
        """Largest column sum: rows (2^dac_bits - 1)(2^cell_bits - 1)."""
        return self.rows * ((1 << self.dac_bits) - 1) * self.levels

    @property
    def adc_max(self):
        """Top ADC code 2^adc_bits - 1."""
        return (1 << self.adc_bits) - 1

    @property
    def adc_step(self):
        """ADC step ``max(1, adc_full_scale / adc_max)`` (full scale S_max when None)."""
        return self.step_for(None)

    def step_for(self, full_scale):
        """ADC step for ``full_scale`` (None: the configured one; 'calibrate' has none)."""
        fs = self.adc_full_scale if full_scale is None else full_scale
        if isinstance(fs, str):
            raise ConfigError("adc_full_scale='calibrate' has no step until a calibration "
                              "batch sets it (see the ReRAM convolution engine)")
        fs = self.s_max if fs is None else float(fs)
        return max(1.0, fs / self.adc_max)

    @property
    def ideal_devices(self):
        """True when no device non-ideality is switched on."""
        return (self.program_sigma == 0 and self.read_sigma == 0 and self.stuck_on_rate == 0
                and self.stuck_off_rate == 0 and self.on_off_ratio is None)

    @property
    def exact(self):
        """True when the emulation reproduces x @ w exactly (ideal, never quantizing)."""
        return (self.ideal_devices and not isinstance(self.adc_full_scale, str)
                and self.adc_step == 1.0 and self.s_max <= self.adc_max)


def _reject_unknown_keys(init):
    names = None

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        nonlocal names
        if names is None:
            names = [f.name for f in dataclasses.fields(CrossbarConfig)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ConfigError(f"unknown CrossbarConfig field(s) {', '.join(unknown)}; "
                              f"known fields: {', '.join(names)}")
        init(self, *args, **kwargs)
    return wrapper


CrossbarConfig.__init__ = _reject_unknown_keys(CrossbarConfig.__init__)


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
def _operand(a, bits, name):
    """(re, im) int32 arrays of an integer-valued complex operand within +-(2^(bits-1)-1).

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
        from . import _native
        re, im, bad = _native.split_int(a, limit)     # one pass in C
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
        parts.append(np.zeros(a.shape, np.int32))
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
    from . import _rng
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


def input_chunking(config):
    """(shifts, masks, significances) of the input chunks, int64 arrays of length chunks."""
    ib, db = config.input_bits, config.dac_bits
    nmag = config.chunks - 1
    shifts = [c * db for c in range(nmag)] + [ib - 1]
    masks = [(1 << min(db, ib - 1 - c * db)) - 1 for c in range(nmag)] + [1]
    sig = [1 << (c * db) for c in range(nmag)] + [-(1 << (ib - 1))]
    return (np.array(shifts, np.int64), np.array(masks, np.int64), np.array(sig, np.int64))


def _layout(xr, xi, wr, wi, config, seed):
    """Inputs and weights laid out for the kernels: see :func:`_weight_layout`.

    Returns ``A`` (B, 2, M, R) int32, the integer driven on physical row r in
    cycle q, followed by :func:`_weight_layout`'s four values.
    """
    G, route, mult, rows_per_block = _weight_layout(wr, wi, config, seed)
    return _input_layout(xr, xi, config), G, route, mult, rows_per_block


def _input_layout(xr, xi, config):
    """A (B, 2, M, R) int32: the integer driven on physical row r in cycle q."""
    if config.pe is PE.ROWPAIR:
        a0 = np.stack([xr, -xi], axis=3).reshape(xr.shape[0], -1, 2 * xr.shape[2])
        a1 = np.stack([xi, xr], axis=3).reshape(xr.shape[0], -1, 2 * xr.shape[2])
    else:
        a0, a1 = xr, xi
    return np.stack([a0, a1], axis=1).astype(np.int32)


def _routing(N, config):
    """Column routing: ``route`` and ``mult`` (2, ncols), the output (0 re, 1 im) each
    logical column feeds in each cycle and its signed power-of-two weight, and the
    physical rows per block."""
    ns, sets, cb = config.slices, config.sets, config.cell_bits
    set_sign = np.array([1, -1] if sets == 2 else [1], np.int64)
    slice_w = np.array([1 << (s * cb) for s in range(ns)], np.int64)
    m = np.repeat((set_sign[:, None] * slice_w[None, :]).reshape(-1), N)
    half = sets * ns * N
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
    ideal devices); rowpair rows 2k (Re w) and 2k+1 (Im w), colpair row k."""
    B, K, N = wr.shape
    lev = np.stack([_slices(wr, config), _slices(wi, config)])      # (part, set, s, B, K, N)
    G = _conductances(lev.transpose(3, 0, 1, 2, 4, 5), config, seed)  # (B, part, set, s, K, N)
    half = config.sets * config.slices * N
    if config.pe is PE.ROWPAIR:
        return np.ascontiguousarray(G.transpose(0, 4, 1, 2, 3, 5).reshape(B, 2 * K, half))
    return np.ascontiguousarray(G.transpose(0, 4, 1, 2, 3, 5).reshape(B, K, 2 * half))


def _weight_layout(wr, wi, config, seed):
    """(G, route, mult, rows_per_block) of a batch of weight matrices (B, K, N)."""
    return (_conductance_rows(wr, wi, config, seed),) + _routing(wr.shape[2], config)


def _offset_correction(xr, xi, config):
    """Exact digital offset terms (D_re, D_im), shape (B, M) int64 each."""
    if config.sets == 2:
        z = np.zeros(xr.shape[:2], np.int64)
        return z, z
    off = 1 << (config.weight_bits - 1)
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
    (cell levels or conductances, column routing, and, lazily, the C kernel's
    bit planes), so that a plan can emulate many inputs against them.
    """

    def __init__(self, wr, wi, config, seed):
        # kept as int16 (weights have at most 16 bits): half the memory of a
        # network's worth of weight spectra; handed out as int32
        self._w = (np.ascontiguousarray(wr, np.int16), np.ascontiguousarray(wi, np.int16))
        self.config, self.seed = config, seed
        self.route, self.mult, self.rows_per_block = _routing(wr.shape[2], config)
        self._G = None
        self._native = {}

    @property
    def wr(self):
        """Real parts of the integer weights, (B, K, N) int32 (a fresh copy)."""
        return self._w[0].astype(np.int32)

    @property
    def wi(self):
        """Imaginary parts of the integer weights, (B, K, N) int32 (a fresh copy)."""
        return self._w[1].astype(np.int32)

    @property
    def N(self):
        return self._w[0].shape[2]

    @property
    def shape(self):
        return self._w[0].shape

    def sample(self, b, n):
        """int32 (re, im) of bins ``b`` and output columns ``n`` only."""
        return tuple(w[b][:, :, n].astype(np.int32) for w in self._w)

    @property
    def G(self):
        """Conductances in physical row order (computed on first use; the C kernel
        for ideal devices never needs them)."""
        if self._G is None:
            self._G = _conductance_rows(self.wr, self.wi, self.config, self.seed)
        return self._G

    def native(self, step):
        """The C kernel's inputs for ``step`` (None where no C kernel applies): the
        integer kernel with ideal devices, the float kernel otherwise."""
        if step not in self._native:
            from ._kernels.crossbar import float_setup, native_setup
            self._native[step] = (native_setup(self, step) if self.config.ideal_devices
                                  else float_setup(self, step))
        return self._native[step]


def _emulate_batch(xr, xi, weights, threads, full_scale=None, force=False):
    """y (B, M, N) complex128 of integer inputs (B, M, K) against PreparedWeights;
    ``force`` runs the emulation even where the configuration is exact."""
    config = weights.config
    step = config.step_for(full_scale)
    if config.exact and full_scale is None and not force:
        # integers below 2^15 in magnitude: every partial sum of K < 2^22
        # products is an integer below 2^53, so float64 BLAS is exact
        f = [a.astype(np.float64) for a in (xr, xi, weights.wr, weights.wi)]
        yr = np.matmul(f[0], f[2]) - np.matmul(f[1], f[3])
        yi = np.matmul(f[0], f[3]) + np.matmul(f[1], f[2])
        return yr + 1j * yi
    from ._kernels.crossbar import emulate, native_run
    setup = weights.native(step)
    if setup is not None:
        return native_run(setup, xr, xi, threads)
    A = _input_layout(xr, xi, config)
    C = emulate(A, weights.G, weights.route, weights.mult, weights.rows_per_block, weights.N,
                step, config, weights.seed, threads)
    d_re, d_im = _offset_correction(xr, xi, config)
    y = np.empty(C.shape[:2] + (C.shape[3],), np.complex128)
    y.real = C[:, :, 0] * step + d_re[..., None]     # float64: step*C + D, as specified
    y.imag = C[:, :, 1] * step + d_im[..., None]
    return y


def cmatmul(x, w, config, *, seed=None, threads=None):
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
    if not isinstance(config, CrossbarConfig):
        raise InvalidArgumentError(f"config must be a CrossbarConfig, got {type(config).__name__}")
    xr, xi = _operand(x, config.input_bits, "x")
    wr, wi = _operand(w, config.weight_bits, "w")
    if xr.shape[1] != wr.shape[0]:
        raise ShapeError(f"x is {xr.shape} and w is {wr.shape}: x's columns must match "
                         f"w's rows")
    M, K = xr.shape
    N = wr.shape[1]
    counts = crossbar_counts(M, K, N, config)
    weights = PreparedWeights(wr[None], wi[None], config, _seed_arg(seed))
    y = _emulate_batch(xr[None], xi[None], weights, threads_arg(threads))
    return y[0], counts
