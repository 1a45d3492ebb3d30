"""Accelerator descriptions: frozen, validated dataclasses loaded from TOML.

An accelerator description holds the *architecture* (``technology``,
``organisation``, and per kind ``crossbar``, ``frequency``, ``digital``,
``memory``), the *component table* (power and area of each group of units,
for the chip's power, area and peak figures) and the *action table*
(energy and unit occupancy of one action of each kind: an ADC conversion,
a crossbar read, an FFT butterfly, a byte moved).  Workloads and the action
counts a simulation emits are kept elsewhere (:mod:`fdafast.dataflow`,
:mod:`fdafast.cost`), so that energy is counts times the table in one place.

Levels of the component table: ``'chip'`` (once per chip), ``'tile'`` (per
tile; ``shared_by`` tiles share one, as ISAAC's router is shared by four),
``'pe_array'`` (per PE array, ISAAC's IMA).  Power and area are the totals
of the ``count`` units of the group in one instance of its level, as in
ISAAC's Table I.

Scaling: a component or action may declare ``scaling = "adc_bits"`` (its
power, area or energy grows as ``2^adc_bits``, the Walden figure of merit
of an ADC) or ``"crossbar_cells"`` (proportional to ``rows * cols``), with
``reference`` the value its numbers were given at; design sweeps then move
the numbers with the parameter.
"""
import dataclasses
import enum
import importlib.resources
import pathlib
import tomllib

from .. import _checks
from ..crossbar_config import PE, ConfigError, CrossbarConfig, WeightEncoding

__all__ = ["Accelerator", "Action", "Component", "CrossbarSpec", "DigitalSpec",
           "FrequencySpec", "Memory", "Meta", "Organisation", "Technology", "ArchError",
           "Hermitian", "Kind", "Scaling", "TilePolicy", "presets", "KINDS", "LEVELS", "ACTIONS"]


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


class Scaling(str, enum.Enum):
    """How a component's or action's numbers move with a design parameter."""

    ADC_BITS = "adc_bits"              #: proportional to 2^adc_bits
    CROSSBAR_CELLS = "crossbar_cells"  #: proportional to rows * cols


#: Accelerator kinds the model knows how to evaluate.
KINDS = tuple(k.value for k in Kind)
#: Levels of the component table.
LEVELS = ("chip", "tile", "pe_array")

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


class ArchError(ConfigError):
    """An accelerator description is unknown, malformed or physically impossible."""


def _positive(path, value, integer=False):
    if integer:
        _checks.integer(path, value, 1, error=ArchError)
    else:
        _checks.number(path, value, 0.0, lo_open=True, error=ArchError)


def _non_negative(path, value, integer=False):
    if integer:
        _checks.integer(path, value, 0, error=ArchError)
    else:
        _checks.number(path, value, 0.0, error=ArchError)


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
        _positive(f"{path}.node_nm", self.node_nm)
        _positive(f"{path}.clock_ghz", self.clock_ghz)


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
            _positive(f"{path}.{f}", getattr(self, f), integer=True)
        for f in ("crossbars_per_pe_array", "adcs_per_pe_array", "fft_units_per_tile",
                  "ifft_units_per_tile"):
            _non_negative(f"{path}.{f}", getattr(self, f), integer=True)

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
    ``dac_bits`` and ``adc_bits`` required, the others optional) beside
    ``read_latency_ns``, ``write_latency_ns`` and ``source``.
    """

    config: CrossbarConfig
    read_latency_ns: float
    write_latency_ns: float = 500.0
    source: str = ""

    #: CrossbarConfig fields a description must give.
    REQUIRED = ("rows", "cols", "cell_bits", "weight_bits", "input_bits", "dac_bits",
                "adc_bits")
    #: Keys of the table that describe the hardware (what the cost model reads): the
    #: CrossbarConfig fields other than device effects and the ADC range, and the timing.
    HARDWARE = REQUIRED + ("pe", "weight_encoding", "read_latency_ns", "write_latency_ns")

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
        table.update(read_latency_ns=self.read_latency_ns,
                     write_latency_ns=self.write_latency_ns, source=self.source)
        return table

    def check(self, path):
        _positive(f"{path}.read_latency_ns", self.read_latency_ns)
        _positive(f"{path}.write_latency_ns", self.write_latency_ns)
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
            object.__setattr__(self, f, tuple(t))
        _positive(f"{path}.accumulator_bits", self.accumulator_bits, integer=True)


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
        for f in ("mac_rows", "mac_cols", "operand_bits"):
            _positive(f"{path}.{f}", getattr(self, f), integer=True)


@dataclasses.dataclass(frozen=True)
class Memory:
    """On-chip buffers and off-chip DRAM."""

    buffer_kb_per_tile: float
    buffer_bytes_per_cycle_per_tile: float
    dram_gb_per_s: float
    activation_bits: int = 16
    source: str = ""

    def check(self, path):
        for f in ("buffer_kb_per_tile", "buffer_bytes_per_cycle_per_tile", "dram_gb_per_s"):
            _positive(f"{path}.{f}", getattr(self, f))
        _positive(f"{path}.activation_bits", self.activation_bits, integer=True)


def _check_scaling(obj, path):
    if obj.scaling is None:
        if obj.reference is not None:
            raise ArchError(f"{path}.reference is set but {path}.scaling is not")
        return
    object.__setattr__(obj, "scaling", _choice(f"{path}.scaling", Scaling, obj.scaling).value)
    if obj.reference is None:
        raise ArchError(f"{path}.scaling = {obj.scaling!r} needs {path}.reference (the "
                        f"{obj.scaling} its numbers were given at)")
    _positive(f"{path}.reference", obj.reference)


@dataclasses.dataclass(frozen=True)
class Component:
    level: str
    count: int
    power_mw: float
    area_mm2: float
    shared_by: int = 1
    scaling: object = None
    reference: object = None
    spec: str = ""
    source: str = ""

    def check(self, path):
        if self.level not in LEVELS:
            raise ArchError(f"{path}.level must be one of {LEVELS}, got {self.level!r}")
        _positive(f"{path}.count", self.count, integer=True)
        _positive(f"{path}.shared_by", self.shared_by, integer=True)
        _non_negative(f"{path}.power_mw", self.power_mw)
        _non_negative(f"{path}.area_mm2", self.area_mm2)
        _check_scaling(self, path)


@dataclasses.dataclass(frozen=True)
class Action:
    """One action's energy (pJ) and the time it occupies one unit (ns: the
    inverse of a unit's throughput; 0 where the model takes the time from
    elsewhere, e.g. ``crossbar.read_latency_ns``)."""

    energy_pj: float
    latency_ns: float = 0.0
    scaling: object = None
    reference: object = None
    source: str = ""

    def check(self, path):
        _non_negative(f"{path}.energy_pj", self.energy_pj)
        _non_negative(f"{path}.latency_ns", self.latency_ns)
        _check_scaling(self, path)


_SECTIONS = {"meta": Meta, "technology": Technology, "organisation": Organisation,
             "memory": Memory}
_OPTIONAL = {"crossbar": CrossbarSpec, "frequency": FrequencySpec, "digital": DigitalSpec}
#: Optional sections each kind needs.
_NEEDS = {Kind.SPATIAL_RERAM: ("crossbar",), Kind.FREQUENCY_RERAM: ("crossbar", "frequency"),
          Kind.DIGITAL_FFT: ("frequency", "digital")}


def _build(cls, values, path):
    """``cls(**values)``, naming unknown or missing keys by their dotted path."""
    if cls is CrossbarSpec:
        return CrossbarSpec.from_table(values, path)
    if not isinstance(values, dict):
        raise ArchError(f"{path} must be a table, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ArchError(f"unknown key(s) {', '.join(f'{path}.{k}' for k in unknown)}; "
                        f"known: {', '.join(fields)}")
    missing = [n for n, f in fields.items() if n not in values
               and f.default is dataclasses.MISSING]
    if missing:
        raise ArchError(f"missing key(s) {', '.join(f'{path}.{k}' for k in missing)}")
    obj = cls(**values)
    obj.check(path)
    return obj


def _table(data, name, cls):
    items = data.get(name)
    if not isinstance(items, dict) or not items:
        raise ArchError(f"{name} must be a non-empty table of {name} tables")
    return tuple((k, _build(cls, v, f"{name}.{k}")) for k, v in items.items())


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """An accelerator: architecture, component table and action table.

    Build with :meth:`from_preset`, :meth:`from_file` or :meth:`from_dict`.
    Sections a kind does not use are ``None``.
    """

    meta: Meta
    technology: Technology
    organisation: Organisation
    memory: Memory
    components: tuple          # ((name, Component), ...) in file order
    actions: tuple             # ((name, Action), ...) in file order
    crossbar: CrossbarSpec = None
    frequency: FrequencySpec = None
    digital: DigitalSpec = None

    # -- construction --------------------------------------------------------
    @classmethod
    def from_dict(cls, data):
        """Validate a nested mapping (the TOML's structure) into an Accelerator."""
        if not isinstance(data, dict):
            raise ArchError(f"an accelerator description is a table, got {type(data).__name__}")
        known = set(_SECTIONS) | set(_OPTIONAL) | {"components", "actions"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ArchError(f"unknown section(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
        missing = sorted((set(_SECTIONS) | {"components", "actions"}) - set(data))
        if missing:
            raise ArchError(f"missing section(s) {', '.join(missing)}")
        parts = {k: _build(c, data[k], k) for k, c in _SECTIONS.items()}
        kind = Kind(parts["meta"].kind)
        for k, c in _OPTIONAL.items():
            if k in data:
                parts[k] = _build(c, data[k], k)
            elif k in _NEEDS[kind]:
                raise ArchError(f"a {kind.value!r} accelerator needs a [{k}] section")
        acc = cls(components=_table(data, "components", Component),
                  actions=_table(data, "actions", Action), **parts)
        acc._check_kind(kind)
        return acc

    def _check_kind(self, kind):
        org = self.organisation
        need = {"crossbar": ("crossbars_per_pe_array", "adcs_per_pe_array"),
                "frequency": ("fft_units_per_tile", "ifft_units_per_tile")}
        for section, fields in need.items():
            if section in _NEEDS[kind]:
                for f in fields:
                    if getattr(org, f) < 1:
                        raise ArchError(f"organisation.{f} must be >= 1 for a {kind.value!r} "
                                        f"accelerator, got {getattr(org, f)}")
        names = dict(self.actions)
        required = ACTIONS[kind]
        extra = sorted(set(names) - set(required))
        if extra:
            raise ArchError(f"unknown action(s) {', '.join(f'actions.{a}' for a in extra)} for "
                            f"a {kind.value!r} accelerator; known: {', '.join(required)}")
        absent = [a for a in required if a not in names]
        if absent:
            raise ArchError(f"missing action(s) {', '.join(f'actions.{a}' for a in absent)}")
        timed = {"adc_conversion": "an ADC rate", "fft_butterfly": "an FFT unit rate",
                 "ifft_butterfly": "an IFFT unit rate", "complex_mac": "a MAC rate"}
        for a, what in timed.items():
            if a in names and not names[a].latency_ns > 0:
                raise ArchError(f"actions.{a}.latency_ns must be > 0 ({what}), got "
                                f"{names[a].latency_ns}")

    @classmethod
    def from_file(cls, path):
        """Load a user's TOML description (same layout as the shipped presets)."""
        path = pathlib.Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ArchError(f"no accelerator description at {str(path)!r}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ArchError(f"{str(path)!r} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ArchError(f"cannot read the accelerator description {str(path)!r}: "
                            f"{exc.strerror or exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_preset(cls, name, **overrides):
        """A shipped preset, with optional overrides.

        Overrides name a value by its dotted path, as keywords with ``__``
        for the dots (``crossbar__adc_bits=6``) or through a mapping
        (``**{"crossbar.adc_bits": 6}``); unknown paths raise :class:`ArchError`.
        """
        acc = cls.from_dict(preset_data(name))
        return acc.replace(**overrides) if overrides else acc

    @classmethod
    def resolve(cls, arch):
        """``arch`` as an Accelerator: an Accelerator (returned as is), a preset name,
        a path to a ``.toml`` description, or a mapping for :meth:`from_dict`."""
        if isinstance(arch, cls):
            return arch
        if isinstance(arch, dict):
            return cls.from_dict(arch)
        if isinstance(arch, (str, pathlib.Path)):
            if str(arch).endswith(".toml"):
                return cls.from_file(arch)
            return cls.from_preset(str(arch))
        raise ArchError(f"arch must be an Accelerator or a preset name ({', '.join(presets())}), "
                        f"a .toml path or a mapping, got {type(arch).__name__}")

    def replace(self, **overrides):
        """A copy with dotted-path overrides (see :meth:`from_preset`)."""
        data = self.as_dict()
        for key, value in overrides.items():
            _set_path(data, key.replace("__", ".").split("."), value, key)
        return type(self).from_dict(data)

    def as_dict(self):
        """The description as the nested mapping :meth:`from_dict` takes."""
        out = {k: dataclasses.asdict(getattr(self, k)) for k in _SECTIONS}
        for k in _OPTIONAL:
            if getattr(self, k) is not None:
                part = getattr(self, k)
                out[k] = part.as_table() if k == "crossbar" else dataclasses.asdict(part)
        for k in ("components", "actions"):
            out[k] = {n: {f: v for f, v in dataclasses.asdict(c).items() if v is not None}
                      for n, c in getattr(self, k)}
        return out

    # -- derived figures -------------------------------------------------------
    @property
    def kind(self):
        """The :class:`Kind` of the accelerator."""
        return Kind(self.meta.kind)

    def scale(self, obj):
        """The factor ``obj``'s (a Component's or Action's) numbers are multiplied by."""
        if obj.scaling is None:
            return 1.0
        xb = None if self.crossbar is None else self.crossbar.config
        if xb is None:
            raise ArchError(f"scaling {obj.scaling!r} needs a [crossbar] section")
        if obj.scaling == Scaling.ADC_BITS.value:
            return 2.0 ** (xb.adc_bits - obj.reference)
        return xb.rows * xb.cols / obj.reference

    def action_table(self):
        """``{action: (energy_pj, latency_ns)}`` with scaling applied."""
        return {n: (a.energy_pj * self.scale(a), a.latency_ns) for n, a in self.actions}

    def _level_total(self, attr):
        """Per-tile and per-chip totals of ``attr`` ('power_mw' or 'area_mm2')."""
        org = self.organisation

        def val(c):
            return getattr(c, attr) * self.scale(c)
        tile = sum(val(c) / c.shared_by for _, c in self.components if c.level == "tile")
        tile += org.pe_arrays_per_tile * sum(val(c) for _, c in self.components
                                             if c.level == "pe_array")
        chip = org.tiles * tile + sum(val(c) for _, c in self.components if c.level == "chip")
        return tile, chip

    def peak_ops_per_s(self):
        """Peak operations per second (a multiply and an add count as two).

        spatial-reram: each crossbar holds ``rows x cols // (sets*slices)``
        real weights and finishes a matrix-vector product every ``chunks``
        reads of ``read_latency_ns`` (the crossbar semantics of
        :class:`fdafast.CrossbarConfig`: ``chunks = ceil((input_bits-1)/dac_bits) + 1``).
        frequency-reram: ``channels_per_block x cols // columns_per_weight``
        complex weights per crossbar, a complex MAC (8 operations) each per
        ``2 * chunks`` reads.  digital-fft: every MAC unit does a complex MAC
        per cycle.
        """
        kind = self.kind
        if kind is Kind.DIGITAL_FFT:
            d = self.digital
            units = self.organisation.tiles * self.organisation.pe_arrays_per_tile
            return 8.0 * units * d.mac_rows * d.mac_cols * self.technology.clock_ghz * 1e9
        cfg = self.crossbar.config
        per_weight = cfg.sets * cfg.slices
        read_s = self.crossbar.read_latency_ns * 1e-9
        if kind is Kind.SPATIAL_RERAM:
            weights = cfg.rows * (cfg.cols // per_weight)
            return 2.0 * weights * self.organisation.crossbars / (cfg.chunks * read_s)
        per_weight *= 2 if cfg.pe is PE.COLPAIR else 1
        weights = cfg.channels_per_block * (cfg.cols // per_weight)
        return 8.0 * weights * self.organisation.crossbars / (2 * cfg.chunks * read_s)

    def summary(self):
        """Chip-level figures: power, area, peak throughput and efficiencies."""
        tile_mw, chip_mw = self._level_total("power_mw")
        tile_mm2, chip_mm2 = self._level_total("area_mm2")
        peak = self.peak_ops_per_s()
        return {
            "name": self.meta.name,
            "kind": self.meta.kind,
            "tile_power_mw": tile_mw,
            "tile_area_mm2": tile_mm2,
            "chip_power_w": chip_mw / 1000.0,
            "chip_area_mm2": chip_mm2,
            "peak_ops_per_s": peak,
            "peak_gops_per_w": peak / 1e9 / (chip_mw / 1000.0),
            "peak_gops_per_mm2": peak / 1e9 / chip_mm2,
        }


def _set_path(data, keys, value, shown):
    node = data
    for i, k in enumerate(keys):
        if not isinstance(node, dict) or k not in node:
            raise ArchError(f"unknown override {shown!r}: no key "
                            f"{'.'.join(keys[:i + 1])!r} in the description")
        if i == len(keys) - 1:
            if isinstance(node[k], dict):
                raise ArchError(f"override {shown!r} names a table, not a value")
            node[k] = value
        else:
            node = node[k]


def presets():
    """Names of the shipped accelerator presets."""
    root = importlib.resources.files("fdafast.arch") / "presets"
    return tuple(sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml")))


def preset_data(name):
    """The parsed TOML of a shipped preset (a fresh mutable mapping)."""
    known = presets()
    if name not in known:
        raise ArchError(f"unknown preset {name!r}; known presets: {', '.join(known)}")
    text = (importlib.resources.files("fdafast.arch") / "presets" / f"{name}.toml").read_text()
    return tomllib.loads(text)
