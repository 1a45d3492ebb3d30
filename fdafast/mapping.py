"""Mapping by objective: each layer's tile and its frequency or spatial mapping.

A convolution on a frequency-domain design may run in the frequency domain
on any tile of :func:`fdafast.dataflow.tile_candidates`, or spatially (as
ISAAC does, with real weights on the same crossbars or as real MACs on the
digital units), as ``execution.mappings`` allows; a spatial design and every
linear layer run spatially.  Each option is costed as the layer *alone*
(:func:`fdafast.residency.alone`) for one frame, its activations in the
buffers and its output before pooling, so that the choice depends on neither
its neighbours nor the batch: reprogrammed, on ``execution.chips``,
replicated over the free crossbars when its weights fit, folded through a
rewritten part when they do not, weights loaded the cheaper way; pipelined,
on one chip's worth of crossbars and their units (a layer that needs more is
charged in proportion), nothing rewritten.  The option with the
smallest ``execution.objective`` (``'edp'``: cycles x energy, ``'latency'``
or ``'energy'``) wins; options within ``execution.tie_tolerance`` of it tie,
and ties go to fewer crossbars (the network's residency then has more room),
then to the order of ``execution.mappings``, then to the larger tile.

Choosing on the layer alone keeps a layer's tile a property of the layer and
the accelerator, so the ReRAM emulation of a network
(:mod:`fdafast.nn.execute`, through :func:`layer_tile`) runs
the tile the cost model charges; the network's residency and replication
(:mod:`fdafast.residency`) are decided afterwards, with the mappings fixed.
"""
import dataclasses
import math

from .arch.execution import Mapping
from .dataflow import MappingError, map_option, spill_alone, tile_candidates
from .placement import objective
from .residency import alone

__all__ = ["Choice", "options", "choose", "choose_tile", "map_layer", "layer_tile"]


@dataclasses.dataclass(frozen=True)
class Choice:
    """A layer's chosen mapping: the :class:`~fdafast.dataflow.LayerMap`, its reference
    (layer-alone) cycles, energy and objective value, and every option considered
    (``alternatives``: dicts of ``mapping``, ``tile``, ``crossbars``, ``cycles``,
    ``energy_pj``, ``objective``, best first)."""

    lmap: object
    cycles: float
    energy_pj: float
    objective: float
    alternatives: tuple


def options(layer, acc, only=None):
    """The (mapping, tile) options of ``layer`` on ``acc``, in ``execution.mappings``
    order (tiles largest first), or of the mapping ``only``.  Raises
    :class:`~fdafast.dataflow.MappingError` when there is none (a kernel larger than
    every tile, and no spatial mapping)."""
    if layer.kind == "linear":
        return [(Mapping.SPATIAL.value, None)]
    out, error = [], None
    for m in (acc.execution.mappings if only is None else (only,)):
        if m == Mapping.SPATIAL.value:
            out.append((m, None))
            continue
        if acc.frequency is None:
            error = MappingError(f"a {acc.kind.value!r} accelerator has no frequency mapping")
            continue
        try:
            tiles = tile_candidates(layer, acc)
        except MappingError as exc:
            error = exc
            continue
        out += [(m, t) for t in sorted(tiles, key=lambda t: (-math.prod(t), t))]
    if not out:
        raise error
    return out


def _rank(acc, scored):
    """``scored`` (value, crossbars, order, -tile size, entry) sorted best first, with
    ties within the tolerance resolved by the later keys."""
    best = min(s[0] for s in scored)
    tol = acc.execution.tie_tolerance
    tied = [s for s in scored if s[0] <= best * (1 + tol)]
    rest = sorted((s for s in scored if s[0] > best * (1 + tol)), key=lambda s: s[:4])
    return sorted(tied, key=lambda s: s[1:4]) + rest


def choose(layer, acc, spill=None, only=None):
    """The :class:`Choice` of ``layer`` on ``acc`` (module docstring), its activations
    in DRAM as ``spill`` says (:func:`fdafast.dataflow.spill_alone` by default);
    ``only`` restricts the options to one mapping."""
    spill = spill_alone(layer, acc) if spill is None else spill
    table = acc.action_table()
    order = {m: i for i, m in enumerate(acc.execution.mappings)}
    # the reference: one frame of the layer by itself (activations in the buffers, its
    # output as computed), so that the choice depends on neither its neighbours nor the
    # batch, as the emulation's tile (nn.execute asks for a frame's)
    ref = dataclasses.replace(layer, pool=(), batch=1)
    scored = []
    for mapping, tile in options(layer, acc, only):
        lmap = map_option(ref, acc, mapping, tile, (False, False))
        cycles, energy = alone(lmap, acc, table)
        value = objective(acc.execution.objective, cycles, energy)
        size = -math.prod(tile) if tile else 0
        scored.append((value, lmap.crossbars, order.get(mapping, 0), size,
                       (lmap, cycles, energy, tile)))
    ranked = _rank(acc, scored)
    lmap, cycles, energy, tile = ranked[0][4]
    lmap = map_option(layer, acc, lmap.mapping, tile, spill)
    alts = tuple({"mapping": e[0].mapping, "tile": None if e[3] is None else list(e[3]),
                  "crossbars": e[0].crossbars, "cycles": e[1], "energy_pj": e[2],
                  "objective": v} for v, _, _, _, e in ranked)
    return Choice(lmap, cycles, energy, ranked[0][0], alts)


def choose_tile(layer, acc):
    """The FFT tile of ``layer``: the chosen option's when it maps to the frequency
    domain, else the best frequency option's (see :func:`choose`)."""
    lmap = choose(layer, acc).lmap
    if lmap.tile is None:
        lmap = choose(layer, acc, only=Mapping.FREQUENCY.value).lmap
    return lmap.tile


def map_layer(layer, acc):
    """The :class:`~fdafast.dataflow.LayerMap` of the option :func:`choose` picks for
    ``layer`` alone on ``acc``.  Raises :class:`~fdafast.dataflow.MappingError` for
    layers the accelerator cannot run (a kernel larger than the FFT tile and no
    spatial mapping)."""
    return choose(layer, acc).lmap


def layer_tile(layer, acc):
    """The FFT tile (D, H, W) the frequency mapping of ``layer`` uses on the
    frequency-domain accelerator ``acc`` (:func:`choose_tile`: the best tile by the
    objective among :func:`~fdafast.dataflow.tile_candidates`, whether or not the
    layer ends up mapped spatially).  The ReRAM emulation of a network
    (:mod:`fdafast.nn.execute`) runs each layer on this tile."""
    return choose_tile(layer, acc)
