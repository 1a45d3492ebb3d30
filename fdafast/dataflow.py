"""Dataflows: what one mapping of a layer does, independently of where it is placed.

:func:`map_option` turns a :class:`~fdafast.workloads.Layer` and one mapping
option (``'frequency'`` with an FFT tile, or ``'spatial'``) into a
:class:`LayerMap`: the exact integer *action counts* (ADC conversions,
crossbar reads, butterflies, bytes moved...), the footprint of one copy of
the weights (crossbars, cells, rows, bytes to load them) and the *work* one
item puts on each pipeline stage.  Where the copies go, how many there are
and what must be rewritten is the placement's (:mod:`fdafast.placement`,
:mod:`fdafast.residency`); which option a layer uses, the mapping's
(:mod:`fdafast.mapping`, whose :func:`~fdafast.mapping.map_layer` and
:func:`~fdafast.mapping.layer_tile` give its choice).  Energy is counts x the
accelerator's action table, :func:`action_energy`.

Frequency-domain dataflow (``frequency-reram``: FDA; ``digital-fft``)
--------------------------------------------------------------------
A work item is one input tile of the overlap-save tiling the convolution
engine uses (:mod:`fdafast._tiling`: tile ``T`` per axis, ``T - k + 1``
outputs per tile on the stride-1 grid).  Per item: the FFT unit transforms
the tile of every input channel; every frequency bin does a complex MAC over
the input channels of each group; the IFFT unit transforms every output
channel back.

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
  groups; the 2-cell 2-cycle ``rowpair`` PE: two rows per complex weight,
  two reads per input chunk); real bins take one row and one cycle per
  channel.  Each tile's spectrum is fetched once per pass from the buffer
  and broadcast to the column groups of its bins (one network hop per
  byte and group, no multicast); partial sums of row blocks are reduced
  locally.
* Digital (asic-fft): ``mac_rows x mac_cols`` complex MAC units per PE array;
  an input spectrum value is read once per ``mac_cols`` outputs, a weight
  once per ``mac_rows`` tiles; weights stream from DRAM during the layer
  unless the placement keeps them in SRAM.

Spatial dataflow (``spatial-reram``: ISAAC; every ``linear`` layer; any
convolution mapped ``'spatial'``): a work item is one output position (an
im2col row of ``K = cin/groups * kernel volume`` inputs, or one batch row of
a linear layer), multiplied by the real weight matrix on crossbars (one
cycle per input chunk) or on the digital MAC units (real MACs).  Inputs are
read from the buffer once per ``kernel_w // stride_w`` output positions (the
sliding window shifts new columns into the input registers).

Memory
------
A layer's input and output activations are in DRAM or in the on-chip
buffers as its ``spill`` says (:func:`spill_alone`: both in DRAM when they do
not fit the buffers together; :mod:`fdafast.residency` decides per tensor, so
that a producer and its consumer agree).  Outputs are counted after on-chip
pooling (:attr:`fdafast.workloads.Layer.pool`).  Bytes: activations
``activation_bits``, spectra ``input_bits`` (``operand_bits``) per real part
(spectra are requantised to the operand width), accumulated spectra
``accumulator_bits`` per real part.  ReLU, pooling and bias cost nothing.

Work
----
Each item puts a :class:`Work` on the stages ``offchip`` (DRAM bytes over
the chips' off-chip bandwidth), ``buffer`` (buffer bytes over the tiles'
buffer bandwidth), ``fft``, ``mac`` (crossbars: the time one copy holds its
crossbars per item; or digital MAC units), ``ifft``.  Pooled units (FFT
units, MAC units, buffer banks) share an item's work evenly.  A crossbar
read takes :meth:`fdafast.Accelerator.read_sequence_ns` of the columns it
converts.
"""
import dataclasses
import itertools
import math

from . import _tiling
from .arch.execution import Mapping
from .arch.spec import ArchError, Hermitian, Kind, TilePolicy
from .crossbar import crossbar_counts, logical_columns
from .crossbar_config import PE
from .workloads import Layer

__all__ = ["LayerMap", "Work", "MappingError", "map_option", "action_energy", "spectrum_bins",
           "fft_butterflies", "self_conjugate_bins", "tile_candidates", "spill_alone",
           "activation_bytes", "fft_flops"]


class MappingError(ArchError):
    """A layer the accelerator cannot run as described."""


@dataclasses.dataclass(frozen=True)
class Work:
    """What one item asks of a stage: ``amount`` (bytes, or nanoseconds of one unit's
    time) served at ``rate`` per nanosecond by each of the stage's units, which
    are counted ``per`` tile (``'tile'``), per chip (``'chip'``: off-chip
    bandwidth) or are the crossbars of one copy of the weights (``'copy'``:
    ``amount`` is the time one copy holds them, one server per copy)."""

    name: str
    amount: float
    rate: float = 1.0
    per: str = "tile"


@dataclasses.dataclass(frozen=True)
class LayerMap:
    """One mapping of one layer: counts, weight footprint and per-item work.

    Attributes
    ----------
    layer : Layer
    mapping : {'frequency', 'spatial'}
    dataflow : {'frequency', 'spatial', 'digital'}
        The hardware path: crossbar frequency-domain, crossbar spatial, or
        digital MAC units.
    tile : tuple or None
        The FFT tile (D, H, W) of a frequency mapping.
    items : int
        Work items (tiles, or output positions) of the whole batch.
    work : tuple of Work
    actions : dict
        Action name -> exact count for the whole layer and batch, with one
        pass over the weights and nothing (re)written.
    crossbars, cells : int
        Crossbars and programmed cells of one copy of the weights (0 digital).
    rows_used, cols_used : int
        Rows written and columns converted per crossbar (0 digital).
    column_sum : int
        The largest possible column sum of one read (0 digital).
    weight_bytes : dict
        Bytes to load one copy of the weights, by how they are loaded:
        ``'frequency'`` (spectra) and ``'spatial'`` (kernels); a spatial
        mapping has only ``'spatial'``.
    transform_butterflies : int
        Butterflies to transform the spatial kernels into spectra on chip.
    traffic : dict
        ``buffer_bytes``, ``noc_bytes``, ``dram_bytes`` (activations) of one pass.
    refetch : dict
        Buffer and network bytes each extra pass over the weights adds.
    bins : dict
        Frequency bins per tile and channel: ``complex``, ``real``, ``full``,
        ``tile``, ``saving`` (``1 - (2 complex + real) / (2 full)``); empty if
        spatial.
    busy : dict
        Resource -> (unit-nanoseconds of work, ``per``, units per tile or chip),
        for utilisation.
    """

    layer: Layer
    mapping: str
    dataflow: str
    tile: tuple
    items: int
    work: tuple
    actions: dict
    crossbars: int
    cells: int
    rows_used: int
    cols_used: int
    column_sum: int
    weight_bytes: dict
    transform_butterflies: int
    traffic: dict
    refetch: dict
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


def _bytes(bits):
    return _cdiv(bits, 8)


def _geometry3(layer):
    """(spatial, kernel extent, stride, output) as 3-tuples over (D, H, W); a 2D
    layer has depth 1."""
    one = (1,) * (3 - len(layer.spatial))
    kext = tuple(_tiling.dilated_extent(k, d) for k, d in zip(layer.kernel, layer.dilation))
    return one + layer.spatial, one + kext, one + layer.stride, one + layer.output_spatial


def tile_candidates(layer, acc):
    """Tiles a layer may use: the preset's (``tile_policy='fixed'``), or every
    power-of-two tile between the kernel extent and the preset's tile, axis by
    axis (``'per-layer'``)."""
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
        axes.append([s for s in (1, 2, 4, 8, 16, 32, 64) if k <= s <= t and (s > 1 or t == 1)])
    return [tuple(c) for c in itertools.product(*axes) if c[2] >= 2 or largest[2] < 2]


def _tiles(layer, tile):
    _, kext, stride, out = _geometry3(layer)
    per_axis = [_tiling.tiles_needed(o, s, k, t) for o, s, k, t in zip(out, stride, kext, tile)]
    return layer.batch * math.prod(per_axis)


def activation_bytes(layer, acc):
    """(input, output) activation bytes of the batch; the output after on-chip pooling."""
    a = _bytes(acc.memory.activation_bits)
    out = layer.pooled_spatial if acc.execution.pool_on_chip else layer.output_spatial
    return (layer.batch * layer.cin * math.prod(layer.spatial) * a,
            layer.batch * layer.cout * math.prod(out) * a)


def spill_alone(layer, acc):
    """(input in DRAM, output in DRAM) for ``layer`` by itself: both when its input
    and output do not fit the chip's buffers together."""
    inb, outb = activation_bytes(layer, acc)
    over = inb + outb > acc.organisation.tiles * acc.memory.buffer_kb_per_tile * 1024
    return over, over


def _dram(layer, acc, spill):
    inb, outb = activation_bytes(layer, acc)
    return inb * bool(spill[0]) + outb * bool(spill[1])


def _memory_work(acc, traffic, items):
    clock = acc.technology.clock_ghz
    return (Work("offchip", traffic["dram_bytes"] / items, acc.memory.dram_gb_per_s, "chip"),
            Work("buffer", traffic["buffer_bytes"] / items,
                 acc.memory.buffer_bytes_per_cycle_per_tile * clock))


def _scaled(counts, k):
    """``k`` times every count (by field, not dataclasses.astuple: this runs for every
    option of every layer)."""
    return type(counts)(*(k * getattr(counts, f.name) for f in dataclasses.fields(counts)))


def _crossbar_actions(counts):
    return {"crossbar_read": counts.reads, "dac_drive": counts.dac_drives,
            "sample_hold": counts.adc_conversions, "adc_conversion": counts.adc_conversions,
            "shift_add": counts.shift_adds, "cell_write": 0}


def _crossbar_busy(acc, counts, read_ns):
    org = acc.organisation
    return {"pe_arrays": (counts.reads * read_ns, "tile",
                          org.pe_arrays_per_tile * org.crossbars_per_pe_array),
            "adc": (counts.adc_conversions * acc.adc_ns(), "tile",
                    org.pe_arrays_per_tile * org.adcs_per_pe_array)}


def _finish(actions, traffic, acc):
    actions.update(buffer_byte=traffic["buffer_bytes"], noc_byte=traffic["noc_bytes"],
                   dram_byte=traffic["dram_bytes"])
    for name in acc.action_table():
        actions.setdefault(name, 0)
    return actions


def _column_sum(cfg, rows):
    """Largest column sum of a read driving ``rows`` rows: every cell at its top level,
    every DAC at its top code."""
    return rows * ((1 << cfg.dac_bits) - 1) * cfg.levels


# -- spatial: im2col rows through real products ---------------------------------------
def _im2col(layer):
    """(items, K, input reuse) of the spatial dataflow."""
    if layer.kind == "linear":
        return layer.batch, layer.cin // layer.groups, 1
    items = layer.batch * math.prod(layer.output_spatial)
    return items, layer.cin // layer.groups * math.prod(layer.kernel), \
        max(1, layer.kernel[-1] // layer.stride[-1])


def _spatial_map(layer, acc, spill):
    cfg, g = acc.crossbar.config, layer.groups
    items, K, reuse = _im2col(layer)
    N = layer.cout // g
    per = crossbar_counts(items, K, N, cfg, real=True)
    counts = _scaled(per, g)
    a = _bytes(acc.memory.activation_bits)
    ncols = cfg.sets * cfg.slices * N
    colgroups = _cdiv(ncols, cfg.cols)
    inputs = _cdiv(items * K * g * a, reuse)
    outputs = activation_bytes(layer, acc)[1] if layer.kind != "linear" else items * N * g * a
    traffic = {"buffer_bytes": inputs + outputs, "noc_bytes": inputs * colgroups + outputs,
               "dram_bytes": _dram(layer, acc, spill)}
    actions = _finish(_crossbar_actions(counts), traffic, acc)
    read_ns = acc.read_sequence_ns(ncols)
    rows_used = min(K, cfg.rows)
    work = _memory_work(acc, traffic, items) + (Work("mac", cfg.chunks * read_ns, per="copy"),)
    return LayerMap(layer, Mapping.SPATIAL.value, "spatial", None, items, work, actions,
                    g * per.crossbars, counts.cells, rows_used, min(ncols, cfg.cols),
                    _column_sum(cfg, rows_used),
                    {"spatial": _bytes(g * K * N * cfg.weight_bits)}, 0, traffic,
                    {"buffer_bytes": inputs, "noc_bytes": 0}, {},
                    _crossbar_busy(acc, counts, read_ns))


# -- frequency domain ----------------------------------------------------------------
def _frequency_common(layer, hermitian, tile):
    """Items, bins and butterflies of ``layer`` on tiles ``tile`` (both kinds)."""
    items = _tiles(layer, tile)
    nb_c, nb_r = spectrum_bins(tile, hermitian)
    bf = fft_butterflies(tile, hermitian)
    full = math.prod(tile)
    bins = {"complex": nb_c, "real": nb_r, "full": full, "tile": list(tile),
            "saving": 1 - (2 * nb_c + nb_r) / (2 * full)}
    return items, nb_c, nb_r, bf, bins


def _fft_work(acc, layer, items, bf):
    org, table = acc.organisation, acc.action_table()
    work, busy = [], {}
    for name, ch, units in (("fft", layer.cin, org.fft_units_per_tile),
                            ("ifft", layer.cout, org.ifft_units_per_tile)):
        lat = table[f"{name}_butterfly"][1]
        work.append(Work(name, ch * bf * lat, units))
        busy[name] = (items * ch * bf * lat, "tile", units)
    return work, busy


def _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r, operand_bits):
    """Buffer bytes common to both frequency kinds, and the spectrum sizes per channel."""
    a = _bytes(acc.memory.activation_bits)
    spec = (2 * nb_c + nb_r) * _bytes(operand_bits)          # one channel's tile spectrum
    accum = (2 * nb_c + nb_r) * _bytes(acc.frequency.accumulator_bits)
    tile_reads = items * layer.cin * math.prod(tile) * a     # the FFT reads overlapping tiles
    out_act = activation_bytes(layer, acc)[1]
    # written: input spectra, accumulated output spectra, outputs; read: tiles, accumulators
    base = tile_reads + items * layer.cin * spec + 2 * items * layer.cout * accum + out_act
    return base, items * layer.cin * spec, items * layer.cout * accum


def _weight_sources(layer, acc, tile, nb_c, nb_r, bits):
    """Bytes of the weight spectra and of the spatial kernels, and the butterflies that
    transform the kernels into spectra on chip (one real tile FFT per kernel)."""
    g, K, N = layer.groups, layer.cin // layer.groups, layer.cout // layer.groups
    freq = _bytes(g * (2 * nb_c + nb_r) * K * N * bits)
    spatial = _bytes(g * K * N * math.prod(layer.kernel) * bits)
    return {"frequency": freq, "spatial": spatial}, \
        g * K * N * fft_butterflies(tile, acc.frequency.hermitian)


def _frequency_reram_map(layer, acc, tile, spill):
    cfg = acc.crossbar.config
    items, nb_c, nb_r, bf, bins = _frequency_common(layer, acc.frequency.hermitian, tile)
    g, K, N = layer.groups, layer.cin // layer.groups, layer.cout // layer.groups
    counts = _scaled(crossbar_counts(items, K, N, cfg), g * nb_c)
    if nb_r:
        counts = counts + _scaled(crossbar_counts(items, K, N, cfg, real=True), g * nb_r)
    rows_used = min(cfg.rows, 2 * K if cfg.pe is PE.ROWPAIR else K)
    base, spectra, accum = _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r,
                                             cfg.input_bits)
    ncols = logical_columns(N, cfg)
    colgroups = _cdiv(ncols, cfg.cols)
    traffic = {"buffer_bytes": base + spectra, "noc_bytes": spectra * colgroups + accum,
               "dram_bytes": _dram(layer, acc, spill)}
    actions = _crossbar_actions(counts)
    actions.update(fft_butterfly=items * layer.cin * bf, ifft_butterfly=items * layer.cout * bf)
    _finish(actions, traffic, acc)
    read_ns = acc.read_sequence_ns(ncols)
    reads_per_chunk = 2 if nb_c else 1                       # the 2-cycle complex PE
    fft, busy = _fft_work(acc, layer, items, bf)
    busy.update(_crossbar_busy(acc, counts, read_ns))
    work = _memory_work(acc, traffic, items) + (
        fft[0], Work("mac", reads_per_chunk * cfg.chunks * read_ns, per="copy"), fft[1])
    weights, transform = _weight_sources(layer, acc, tile, nb_c, nb_r, cfg.weight_bits)
    return LayerMap(layer, Mapping.FREQUENCY.value, "frequency", tuple(tile), items, work,
                    actions, counts.crossbars, counts.cells, rows_used, min(ncols, cfg.cols),
                    _column_sum(cfg, rows_used), weights, transform, traffic,
                    {"buffer_bytes": spectra, "noc_bytes": 0}, bins, busy)


# -- digital ---------------------------------------------------------------------------------
def _mac_work(acc, items, complex_macs, real_macs):
    org, table, d = acc.organisation, acc.action_table(), acc.digital
    units = org.pe_arrays_per_tile * d.mac_rows * d.mac_cols
    work_ns = complex_macs * table["complex_mac"][1] + real_macs * table["real_mac"][1]
    return Work("mac", work_ns / items, units), {"mac_units": (work_ns, "tile", units)}


def _digital_spatial(layer, acc, spill):
    """Direct convolution (or a linear layer) on the MAC units, as real MACs."""
    d, g = acc.digital, layer.groups
    op = _bytes(d.operand_bits)
    items, K, reuse = _im2col(layer)
    N = layer.cout // g
    real = items * g * K * N
    weights = g * K * N * op
    inputs = _cdiv(real * op, d.mac_cols * reuse)    # an input serves mac_cols outputs
    w_reads = _cdiv(real * op, d.mac_rows)           # a weight serves mac_rows items
    outputs = activation_bytes(layer, acc)[1] if layer.kind != "linear" else items * N * g * op
    traffic = {"buffer_bytes": weights + w_reads + inputs + outputs,
               "noc_bytes": w_reads + inputs, "dram_bytes": _dram(layer, acc, spill)}
    actions = _finish({"complex_mac": 0, "real_mac": real}, traffic, acc)
    mac, busy = _mac_work(acc, items, 0, real)
    return LayerMap(layer, Mapping.SPATIAL.value, "digital", None, items,
                    _memory_work(acc, traffic, items) + (mac,), actions, 0, 0, 0, 0, 0,
                    {"spatial": weights}, 0, traffic, {"buffer_bytes": 0, "noc_bytes": 0}, {},
                    busy)


def _digital_frequency(layer, acc, tile, spill):
    d, g = acc.digital, layer.groups
    K, N = layer.cin // g, layer.cout // g
    op = _bytes(d.operand_bits)
    items, nb_c, nb_r, bf, bins = _frequency_common(layer, acc.frequency.hermitian, tile)
    cm, rm = g * nb_c * items * K * N, g * nb_r * items * K * N
    base, spectra, accum = _spectrum_traffic(layer, acc, tile, items, nb_c, nb_r,
                                             d.operand_bits)
    weights, transform = _weight_sources(layer, acc, tile, nb_c, nb_r, d.operand_bits)
    operands = (2 * cm + rm) * op                            # bytes of x (or of w) per MAC
    x_reads = _cdiv(operands, d.mac_cols)                    # x reused by mac_cols outputs
    w_reads = _cdiv(operands, d.mac_rows)                    # w reused by mac_rows tiles
    traffic = {"buffer_bytes": base + weights["frequency"] + x_reads + w_reads,
               "noc_bytes": x_reads + w_reads + accum, "dram_bytes": _dram(layer, acc, spill)}
    actions = {"complex_mac": cm, "real_mac": rm, "fft_butterfly": items * layer.cin * bf,
               "ifft_butterfly": items * layer.cout * bf}
    fft, busy = _fft_work(acc, layer, items, bf)
    mac, mbusy = _mac_work(acc, items, cm, rm)
    busy.update(mbusy)
    work = _memory_work(acc, traffic, items) + (fft[0], mac, fft[1])
    return LayerMap(layer, Mapping.FREQUENCY.value, "digital", tuple(tile), items, work,
                    _finish(actions, traffic, acc), 0, 0, 0, 0, 0, weights, transform, traffic,
                    {"buffer_bytes": 0, "noc_bytes": 0}, bins, busy)


# -- entry points ---------------------------------------------------------------------
def map_option(layer, acc, mapping, tile=None, spill=None):
    """The :class:`LayerMap` of ``layer`` on ``acc`` with one mapping option.

    Parameters
    ----------
    layer : Layer
    acc : Accelerator
    mapping : {'frequency', 'spatial'}
        Linear layers are always spatial.
    tile : tuple of 3 ints
        The FFT tile (D, H, W) of a frequency mapping.
    spill : (bool, bool) or None
        Whether the input and the output activations are in DRAM (None:
        :func:`spill_alone`).
    """
    if not isinstance(layer, Layer):
        raise MappingError(f"expected a fdafast.workloads.Layer, got {type(layer).__name__}")
    spill = spill_alone(layer, acc) if spill is None else spill
    digital = acc.kind is Kind.DIGITAL_FFT
    if layer.kind == "linear" or Mapping(mapping) is Mapping.SPATIAL:
        return _digital_spatial(layer, acc, spill) if digital else \
            _spatial_map(layer, acc, spill)
    if acc.kind is Kind.SPATIAL_RERAM:
        raise MappingError(f"a {acc.kind.value!r} accelerator has no frequency mapping")
    return _digital_frequency(layer, acc, tile, spill) if digital else \
        _frequency_reram_map(layer, acc, tile, spill)


def fft_flops(layer, tile, hermitian="half"):
    """Floating-point operations of ``layer`` computed directly and through tile FFTs.

    Returns ``{'direct': 2 * MACs, 'frequency': ..., 'macs': ..., 'transforms':
    ...}`` where the frequency count charges 8 per complex MAC (4 multiplies,
    4 adds), 2 per real-bin MAC and 10 per radix-2 butterfly (a complex
    multiply and two complex adds) of the input FFTs and output IFFTs, on the
    tiles and bins this module's dataflow charges (overlap-save tiles give the
    same item count as overlap-add blocks of ``T - k + 1`` outputs).  Weight
    spectra are precomputed.  These are the counts Zhang and Prasanna (FPGA
    2017) compare (tests/test_validation.py).
    """
    items, nb_c, nb_r, bf, _ = _frequency_common(layer, hermitian, tuple(tile))
    g, K, N = layer.groups, layer.cin // layer.groups, layer.cout // layer.groups
    macs = 8 * g * nb_c * items * K * N + 2 * g * nb_r * items * K * N
    transforms = 10 * items * (layer.cin + layer.cout) * bf
    return {"direct": 2 * layer.macs, "frequency": macs + transforms, "macs": macs,
            "transforms": transforms}
