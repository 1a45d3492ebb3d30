"""The component table and the action table of an accelerator description.

A :class:`Component` is the power and area of a group of units (ISAAC's
Table I rows); an :class:`Action` the energy of one action and the time it
holds a unit.  Either may follow a model of a design parameter
(:class:`Scaling`, arithmetic in :mod:`fdafast.arch.models`), given at its
``reference`` setting, so that sweeps move the numbers with the parameter
while each preset keeps its published value at its nominal setting.
"""
import dataclasses
import enum

from .. import _checks
from ..crossbar_config import ConfigError
from . import models

__all__ = ["ArchError", "Scaling", "Component", "Action", "LEVELS", "scale_factor"]

#: Levels of the component table.
LEVELS = ("chip", "tile", "pe_array")


class ArchError(ConfigError):
    """An accelerator description is unknown, malformed or physically impossible."""


class Scaling(str, enum.Enum):
    """The model a component's or action's numbers follow (:mod:`fdafast.arch.models`)."""

    ADC_BITS = "adc_bits"              #: a SAR ADC: linear floor + capacitive DAC (2^bits)
    DAC_BITS = "dac_bits"              #: a capacitive DAC: 2^dac_bits
    CROSSBAR_CELLS = "crossbar_cells"  #: proportional to rows * cols
    CELL_LEVELS = "cell_levels"        #: program-and-verify: (2^cell_bits - 1)


#: The crossbar field each scaling follows.
SCALED_FIELD = {Scaling.ADC_BITS: "adc_bits", Scaling.DAC_BITS: "dac_bits",
                Scaling.CELL_LEVELS: "cell_bits"}


def _share(path, value):
    return _checks.number(path, value, 0.0, 1.0, error=ArchError)


def _check_scaling(obj, path, shares):
    """Validate ``scaling``/``reference`` (and the ``shares`` fields, which only a SAR
    ADC takes), normalising values in place."""
    if obj.scaling is None:
        if obj.reference is not None:
            raise ArchError(f"{path}.reference is set but {path}.scaling is not")
    else:
        kind = _checks.choice(f"{path}.scaling", Scaling, obj.scaling, error=ArchError)
        object.__setattr__(obj, "scaling", kind.value)
        if obj.reference is None:
            raise ArchError(f"{path}.scaling = {obj.scaling!r} needs {path}.reference (the "
                            f"setting its numbers were given at)")
        if kind is Scaling.CROSSBAR_CELLS:
            ref = _checks.number(f"{path}.reference", obj.reference, 0.0, lo_open=True,
                                 error=ArchError)
        else:
            ref = _checks.integer(f"{path}.reference", obj.reference, 1, 16, error=ArchError)
        object.__setattr__(obj, "reference", ref)
    for name in shares:
        value = getattr(obj, name)
        if value is None:
            continue
        if obj.scaling != Scaling.ADC_BITS.value:
            raise ArchError(f"{path}.{name} applies to scaling = 'adc_bits' only, got "
                            f"scaling = {obj.scaling!r}")
        object.__setattr__(obj, name, _share(f"{path}.{name}", value))


@dataclasses.dataclass(frozen=True)
class Component:
    """A group of ``count`` units in one instance of its ``level``: their total
    power and area (``shared_by`` instances share one group, as ISAAC's router).

    ``share`` (SAR ADCs): the capacitive DAC's share of the energy per conversion
    at ``reference`` bits (1.0, pure Walden, when absent); ``area_share`` its share
    of the area (``share`` when absent).  An ADC's power is its energy per
    conversion over its conversion time (it converts flat out)."""

    level: str
    count: int
    power_mw: float
    area_mm2: float
    shared_by: int = 1
    scaling: object = None
    reference: object = None
    share: object = None
    area_share: object = None
    spec: str = ""
    source: str = ""

    def check(self, path):
        if self.level not in LEVELS:
            raise ArchError(f"{path}.level must be one of {LEVELS}, got {self.level!r}")
        for f in ("count", "shared_by"):
            object.__setattr__(self, f, _checks.integer(f"{path}.{f}", getattr(self, f), 1,
                                                        error=ArchError))
        for f in ("power_mw", "area_mm2"):
            object.__setattr__(self, f, _checks.number(f"{path}.{f}", getattr(self, f), 0.0,
                                                       1e9, error=ArchError))
        _check_scaling(self, path, ("share", "area_share"))


@dataclasses.dataclass(frozen=True)
class Action:
    """One action's energy (pJ) and the time it occupies one unit (ns: the
    inverse of a unit's throughput; 0 where the model takes the time from
    elsewhere, e.g. ``crossbar.read_latency_ns``).  ``share`` as in
    :class:`Component`."""

    energy_pj: float
    latency_ns: float = 0.0
    scaling: object = None
    reference: object = None
    share: object = None
    source: str = ""

    def check(self, path):
        for f in ("energy_pj", "latency_ns"):
            object.__setattr__(self, f, _checks.number(f"{path}.{f}", getattr(self, f), 0.0,
                                                       1e9, error=ArchError))
        _check_scaling(self, path, ("share",))


def scale_factor(obj, quantity, crossbar):
    """The factor ``obj``'s (a Component's or an Action's) ``quantity`` is multiplied
    by: ``'energy'`` (an action's energy, a component's power), ``'area'`` or
    ``'latency'``, for the crossbar configuration ``crossbar`` (a
    :class:`fdafast.CrossbarConfig`, or None where there is none)."""
    if obj.scaling is None:
        return 1.0
    if crossbar is None:
        raise ArchError(f"scaling {obj.scaling!r} needs a [crossbar] section")
    kind, ref = Scaling(obj.scaling), obj.reference
    if kind is Scaling.CROSSBAR_CELLS:
        return 1.0 if quantity == "latency" else \
            models.crossbar_cells_factor(crossbar.rows, crossbar.cols, ref)
    bits = getattr(crossbar, SCALED_FIELD[kind])
    if kind is Scaling.DAC_BITS:
        return 1.0 if quantity == "latency" else models.dac_factor(bits, ref)
    if kind is Scaling.CELL_LEVELS:
        return 1.0 if quantity == "area" else models.cell_levels_factor(bits, ref)
    share = 1.0 if obj.share is None else obj.share
    time = models.sar_adc_time_factor(bits, ref)
    if quantity == "latency":
        return time
    if quantity == "area":
        area = share if getattr(obj, "area_share", None) is None else obj.area_share
        return models.sar_adc_factor(bits, ref, area)
    energy = models.sar_adc_factor(bits, ref, share)
    # a component's power: an ADC converting flat out draws energy / conversion time
    return energy / time if isinstance(obj, Component) else energy
