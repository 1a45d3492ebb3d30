"""One layer under a placement: its pipeline stages, its write phases and its cost.

A :class:`Placement` says how a mapped layer (:class:`fdafast.dataflow.LayerMap`)
sits on the hardware: copies of its weights, passes over its items (folds),
the tiles and chips whose units serve it, what of its weights is rewritten
for each batch and how the rewritten weights are loaded.
:mod:`fdafast.residency` decides placements for a whole network;
:mod:`fdafast.mapping` uses :func:`layer_cost` to rank a layer's options.

Stages
------
Each :class:`~fdafast.dataflow.Work` of the layer becomes a :class:`Stage` in
*time units* of 1/:data:`TIME_UNITS` of a clock cycle: a pooled stage's
per-item time is its work over the pool's rate and is usually a fraction of
a cycle, which whole-cycle rounding would inflate (ISAAC's VGG conv1_1 came
out 1.88x too slow that way).  Pooled stages (``per='tile'``: FFT units,
MAC units, buffer banks; ``per='chip'``: off-chip links) have one server of
the pool's combined rate; the crossbar stage has one server per copy of the
weights, each busy ``passes`` times the time one pass holds a copy.

Writes (ReRAM kinds)
--------------------
Rewritten crossbars are programmed in ``phases`` before the passes that
use them, serially with the computation (no double-buffered scratch): a
phase programs its crossbars row by row (``rows_used`` rows of
:meth:`fdafast.Accelerator.write_row_ns`), as many crossbars at once as the
chip's write-driver power limit allows (a crossbar programming
``cols_used`` cells of ``cell_write`` energy per row time draws
``cols_used * E_cell / t_row``).  Its weights arrive from DRAM (as spectra)
or, for ``weight_load='spatial'``, as kernels the FFT units transform; the
write time is the largest of programming, DRAM and transform times (they
overlap).  Charged: ``cell_write`` per programmed cell, ``dram_byte`` per
loaded byte, ``fft_butterfly`` per transform butterfly, ``noc_byte`` per
byte delivered to the crossbars.  A digital design streams its weights
during the layer instead (the off-chip stage carries them).
"""
import dataclasses
import math
import typing

from .dataflow import action_energy

__all__ = ["Stage", "Placement", "TIME_UNITS", "PIPELINE_BUFFER_ITEMS", "stages",
           "closed_form_units", "write_ns", "write_actions", "layer_actions", "layer_cost",
           "objective", "loaded_bytes"]

#: Time units of the pipeline schedule per clock cycle.
TIME_UNITS = 1 << 16
#: Items that may wait between two pipeline stages (double buffering).
PIPELINE_BUFFER_ITEMS = 2


@dataclasses.dataclass(frozen=True)
class Stage:
    """A pipeline stage: ``servers`` units, each busy ``service`` time units per item."""

    name: str
    service: int
    servers: int = 1
    capacity: int = PIPELINE_BUFFER_ITEMS


class Placement(typing.NamedTuple):
    """How one mapped layer sits on the hardware (a named tuple: planning builds
    thousands of them, ``pl._replace(copies=4)``).

    Attributes
    ----------
    copies : int
        Copies of the weights sharing the items (replication).
    passes : int
        Passes of every item over the crossbars (folds of weights that do not
        fit at once).
    tiles, chips : float
        Tiles whose FFT, MAC and buffer units serve the layer; chips whose
        off-chip links carry its off-chip traffic.
    resident : int
        Crossbars of the layer's weights that stay programmed across batches.
    written : int
        Crossbars programmed for every batch (all passes and copies).
    phases : int
        Write phases for every batch.
    weight_load : {'frequency', 'spatial'} or None
        How loaded weights arrive (None: nothing is loaded).
    loaded : float
        Fraction of one copy's weights loaded from DRAM for every batch.
    stream : bool
        The loaded weights stream during the layer (digital designs).
    link_bytes : int
        Bytes arriving from other chips for every batch.
    """

    copies: int = 1
    passes: int = 1
    tiles: float = 1.0
    chips: float = 1.0
    resident: int = 0
    written: int = 0
    phases: int = 0
    weight_load: object = None
    loaded: float = 0.0
    stream: bool = False
    link_bytes: int = 0


def loaded_bytes(lmap, pl):
    """DRAM bytes of weights loaded for every batch."""
    if pl.weight_load is None or not pl.loaded:
        return 0
    return math.ceil(lmap.weight_bytes[pl.weight_load] * pl.loaded)


def _transform(lmap, pl):
    if pl.weight_load != "spatial" or not pl.loaded:
        return 0
    return math.ceil(lmap.transform_butterflies * pl.loaded)


def stages(lmap, pl, acc):
    """The :class:`Stage` s of ``lmap`` under ``pl``, in time units per item."""
    per_ns = acc.technology.clock_ghz * TIME_UNITS
    extra = {"offchip": pl.link_bytes / lmap.items,
             "buffer": lmap.refetch["buffer_bytes"] * (pl.passes - 1) / lmap.items}
    if pl.stream:
        extra["offchip"] += loaded_bytes(lmap, pl) / lmap.items
        extra["fft"] = _transform(lmap, pl) * acc.action_table()["fft_butterfly"][1] \
            / lmap.items
    out = []
    for w in lmap.work:
        amount = w.amount + extra.get(w.name, 0.0)
        servers = 1
        if w.per == "copy":
            ns, servers = amount * pl.passes, pl.copies
        elif w.per == "tile":
            ns = amount / (w.rate * pl.tiles)
        else:
            ns = amount / (w.rate * pl.chips)
        out.append(Stage(w.name, math.ceil(ns * per_ns) if ns > 0 else 0, servers))
    return tuple(out)


def closed_form_units(items, st):
    """Closed-form time units of ``items`` through stages ``st``: the bottleneck ``b``
    (largest ``service / servers``) takes ``ceil(items / servers_b) * service_b``, every
    other stage adds one pass (fill and drain)."""
    b = max(range(len(st)), key=lambda i: st[i].service / min(st[i].servers, items))
    waves = -(-items // st[b].servers)
    return waves * st[b].service + sum(s.service for i, s in enumerate(st) if i != b)


def write_ns(lmap, pl, acc):
    """Nanoseconds of the write phases of ``lmap`` under ``pl`` (0 when nothing is
    written; a digital design's streamed weights are in its stages instead)."""
    if not pl.written:
        return 0.0
    t_row = acc.write_row_ns()
    per_phase = -(-pl.written // pl.phases)
    limit = acc.crossbar.write_power_limit_w
    concurrent = per_phase
    if limit is not None:
        e_cell = acc.action_table()["cell_write"][0] * 1e-12
        draw = lmap.cols_used * e_cell / (t_row * 1e-9)       # W per crossbar programming
        concurrent = max(1, min(per_phase, int(limit * pl.chips // draw)))
    program = pl.phases * lmap.rows_used * t_row * -(-per_phase // concurrent)
    dram = loaded_bytes(lmap, pl) / (acc.memory.dram_gb_per_s * pl.chips)
    org = acc.organisation
    fft = _transform(lmap, pl) * acc.action_table()["fft_butterfly"][1] / \
        (max(org.fft_units_per_tile, 1) * pl.tiles) if _transform(lmap, pl) else 0.0
    return max(program, dram, fft)


def write_actions(lmap, pl, acc):
    """Action counts of the writes (or of a digital design's weight streaming)."""
    out = {"dram_byte": loaded_bytes(lmap, pl)}
    if _transform(lmap, pl):
        out["fft_butterfly"] = _transform(lmap, pl)
    if pl.written and lmap.crossbars:
        cells = -(-lmap.cells * pl.written // lmap.crossbars)
        out["cell_write"] = cells
        out["noc_byte"] = -(-cells * acc.crossbar.config.cell_bits // 8)
    return out


def layer_actions(lmap, pl, acc):
    """All action counts of ``lmap`` under ``pl``: the mapping's, the extra passes'
    buffer and network traffic, the writes and the bytes between chips."""
    actions = dict(lmap.actions)
    extra = pl.passes - 1
    actions["buffer_byte"] += lmap.refetch["buffer_bytes"] * extra
    actions["noc_byte"] += lmap.refetch["noc_bytes"] * extra
    for name, n in write_actions(lmap, pl, acc).items():
        actions[name] = actions.get(name, 0) + n
    actions["link_byte"] = actions.get("link_byte", 0) + pl.link_bytes
    return actions


def layer_cost(lmap, pl, acc, table=None, items=None):
    """(cycles, energy pJ) of ``lmap`` under ``pl`` by the closed form: the pipeline's
    closed form plus the write phases."""
    table = acc.action_table() if table is None else table
    st = stages(lmap, pl, acc)
    units = closed_form_units(lmap.items if items is None else items, st)
    cycles = units / TIME_UNITS + write_ns(lmap, pl, acc) * acc.technology.clock_ghz
    energy = sum(action_energy(layer_actions(lmap, pl, acc), table).values())
    return cycles, energy


def objective(kind, cycles, energy):
    """The value ``kind`` ('latency', 'energy' or 'edp') of a (cycles, energy) pair."""
    if kind == "latency":
        return cycles
    if kind == "energy":
        return energy
    return cycles * energy
