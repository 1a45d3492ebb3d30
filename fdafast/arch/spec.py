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

Scaling: a component or action may follow a model of a design parameter
(``scaling``: ``"adc_bits"``, a SAR ADC; ``"dac_bits"``; ``"crossbar_cells"``;
``"cell_levels"``), with ``reference`` the setting its numbers were given at
(:mod:`fdafast.arch.tables`, arithmetic and sources in
:mod:`fdafast.arch.models`); design sweeps then move the numbers with the
parameter while each preset keeps its published point value.

The optional ``[execution]`` section (:class:`~fdafast.arch.execution.Execution`)
says how a network runs: weight residency, chips, the mapping objective.
"""
import dataclasses
import functools
import importlib.resources
import pathlib
import tomllib

from ..crossbar_config import PE
from . import models
from .execution import Execution
from .sections import (ACTIONS, KINDS, OPTIONAL_ACTIONS, CrossbarSpec, DigitalSpec,
                       FrequencySpec, Hermitian, Kind, Memory, Meta, Organisation, Technology,
                       TilePolicy)
from .tables import LEVELS, Action, ArchError, Component, Scaling, scale_factor

__all__ = ["Accelerator", "Action", "Component", "CrossbarSpec", "DigitalSpec",
           "FrequencySpec", "Memory", "Meta", "Organisation", "Technology", "ArchError",
           "Execution", "Hermitian", "Kind", "Scaling", "TilePolicy", "presets", "KINDS",
           "LEVELS", "ACTIONS", "OPTIONAL_ACTIONS"]


_SECTIONS = {"meta": Meta, "technology": Technology, "organisation": Organisation,
             "memory": Memory}
_OPTIONAL = {"crossbar": CrossbarSpec, "frequency": FrequencySpec, "digital": DigitalSpec,
             "execution": Execution}
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
    Sections a kind does not use are ``None``; ``execution`` is always there
    (its defaults when the description has no ``[execution]``).
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
    execution: Execution = None

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
        parts.setdefault("execution", Execution())
        parts["execution"].check("execution", kind.value)
        acc = cls(components=_table(data, "components", Component),
                  actions=_table(data, "actions", Action), **parts)
        acc._check_kind(kind)
        acc._check_totals()
        return acc

    def _check_totals(self):
        """Refuse descriptions whose chip figures would divide by zero."""
        for attr, unit in (("power_mw", "W"), ("area_mm2", "mm2")):
            if not self._level_total(attr)[1] > 0:
                raise ArchError(f"components.*.{attr}: the chip's {attr.split('_')[0]} sums "
                                f"to 0 {unit}; at least one component must have "
                                f"{attr} > 0")

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
        extra = sorted(set(names) - set(required) - set(OPTIONAL_ACTIONS))
        if extra:
            known = ", ".join(required + tuple(OPTIONAL_ACTIONS))
            raise ArchError(f"unknown action(s) {', '.join(f'actions.{a}' for a in extra)} for "
                            f"a {kind.value!r} accelerator; known: {known}")
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

    def scale(self, obj, quantity="energy"):
        """The factor ``obj``'s (a Component's or Action's) ``quantity`` ('energy' --
        an action's energy or a component's power --, 'area' or 'latency') is
        multiplied by (:func:`fdafast.arch.tables.scale_factor`)."""
        return scale_factor(obj, quantity, None if self.crossbar is None
                            else self.crossbar.config)

    def action_table(self):
        """``{action: (energy_pj, latency_ns)}`` with scaling applied (a fresh dict);
        optional actions (:data:`OPTIONAL_ACTIONS`) absent from the description stand
        in by their substitute's energy."""
        return dict(self._table)

    @functools.cached_property
    def _table(self):
        # computed once per (immutable) description: the cost model reads it thousands
        # of times per estimate
        table = {n: (a.energy_pj * self.scale(a), a.latency_ns * self.scale(a, "latency"))
                 for n, a in self.actions}
        for name, stand_in in OPTIONAL_ACTIONS.items():
            table.setdefault(name, (table[stand_in][0], 0.0))
        return table

    # -- crossbar timing (ReRAM kinds) --------------------------------------------
    def read_ns(self):
        """One crossbar read at the configured rows (:func:`models.read_latency_ns`)."""
        xb = self.crossbar
        return models.read_latency_ns(xb.read_latency_ns, xb.config.rows, xb.reference_rows,
                                      xb.rows_share)

    def adc_ns(self):
        """One ADC conversion at the configured bits."""
        return self._table["adc_conversion"][1]

    def read_sequence_ns(self, columns):
        """The time one read holds a crossbar when ``columns`` of its columns are
        converted: ``max(read, columns x conversion / ADCs per crossbar)`` (the ADCs
        convert one read's samples while the next read is under way)."""
        org = self.organisation
        adcs_per_crossbar = org.adcs_per_pe_array / org.crossbars_per_pe_array
        adc = min(columns, self.crossbar.config.cols) * self.adc_ns() / adcs_per_crossbar
        return max(self.read_ns(), adc)

    def write_row_ns(self):
        """Programming one row: ``crossbar.write_latency_ns`` scaled as the
        ``cell_write`` action's energy (:func:`models.cell_levels_factor`)."""
        return self.crossbar.write_latency_ns * self.scale(dict(self.actions)["cell_write"],
                                                           "latency")

    def _level_total(self, attr):
        """Per-tile and per-chip totals of ``attr`` ('power_mw' or 'area_mm2')."""
        org = self.organisation
        quantity = "area" if attr == "area_mm2" else "energy"

        def val(c):
            return getattr(c, attr) * self.scale(c, quantity)
        tile = sum(val(c) / c.shared_by for _, c in self.components if c.level == "tile")
        tile += org.pe_arrays_per_tile * sum(val(c) for _, c in self.components
                                             if c.level == "pe_array")
        chip = org.tiles * tile + sum(val(c) for _, c in self.components if c.level == "chip")
        return tile, chip

    def peak_ops_per_s(self):
        """Peak operations per second (a multiply and an add count as two).

        spatial-reram: each crossbar holds ``rows x cols // (sets*slices)``
        real weights and finishes a matrix-vector product every ``chunks``
        reads (the crossbar semantics of :class:`fdafast.CrossbarConfig`:
        ``chunks = ceil((input_bits-1)/dac_bits) + 1``).  frequency-reram:
        ``channels_per_block x cols // columns_per_weight`` complex weights per
        crossbar, a complex MAC (8 operations) each per ``2 * chunks`` reads.  A
        read takes :meth:`read_sequence_ns` with every column converted: the
        ADC rate bounds the peak (at ISAAC's 128 columns and 1.28 GS/s the
        conversions just fit the 100 ns read).  digital-fft: every MAC unit does
        a complex MAC per cycle.
        """
        kind = self.kind
        if kind is Kind.DIGITAL_FFT:
            d = self.digital
            units = self.organisation.tiles * self.organisation.pe_arrays_per_tile
            return 8.0 * units * d.mac_rows * d.mac_cols * self.technology.clock_ghz * 1e9
        cfg = self.crossbar.config
        per_weight = cfg.sets * cfg.slices
        read_s = self.read_sequence_ns(cfg.cols) * 1e-9
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
