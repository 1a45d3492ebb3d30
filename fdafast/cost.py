"""Cycles, energy and area of a network on an accelerator: :func:`estimate`.

Five things are kept apart: the workload (:mod:`fdafast.workloads`), the
architecture and its tables (:mod:`fdafast.arch`), what one mapping of a
layer does (:mod:`fdafast.dataflow`), the choices (:mod:`fdafast.mapping`
per layer, :mod:`fdafast.residency` for the network, costed by
:mod:`fdafast.placement`), and here the numbers:

* energy = counts x table (:func:`fdafast.dataflow.action_energy`), grouped
  by component here; dynamic energy only (idle units are taken as
  power-gated, no leakage term);
* cycles = the resource-constrained pipeline schedule of a layer's items
  through its stages (:func:`schedule_units`, walked by the native kernel
  ``fda_pipeline``, csrc/schedule.c, in 1/65536 of a cycle), plus its
  serial write phases.  :func:`closed_form_cycles` cross-checks it: the
  bottleneck stage's waves plus one pass of the others; the two agree
  within the sum of the services (tests/test_schedule.py);
* ``'reprogram'``: layers run one after another, a network's latency is the
  sum of its layers'; ``'pipelined'``: frames flow through the layers, the
  slowest layer's frame time sets the frame rate and the batch's latency is
  the schedule of its frames through the layers.

Speed at any batch: no native call walks more than :data:`WALK_LIMIT` items
(about a millisecond, so Ctrl-C is honoured at once); beyond it the schedule is
extrapolated from two walks whose lengths differ by a whole number of the
bottleneck's periods, exactly once the schedule is periodic (tested against
full walks), and an estimate returns in milliseconds whatever the batch.

Network GOPS/W and GOPS/s/mm2 count the *direct* convolution's operations
(2 per MAC), the same for every accelerator, over the area of every chip
used.  The numbers rest on this model and the presets' stated assumptions,
not on the FDA paper's tables (fdafast has only its abstract);
docs/cost-model.md lists them.
"""
import csv
import dataclasses
import io
import json
import math
import warnings

from . import _native
from .arch.spec import Accelerator, Kind
from .dataflow import action_energy
from .errors import InvalidArgumentError
from .mapping import choose
from .placement import TIME_UNITS, LayerCoster, closed_form_units, stages, write_actions
from .residency import infer_pools, plan, spills
from .workloads import Layer

__all__ = ["estimate", "compare", "Report", "LayerReport", "action_energy",
           "energy_by_component", "schedule_units", "schedule_cycles", "closed_form_cycles",
           "required_adc_bits", "AdcResolutionWarning", "COMPONENT_OF", "ENERGY_COMPONENTS",
           "WALK_LIMIT"]

#: Report component of each action's energy.
COMPONENT_OF = {
    "adc_conversion": "adc", "dac_drive": "dac", "crossbar_read": "crossbar",
    "sample_hold": "sample_hold", "shift_add": "shift_add", "cell_write": "reprogramming",
    "fft_butterfly": "fft", "ifft_butterfly": "ifft", "complex_mac": "digital_mac",
    "real_mac": "digital_mac", "buffer_byte": "buffers", "noc_byte": "noc",
    "link_byte": "link", "dram_byte": "dram",
}
#: Components of the energy breakdown, in report order.
ENERGY_COMPONENTS = ("adc", "dac", "crossbar", "sample_hold", "shift_add", "digital_mac",
                     "fft", "ifft", "buffers", "noc", "link", "dram", "reprogramming")
#: Most items one native schedule walk takes.
WALK_LIMIT = 1 << 16


class AdcResolutionWarning(UserWarning):
    """A layer's largest column sum needs more ADC bits than the accelerator has."""


# -- energy -------------------------------------------------------------------------------
def energy_by_component(per_action):
    """Sum per-action energies into :data:`ENERGY_COMPONENTS` (all present, 0 if unused)."""
    out = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    for name, e in per_action.items():
        out[COMPONENT_OF[name]] += e
    return out


# -- cycles ------------------------------------------------------------------------------
def _walk(items, st):
    return _native.pipeline(items, [s.service for s in st], [s.servers for s in st],
                            [s.capacity for s in st])


def schedule_units(items, st):
    """Time units (1/:data:`~fdafast.placement.TIME_UNITS` cycle) of ``items`` items
    through the stages ``st`` by the pipeline schedule of csrc/schedule.c, walked
    natively up to :data:`WALK_LIMIT` items and extrapolated beyond (module
    docstring); the closed form where even that would overflow 64 bits."""
    longest = max(s.service for s in st)
    if items <= WALK_LIMIT:
        return _walk(items, st) if longest * items < 1 << 62 else closed_form_units(items, st)
    period = 1
    for s in st:
        period = math.lcm(period, min(s.servers, items))
    limit = WALK_LIMIT // 4          # the two walks extrapolated from stay short
    span = period * max(1, (limit // 4) // period)
    if 2 * span > limit or longest * limit >= 1 << 62:
        return closed_form_units(items, st)
    m2 = items - span * -(-(items - limit) // span)
    a, b = _walk(m2 - span, st), _walk(m2, st)
    return b + (items - m2) // span * (b - a)


def schedule_cycles(items, st):
    """Whole cycles of :func:`schedule_units`."""
    return -(-schedule_units(items, st) // TIME_UNITS)


def closed_form_cycles(items, st):
    """Whole cycles of :func:`fdafast.placement.closed_form_units`."""
    return -(-closed_form_units(items, st) // TIME_UNITS)


# -- precision --------------------------------------------------------------------------
def required_adc_bits(column_sum, config):
    """ADC bits that convert every column sum up to ``column_sum`` exactly, under the
    full-scale policy of ``config`` (a :class:`fdafast.CrossbarConfig`): the sums up to
    ``min(column_sum, adc_full_scale)`` (a numeric full scale clips what is above;
    None or 'calibrate' take the largest sum), ``ceil(log2(sums + 1))``."""
    top = column_sum
    if isinstance(config.adc_full_scale, (int, float)) and config.adc_full_scale is not None:
        top = min(top, math.floor(config.adc_full_scale))
    return max(1, math.ceil(math.log2(top + 1))) if top > 0 else 1


# -- reports -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LayerReport:
    """Cost of one layer (see :func:`estimate` for the fields' meaning)."""

    name: str
    kind: str
    dataflow: str
    mapping: str
    tile: object
    macs: int
    cycles: int
    closed_form_cycles: int
    write_cycles: int
    latency_s: float
    energy_pj: dict
    utilisation: dict
    actions: dict
    crossbars: int
    replication: int
    folds: int
    cells: int
    fold_fraction: float
    weight_load: object
    required_adc_bits: object
    chips: float
    traffic: dict
    bins: dict
    alternatives: tuple

    @property
    def energy_total_pj(self):
        return sum(self.energy_pj.values())

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["alternatives"] = [dict(a) for a in self.alternatives]
        d["energy_total_pj"] = self.energy_total_pj
        return d


class Report:
    """Per-layer costs and network totals of one accelerator; see :func:`estimate`."""

    def __init__(self, accelerator, layers, batch, network=None):
        self.accelerator = accelerator
        self.layers = tuple(layers)
        self.batch = batch
        self._network = network or {}
        self._totals = None

    @property
    def totals(self):
        """Network totals (a fresh dict): see :func:`estimate`."""
        if self._totals is None:
            self._totals = self._compute_totals()
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self._totals.items()}

    def _compute_totals(self):
        net = self._network
        energy_j = sum(l.energy_total_pj for l in self.layers) * 1e-12
        ops = 2 * sum(l.macs for l in self.layers)
        summary = self.accelerator.summary()
        chips = net.get("chips", 1)
        clock = self.accelerator.technology.clock_ghz * 1e9
        cycles = net.get("cycles", sum(l.cycles for l in self.layers))
        lat = cycles / clock
        fps = net["frames_per_s"] if "frames_per_s" in net else self.batch / lat
        area = chips * summary["chip_area_mm2"]
        writes = net.get("writes_per_batch", 0)
        endurance = self.accelerator.crossbar.endurance_writes \
            if self.accelerator.crossbar is not None else None
        life = None
        if writes and endurance is not None:
            life = endurance / (writes / lat) / 3600.0
        by_comp = {k: sum(l.energy_pj[k] for l in self.layers) for k in ENERGY_COMPONENTS}
        return {
            "accelerator": self.accelerator.meta.name,
            "residency": net.get("residency"),
            "layers": len(self.layers),
            "batch": self.batch,
            "cycles": cycles,
            "latency_s": lat,
            "energy_j": energy_j,
            "energy_pj_by_component": by_comp,
            "frames_per_s": fps,
            "ops": ops,
            "gops_per_w": ops / energy_j / 1e9,
            "gops_per_mm2": ops / self.batch * fps / 1e9 / area,
            "chips": chips,
            "chips_for_weights": net.get("chips_for_weights"),
            "area_mm2_total": area,
            "power_w": chips * summary["chip_power_w"],
            "average_power_w": energy_j / lat,
            "reprogram_energy_j": net.get("reprogram_energy_pj", 0.0) * 1e-12,
            "writes_per_inference": writes / self.batch,
            "endurance_lifetime_h": life,
            "interchip_bytes": sum(l.actions.get("link_byte", 0) for l in self.layers),
            "buffer_bytes": sum(l.traffic["buffer_bytes"] for l in self.layers),
            "noc_bytes": sum(l.traffic["noc_bytes"] for l in self.layers),
            "dram_bytes": sum(l.traffic["dram_bytes"] for l in self.layers),
        }

    def as_dict(self):
        """Accelerator summary, per-layer reports and totals as plain Python values."""
        return {"accelerator": self.accelerator.summary(),
                "layers": [l.as_dict() for l in self.layers], "totals": self.totals}

    def to_json(self, path=None):
        """The report as JSON text (an unlimited lifetime is null); also written to
        ``path`` when given."""
        text = json.dumps(self.as_dict(), indent=1)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def rows(self):
        """One flat mapping per layer (the CSV's rows)."""
        out = []
        for l in self.layers:
            row = {"layer": l.name, "kind": l.kind, "dataflow": l.dataflow,
                   "mapping": l.mapping, "tile": "" if l.tile is None else
                   "x".join(map(str, l.tile)), "macs": l.macs, "cycles": l.cycles,
                   "closed_form_cycles": l.closed_form_cycles, "write_cycles": l.write_cycles,
                   "latency_s": l.latency_s, "energy_total_pj": l.energy_total_pj,
                   "crossbars": l.crossbars, "replication": l.replication, "folds": l.folds,
                   "cells": l.cells, "fold_fraction": l.fold_fraction,
                   "weight_load": l.weight_load or "",
                   "required_adc_bits": "" if l.required_adc_bits is None
                   else l.required_adc_bits, "chips": l.chips}
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
        head = (f"{'layer':<10} {'map':<5} {'tile':<7} {'latency us':>11} {'energy uJ':>10} "
                f"{'util PE':>8} {'xbars':>7} {'repl':>5} {'folds':>5} {'fold%':>6} "
                f"{'ADC b':>5}")
        lines = [f"{self.accelerator.meta.name} ({self.accelerator.meta.kind})", head,
                 "-" * len(head)]
        for l in self.layers:
            u = l.utilisation.get("pe_arrays", l.utilisation.get("mac_units", 0.0))
            tile = "" if l.tile is None else "x".join(map(str, l.tile))
            bits = "" if l.required_adc_bits is None else str(l.required_adc_bits)
            lines.append(f"{l.name:<10} {l.mapping[:5]:<5} {tile:<7} "
                         f"{l.latency_s * 1e6:11.2f} {l.energy_total_pj * 1e-6:10.2f} "
                         f"{u:8.1%} {l.crossbars:7d} {l.replication:5d} {l.folds:5d} "
                         f"{l.fold_fraction:6.1%} {bits:>5}")
        t = self.totals
        life = t["endurance_lifetime_h"]
        lines += ["-" * len(head),
                  f"total ({t['residency']}, {t['chips']} chip(s), {t['area_mm2_total']:.1f} "
                  f"mm2, {t['power_w']:.1f} W): {t['latency_s'] * 1e3:.3f} ms, "
                  f"{t['energy_j'] * 1e3:.3f} mJ, {t['frames_per_s']:.1f} frames/s, "
                  f"{t['gops_per_w']:.1f} GOPS/W, {t['gops_per_mm2']:.1f} GOPS/s/mm2, "
                  f"reprogramming {t['reprogram_energy_j'] * 1e3:.3f} mJ, lifetime "
                  f"{'unlimited' if life is None else f'{life:.3g} h'}"]
        return "\n".join(lines)

    def __repr__(self):
        return f"<Report {self.accelerator.meta.name}: {len(self.layers)} layers>"


# -- the estimate -------------------------------------------------------------------------
def _units(acc, pl, per, units):
    """Units of a resource available to a layer under ``pl``."""
    return units * (pl.tiles if per == "tile" else pl.chips)


def _utilisation(lmap, pl, acc, latency_ns):
    return {name: (work / (_units(acc, pl, per, units) * latency_ns) if latency_ns else 0.0)
            for name, (work, per, units) in lmap.busy.items()}


def _fold_fraction(lmap, pl):
    if not lmap.crossbars:
        return 1.0 if pl.stream else 0.0
    return (lmap.crossbars - pl.resident) / lmap.crossbars


def _layer_report(choice, pl, acc, table):
    lmap = choice.lmap
    coster = LayerCoster(lmap, acc, table)
    st = coster.stages(pl)
    clock = acc.technology.clock_ghz
    write_cycles = math.ceil(coster.write_ns(pl) * clock)
    cycles = schedule_cycles(lmap.items, st) + write_cycles
    actions = coster.actions(pl)
    energy = energy_by_component(action_energy(actions, table))
    traffic = {"buffer_bytes": actions["buffer_byte"], "noc_bytes": actions["noc_byte"],
               "dram_bytes": actions["dram_byte"], "link_bytes": actions["link_byte"]}
    bits = None if lmap.crossbars == 0 else required_adc_bits(lmap.column_sum,
                                                             acc.crossbar.config)
    return LayerReport(
        name=lmap.layer.name, kind=lmap.layer.kind, dataflow=lmap.dataflow,
        mapping=lmap.mapping, tile=None if lmap.tile is None else list(lmap.tile),
        macs=lmap.layer.macs, cycles=cycles,
        closed_form_cycles=closed_form_cycles(lmap.items, st) + write_cycles,
        write_cycles=write_cycles, latency_s=cycles / clock * 1e-9, energy_pj=energy,
        utilisation=_utilisation(lmap, pl, acc, cycles / clock), actions=actions,
        crossbars=lmap.crossbars, replication=pl.copies, folds=pl.passes, cells=lmap.cells,
        fold_fraction=_fold_fraction(lmap, pl), weight_load=pl.weight_load,
        required_adc_bits=bits, chips=pl.chips, traffic=traffic, bins=dict(lmap.bins),
        alternatives=choice.alternatives)


def _check_layers(layers):
    if isinstance(layers, Layer):
        layers = [layers]
    if hasattr(layers, "nodes") and callable(getattr(layers, "layers", None)):
        raise InvalidArgumentError(
            "estimate takes fdafast.workloads.Layer objects; for a fdafast.nn.Network pass "
            "net.layers(batch=...)")
    try:
        layers = list(layers)
    except TypeError:
        raise InvalidArgumentError(f"layers must be a Layer or a sequence of Layer objects, "
                                   f"got {type(layers).__name__}") from None
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


def _warn_precision(acc, reports):
    short = [(l.name, l.required_adc_bits) for l in reports
             if l.required_adc_bits is not None
             and l.required_adc_bits > acc.crossbar.config.adc_bits]
    if short:
        shown = ", ".join(f"{n} ({b})" for n, b in short[:4]) + (", ..." if len(short) > 4
                                                                  else "")
        warnings.warn(f"{acc.meta.name}: {len(short)} layer(s) have column sums that need more "
                      f"than the {acc.crossbar.config.adc_bits}-bit ADC: {shown} bits; their "
                      f"conversions quantize or clip (see required_adc_bits)",
                      AdcResolutionWarning, stacklevel=3)


def _network(acc, choices, placements, reports, batch, nplan):
    """Network-level numbers of the report: chips, latency, frame rate, writes."""
    table = acc.action_table()
    reprogram = sum(sum(action_energy(write_actions(c.lmap, p, acc), table).values())
                    for c, p in zip(choices, placements))
    clock = acc.technology.clock_ghz
    per_chip = acc.organisation.crossbars if acc.kind is not Kind.DIGITAL_FFT else \
        acc.organisation.tiles * acc.memory.buffer_kb_per_tile * 1024
    out = {"residency": nplan.residency, "chips": nplan.chips,
           "chips_for_weights": math.ceil(nplan.footprint / per_chip),
           "writes_per_batch": nplan.writes_per_batch, "reprogram_energy_pj": reprogram}
    if nplan.residency != "pipelined":
        return out
    # a frame's cycles per layer (the report's own when the batch is one frame)
    frame = [max(1, l.cycles if batch == 1 else
                 schedule_cycles(c.lmap.items // batch, stages(c.lmap, p, acc)))
             for c, p, l in zip(choices, placements, reports)]
    st = [_PipeStage(f) for f in frame]
    out["cycles"] = schedule_units(batch, st)
    out["frames_per_s"] = clock * 1e9 / max(frame)
    return out


@dataclasses.dataclass(frozen=True)
class _PipeStage:
    """A layer as one stage of the frame pipeline (one frame buffered between layers)."""

    service: int
    servers: int = 1
    capacity: int = 1


def estimate(layers, acc, residency=None):
    """Cycles, energy, utilisation and traffic of ``layers`` on ``acc``.

    Parameters
    ----------
    layers : Layer or sequence of Layer
        The workload (e.g. :func:`fdafast.workloads.c3d`), all with one batch.
        A layer whose ``pool`` is None has it inferred from the next layer
        (:func:`fdafast.residency.infer_pools`).
    acc : Accelerator or str
        An accelerator or a preset name (:func:`fdafast.presets`).
    residency : {'pipelined', 'reprogram'} or None
        Overrides ``execution.residency`` (see :mod:`fdafast.residency`).

    Returns
    -------
    Report
        ``report.layers``: one :class:`LayerReport` per layer with
        ``mapping`` ('frequency' or 'spatial') and ``tile``, ``cycles``
        (pipeline schedule plus write phases), ``closed_form_cycles``,
        ``write_cycles``, ``latency_s``, ``energy_pj`` by component
        (:data:`ENERGY_COMPONENTS`), ``utilisation`` of PE arrays (crossbars
        or MAC units), ADCs, FFT and IFFT units (busy unit-time over the
        layer's unit-time), ``actions`` (exact counts), ``crossbars`` (one
        copy), ``replication`` (copies), ``folds`` (passes), ``cells``,
        ``fold_fraction`` (share of its weights rewritten for every batch),
        ``weight_load`` (how rewritten weights arrive), ``required_adc_bits``
        (:func:`required_adc_bits` of its largest column sum; an
        :class:`AdcResolutionWarning` names the layers above the ADC),
        ``chips`` it spans, ``traffic`` (buffer, network-on-chip, DRAM and
        chip-to-chip bytes), ``bins`` and ``alternatives`` (every option the
        mapping considered, best first).  ``report.totals``: ``latency_s`` (the
        batch), ``energy_j``, ``frames_per_s`` (pipelined: the slowest layer's
        frame rate), GOPS/W and GOPS/s/mm2 (over all chips), ``chips`` (used),
        ``chips_for_weights`` (the fewest that hold one copy of every layer's
        weights; SRAM for a digital design), ``area_mm2_total``, ``power_w`` (every chip at full activity, Table I
        style), ``average_power_w``, ``reprogram_energy_j`` (programming and
        loading weights for every batch), ``writes_per_inference`` (of the
        most-written cell), ``endurance_lifetime_h`` (None: unlimited),
        ``interchip_bytes``.  ``report.as_dict()``, ``to_json(path)``,
        ``to_csv(path)``, ``table()``.

    Notes
    -----
    The dataflows and the memory rules are in :mod:`fdafast.dataflow`, the
    mapping choices in :mod:`fdafast.mapping`, residency in
    :mod:`fdafast.residency`, the write and stage rules in
    :mod:`fdafast.placement`; docs/cost-model.md lists every assumption.
    Raises :class:`fdafast.dataflow.MappingError` for a layer the
    accelerator cannot run.

    Examples
    --------
    >>> import fdafast
    >>> r = fdafast.estimate(fdafast.workloads.vgg16(), "fda")
    >>> len(r.layers), r.totals["frames_per_s"] > 0, r.totals["chips"] >= 1
    (16, True, True)
    """
    acc = Accelerator.resolve(acc)
    if residency is not None:
        acc = acc.replace(execution__residency=residency)
    layers, batch = _check_layers(layers)
    layers = infer_pools(layers)
    table = acc.action_table()
    choices = [choose(l, acc, s) for l, s in zip(layers, spills(layers, acc))]
    nplan = plan([c.lmap for c in choices], acc, table)
    reports = [_layer_report(c, p, acc, table) for c, p in zip(choices, nplan.placements)]
    if acc.kind is not Kind.DIGITAL_FFT:
        _warn_precision(acc, reports)
    network = _network(acc, choices, nplan.placements, reports, batch, nplan)
    return Report(acc, reports, batch, network)


def compare(layers, accelerators=("fda", "isaac", "asic-fft"), residency=None):
    """Network totals of ``layers`` on several accelerators, with ratios to the first.

    Returns ``{name: totals}`` in the given order, each ``totals`` as
    :attr:`Report.totals` plus ``latency_ratio`` (this latency / the first's)
    and ``energy_ratio`` (this energy / the first's); both are 1.0 for the
    first.  ``residency`` overrides every accelerator's (see :func:`estimate`).
    :func:`fdafast.report.comparison_table` shows it as a table.
    """
    if isinstance(accelerators, (str, Accelerator)):
        accelerators = (accelerators,)
    try:
        accelerators = list(accelerators)
    except TypeError:
        raise InvalidArgumentError(f"accelerators must be a sequence of presets or "
                                   f"Accelerators, got {type(accelerators).__name__}") from None
    if not accelerators:
        raise InvalidArgumentError("compare needs at least one accelerator (a preset name, a "
                                   ".toml path or an Accelerator)")
    reports = [estimate(layers, a, residency) for a in accelerators]
    base = reports[0].totals
    out = {}
    for r in reports:
        t = r.totals
        t["latency_ratio"] = t["latency_s"] / base["latency_s"]
        t["energy_ratio"] = t["energy_j"] / base["energy_j"]
        out[t["accelerator"]] = t
    return out
