"""Dataflows: how a layer maps onto an accelerator, what it does, how it flows.

For each accelerator kind, :func:`map_layer` turns a :class:`~fdafast.workloads.Layer`
into a :class:`LayerMap`: the exact integer *action counts* (ADC conversions,
crossbar reads, butterflies, bytes moved...), the mapping (crossbars used,
replication, reprogramming folds) and the *pipeline stages* one work item
passes through, with their service times in clock cycles.  Energy is
counts x the accelerator's action table, :func:`action_energy`, kept here
because :func:`layer_tile` ranks candidate tiles by it; :mod:`fdafast.cost`
groups it by component and walks the schedule.

Frequency-domain dataflow (``frequency-reram``: FDA; ``digital-fft``)
--------------------------------------------------------------------
A work item is one input tile of the overlap-save tiling the convolution
engine uses (:mod:`fdafast._tiling`: tile ``T`` per axis, ``T - k + 1``
outputs per tile on the stride-1 grid).  The tile is :func:`layer_tile`'s:
with ``frequency.tile_policy = 'fixed'`` the preset's (``frequency.tile_2d``
for 2D layers, ``frequency.tile_3d`` for 3D ones); with ``'per-layer'``
(the frequency presets' default) the power-of-two tile, axis by axis
between the dilated kernel extent and that preset tile, with the fewest
closed-form cycles, ties broken by energy and then by the larger tile.  Per
item: the FFT unit transforms the tile of every input channel; every
frequency bin does a complex MAC over the input channels of each group; the
IFFT unit transforms every output channel back.

* Symmetric reuse (``frequency.hermitian``): ``'half'`` computes, stores and
  moves the ``T0*T1*(T2//2+1)`` bins of the half spectrum (what
  :class:`fdafast.ReRAM` emulates); ``'exact'`` the unique minimum,
  ``(N - S)/2`` complex bins and the ``S`` self-conjugate bins as real
  numbers (N = T0*T1*T2, S = product over axes of 2 for even T, 1 for T=1);
  ``'none'`` all N bins.  A real-input FFT costs ``ceil(N log2 N / 4)``
  radix-2 butterflies (a half-length complex FFT and its split), a complex
  one ``N log2 N / 2``.
* Crossbars (FDA): each bin's complex weight matrix per group is laid out as
  :func:`fdafast.crossbar.crossbar_counts` describes (row blocks x column
  groups); real bins take one row and one cycle per channel.  The weights
  stay in the crossbars and serve every tile of the layer; each tile's
  spectrum is fetched once from the buffer and broadcast to the column
  groups of its bins; partial sums of row blocks are reduced locally.
* Digital (asic-fft): ``mac_rows x mac_cols`` complex MAC units per PE array;
  an input spectrum value is read once per ``mac_cols`` outputs, a weight
  once per ``mac_rows`` tiles; the weight spectra are streamed from DRAM
  once per layer.

Spatial dataflow (``spatial-reram``: ISAAC; and every ``linear`` layer on a
ReRAM kind): a work item is one output position (an im2col row of ``K =
cin/groups * kernel volume`` inputs, or one batch row of a linear layer),
multiplied by the real weight matrix on crossbars, one cycle per input chunk.
Inputs are read from the buffer once per ``kernel_w // stride_w`` output
positions (the sliding window shifts new columns into the input registers).

Mapping policy (ReRAM kinds)
----------------------------
Each layer runs alone on the whole chip (layer-sequential execution).  If
its weights fit in the chip's crossbars they are assumed programmed at
deployment and stay (no reprogramming is charged), and ``replication =
min(chip crossbars // crossbars needed, items)`` copies share the items.
Otherwise the crossbars are time-multiplexed over ``folds = ceil(needed /
chip)`` passes: every cell is written once per inference (``cell_write``
energy, weights read from DRAM), each fold costs ``rows x write_latency_ns``
(rows written one at a time, all arrays in parallel), and every item passes
the crossbar stage ``folds`` times.

Memory
------
Activations stay in the on-chip buffers between layers when the layer's
input and output together fit (``tiles x buffer_kb_per_tile``); otherwise
the input is read from and the output written to DRAM.  Bytes: activations
``activation_bits``, spectra ``input_bits`` (``operand_bits``) per real
part, accumulated spectra ``accumulator_bits`` per real part.

Pipeline stages
---------------
``dram`` and ``buffer`` (the item's traffic over the bandwidth), ``fft``,
``mac`` (crossbars or MAC units), ``ifft``.  Pooled units (FFT units, MAC
units, buffer banks) work on one item together; the crossbar stage has one
server per replica.  A crossbar read takes ``max(read_latency_ns, columns x
adc latency / ADCs per crossbar)``: the ADCs convert one read while the next
is under way.  Between stages :data:`PIPELINE_BUFFER_ITEMS` items wait
(double buffering).  :mod:`fdafast.cost` walks the schedule.
"""
import dataclasses
import itertools
import math

from . import _tiling
from .arch.spec import ArchError, Hermitian, Kind, TilePolicy
from .crossbar import crossbar_counts, logical_columns
from .workloads import Layer

__all__ = ["LayerMap", "Stage", "MappingError", "map_layer", "layer_tile", "closed_form_cycles",
           "action_energy", "spectrum_bins", "fft_butterflies", "self_conjugate_bins",
           "PIPELINE_BUFFER_ITEMS"]

#: Items that may wait between two pipeline stages.
PIPELINE_BUFFER_ITEMS = 2


class MappingError(ArchError):
    """A layer the accelerator cannot run as described."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """A pipeline stage: ``servers`` units, each busy ``service`` cycles per item."""

    name: str
    service: int
    servers: int = 1
    capacity: int = PIPELINE_BUFFER_ITEMS


@dataclasses.dataclass(frozen=True)
class LayerMap:
    """How one layer runs: action counts, mapping and pipeline stages.

    Attributes
    ----------
    layer : Layer
    dataflow : {'frequency', 'spatial', 'digital'}
    items : int
        Work items (tiles, or output positions) through the pipeline.
    stages : tuple of Stage
    actions : dict
        Action name -> exact count for the whole layer (all batch images).
    crossbars : int
        Crossbars one copy of the weights needs (0 for digital).
    replication, folds : int
    cells : int
        Programmed cells of one copy.
    reprogram_cycles : int
        Serial cycles spent writing crossbars (0 unless folds > 1).
    traffic : dict
        ``buffer_bytes``, ``noc_bytes``, ``dram_bytes``.
    bins : dict
        Frequency bins per tile and channel: ``complex``, ``real``, ``full``
        (all bins), ``tile``, and ``saving``, the fraction of the full
        spectrum's real values that symmetric reuse does not compute, store
        or move, ``1 - (2 complex + real) / (2 full)`` (empty when spatial).
    busy : dict
        Resource -> (unit-nanoseconds of work, units on the chip), for utilisation.
    """

    layer: Layer
    dataflow: str
    items: int
    stages: tuple
    actions: dict
    crossbars: int
    replication: int
    folds: int
    cells: int
    reprogram_cycles: int
    traffic: dict
    bins: dict
    busy: dict


# -- frequency-domain arithmetic ------------------------------------------------------
def self_conjugate_bins(tile):
    """Bins equal to their own conjugate mirror: 2 per even axis (0 and T/2), 1 per T = 1."""
    return math.prod(2 if t % 2 == 0 else 1 for t in tile)


def spectrum_bins(tile, hermitian):
    """(complex bins, real bins) computed per tile and channel under ``hermitian``."""
    mode = Hermitian(hermitian)
    n = math.prod(tile)
    if mode is Hermitian.NONE:
        return n, 0
    if mode is Hermitian.HALF:
        return _tiling.bins(tuple(tile)), 0
    s = self_conjugate_bins(tile)
    return (n - s) // 2, s


def fft_butterflies(tile, hermitian):
    """Radix-2 butterflies of one channel's forward (or inverse) tile FFT."""
    n = math.prod(tile)
    work = n * (n.bit_length() - 1)             # N log2 N (N is a power of two)
    if Hermitian(hermitian) is Hermitian.NONE:
        return work // 2
    return -(-work // 4)


# -- energy: counts x table ------------------------------------------------------------
def action_energy(actions, table):
    """Energy of each action: its count times its energy per action.

    Parameters
    ----------
    actions : dict
        Action name -> count (:attr:`LayerMap.actions`).
    table : dict
        Action name -> ``(energy_pj, latency_ns)``, from
        :meth:`fdafast.Accelerator.action_table`.

    Returns
    -------
    dict
        Action name -> ``count * energy_pj`` (pJ), in the order of ``actions``.
    """
    return {name: count * table[name][0] for name, count in actions.items()}


# -- helpers ------------------------------------------------------------------------------
def _cdiv(a, b):
    return -(-a // b)


def _cycles(ns, clock_ghz):
    """Whole cycles covering ``ns`` nanoseconds (at least 1 when ns > 0)."""
    return max(1, math.ceil(ns * clock_ghz - 1e-9)) if ns > 0 else 0


def _geometry3(layer):
    """(spatial, kernel extent, stride, output) as 3-tuples over (D, H, W); a 2D
    layer has depth 1."""
    one = (1,) * (3 - len(layer.spatial))
    kext = tuple(_tiling.dilated_extent(k, d) for k, d in zip(layer.kernel, layer.dilation))
    return one + layer.spatial, one + kext, one + layer.stride, one + layer.output_spatial


def _tile_candidates(layer, acc):
    """Tiles a layer may use: the preset's (fixed), or every power-of-two tile between
    the kernel extent and the preset's tile, axis by axis (per-layer)."""
    freq = acc.frequency
    largest = (1,) + freq.tile_2d if layer.kind == "conv2d" else freq.tile_3d
    _, kext, _, _ = _geometry3(layer)
    if any(t < k for t, k in zip(largest, kext)):
        path = "frequency.tile_2d" if layer.kind == "conv2d" else "frequency.tile_3d"
        raise MappingError(f"layer {layer.name!r}: the {acc.meta.name} tile "
                           f"{list(largest[3 - len(layer.spatial):])} is smaller than the "
                           f"kernel extent {list(kext[3 - len(layer.spatial):])}; "
                           f"override {path} with tiles of at least the kernel")
    if freq.tile_policy == TilePolicy.FIXED.value:
        return [tuple(largest)]
    axes = []
    for t, k in zip(largest, kext):
        sizes = [s for s in (1, 2, 4, 8, 16, 32, 64) if k <= s <= t and (s > 1 or t == 1)]
        axes.append(sizes)
    return [tuple(c) for c in itertools.product(*axes) if c[2] >= 2 or largest[2] < 2]


def layer_tile(layer, acc):
    """The FFT tile (D, H, W) ``layer`` uses on the frequency-domain accelerator ``acc``.

    ``frequency.tile_policy='fixed'``: the preset's tile.  ``'per-layer'``: among
    the candidates (:func:`_tile_candidates`), the one with the fewest cycles
    by :func:`closed_form_cycles`, ties broken by energy, then by the larger tile.
    """
    candidates = _tile_candidates(layer, acc)
    if len(candidates) == 1:
        return candidates[0]
    table = acc.action_table()

    def score(tile):
        lm = _map_frequency(layer, acc, tile)
        energy = sum(action_energy(lm.actions, table).values())
        return closed_form_cycles(lm), energy, -math.prod(tile)
    return min(candidates, key=score)


def closed_form_cycles(lmap):
    """Closed-form cycles of a :class:`LayerMap`: the bottleneck stage ``b`` (largest
    ``service / servers``) takes ``ceil(items / servers_b) * service_b``, every other
    stage adds one pass (fill and drain), plus serial reprogramming."""
    st = lmap.stages
    b = max(range(len(st)), key=lambda i: st[i].service / min(st[i].servers, lmap.items))
    waves = -(-lmap.items // st[b].servers)
    rest = sum(s.service for i, s in enumerate(st) if i != b)
    return waves * st[b].service + rest + lmap.reprogram_cycles


def _tiles(layer, tile):
    _, kext, stride, out = _geometry3(layer)
    per_axis = [_tiling.tiles_needed(o, s, k, t) for o, s, k, t in zip(out, stride, kext, tile)]
    return layer.batch * math.prod(per_axis)


def _bytes(bits):
    return _cdiv(bits, 8)


def _activation_bytes(layer, acc):
    a = _bytes(acc.memory.activation_bits)
    return (layer.batch * layer.cin * math.prod(layer.spatial) * a,
            layer.batch * layer.cout * math.prod(layer.output_spatial) * a)


def _spill(layer, acc):
    """DRAM bytes of activations that do not stay on chip."""
    inb, outb = _activation_bytes(layer, acc)
    capacity = acc.organisation.tiles * acc.memory.buffer_kb_per_tile * 1024
    return inb + outb if inb + outb > capacity else 0


def _memory_stages(acc, traffic, items):
    clock = acc.technology.clock_ghz
    buf_bw = acc.organisation.tiles * acc.memory.buffer_bytes_per_cycle_per_tile
    dram_bw = acc.memory.dram_gb_per_s / clock                    # bytes per cycle
    return (Stage("dram", math.ceil(traffic["dram_bytes"] / items / dram_bw)),
            Stage("buffer", math.ceil(traffic["buffer_bytes"] / items / buf_bw)))


# -- ReRAM crossbars -------------------------------------------------------------------
def _crossbar_plan(acc, needed, items, rows_used):
    """(replication, folds, reprogram cycles) of a layer needing ``needed`` crossbars."""
    chip = acc.organisation.crossbars
    if needed <= chip:
        return min(chip // needed, items), 1, 0
    folds = _cdiv(needed, chip)
    write = folds * rows_used * acc.crossbar.write_latency_ns
    return 1, folds, _cycles(write, acc.technology.clock_ghz)


def _read_ns(acc, columns):
    """Time of one crossbar read whose ``columns`` used columns are all converted."""
    org, table = acc.organisation, dict(acc.actions)
    adcs_per_crossbar = org.adcs_per_pe_array / org.crossbars_per_pe_array
    adc = min(columns, acc.crossbar.config.cols) * table["adc_conversion"].latency_ns
    return max(acc.crossbar.read_latency_ns, adc / adcs_per_crossbar)


def _crossbar_actions(counts, folds, cell_bits):
    cells_written = counts.cells if folds > 1 else 0
    return {"crossbar_read": counts.reads, "dac_drive": counts.dac_drives,
            "sample_hold": counts.adc_conversions, "adc_conversion": counts.adc_conversions,
            "shift_add": counts.shift_adds, "cell_write": cells_written}, \
        _cdiv(cells_written * cell_bits, 8)


def _crossbar_busy(acc, counts, read_ns):
    org = acc.organisation
    adc_lat = dict(acc.actions)["adc_conversion"].latency_ns
    return {"pe_arrays": (counts.reads * read_ns, org.crossbars),
            "adc": (counts.adc_conversions * adc_lat,
                    org.tiles * org.pe_arrays_per_tile * org.adcs_per_pe_array)}


def _scaled(counts, k):
    return type(counts)(*(k * v for v in dataclasses.astuple(counts)))


def _spatial_map(layer, acc):
    """im2col rows (or linear rows) through real crossbar products."""
    cfg = acc.crossbar.config
    g = layer.groups
    if layer.kind == "linear":
        items, K, reuse = layer.batch, layer.cin // g, 1
    else:
        items = layer.batch * math.prod(layer.output_spatial)
        K = layer.cin // g * math.prod(layer.kernel)
        reuse = max(1, layer.kernel[-1] // layer.stride[-1])
    N = layer.cout // g
    per = crossbar_counts(items, K, N, cfg, real=True)
    counts = _scaled(per, g)
    needed = g * per.crossbars
    repl, folds, reprogram = _crossbar_plan(acc, needed, items, min(K, cfg.rows))
    actions, weight_bytes = _crossbar_actions(counts, folds, cfg.cell_bits)
    a = _bytes(acc.memory.activation_bits)
    colgroups = _cdiv(cfg.sets * cfg.slices * N, cfg.cols)
    inputs = _cdiv(items * K * g * a, reuse)
    outputs = items * N * g * a
    traffic = {"buffer_bytes": inputs + outputs,
               "noc_bytes": inputs * colgroups + outputs,
               "dram_bytes": _spill(layer, acc) + weight_bytes}
    _finish(actions, traffic, acc)
    read_ns = _read_ns(acc, cfg.sets * cfg.slices * N)
    mac = Stage("mac", folds * _cycles(cfg.chunks * read_ns, acc.technology.clock_ghz), repl)
    return LayerMap(layer, "spatial", items, _memory_stages(acc, traffic, items) + (mac,),
                    actions, needed, repl, folds, counts.cells, reprogram, traffic, {},
                    _crossbar_busy(acc, counts, read_ns))


def _zero_unused(actions, acc):
    """Every action of the accelerator's table appears in the counts (0 when unused)."""
    for name, _ in acc.actions:
        actions.setdefault(name, 0)


# -- frequency domain ----------------------------------------------------------------
def _frequency_common(layer, acc, tile):
    """Items, bins and butterflies of ``layer`` on tiles ``tile`` (both kinds)."""
    items = _tiles(layer, tile)
    nb_c, nb_r = spectrum_bins(tile, acc.frequency.hermitian)
    bf = fft_butterflies(tile, acc.frequency.hermitian)
    full = math.prod(tile)
    bins = {"complex": nb_c, "real": nb_r, "full": full, "tile": list(tile),
            "saving": 1 - (2 * nb_c + nb_r) / (2 * full)}
    return items, nb_c, nb_r, bf, bins


def _fft_stages(acc, layer, items, bf):
    org, table, clock = acc.organisation, dict(acc.actions), acc.technology.clock_ghz
    stages, busy = [], {}
    for name, ch, units in (("fft", layer.cin, org.fft_units_per_tile),
                            ("ifft", layer.cout, org.ifft_units_per_tile)):
        work = items * ch * bf
        lat = table[f"{name}_butterfly"].latency_ns
        stages.append(Stage(name, _cycles(ch * bf * lat / (units * org.tiles), clock)))
        busy[name] = (work * lat, units * org.tiles)
    return stages, busy


def _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r, operand_bits):
    """Buffer bytes common to both frequency kinds, and the spectrum sizes per channel."""
    a = _bytes(acc.memory.activation_bits)
    spec = (2 * nb_c + nb_r) * _bytes(operand_bits)          # one channel's tile spectrum
    accum = (2 * nb_c + nb_r) * _bytes(acc.frequency.accumulator_bits)
    tile_reads = items * layer.cin * math.prod(tile) * a     # the FFT reads overlapping tiles
    _, out_act = _activation_bytes(layer, acc)
    # written: input spectra, accumulated output spectra, outputs; read: tiles, accumulators
    base = tile_reads + items * layer.cin * spec + 2 * items * layer.cout * accum + out_act
    return base, items * layer.cin * spec, items * layer.cout * accum


def _frequency_reram_map(layer, acc, tile):
    cfg = acc.crossbar.config
    items, nb_c, nb_r, bf, bins = _frequency_common(layer, acc, tile)
    g, K, N = layer.groups, layer.cin // layer.groups, layer.cout // layer.groups
    counts = _scaled(crossbar_counts(items, K, N, cfg), g * nb_c)
    if nb_r:
        counts = counts + _scaled(crossbar_counts(items, K, N, cfg, real=True), g * nb_r)
    needed = counts.crossbars
    rows_used = min(cfg.rows, 2 * K if cfg.pe.value == "rowpair" else K)
    repl, folds, reprogram = _crossbar_plan(acc, needed, items, rows_used)
    actions, weight_bytes = _crossbar_actions(counts, folds, cfg.cell_bits)
    base, spectra, accum = _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r,
                                             cfg.input_bits)
    colgroups = _cdiv(logical_columns(N, cfg), cfg.cols)
    refetch = colgroups if folds > 1 else 1                  # a fold holds some column groups
    traffic = {"buffer_bytes": base + spectra * refetch,
               "noc_bytes": spectra * colgroups + accum,
               "dram_bytes": _spill(layer, acc) + weight_bytes}
    actions.update(fft_butterfly=items * layer.cin * bf, ifft_butterfly=items * layer.cout * bf)
    _finish(actions, traffic, acc)
    read_ns = _read_ns(acc, logical_columns(N, cfg))
    cycles_per_read_seq = (2 if nb_c else 1) * cfg.chunks
    mac = Stage("mac", folds * _cycles(cycles_per_read_seq * read_ns, acc.technology.clock_ghz),
                repl)
    fft, busy = _fft_stages(acc, layer, items, bf)
    busy.update(_crossbar_busy(acc, counts, read_ns))
    stages = _memory_stages(acc, traffic, items) + (fft[0], mac, fft[1])
    return LayerMap(layer, "frequency", items, stages, actions, needed, repl, folds,
                    counts.cells, reprogram, traffic, bins, busy)


# -- digital ---------------------------------------------------------------------------------
def _mac_stage(acc, items, complex_macs, real_macs):
    org, table, d = acc.organisation, dict(acc.actions), acc.digital
    units = org.tiles * org.pe_arrays_per_tile * d.mac_rows * d.mac_cols
    work_ns = (complex_macs * table["complex_mac"].latency_ns
               + real_macs * table["real_mac"].latency_ns)
    stage = Stage("mac", _cycles(work_ns / items / units, acc.technology.clock_ghz))
    return stage, {"mac_units": (work_ns, units)}


def _digital_map(layer, acc, tile=None):
    d, g = acc.digital, layer.groups
    K, N = layer.cin // g, layer.cout // g
    op = _bytes(d.operand_bits)
    if layer.kind == "linear":
        items = layer.batch
        real = items * layer.cin * N
        weights = layer.cin * N * op
        inputs = _cdiv(real * op, d.mac_cols)          # an input serves mac_cols outputs
        outputs = items * layer.cout * _bytes(acc.memory.activation_bits)
        traffic = {"buffer_bytes": weights + _cdiv(real * op, d.mac_rows) + inputs + outputs}
        traffic["noc_bytes"] = traffic["buffer_bytes"] - weights
        traffic["dram_bytes"] = weights + _spill(layer, acc)
        actions = {"complex_mac": 0, "real_mac": real}
        mac, busy = _mac_stage(acc, items, 0, real)
        stages = _memory_stages(acc, traffic, items) + (mac,)
        return LayerMap(layer, "digital", items, stages, _finish(actions, traffic, acc), 0, 1,
                        1, 0, 0, traffic, {}, busy)
    items, nb_c, nb_r, bf, bins = _frequency_common(layer, acc, tile)
    cm, rm = g * nb_c * items * K * N, g * nb_r * items * K * N
    base, spectra, accum = _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r,
                                             d.operand_bits)
    weights = g * (2 * nb_c + nb_r) * K * N * op             # streamed once per layer
    operands = (2 * cm + rm) * op                            # bytes of x (or of w) per MAC
    x_reads = _cdiv(operands, d.mac_cols)                    # x reused by mac_cols outputs
    w_reads = _cdiv(operands, d.mac_rows)                    # w reused by mac_rows tiles
    traffic = {"buffer_bytes": base + weights + x_reads + w_reads,
               "noc_bytes": x_reads + w_reads + accum,
               "dram_bytes": weights + _spill(layer, acc)}
    actions = {"complex_mac": cm, "real_mac": rm, "fft_butterfly": items * layer.cin * bf,
               "ifft_butterfly": items * layer.cout * bf}
    fft, busy = _fft_stages(acc, layer, items, bf)
    mac, mbusy = _mac_stage(acc, items, cm, rm)
    busy.update(mbusy)
    stages = _memory_stages(acc, traffic, items) + (fft[0], mac, fft[1])
    return LayerMap(layer, "digital", items, stages, _finish(actions, traffic, acc), 0, 1, 1,
                    0, 0, traffic, bins, busy)


def _finish(actions, traffic, acc):
    actions.update(buffer_byte=traffic["buffer_bytes"], noc_byte=traffic["noc_bytes"],
                   dram_byte=traffic["dram_bytes"])
    _zero_unused(actions, acc)
    return actions


def _map_frequency(layer, acc, tile):
    if acc.kind is Kind.DIGITAL_FFT:
        return _digital_map(layer, acc, tile)
    return _frequency_reram_map(layer, acc, tile)


def map_layer(layer, acc):
    """The :class:`LayerMap` of ``layer`` on accelerator ``acc``.

    Raises :class:`MappingError` for layers the accelerator cannot run (a
    kernel larger than the FFT tile).
    """
    if not isinstance(layer, Layer):
        raise MappingError(f"expected a fdafast.workloads.Layer, got {type(layer).__name__}")
    kind = acc.kind
    if layer.kind == "linear":
        return _digital_map(layer, acc) if kind is Kind.DIGITAL_FFT else _spatial_map(layer, acc)
    if kind is Kind.SPATIAL_RERAM:
        return _spatial_map(layer, acc)
    return _map_frequency(layer, acc, layer_tile(layer, acc))
