"""Accelerator descriptions: frozen, validated dataclasses loaded from TOML.

An accelerator is its *organisation* (tiles, PE arrays, crossbars, clock,
technology) and its *component table* (power and area of each group of
units, with the source of every number); peak figures follow from the two.
Workloads and the action counts of a simulation are kept elsewhere (the
cost model), so that energy is counts times the table in one place.

Levels of the component table: ``'chip'`` (once per chip), ``'tile'`` (per
tile; ``shared_by`` tiles share one, as ISAAC's router is shared by four),
``'pe_array'`` (per PE array, ISAAC's IMA).  Power and area are the totals
of the ``count`` units of the group in one instance of its level, as in
ISAAC's Table I.
"""
import dataclasses
import importlib.resources
import math
import pathlib
import tomllib

from ..crossbar import ConfigError

__all__ = ["Accelerator", "Component", "CrossbarSpec", "Meta", "Organisation", "Technology",
           "ArchError", "presets", "KINDS", "LEVELS"]

#: Accelerator kinds the model knows how to evaluate.
KINDS = ("spatial-reram",)
#: Levels of the component table.
LEVELS = ("chip", "tile", "pe_array")


class ArchError(ConfigError):
    """An accelerator description is unknown, malformed or physically impossible."""


def _positive(path, value, integer=False):
    kind = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0 \
            or (not integer and not math.isfinite(value)):
        what = "a positive integer" if integer else "a positive finite number"
        raise ArchError(f"{path} must be {what}, got {value!r}")


def _non_negative(path, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or not math.isfinite(value):
        raise ArchError(f"{path} must be a finite number >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Meta:
    name: str
    kind: str
    description: str = ""
    citation: str = ""

    def check(self, path):
        if self.kind not in KINDS:
            raise ArchError(f"{path}.kind must be one of {KINDS}, got {self.kind!r}")


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
    tiles: int
    pe_arrays_per_tile: int
    crossbars_per_pe_array: int
    tiles_per_router: int = 1
    source: str = ""

    def check(self, path):
        for f in ("tiles", "pe_arrays_per_tile", "crossbars_per_pe_array", "tiles_per_router"):
            _positive(f"{path}.{f}", getattr(self, f), integer=True)

    @property
    def crossbars(self):
        """Crossbar arrays on the chip."""
        return self.tiles * self.pe_arrays_per_tile * self.crossbars_per_pe_array


@dataclasses.dataclass(frozen=True)
class CrossbarSpec:
    rows: int
    cols: int
    cell_bits: int
    weight_bits: int
    input_bits: int
    dac_bits: int
    adc_bits: int
    read_latency_ns: float
    source: str = ""

    def check(self, path):
        for f in ("rows", "cols", "cell_bits", "weight_bits", "input_bits", "dac_bits",
                  "adc_bits"):
            _positive(f"{path}.{f}", getattr(self, f), integer=True)
        _positive(f"{path}.read_latency_ns", self.read_latency_ns)
        if self.cell_bits > self.weight_bits:
            raise ArchError(f"{path}.cell_bits ({self.cell_bits}) must not exceed "
                            f"{path}.weight_bits ({self.weight_bits})")
        if self.dac_bits > self.input_bits:
            raise ArchError(f"{path}.dac_bits ({self.dac_bits}) must not exceed "
                            f"{path}.input_bits ({self.input_bits})")
        if self.cells_per_weight > self.cols:
            raise ArchError(f"{path}: a {self.weight_bits}-bit weight needs "
                            f"{self.cells_per_weight} cells of {self.cell_bits} bits, more "
                            f"than the {self.cols} columns")

    @property
    def cells_per_weight(self):
        """Cells (columns) holding one weight: ceil(weight_bits / cell_bits)."""
        return -(-self.weight_bits // self.cell_bits)

    @property
    def input_cycles(self):
        """Crossbar reads per input vector: ceil(input_bits / dac_bits)."""
        return -(-self.input_bits // self.dac_bits)


@dataclasses.dataclass(frozen=True)
class Component:
    level: str
    count: int
    power_mw: float
    area_mm2: float
    shared_by: int = 1
    spec: str = ""
    source: str = ""

    def check(self, path):
        if self.level not in LEVELS:
            raise ArchError(f"{path}.level must be one of {LEVELS}, got {self.level!r}")
        _positive(f"{path}.count", self.count, integer=True)
        _positive(f"{path}.shared_by", self.shared_by, integer=True)
        _non_negative(f"{path}.power_mw", self.power_mw)
        _non_negative(f"{path}.area_mm2", self.area_mm2)


_SECTIONS = {"meta": Meta, "technology": Technology, "organisation": Organisation,
             "crossbar": CrossbarSpec}


def _build(cls, values, path):
    """``cls(**values)``, naming unknown or missing keys by their dotted path."""
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


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """An accelerator: organisation, crossbars and component table.

    Build with :meth:`from_preset`, :meth:`from_file` or :meth:`from_dict`.
    """

    meta: Meta
    technology: Technology
    organisation: Organisation
    crossbar: CrossbarSpec
    components: tuple          # ((name, Component), ...) in file order

    # -- construction --------------------------------------------------------
    @classmethod
    def from_dict(cls, data):
        """Validate a nested mapping (the TOML's structure) into an Accelerator."""
        if not isinstance(data, dict):
            raise ArchError(f"an accelerator description is a table, got {type(data).__name__}")
        known = set(_SECTIONS) | {"components"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ArchError(f"unknown section(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
        missing = sorted(known - set(data))
        if missing:
            raise ArchError(f"missing section(s) {', '.join(missing)}")
        parts = {k: _build(c, data[k], k) for k, c in _SECTIONS.items()}
        comps = data["components"]
        if not isinstance(comps, dict) or not comps:
            raise ArchError("components must be a non-empty table of component tables")
        table = tuple((name, _build(Component, v, f"components.{name}"))
                      for name, v in comps.items())
        return cls(components=table, **parts)

    @classmethod
    def from_file(cls, path):
        """Load a user's TOML description (same layout as the shipped presets)."""
        path = pathlib.Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ArchError(f"no accelerator description at {str(path)!r}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ArchError(f"{str(path)!r} is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_preset(cls, name, **overrides):
        """A shipped preset, with optional overrides.

        Overrides name a value by its dotted path, as keywords with ``__``
        for the dots (``crossbar__adc_bits=6``) or through a mapping
        (``**{"crossbar.adc_bits": 6}``); unknown paths raise :class:`ArchError`.
        """
        data = preset_data(name)
        for key, value in overrides.items():
            _set_path(data, key.replace("__", ".").split("."), value, key)
        return cls.from_dict(data)

    def replace(self, **overrides):
        """A copy with dotted-path overrides (see :meth:`from_preset`)."""
        data = self.as_dict()
        for key, value in overrides.items():
            _set_path(data, key.replace("__", ".").split("."), value, key)
        return type(self).from_dict(data)

    def as_dict(self):
        """The description as the nested mapping :meth:`from_dict` takes."""
        out = {k: dataclasses.asdict(getattr(self, k)) for k in _SECTIONS}
        out["components"] = {n: dataclasses.asdict(c) for n, c in self.components}
        return out

    # -- derived figures -------------------------------------------------------
    def _level_total(self, attr):
        """Per-tile and per-chip totals of ``attr`` ('power_mw' or 'area_mm2')."""
        org = self.organisation
        tile = sum(getattr(c, attr) / c.shared_by for _, c in self.components
                   if c.level == "tile")
        tile += org.pe_arrays_per_tile * sum(getattr(c, attr) for _, c in self.components
                                             if c.level == "pe_array")
        chip = org.tiles * tile + sum(getattr(c, attr) for _, c in self.components
                                      if c.level == "chip")
        return tile, chip

    def peak_ops_per_s(self):
        """Peak operations per second (a multiply and an add count as two).

        Spatial ReRAM: each crossbar holds ``rows x floor(cols / cells_per_weight)``
        weights and finishes a matrix-vector product every ``input_cycles``
        reads of ``read_latency_ns``.
        """
        xb = self.crossbar
        weights = xb.rows * (xb.cols // xb.cells_per_weight)
        seconds = xb.input_cycles * xb.read_latency_ns * 1e-9
        return 2.0 * weights * self.organisation.crossbars / seconds

    def summary(self):
        """Chip-level figures: power, area, peak throughput and efficiencies."""
        tile_mw, chip_mw = self._level_total("power_mw")
        tile_mm2, chip_mm2 = self._level_total("area_mm2")
        peak = self.peak_ops_per_s()
        return {
            "name": self.meta.name,
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
