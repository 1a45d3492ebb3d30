"""The sections of an accelerator description: frozen, validated dataclasses.

``[meta]``, ``[technology]``, ``[organisation]``, ``[crossbar]`` (a
:class:`fdafast.CrossbarConfig` beside the timing and the write physics it
does not model), ``[frequency]``, ``[digital]`` and ``[memory]``; the
component and action tables are in :mod:`fdafast.arch.tables`, the
``[execution]`` section in :mod:`fdafast.arch.execution`, and
:class:`fdafast.arch.Accelerator` puts them together.  Each ``check(path)``
validates its values, names a bad one by its dotted path and normalises it
to a plain Python type.
"""
import dataclasses
import enum

from .. import _checks
from ..crossbar_config import PE, ConfigError, CrossbarConfig, WeightEncoding
from .tables import ArchError

__all__ = ["Kind", "Hermitian", "TilePolicy", "KINDS", "ACTIONS", "OPTIONAL_ACTIONS", "Meta",
           "Technology", "Organisation", "CrossbarSpec", "FrequencySpec", "DigitalSpec",
           "Memory"]


class Kind(str, enum.Enum):
    """What the accelerator computes convolutions with."""

    SPATIAL_RERAM = "spatial-reram"      #: ISAAC-like: im2col rows through crossbars
    FREQUENCY_RERAM = "frequency-reram"  #: FDA: tile FFTs, per-bin complex MACs in crossbars
    DIGITAL_FFT = "digital-fft"          #: tile FFTs, per-bin complex MACs in digital units


class Hermitian(str, enum.Enum):
    """How much of a real tile's spectrum is computed, stored and moved."""

    NONE = "none"    #: every bin (no symmetric reuse)
    HALF = "half"    #: the T0 x T1 x (T2//2+1) half spectrum (what the emulation computes)
    EXACT = "exact"  #: the unique minimum: self-conjugate bins as real numbers


class TilePolicy(str, enum.Enum):
    """Which FFT tile a layer uses."""

    FIXED = "fixed"          #: always tile_2d / tile_3d
    PER_LAYER = "per-layer"  #: per layer, the power-of-two tile up to tile_2d / tile_3d
                             #: (and at least the kernel) with the fewest cycles


#: Accelerator kinds the model knows how to evaluate.
KINDS = tuple(k.value for k in Kind)
_COMMON = ("buffer_byte", "noc_byte", "dram_byte")
_RERAM = ("crossbar_read", "dac_drive", "sample_hold", "adc_conversion", "shift_add",
          "cell_write")
_FREQ = ("fft_butterfly", "ifft_butterfly")
#: Actions each kind emits, hence needs in its action table.
ACTIONS = {
    Kind.SPATIAL_RERAM: _RERAM + _COMMON,
    Kind.FREQUENCY_RERAM: _RERAM + _FREQ + _COMMON,
    Kind.DIGITAL_FFT: ("complex_mac", "real_mac") + _FREQ + _COMMON,
}
#: Actions a description may add, with the action whose energy stands in when absent:
#: ``link_byte``, a byte between chips (pipelined layers on several chips).
OPTIONAL_ACTIONS = {"link_byte": "dram_byte"}

#: Bounds of rates and times: beyond them cycle counts stop being meaningful numbers
#: (a DRAM of 1e-300 GB/s would take more cycles than a float holds).
_RATE = (1e-6, 1e9)


def _set(obj, field, value):
    object.__setattr__(obj, field, value)


def _positive(path, value, integer=False):
    if integer:
        return _checks.integer(path, value, 1, 1 << 40, error=ArchError)
    return _checks.number(path, value, 0.0, 1e12, lo_open=True, error=ArchError)


def _non_negative(path, value, integer=False):
    if integer:
        return _checks.integer(path, value, 0, 1 << 40, error=ArchError)
    return _checks.number(path, value, 0.0, 1e12, error=ArchError)


def _rate(path, value):
    """A rate or time within :data:`_RATE` (a plain float)."""
    return _checks.number(path, value, *_RATE, error=ArchError)


def _choice(path, cls, value):
    return _checks.choice(path, cls, value, error=ArchError)


@dataclasses.dataclass(frozen=True)
class Meta:
    name: str
    kind: str
    description: str = ""
    citation: str = ""

    def check(self, path):
        object.__setattr__(self, "kind", _choice(f"{path}.kind", Kind, self.kind).value)


@dataclasses.dataclass(frozen=True)
class Technology:
    node_nm: float
    clock_ghz: float
    source: str = ""

    def check(self, path):
        _set(self, "node_nm", _positive(f"{path}.node_nm", self.node_nm))
        _set(self, "clock_ghz", _rate(f"{path}.clock_ghz", self.clock_ghz))


@dataclasses.dataclass(frozen=True)
class Organisation:
    """Counts of units.  ``crossbars_per_pe_array`` and ``adcs_per_pe_array``
    are for ReRAM kinds, ``fft_units_per_tile``/``ifft_units_per_tile`` for
    frequency-domain kinds; a kind checks that the units it needs exist."""

    tiles: int
    pe_arrays_per_tile: int
    crossbars_per_pe_array: int = 0
    adcs_per_pe_array: int = 0
    fft_units_per_tile: int = 0
    ifft_units_per_tile: int = 0
    tiles_per_router: int = 1
    source: str = ""

    def check(self, path):
        for f in ("tiles", "pe_arrays_per_tile", "tiles_per_router"):
            _set(self, f, _positive(f"{path}.{f}", getattr(self, f), integer=True))
        for f in ("crossbars_per_pe_array", "adcs_per_pe_array", "fft_units_per_tile",
                  "ifft_units_per_tile"):
            _set(self, f, _non_negative(f"{path}.{f}", getattr(self, f), integer=True))

    @property
    def crossbars(self):
        """Crossbar arrays on the chip."""
        return self.tiles * self.pe_arrays_per_tile * self.crossbars_per_pe_array


@dataclasses.dataclass(frozen=True)
class CrossbarSpec:
    """Crossbar arrays and converters: a :class:`fdafast.CrossbarConfig` (the
    emulation's; ideal devices unless the description sets device fields) and
    the timing the emulation does not model.

    In a description the ``[crossbar]`` table is flat: the CrossbarConfig
    fields (``rows``, ``cols``, ``cell_bits``, ``weight_bits``, ``input_bits``,
    ``dac_bits`` and ``adc_bits`` required, the others optional) beside the
    fields below and ``source``.

    Parameters
    ----------
    read_latency_ns : float
        One read, at ``reference_rows`` rows (at any row count when that is
        None); :func:`fdafast.arch.models.read_latency_ns` scales it, the
        bitline taking ``rows_share`` of it.
    write_latency_ns : float
        Programming one row (program and verify), at the ``cell_write`` action's
        reference cell bits; it scales as that action's energy does.
    endurance_writes : float or None
        Writes a cell survives (None: unlimited).
    write_power_limit_w : float or None
        The most the write drivers of one chip may draw (None: unlimited);
        fewer crossbars are then programmed at once.
    """

    config: CrossbarConfig
    read_latency_ns: float
    write_latency_ns: float = 500.0
    reference_rows: object = None
    rows_share: float = 0.5
    endurance_writes: object = None
    write_power_limit_w: object = None
    source: str = ""

    #: CrossbarConfig fields a description must give.
    REQUIRED = ("rows", "cols", "cell_bits", "weight_bits", "input_bits", "dac_bits",
                "adc_bits")
    #: Keys of the table that describe the hardware (what the cost model reads): the
    #: CrossbarConfig fields other than device effects and the ADC range, and the timing.
    HARDWARE = REQUIRED + ("pe", "weight_encoding", "read_latency_ns", "write_latency_ns",
                           "reference_rows", "rows_share", "endurance_writes",
                           "write_power_limit_w")

    @classmethod
    def from_table(cls, values, path):
        """Build from the flat ``[crossbar]`` table, naming bad keys by their path."""
        if not isinstance(values, dict):
            raise ArchError(f"{path} must be a table, got {type(values).__name__}")
        config_fields = [f.name for f in dataclasses.fields(CrossbarConfig)]
        own = [f.name for f in dataclasses.fields(cls) if f.name != "config"]
        unknown = sorted(set(values) - set(config_fields) - set(own))
        if unknown:
            raise ArchError(f"unknown key(s) {', '.join(f'{path}.{k}' for k in unknown)}; "
                            f"known: {', '.join(config_fields + own)}")
        missing = [k for k in cls.REQUIRED + ("read_latency_ns",) if k not in values]
        if missing:
            raise ArchError(f"missing key(s) {', '.join(f'{path}.{k}' for k in missing)}")
        for f, enum_cls in (("pe", PE), ("weight_encoding", WeightEncoding)):
            if f in values:
                _choice(f"{path}.{f}", enum_cls, values[f])
        try:
            config = CrossbarConfig(**{k: v for k, v in values.items() if k in config_fields})
        except ConfigError as exc:
            raise ArchError(f"{path}: {exc}") from None
        spec = cls(config, **{k: v for k, v in values.items() if k in own})
        spec.check(path)
        return spec

    def as_table(self):
        """The flat ``[crossbar]`` table :meth:`from_table` takes."""
        table = {k: (v.value if isinstance(v, enum.Enum) else v)
                 for k, v in dataclasses.asdict(self.config).items()}
        table.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                      if f.name != "config"})
        return table

    def check(self, path):
        for f in ("read_latency_ns", "write_latency_ns"):
            _set(self, f, _rate(f"{path}.{f}", getattr(self, f)))
        if self.reference_rows is not None:
            _set(self, "reference_rows", _checks.integer(
                f"{path}.reference_rows", self.reference_rows, 1, 65536, error=ArchError))
        _set(self, "rows_share", _checks.number(f"{path}.rows_share", self.rows_share, 0.0,
                                                1.0, error=ArchError))
        if self.endurance_writes is not None:
            _set(self, "endurance_writes", _checks.number(
                f"{path}.endurance_writes", self.endurance_writes, 1.0, 1e30, error=ArchError))
        if self.write_power_limit_w is not None:
            _set(self, "write_power_limit_w", _rate(f"{path}.write_power_limit_w",
                                                    self.write_power_limit_w))
        cfg = self.config
        need = cfg.sets * cfg.slices * (2 if cfg.pe is PE.COLPAIR else 1)
        if need > cfg.cols:
            raise ArchError(f"{path}: a {cfg.weight_bits}-bit weight needs {need} cells "
                            f"of {cfg.cell_bits} bits in a row, more than the {cfg.cols} "
                            f"columns")


@dataclasses.dataclass(frozen=True)
class FrequencySpec:
    """Tile FFTs of a frequency-domain accelerator: ``tile_2d``/``tile_3d`` are the
    tiles (``tile_policy='fixed'``) or the largest the FFT units take
    (``'per-layer'``, see :class:`TilePolicy`)."""

    tile_2d: tuple
    tile_3d: tuple
    hermitian: str = "half"
    accumulator_bits: int = 32
    tile_policy: str = "fixed"
    source: str = ""

    def check(self, path):
        object.__setattr__(self, "hermitian",
                           _choice(f"{path}.hermitian", Hermitian, self.hermitian).value)
        object.__setattr__(self, "tile_policy",
                           _choice(f"{path}.tile_policy", TilePolicy, self.tile_policy).value)
        for f, n in (("tile_2d", 2), ("tile_3d", 3)):
            t = getattr(self, f)
            if not isinstance(t, (list, tuple)) or len(t) != n:
                raise ArchError(f"{path}.{f} must be a list of {n} sizes, got {t!r}")
            for v in t:
                _positive(f"{path}.{f}", v, integer=True)
                if v & (v - 1) or v > 64:
                    raise ArchError(f"{path}.{f}: tile sizes must be powers of two <= 64, "
                                    f"got {list(t)}")
            object.__setattr__(self, f, tuple(int(v) for v in t))
        _set(self, "accumulator_bits", _checks.integer(
            f"{path}.accumulator_bits", self.accumulator_bits, 1, 64, error=ArchError))


@dataclasses.dataclass(frozen=True)
class DigitalSpec:
    """Digital complex MAC array: ``mac_rows x mac_cols`` units per PE array; an
    input value is reused across the ``mac_cols`` output channels of a row, a
    weight across the ``mac_rows`` tiles of a column."""

    mac_rows: int
    mac_cols: int
    operand_bits: int
    source: str = ""

    def check(self, path):
        for f in ("mac_rows", "mac_cols"):
            _set(self, f, _positive(f"{path}.{f}", getattr(self, f), integer=True))
        _set(self, "operand_bits", _checks.integer(f"{path}.operand_bits", self.operand_bits,
                                                   1, 64, error=ArchError))


@dataclasses.dataclass(frozen=True)
class Memory:
    """On-chip buffers and off-chip DRAM."""

    buffer_kb_per_tile: float
    buffer_bytes_per_cycle_per_tile: float
    dram_gb_per_s: float
    activation_bits: int = 16
    source: str = ""

    def check(self, path):
        _set(self, "buffer_kb_per_tile", _positive(f"{path}.buffer_kb_per_tile",
                                                   self.buffer_kb_per_tile))
        for f in ("buffer_bytes_per_cycle_per_tile", "dram_gb_per_s"):
            _set(self, f, _rate(f"{path}.{f}", getattr(self, f)))
        _set(self, "activation_bits", _checks.integer(
            f"{path}.activation_bits", self.activation_bits, 1, 64, error=ArchError))
