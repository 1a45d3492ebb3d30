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

__all__ = ["Stage", "Placement", "LayerCoster", "TIME_UNITS", "PIPELINE_BUFFER_ITEMS",
           "stages", "closed_form_units", "write_ns", "write_actions", "layer_actions",
           "layer_cost", "objective", "loaded_bytes"]

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


def closed_form_units(items, st):
    """Closed-form time units of ``items`` through stages ``st``: the bottleneck ``b``
    (largest ``service / servers``) takes ``ceil(items / servers_b) * service_b``, every
    other stage adds one pass (fill and drain)."""
    b = max(range(len(st)), key=lambda i: st[i].service / min(st[i].servers, items))
    waves = -(-items // st[b].servers)
    return waves * st[b].service + sum(s.service for i, s in enumerate(st) if i != b)


class LayerCoster:
    """Stages, write time, action counts and closed-form cost of one mapped layer under
    any placement.  Built once per layer (everything that does not depend on the
    placement is computed here), called thousands of times while planning; the
    module's functions are thin wrappers over it."""

    def __init__(self, lmap, acc, table=None):
        table = acc.action_table() if table is None else table
        self.lmap, self.items = lmap, lmap.items
        self.clock = acc.technology.clock_ghz
        self.per_ns = self.clock * TIME_UNITS
        self.work = [(w.name, w.amount, w.rate, w.per) for w in lmap.work]
        self.energy0 = sum(action_energy(lmap.actions, table).values())
        e = {k: table[k][0] for k in ("buffer_byte", "noc_byte", "dram_byte", "link_byte",
                                      "fft_butterfly", "cell_write") if k in table}
        self.e = e
        self.e_refetch = lmap.refetch["buffer_bytes"] * e["buffer_byte"] + \
            lmap.refetch["noc_bytes"] * e["noc_byte"]
        self.bf_ns = table["fft_butterfly"][1] if "fft_butterfly" in table else 0.0
        self.dram_bw = acc.memory.dram_gb_per_s
        self.fft_units = max(acc.organisation.fft_units_per_tile, 1)
        self.t_row = self.limit = self.draw = None
        self.cell_bits = 0
        if acc.crossbar is not None:
            self.t_row = acc.write_row_ns()
            self.limit = acc.crossbar.write_power_limit_w
            self.cell_bits = acc.crossbar.config.cell_bits
            # W drawn by one crossbar programming cols_used cells per row time
            self.draw = lmap.cols_used * e["cell_write"] * 1e-12 / (self.t_row * 1e-9)

    def stages(self, pl):
        """The :class:`Stage` s under ``pl``, in time units per item."""
        return tuple(Stage(w[0], t, u) for w, (t, u) in zip(self.work, self._services(pl)))

    def _services(self, pl):
        """(service in time units, servers) of each stage under ``pl``."""
        lm, n = self.lmap, self.items
        extra_off = pl.link_bytes / n
        extra_buf = lm.refetch["buffer_bytes"] * (pl.passes - 1) / n
        extra_fft = 0.0
        if pl.stream:
            extra_off += loaded_bytes(lm, pl) / n
            extra_fft = _transform(lm, pl) * self.bf_ns / n
        out = []
        for name, amount, rate, per in self.work:
            if name == "offchip":
                amount += extra_off
            elif name == "buffer":
                amount += extra_buf
            elif name == "fft":
                amount += extra_fft
            servers = 1
            if per == "copy":
                ns, servers = amount * pl.passes, pl.copies
            elif per == "tile":
                ns = amount / (rate * pl.tiles)
            else:
                ns = amount / (rate * pl.chips)
            out.append((math.ceil(ns * self.per_ns) if ns > 0 else 0, servers))
        return out

    def write_ns(self, pl):
        """Nanoseconds of the write phases under ``pl`` (module docstring)."""
        if not pl.written:
            return 0.0
        lm = self.lmap
        per_phase = -(-pl.written // pl.phases)
        concurrent = per_phase
        if self.limit is not None:
            concurrent = max(1, min(per_phase, int(self.limit * pl.chips // self.draw)))
        program = pl.phases * lm.rows_used * self.t_row * -(-per_phase // concurrent)
        dram = loaded_bytes(lm, pl) / (self.dram_bw * pl.chips)
        fft = _transform(lm, pl) * self.bf_ns / (self.fft_units * pl.tiles)
        return max(program, dram, fft)

    def write_actions(self, pl):
        """Action counts of the writes (or of a digital design's weight streaming)."""
        lm = self.lmap
        out = {"dram_byte": loaded_bytes(lm, pl)}
        if _transform(lm, pl):
            out["fft_butterfly"] = _transform(lm, pl)
        if pl.written and lm.crossbars:
            cells = -(-lm.cells * pl.written // lm.crossbars)
            out["cell_write"] = cells
            out["noc_byte"] = -(-cells * self.cell_bits // 8)
        return out

    def actions(self, pl):
        """All action counts under ``pl``: the mapping's, the extra passes' buffer and
        network traffic, the writes and the bytes between chips."""
        lm = self.lmap
        actions = dict(lm.actions)
        extra = pl.passes - 1
        actions["buffer_byte"] += lm.refetch["buffer_bytes"] * extra
        actions["noc_byte"] += lm.refetch["noc_bytes"] * extra
        for name, n in self.write_actions(pl).items():
            actions[name] = actions.get(name, 0) + n
        actions["link_byte"] = actions.get("link_byte", 0) + pl.link_bytes
        return actions

    def energy(self, pl):
        """Energy (pJ) under ``pl``: the counts of :meth:`actions` times the table."""
        e = self.e
        total = self.energy0 + self.e_refetch * (pl.passes - 1) + pl.link_bytes * e["link_byte"]
        for name, n in self.write_actions(pl).items():
            total += n * e[name]
        return total

    def __call__(self, pl):
        """(cycles, energy pJ) under ``pl`` by the closed form: the pipeline's closed
        form plus the write phases."""
        svc, n = self._services(pl), self.items
        b = max(range(len(svc)), key=lambda i: svc[i][0] / min(svc[i][1], n))
        units = -(-n // svc[b][1]) * svc[b][0] + sum(t for t, _ in svc) - svc[b][0]
        return units / TIME_UNITS + self.write_ns(pl) * self.clock, self.energy(pl)


def stages(lmap, pl, acc):
    """The :class:`Stage` s of ``lmap`` under ``pl`` (:meth:`LayerCoster.stages`)."""
    return LayerCoster(lmap, acc).stages(pl)


def write_ns(lmap, pl, acc):
    """Nanoseconds of the write phases of ``lmap`` under ``pl`` (0 when nothing is
    written; a digital design's streamed weights are in its stages instead)."""
    return LayerCoster(lmap, acc).write_ns(pl)


def write_actions(lmap, pl, acc):
    """Action counts of the writes (:meth:`LayerCoster.write_actions`)."""
    return LayerCoster(lmap, acc).write_actions(pl)


def layer_actions(lmap, pl, acc):
    """All action counts of ``lmap`` under ``pl`` (:meth:`LayerCoster.actions`)."""
    return LayerCoster(lmap, acc).actions(pl)


def layer_cost(lmap, pl, acc, table=None):
    """(cycles, energy pJ) of ``lmap`` under ``pl`` by the closed form
    (:meth:`LayerCoster.__call__`)."""
    return LayerCoster(lmap, acc, table)(pl)


def objective(kind, cycles, energy):
    """The value ``kind`` ('latency', 'energy' or 'edp') of a (cycles, energy) pair."""
    if kind == "latency":
        return cycles
    if kind == "energy":
        return energy
    return cycles * energy
