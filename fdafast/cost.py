"""Cycles, energy and area of a network on an accelerator: :func:`estimate`.

Four things are kept apart: the workload (:mod:`fdafast.workloads`), the
architecture and its tables (:mod:`fdafast.arch`), the action counts and
pipeline stages of each layer (:mod:`fdafast.dataflow`), and here the two
functions that turn them into numbers:

* energy = counts x table (:func:`fdafast.dataflow.action_energy`, which
  :func:`fdafast.dataflow.layer_tile` also uses to rank tiles), grouped by
  component here;
* cycles = the resource-constrained pipeline schedule of the layer's items
  through its stages, walked by the native kernel ``fda_pipeline``
  (csrc/schedule.c), plus serial reprogramming.  :func:`closed_form_cycles`
  cross-checks it: with ``b`` the bottleneck stage (largest
  ``service / servers``), ``ceil(items / servers_b) * service_b`` plus the
  other stages' service once each (fill and drain).  The two agree within
  the sum of the services (tests/test_cost.py).

Layers run one after another; a network's latency is the sum of its
layers'.  Dynamic energy only: the tables' energies are charged per action,
idle units are taken as power-gated (no leakage term).  Network GOPS/W and
GOPS/s/mm2 count the *direct* convolution's operations (2 per MAC), the
same for every accelerator, so a frequency-domain design that does fewer
multiplications shows a higher effective rate.

The numbers rest on this model and the presets' stated assumptions, not on
the FDA paper's tables (fdafast has only its abstract).
"""
import csv
import dataclasses
import io
import json

from . import _native
from .arch.spec import Accelerator
from .dataflow import action_energy, closed_form_cycles, map_layer
from .errors import InvalidArgumentError
from .workloads import Layer

__all__ = ["estimate", "compare", "Report", "LayerReport", "action_energy",
           "energy_by_component", "schedule_cycles", "closed_form_cycles", "COMPONENT_OF",
           "ENERGY_COMPONENTS"]

#: Report component of each action's energy.
COMPONENT_OF = {
    "adc_conversion": "adc", "dac_drive": "dac", "crossbar_read": "crossbar",
    "sample_hold": "sample_hold", "shift_add": "shift_add", "cell_write": "reprogramming",
    "fft_butterfly": "fft", "ifft_butterfly": "ifft", "complex_mac": "digital_mac",
    "real_mac": "digital_mac", "buffer_byte": "buffers", "noc_byte": "noc",
    "dram_byte": "dram",
}
#: Components of the energy breakdown, in report order.
ENERGY_COMPONENTS = ("adc", "dac", "crossbar", "sample_hold", "shift_add", "digital_mac",
                     "fft", "ifft", "buffers", "noc", "dram", "reprogramming")


# -- energy: counts x table (:func:`fdafast.dataflow.action_energy`), by component ---------
def energy_by_component(per_action):
    """Sum per-action energies into :data:`ENERGY_COMPONENTS` (all present, 0 if unused)."""
    out = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    for name, e in per_action.items():
        out[COMPONENT_OF[name]] += e
    return out


# -- cycles ----------------------------------------------------------------------------
def schedule_cycles(lmap):
    """Cycles of a :class:`~fdafast.dataflow.LayerMap`: the pipeline schedule's
    makespan plus serial reprogramming."""
    st = lmap.stages
    span = _native.pipeline(lmap.items, [s.service for s in st], [s.servers for s in st],
                            [s.capacity for s in st])
    return span + lmap.reprogram_cycles


# -- reports -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LayerReport:
    """Cost of one layer (see :func:`estimate` for the fields' meaning)."""

    name: str
    kind: str
    dataflow: str
    macs: int
    cycles: int
    closed_form_cycles: int
    latency_s: float
    energy_pj: dict
    utilisation: dict
    actions: dict
    crossbars: int
    replication: int
    folds: int
    cells: int
    traffic: dict
    bins: dict

    @property
    def energy_total_pj(self):
        return sum(self.energy_pj.values())

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["energy_total_pj"] = self.energy_total_pj
        return d


class Report:
    """Per-layer costs and network totals of one accelerator; see :func:`estimate`."""

    def __init__(self, accelerator, layers, batch):
        self.accelerator = accelerator
        self.layers = tuple(layers)
        self.batch = batch

    @property
    def totals(self):
        """Network totals: latency, energy (by component), frames/s, GOPS/W,
        GOPS/s/mm2, traffic."""
        lat = sum(l.latency_s for l in self.layers)
        energy_j = sum(l.energy_total_pj for l in self.layers) * 1e-12
        ops = 2 * sum(l.macs for l in self.layers)
        area = self.accelerator.summary()["chip_area_mm2"]
        by_comp = {k: sum(l.energy_pj[k] for l in self.layers) for k in ENERGY_COMPONENTS}
        return {
            "accelerator": self.accelerator.meta.name,
            "layers": len(self.layers),
            "batch": self.batch,
            "cycles": sum(l.cycles for l in self.layers),
            "latency_s": lat,
            "energy_j": energy_j,
            "energy_pj_by_component": by_comp,
            "frames_per_s": self.batch / lat,
            "ops": ops,
            "gops_per_w": ops / energy_j / 1e9,
            "gops_per_mm2": ops / lat / 1e9 / area,
            "buffer_bytes": sum(l.traffic["buffer_bytes"] for l in self.layers),
            "noc_bytes": sum(l.traffic["noc_bytes"] for l in self.layers),
            "dram_bytes": sum(l.traffic["dram_bytes"] for l in self.layers),
        }

    def as_dict(self):
        """Accelerator summary, per-layer reports and totals as plain Python values."""
        return {"accelerator": self.accelerator.summary(),
                "layers": [l.as_dict() for l in self.layers], "totals": self.totals}

    def to_json(self, path=None):
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.as_dict(), indent=1)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def rows(self):
        """One flat mapping per layer (the CSV's rows)."""
        out = []
        for l in self.layers:
            row = {"layer": l.name, "kind": l.kind, "dataflow": l.dataflow, "macs": l.macs,
                   "cycles": l.cycles, "closed_form_cycles": l.closed_form_cycles,
                   "latency_s": l.latency_s, "energy_total_pj": l.energy_total_pj,
                   "crossbars": l.crossbars, "replication": l.replication, "folds": l.folds,
                   "cells": l.cells}
            row |= {f"energy_pj_{k}": v for k, v in l.energy_pj.items()}
            row |= {f"utilisation_{k}": v for k, v in l.utilisation.items()}
            row |= dict(l.traffic)
            row |= {f"count_{k}": v for k, v in l.actions.items()}
            out.append(row)
        return out

    def to_csv(self, path=None):
        """Per-layer rows as CSV text; also written to ``path`` when given."""
        rows = self.rows()
        fields = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(buf.getvalue())
        return buf.getvalue()

    def table(self):
        """A plain-text per-layer table with the totals."""
        head = (f"{'layer':<10} {'latency us':>11} {'energy uJ':>10} {'util PE':>8} "
                f"{'xbars':>7} {'repl':>5} {'folds':>5}")
        lines = [f"{self.accelerator.meta.name} ({self.accelerator.meta.kind})", head,
                 "-" * len(head)]
        for l in self.layers:
            u = l.utilisation.get("pe_arrays", l.utilisation.get("mac_units", 0.0))
            lines.append(f"{l.name:<10} {l.latency_s * 1e6:11.2f} "
                         f"{l.energy_total_pj * 1e-6:10.2f} {u:8.1%} {l.crossbars:7d} "
                         f"{l.replication:5d} {l.folds:5d}")
        t = self.totals
        lines += ["-" * len(head),
                  f"total: {t['latency_s'] * 1e3:.3f} ms, {t['energy_j'] * 1e3:.3f} mJ, "
                  f"{t['frames_per_s']:.1f} frames/s, {t['gops_per_w']:.1f} GOPS/W, "
                  f"{t['gops_per_mm2']:.1f} GOPS/s/mm2"]
        return "\n".join(lines)

    def __repr__(self):
        return f"<Report {self.accelerator.meta.name}: {len(self.layers)} layers>"


# -- the estimate -------------------------------------------------------------------------
def _utilisation(lmap, latency_ns):
    return {name: (work / (units * latency_ns) if latency_ns else 0.0)
            for name, (work, units) in lmap.busy.items()}


def _layer_report(lmap, acc, table):
    cycles = schedule_cycles(lmap)
    latency_ns = cycles / acc.technology.clock_ghz
    energy = energy_by_component(action_energy(lmap.actions, table))
    return LayerReport(
        name=lmap.layer.name, kind=lmap.layer.kind, dataflow=lmap.dataflow,
        macs=lmap.layer.macs, cycles=cycles, closed_form_cycles=closed_form_cycles(lmap),
        latency_s=latency_ns * 1e-9, energy_pj=energy,
        utilisation=_utilisation(lmap, latency_ns), actions=dict(lmap.actions),
        crossbars=lmap.crossbars, replication=lmap.replication, folds=lmap.folds,
        cells=lmap.cells, traffic=dict(lmap.traffic), bins=dict(lmap.bins))


def _layers(layers):
    if isinstance(layers, Layer):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise InvalidArgumentError("estimate needs at least one layer")
    for l in layers:
        if not isinstance(l, Layer):
            raise InvalidArgumentError(f"layers must be fdafast.workloads.Layer objects, got "
                                       f"{type(l).__name__}")
    batches = {l.batch for l in layers}
    if len(batches) > 1:
        raise InvalidArgumentError(f"all layers of a network must have the same batch, got "
                                   f"{sorted(batches)}")
    return layers, batches.pop()


def estimate(layers, acc):
    """Cycles, energy, utilisation and traffic of ``layers`` on ``acc``.

    Parameters
    ----------
    layers : Layer or sequence of Layer
        The workload (e.g. :func:`fdafast.workloads.c3d`), all with one batch.
    acc : Accelerator or str
        An accelerator or a preset name (:func:`fdafast.presets`).

    Returns
    -------
    Report
        ``report.layers``: one :class:`LayerReport` per layer with ``cycles``
        (pipeline schedule) and ``closed_form_cycles``, ``latency_s``,
        ``energy_pj`` by component (:data:`ENERGY_COMPONENTS`),
        ``utilisation`` of PE arrays (crossbars or MAC units), ADCs, FFT and
        IFFT units (busy unit-time over available unit-time), ``actions``
        (exact counts), ``crossbars``, ``replication``, ``folds``, ``cells``,
        ``traffic`` (buffer, network-on-chip and DRAM bytes) and ``bins``.
        ``report.totals``: latency, energy, frames/s, GOPS/W and GOPS/s/mm2.
        ``report.as_dict()``, ``to_json(path)``, ``to_csv(path)``, ``table()``.

    Notes
    -----
    The dataflows, the mapping policy and the memory rules are written out in
    :mod:`fdafast.dataflow`; the energy and cycle rules in this module's
    docstring.  Raises :class:`fdafast.dataflow.MappingError` for a layer the
    accelerator cannot run.

    Examples
    --------
    >>> import fdafast
    >>> r = fdafast.estimate(fdafast.workloads.vgg16(), "fda")
    >>> len(r.layers), r.totals["frames_per_s"] > 0
    (16, True)
    """
    acc = Accelerator.resolve(acc)
    layers, batch = _layers(layers)
    table = acc.action_table()
    return Report(acc, [_layer_report(map_layer(l, acc), acc, table) for l in layers], batch)


def compare(layers, accelerators=("fda", "isaac", "asic-fft")):
    """Network totals of ``layers`` on several accelerators, with ratios to the first.

    Returns ``{name: totals}`` in the given order, each ``totals`` as
    :attr:`Report.totals` plus ``latency_ratio`` (this latency / the first's)
    and ``energy_ratio`` (this energy / the first's); both are 1.0 for the
    first.  :func:`fdafast.report.comparison_table` shows it as a table.
    """
    reports = [estimate(layers, a) for a in accelerators]
    base = reports[0].totals
    out = {}
    for r in reports:
        t = r.totals
        t["latency_ratio"] = t["latency_s"] / base["latency_s"]
        t["energy_ratio"] = t["energy_j"] / base["energy_j"]
        out[t["accelerator"]] = t
    return out

