"""The configuration of a ReRAM crossbar and its converters: :class:`CrossbarConfig`.

The bottom floor of the crossbar emulation: plain validated values and the
quantities derived from them (cell slices, input chunks, the largest column
sum, the ADC's step and code table), with no kernel behind them.  The
emulation (:mod:`fdafast.crossbar`), the ReRAM convolution engine
(:mod:`fdafast.reram`) and the accelerator descriptions (:mod:`fdafast.arch`,
whose ``[crossbar]`` section embeds a CrossbarConfig) all import it.  The
semantics of every field are written out in :mod:`fdafast.crossbar`.
"""
import dataclasses
import enum
import functools

import numpy as np

from ._checks import choice, integer, number
from .errors import InvalidArgumentError

__all__ = ["PE", "WeightEncoding", "CrossbarConfig", "ConfigError", "DEVICE_FIELDS",
           "IDEAL_DEVICES", "input_chunking"]


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

#: The device non-idealities of a :class:`CrossbarConfig` and their ideal values.
IDEAL_DEVICES = {"program_sigma": 0.0, "read_sigma": 0.0, "stuck_on_rate": 0.0,
                 "stuck_off_rate": 0.0, "on_off_ratio": None}
#: Names of the device non-ideality fields.
DEVICE_FIELDS = tuple(IDEAL_DEVICES)


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
        def put(name, value):
            object.__setattr__(self, name, value)
        put("pe", choice("pe", PE, self.pe, error=ConfigError))
        put("weight_encoding", choice("weight_encoding", WeightEncoding,
                                      self.weight_encoding, error=ConfigError))
        for name, lo, hi in (("rows", 1, 65536), ("cols", 1, 65536), ("weight_bits", 2, 16),
                             ("input_bits", 2, 16), ("cell_bits", 1, 8)):
            put(name, integer(name, getattr(self, name), lo, hi, error=ConfigError))
        if self.cell_bits > self.weight_bits:
            raise ConfigError(f"cell_bits ({self.cell_bits}) must not exceed weight_bits "
                              f"({self.weight_bits}): allowed 1..{min(8, self.weight_bits)}")
        put("dac_bits", integer("dac_bits", self.dac_bits, 1, self.input_bits - 1,
                                error=ConfigError))
        put("adc_bits", integer("adc_bits", self.adc_bits, 1, 16, error=ConfigError))
        if self.pe is PE.ROWPAIR and self.rows < 2:
            raise ConfigError(f"rows must be >= 2 with pe='rowpair' (a channel takes two "
                              f"rows), got {self.rows}")
        fs = self.adc_full_scale
        if fs is not None and not (isinstance(fs, str) and fs == "calibrate"):
            put("adc_full_scale", number("adc_full_scale", fs, 0.0, None, lo_open=True,
                                         error=ConfigError))
        for name, hi in (("program_sigma", 1e6), ("read_sigma", 1e6), ("stuck_on_rate", 1.0),
                         ("stuck_off_rate", 1.0)):
            put(name, number(name, getattr(self, name), 0.0, hi, error=ConfigError))
        if self.stuck_on_rate + self.stuck_off_rate > 1.0:
            raise ConfigError(f"stuck_on_rate + stuck_off_rate must be <= 1, got "
                              f"{self.stuck_on_rate} + {self.stuck_off_rate}")
        if self.on_off_ratio is not None:
            put("on_off_ratio", number("on_off_ratio", self.on_off_ratio, 1.0, None,
                                       lo_open=True, error=ConfigError))

    @classmethod
    def from_dict(cls, values):
        """Build from a mapping; unknown keys raise :class:`ConfigError`."""
        return cls(**dict(values))

    def replace(self, **changes):
        """A copy with some fields changed (validated like the constructor)."""
        return type(self)(**{**dataclasses.asdict(self), **changes})

    def ideal(self):
        """The same crossbars with ideal devices and an ADC full scale of S_max (the
        default, which never clips): what calibration and the exact paths emulate."""
        return self.replace(adc_full_scale=None, **IDEAL_DEVICES)

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

    def adc_table(self, step):
        """ADC codes of every integer column sum 0..S_max at ``step``: the formula
        ``min(max(floor(S/step + 1/2), 0), 2^adc_bits - 1)`` in float64, as int64."""
        s = np.arange(self.s_max + 1, dtype=np.float64)
        return np.minimum(np.maximum(np.floor(s / step + 0.5), 0),
                          self.adc_max).astype(np.int64)

    @property
    def ideal_devices(self):
        """True when no device non-ideality is switched on."""
        return all(getattr(self, name) == value for name, value in IDEAL_DEVICES.items())

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


def input_chunking(config):
    """(shifts, masks, significances) of the input chunks, int64 arrays of length chunks.

    Chunk c < chunks-1 applies magnitude bits [c*dac_bits, min((c+1)*dac_bits,
    input_bits-1)); the last applies the sign bit alone, with significance
    -2^(input_bits-1).
    """
    ib, db = config.input_bits, config.dac_bits
    nmag = config.chunks - 1
    shifts = [c * db for c in range(nmag)] + [ib - 1]
    masks = [(1 << min(db, ib - 1 - c * db)) - 1 for c in range(nmag)] + [1]
    sig = [1 << (c * db) for c in range(nmag)] + [-(1 << (ib - 1))]
    return (np.array(shifts, np.int64), np.array(masks, np.int64), np.array(sig, np.int64))
