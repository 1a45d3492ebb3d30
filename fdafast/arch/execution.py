"""How a network runs on an accelerator: the ``[execution]`` section.

Where the weights live (``residency``), on how many chips, what the per-layer
mapping choices minimise (``objective``), which mappings a layer may use,
how a frequency-domain design reloads weights it must rewrite
(``weight_load``) and whether pooling happens on chip.  The rules these
choices drive are in :mod:`fdafast.mapping` (per layer) and
:mod:`fdafast.residency` (the network); docs/cost-model.md lists them with
their sources.
"""
import dataclasses
import enum

from .. import _checks
from .tables import ArchError

__all__ = ["Residency", "Objective", "WeightLoad", "Mapping", "Execution"]


class Residency(str, enum.Enum):
    """Where a network's weights live while it runs."""

    #: ISAAC's model: every layer's weights (and the replicas that balance the
    #: pipeline) stay resident on as many chips as needed; layers run concurrently.
    PIPELINED = "pipelined"
    #: Layer by layer on ``chips`` chips (1 by default): what does not fit is
    #: rewritten for every batch, in partial folds.
    REPROGRAM = "reprogram"


class Objective(str, enum.Enum):
    """What per-layer mapping choices minimise."""

    LATENCY = "latency"
    ENERGY = "energy"
    EDP = "edp"          #: energy x latency


class WeightLoad(str, enum.Enum):
    """How a frequency-domain design gets the weights it must (re)write."""

    AUTO = "auto"              #: per layer, whichever costs less by the objective
    FREQUENCY = "frequency"    #: read the weight spectra from DRAM
    SPATIAL = "spatial"        #: read the spatial kernels, transform them on chip


class Mapping(str, enum.Enum):
    """How a convolution layer is computed."""

    FREQUENCY = "frequency"    #: tile FFTs and per-bin complex MACs
    SPATIAL = "spatial"        #: im2col rows through real products (direct convolution)


#: Mappings each accelerator kind can run (its default ``mappings``).
KIND_MAPPINGS = {"spatial-reram": ("spatial",), "frequency-reram": ("frequency", "spatial"),
                 "digital-fft": ("frequency", "spatial")}


@dataclasses.dataclass(frozen=True)
class Execution:
    """The ``[execution]`` section (optional; these defaults when absent).

    Parameters
    ----------
    residency : {'pipelined', 'reprogram'}
        See :class:`Residency`.
    chips : int or None
        ``'reprogram'``: the chips a layer runs on (None: 1).  ``'pipelined'``:
        the chips to use (None: as many as the weights need, the smallest
        number); fewer than the weights need is an error.
    objective : {'edp', 'latency', 'energy'}
        What each layer's mapping (tile, frequency or spatial) minimises.
    tie_tolerance : float
        Options within this relative margin of the best count as tied; ties go
        to fewer crossbars, then to the listed mapping order, then the larger
        tile.
    mappings : list of {'frequency', 'spatial'} or None
        Mappings a convolution may use (None: all the kind can run).
    weight_load : {'auto', 'frequency', 'spatial'}
        Frequency-domain kinds: see :class:`WeightLoad`.
    pool_on_chip : bool
        Pooling after a layer happens on chip, so its output is counted after
        pooling (:attr:`fdafast.workloads.Layer.pool`).
    """

    residency: str = "reprogram"
    chips: object = None
    objective: str = "edp"
    tie_tolerance: float = 0.01
    mappings: object = None
    weight_load: str = "auto"
    pool_on_chip: bool = True
    source: str = ""

    def check(self, path, kind=None):
        for f, cls in (("residency", Residency), ("objective", Objective),
                       ("weight_load", WeightLoad)):
            object.__setattr__(self, f, _checks.choice(f"{path}.{f}", cls, getattr(self, f),
                                                       error=ArchError).value)
        if self.chips is not None:
            object.__setattr__(self, "chips", _checks.integer(
                f"{path}.chips", self.chips, 1, 1 << 20, error=ArchError))
        object.__setattr__(self, "tie_tolerance", _checks.number(
            f"{path}.tie_tolerance", self.tie_tolerance, 0.0, 1.0, error=ArchError))
        if not isinstance(self.pool_on_chip, bool):
            raise ArchError(f"{path}.pool_on_chip must be true or false, got "
                            f"{self.pool_on_chip!r}")
        if kind is None:
            return
        allowed = KIND_MAPPINGS[kind]
        maps = allowed if self.mappings is None else self.mappings
        if isinstance(maps, str) or not isinstance(maps, (list, tuple)) or not maps:
            raise ArchError(f"{path}.mappings must be a non-empty list of "
                            f"{list(allowed)}, got {self.mappings!r}")
        maps = tuple(_checks.choice(f"{path}.mappings", Mapping, m, error=ArchError).value
                     for m in maps)
        bad = [m for m in maps if m not in allowed]
        if bad or len(set(maps)) != len(maps):
            raise ArchError(f"{path}.mappings: a {kind!r} accelerator runs "
                            f"{list(allowed)} (each once), got {list(maps)}")
        object.__setattr__(self, "mappings", maps)
