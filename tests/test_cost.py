"""The cost model: hand-derived counts, agreement with the crossbar emulation,
mapping by objective, precision, physical sense, reports, and errors."""
import csv
import dataclasses
import io
import json
import math
import warnings

import numpy as np
import pytest

import fdafast
from fdafast import (Accelerator, CrossbarConfig, ReRAM, cost, dataflow, mapping, placement,
                     report, workloads)
from fdafast.arch import ArchError
from fdafast.dataflow import MappingError
from fdafast.workloads import Layer

pytestmark = pytest.mark.filterwarnings("ignore::fdafast.cost.AdcResolutionWarning")

#: A small FDA: 8x16 crossbars of 2-bit cells, 4-bit operands, one tile of 64 crossbars.
SMALL = dict(crossbar__rows=8, crossbar__cols=16, crossbar__weight_bits=4,
             crossbar__input_bits=4, crossbar__adc_bits=4, frequency__tile_2d=[4, 4],
             frequency__tile_3d=[4, 4, 4], organisation__tiles=1,
             organisation__pe_arrays_per_tile=1, organisation__crossbars_per_pe_array=64,
             organisation__adcs_per_pe_array=64)
SMALL_CFG = CrossbarConfig(rows=8, cols=16, cell_bits=2, weight_bits=4, input_bits=4,
                           dac_bits=1, adc_bits=4, weight_encoding="offset")


def small_fda(**more):
    return Accelerator.from_preset("fda", **SMALL, **more)


def test_hand_derived_2d():
    """conv2d 6 -> 3 channels, 5x5 input, 3x3 kernel, padding 1, on 4x4 tiles."""
    layer = Layer("tiny2d", "conv2d", 6, 3, (5, 5), (3, 3), padding=(1, 1))
    acc = small_fda()
    lm = dataflow.map_option(layer, acc, "frequency", (1, 4, 4))
    # tiles: 4 - 3 + 1 = 2 outputs per tile, ceil(5 / 2) = 3 per axis -> 9 items
    assert lm.items == 9
    # half spectrum of a 4x4 tile: 4 x (4//2 + 1) = 12 complex bins
    assert lm.bins == {"complex": 12, "real": 0, "full": 16, "tile": [1, 4, 4],
                       "saving": 1 - 24 / 32}
    # per bin: rowpair holds 8 // 2 = 4 channels per block -> 2 blocks for 6 channels;
    # offset weights of 4 bits in 2-bit cells: 2 slices x 3 outputs = 6 columns -> 1 group;
    # chunks = ceil((4-1)/1) + 1 = 4 input cycles, 2 cycles each (real, imaginary part)
    a = lm.actions
    assert lm.crossbars == 12 * 2
    assert a["crossbar_read"] == 12 * (9 * 2 * 1 * 2 * 4)             # 1728
    assert a["adc_conversion"] == a["sample_hold"] == a["shift_add"] == 12 * (9 * 2 * 2 * 4 * 6)
    assert a["dac_drive"] == 12 * (9 * 2 * 4 * 1 * 12)                # 12 rows per read sequence
    assert lm.cells == 12 * (12 * 6)
    # rows written per crossbar 8 (2 x 4 channels), 6 columns converted, the largest
    # column sum 8 rows x 1 (1-bit DAC) x 3 (2-bit cell) = 24 -> 5 ADC bits
    assert (lm.rows_used, lm.cols_used, lm.column_sum) == (8, 6, 24)
    assert cost.required_adc_bits(lm.column_sum, acc.crossbar.config) == 5
    # weights: 12 complex bins x 6 x 3 x 2 parts x 4 bits = 216 B as spectra, 81 B as
    # 3x3 kernels, which take 6 x 3 real 4x4 FFTs of 16 butterflies to transform
    assert lm.weight_bytes == {"frequency": 216, "spatial": 81}
    assert lm.transform_butterflies == 18 * 16
    assert a["cell_write"] == 0                      # the placement decides what is written
    # real 4x4 FFT: ceil(16 * log2(16) / 4) = 16 butterflies per channel-tile
    assert a["fft_butterfly"] == 9 * 6 * 16 and a["ifft_butterfly"] == 9 * 3 * 16
    # bytes: spectra 24 values of 1 byte per channel-tile, accumulators 24 x 4 bytes,
    # 16-bit activations: tiles read 9*6*16*2, spectra written 9*6*24 and read once,
    # accumulators written and read 2*9*3*96, outputs written 3*25*2
    assert lm.traffic["buffer_bytes"] == 1728 + 1296 + 5184 + 150 + 1296
    assert lm.traffic["noc_bytes"] == 1296 * 1 + 9 * 3 * 96
    assert lm.traffic["dram_bytes"] == 0
    assert lm.refetch == {"buffer_bytes": 1296, "noc_bytes": 0}   # spectra, per extra pass
    # stages at 1.2 GHz with 2 copies on the tile: a read at 8 of 128 rows takes
    # 100 ns x (0.5 + 0.5 x 8/128) = 53.125 ns (6 conversions of 0.434 ns at 4 bits fit);
    # 2 x 4 reads = 425 ns = 510 cycles on each of 2 copies; FFT 6 x 16 x 0.104 ns = 10 ns
    # = 12 cycles; the buffer 9654 B / 9 / (32 B per cycle) = 33.52 cycles, not rounded
    assert acc.read_ns() == pytest.approx(53.125)
    pl = placement.Placement(copies=2, tiles=1, resident=lm.crossbars)
    svc = {s.name: (s.service / placement.TIME_UNITS, s.servers)
           for s in placement.stages(lm, pl, acc)}
    assert svc["mac"] == (510, 2) and svc["fft"] == (12, 1) and svc["ifft"] == (6, 1)
    assert svc["buffer"][0] == pytest.approx(9654 / 9 / 32, abs=1e-4)
    assert svc["offchip"] == (0, 1)
    # closed form: ceil(9 / 2) waves of 510 cycles + one pass of the other stages
    closed = cost.closed_form_cycles(9, placement.stages(lm, pl, acc))
    assert closed == math.ceil(5 * 510 + 9654 / 9 / 32 + 12 + 6)
    assert 5 * 510 <= cost.schedule_cycles(9, placement.stages(lm, pl, acc)) <= \
        5 * 510 + 2 * (34 + 12 + 510 + 6)


def test_hand_derived_3d_exact_symmetry():
    """conv3d 2 -> 2, 3x4x4 input, 3x3x3 kernel, padding 1, 4x4x4 tiles, hermitian='exact'."""
    layer = Layer("tiny3d", "conv3d", 2, 2, (3, 4, 4), (3, 3, 3), padding=(1, 1, 1))
    lm = dataflow.map_option(layer, small_fda(frequency__hermitian="exact"), "frequency",
                             (4, 4, 4))
    # tiles per axis: ceil(3/2), ceil(4/2), ceil(4/2) -> 2 x 2 x 2 = 8 items
    assert lm.items == 8
    # 64 bins, 2 x 2 x 2 = 8 self-conjugate (real), (64 - 8) / 2 = 28 complex
    assert (lm.bins["complex"], lm.bins["real"]) == (28, 8)
    a = lm.actions
    # complex bin: 1 block (2 channels), 2 slices x 2 outputs = 4 columns, 2 x 4 reads per item
    # real bin: 1 block, 4 columns, 1 x 4 reads per item, rows = channels = 2
    assert lm.crossbars == 28 * 1 + 8 * 1
    assert a["crossbar_read"] == 28 * (8 * 2 * 4) + 8 * (8 * 1 * 4)            # 2048
    assert a["adc_conversion"] == 28 * (8 * 2 * 4 * 4) + 8 * (8 * 1 * 4 * 4)   # 8192
    assert a["dac_drive"] == 28 * (8 * 2 * 4 * 4) + 8 * (8 * 1 * 4 * 2)        # 7680
    assert lm.cells == 28 * (4 * 4) + 8 * (2 * 4)                              # 512
    # ceil(64 * 6 / 4) = 96 butterflies per channel-tile
    assert a["fft_butterfly"] == a["ifft_butterfly"] == 8 * 2 * 96


@pytest.mark.parametrize("kind, cin, cout, spatial, kernel, kw", [
    ("conv2d", 6, 3, (5, 5), (3, 3), dict(padding=(1, 1))),
    ("conv2d", 4, 6, (9, 7), (3, 3), dict(stride=(2, 2), groups=2)),
    ("conv2d", 5, 2, (6, 6), (2, 2), dict(dilation=(2, 2), padding=(1, 1))),
    ("conv3d", 3, 4, (3, 5, 6), (3, 3, 3), dict(padding=(1, 1, 1))),
])
def test_counts_equal_the_crossbar_emulation(kind, cin, cout, spatial, kernel, kw):
    """The dataflow's counts of a layer equal what ReRAM convolution reports for it."""
    layer = Layer("t", kind, cin, cout, spatial, kernel, **kw)
    acc = small_fda()
    tile = (1,) + acc.frequency.tile_2d if kind == "conv2d" else acc.frequency.tile_3d
    rng = np.random.default_rng(3)
    w = rng.standard_normal((cout, cin // layer.groups) + kernel)
    x = rng.standard_normal((1, cin) + spatial)
    plan = fdafast.ConvPlan(w, x.shape, stride=layer.stride, padding=layer.padding,
                            dilation=layer.dilation, groups=layer.groups,
                            tile=tile[3 - len(kernel):], engine=ReRAM(SMALL_CFG))
    plan(x)
    emu = plan.last_counts
    lm = dataflow.map_option(layer, acc, "frequency", tile)
    assert acc.crossbar.config == SMALL_CFG
    assert (lm.crossbars, lm.cells) == (emu.crossbars, emu.cells)
    a = lm.actions
    assert (a["crossbar_read"], a["adc_conversion"], a["dac_drive"], a["shift_add"]) == \
        (emu.reads, emu.adc_conversions, emu.dac_drives, emu.shift_adds)


# -- mapping by objective -------------------------------------------------------------------
NETS = {"c3d": workloads.c3d(), "vgg16": workloads.vgg16()}
EXTRA = [Layer("dw", "conv2d", 32, 32, (28, 28), (3, 3), padding=(1, 1), groups=32),
         Layer("s2", "conv2d", 64, 128, (56, 56), (3, 3), stride=(2, 2), padding=(1, 1)),
         Layer("k5", "conv3d", 16, 16, (8, 16, 16), (3, 5, 5), padding=(1, 2, 2), batch=1)]


def layers():
    return NETS["c3d"] + NETS["vgg16"] + EXTRA


def test_edp_does_not_trade_much_energy_for_a_few_cycles():
    """C3D conv3b (reprogrammed): 4x4x8 tiles take 6 % fewer cycles than 4x8x8 at 1.4x
    the energy; the default EDP objective takes 4x8x8, 'latency' the faster tile, and
    every option is reported."""
    layer = NETS["c3d"][3]
    acc = Accelerator.from_preset("fda", execution__residency="reprogram")
    edp = mapping.choose(layer, acc)
    assert edp.lmap.tile == (4, 8, 8)
    alts = {tuple(a["tile"] or ()): a for a in edp.alternatives}
    assert alts[(4, 4, 8)]["cycles"] < 0.95 * alts[(4, 8, 8)]["cycles"]
    assert alts[(4, 4, 8)]["energy_pj"] > 1.3 * alts[(4, 8, 8)]["energy_pj"]
    assert len(alts) == 5 and () in alts                  # four tiles and the spatial mapping
    fast = mapping.choose(layer, acc.replace(execution__objective="latency"))
    assert fast.lmap.tile == (4, 4, 8)
    assert edp.alternatives[0]["objective"] == edp.objective == \
        alts[(4, 8, 8)]["cycles"] * alts[(4, 8, 8)]["energy_pj"]


def test_ties_go_to_fewer_crossbars():
    layer = NETS["c3d"][3]
    loose = mapping.choose(layer, Accelerator.from_preset(
        "fda", execution__objective="latency", execution__tie_tolerance=0.5))
    best = min(a["objective"] for a in loose.alternatives)
    tied = [a for a in loose.alternatives if a["objective"] <= 1.5 * best]
    assert loose.lmap.crossbars == min(a["crossbars"] for a in tied)


def test_three_channel_first_layers_map_spatially_on_fda():
    """The frequency domain uses 6 of 128 rows for 3 input channels; FDA's conv1a goes
    spatial (as ISAAC's) because that costs less, and says so."""
    r = cost.estimate(NETS["c3d"][:1], "fda")
    assert r.layers[0].mapping == "spatial" and r.layers[0].tile is None
    isaac = cost.estimate(NETS["c3d"][:1], "isaac")
    assert r.layers[0].energy_total_pj == pytest.approx(isaac.layers[0].energy_total_pj,
                                                        rel=0.01)
    only_freq = cost.estimate(NETS["c3d"][:1], Accelerator.from_preset(
        "fda", execution__mappings=["frequency"]))
    assert only_freq.layers[0].mapping == "frequency"
    assert only_freq.layers[0].energy_total_pj > 1.5 * r.layers[0].energy_total_pj


def test_per_layer_tiles():
    """Per layer: a power-of-two tile between the kernel and the preset's largest, no
    worse by the objective than the fixed largest tile, and the one the emulation uses."""
    per = Accelerator.from_preset("fda")
    fixed = per.replace(frequency__tile_policy="fixed")
    assert per.frequency.tile_policy == "per-layer"
    for layer in layers():
        if layer.kind == "linear":
            continue
        tile = mapping.layer_tile(layer, per)
        kext = (1,) * (3 - len(layer.kernel)) + tuple(
            d * (k - 1) + 1 for k, d in zip(layer.kernel, layer.dilation))
        largest = (1,) + per.frequency.tile_2d if layer.kind == "conv2d" \
            else per.frequency.tile_3d
        assert all(k <= t <= m and t & (t - 1) == 0 for t, k, m in zip(tile, kext, largest))
        assert mapping.layer_tile(layer, fixed) == largest
        assert mapping.choose(layer, per).objective <= \
            mapping.choose(layer, fixed).objective * (1 + 1e-9)
    assert {mapping.layer_tile(l, per) for l in NETS["c3d"][:8]} != {(4, 8, 8)}
    net = fdafast.nn.zoo.tiny3d(input_shape=(3, 4, 12, 12))
    x = np.random.default_rng(0).random((1,) + net.input_shape)
    net.run(x, mode="quant")
    plans = [p for p in fdafast.nn.execute.executor(net).plans.values()
             if hasattr(p, "tile")]
    for layer, plan in zip(net.layers(), plans):
        assert plan.tile == mapping.layer_tile(layer, per)


# -- precision --------------------------------------------------------------------------------
def test_required_adc_bits_and_the_warning():
    acc = Accelerator.from_preset("isaac")
    # 128 rows x 1-bit DAC x 2-bit cells: sums up to 384 need 9 bits, the ADC has 8
    # (ISAAC's flipped-weight encoding saves that bit; fdafast's offset encoding does not)
    with pytest.warns(cost.AdcResolutionWarning, match=r"8-bit ADC.*conv3a \(9\)"):
        r = cost.estimate(NETS["c3d"], acc)
    bits = {l.name: l.required_adc_bits for l in r.layers}
    assert bits["conv3a"] == 9 and bits["conv1a"] == 8       # 81 rows x 3 = 243
    nine = acc.replace(crossbar__adc_bits=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost.estimate(NETS["c3d"], nine)
    # a numeric full scale clips what is above it: fewer bits suffice
    cfg = acc.crossbar.config.replace(adc_full_scale=255.0)
    assert cost.required_adc_bits(384, cfg) == 8
    assert cost.estimate(NETS["c3d"], "asic-fft").layers[1].required_adc_bits is None


def test_more_dac_bits_cost_dac_energy_and_adc_bits():
    """1 -> 4 DAC bits: 5 instead of 16 input cycles, but each drive of a 4-bit capacitive
    DAC costs 8x, and the column sums need 13 ADC bits."""
    layer = NETS["c3d"][2]
    base = Accelerator.from_preset("isaac", execution__residency="reprogram")
    one = cost.estimate(layer, base).layers[0]
    four = cost.estimate(layer, base.replace(crossbar__dac_bits=4)).layers[0]
    assert four.actions["dac_drive"] * 16 == one.actions["dac_drive"] * 5
    assert four.energy_pj["dac"] == pytest.approx(one.energy_pj["dac"] * 5 / 16 * 8)
    assert four.required_adc_bits == math.ceil(math.log2(128 * 15 * 3 + 1)) == 13


@pytest.mark.parametrize("preset", ["fda", "isaac"])
def test_more_adc_bits_never_lower_adc_energy_or_time(preset):
    last = (-1.0, -1.0)
    for bits in range(1, 17):
        t = Accelerator.from_preset(preset, crossbar__adc_bits=bits).action_table()
        assert t["adc_conversion"] >= last
        last = t["adc_conversion"]
    for layer in layers()[:6]:
        acc = Accelerator.from_preset(preset)
        lm = mapping.choose(layer, acc).lmap
        e = [dataflow.action_energy(lm.actions, Accelerator.from_preset(
            preset, crossbar__adc_bits=b).action_table())["adc_conversion"] for b in range(3, 13)]
        assert e == sorted(e), layer.name


@pytest.mark.parametrize("preset", ["fda", "asic-fft"])
def test_hermitian_reuse_never_costs_more(preset):
    """On the same tile: energy and every traffic; with the mapping chosen per layer,
    the objective it minimises."""
    pairs = (("half", "none"), ("exact", "half"))
    accs = {m: Accelerator.from_preset(preset, frequency__hermitian=m)
            for m in ("none", "half", "exact")}
    for layer in layers():
        if layer.kind == "linear":
            continue
        tile = dataflow.tile_candidates(layer, accs["half"])[-1]
        maps = {m: dataflow.map_option(layer, a, "frequency", tile) for m, a in accs.items()}
        energy = {m: sum(dataflow.action_energy(lm.actions, accs[m].action_table()).values())
                  for m, lm in maps.items()}
        for lo, hi in pairs:
            assert energy[lo] <= energy[hi], (layer.name, lo)
            for k, v in maps[lo].traffic.items():
                assert v <= maps[hi].traffic[k], (layer.name, lo, k)
            assert mapping.choose(layer, accs[lo]).objective <= \
                mapping.choose(layer, accs[hi]).objective * (1 + 1e-9), (layer.name, lo)


@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
def test_doubling_the_hardware_never_slows_a_layer(preset):
    acc = Accelerator.from_preset(preset, execution__objective="latency",
                                  execution__residency="reprogram", execution__tie_tolerance=0.0)
    big = acc.replace(organisation__tiles=2 * acc.organisation.tiles)
    for layer in layers():
        assert mapping.choose(layer, big).cycles <= mapping.choose(layer, acc).cycles * \
            (1 + 1e-9), layer.name


# -- identities ------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
@pytest.mark.parametrize("mode", ["pipelined", "reprogram"])
def test_energy_is_counts_times_table_and_layers_sum(preset, mode):
    acc = Accelerator.from_preset(preset, execution__residency=mode)
    r = cost.estimate(NETS["c3d"], acc)
    table = dict(acc.actions)
    for l in r.layers:
        by_hand = sum(n * (table[a].energy_pj * acc.scale(table[a]) if a in table
                           else table["dram_byte"].energy_pj) for a, n in l.actions.items())
        assert l.energy_total_pj == pytest.approx(by_hand, rel=1e-12)
    t = r.totals
    assert t["energy_j"] == pytest.approx(sum(l.energy_total_pj for l in r.layers) * 1e-12)
    assert t["gops_per_w"] == pytest.approx(2 * 38.55e9 / t["energy_j"] / 1e9, rel=1e-3)
    assert t["area_mm2_total"] == pytest.approx(t["chips"] * acc.summary()["chip_area_mm2"])
    assert t["power_w"] == pytest.approx(t["chips"] * acc.summary()["chip_power_w"])
    if mode == "reprogram":
        assert t["cycles"] == sum(l.cycles for l in r.layers)
        assert t["frames_per_s"] == pytest.approx(1 / t["latency_s"])
    else:       # frames through the layer pipeline: the slowest layer sets the rate
        assert t["frames_per_s"] == pytest.approx(1 / max(l.latency_s for l in r.layers),
                                                  rel=1e-6)
        assert t["latency_s"] == pytest.approx(sum(l.latency_s for l in r.layers), rel=1e-6)
    for l in r.layers:
        assert all(0 <= u <= 1 + 1e-6 for u in l.utilisation.values()), (l.name, l.utilisation)
        assert l.cycles >= l.write_cycles >= 0


def test_symmetric_reuse_savings_are_reported():
    fixed = dict(frequency__tile_policy="fixed", execution__mappings=["frequency"])
    half = cost.estimate(NETS["vgg16"][:13], Accelerator.from_preset("fda", **fixed))
    none = cost.estimate(NETS["vgg16"][:13], Accelerator.from_preset(
        "fda", frequency__hermitian="none", **fixed))
    for h, n in zip(half.layers, none.layers):
        assert (h.bins["complex"], n.bins["complex"]) == (40, 64)      # 8x8 tiles
        assert h.bins["saving"] == 1 - 40 / 64 and n.bins["saving"] == 0
        # conversions scale with the bins; a real FFT is half a complex one
        assert h.actions["adc_conversion"] * 64 == n.actions["adc_conversion"] * 40
        assert 2 * h.actions["fft_butterfly"] == n.actions["fft_butterfly"]
    assert half.totals["energy_j"] < none.totals["energy_j"]
    assert half.totals["chips"] < none.totals["chips"]            # smaller weight spectra
    exact = cost.estimate(NETS["vgg16"][:1], Accelerator.from_preset(
        "fda", frequency__hermitian="exact", **fixed))
    assert exact.layers[0].bins["saving"] == 1 - (2 * 30 + 4) / 128


def test_outputs_are_counted_after_pooling():
    unpooled = [dataclasses.replace(l, pool=()) for l in NETS["c3d"]]
    acc = Accelerator.from_preset("fda", execution__residency="reprogram")
    a, b = cost.estimate(NETS["c3d"], acc), cost.estimate(unpooled, acc)
    for pa, pb in zip(a.layers, b.layers):
        assert pa.traffic["buffer_bytes"] <= pb.traffic["buffer_bytes"], pa.name
    assert a.totals["dram_bytes"] < b.totals["dram_bytes"]
    off = acc.replace(execution__pool_on_chip=False)
    assert cost.estimate(NETS["c3d"], off).totals["buffer_bytes"] == \
        b.totals["buffer_bytes"]


def test_pools_are_inferred_from_the_next_layer():
    """Layers of a zoo network do not state their pooling: the cost model infers it, so
    a Network and the workload list cost the same."""
    net = fdafast.nn.zoo.c3d()
    stated = cost.estimate(NETS["c3d"], "fda").totals
    inferred = cost.estimate(net.layers(), "fda").totals
    assert inferred["energy_j"] == pytest.approx(stated["energy_j"])
    assert [l.pool for l in fdafast.residency.infer_pools(net.layers())] == \
        [l.pool for l in NETS["c3d"]]


def test_report_outputs(tmp_path):
    r = cost.estimate(NETS["c3d"], "fda")
    d = json.loads(r.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == d
    assert [l["name"] for l in d["layers"]] == [l.name for l in NETS["c3d"]]
    assert d["totals"]["latency_s"] == pytest.approx(r.totals["latency_s"])
    assert set(d["layers"][0]["energy_pj"]) == set(cost.ENERGY_COMPONENTS)
    for key in ("chips", "area_mm2_total", "power_w", "frames_per_s", "reprogram_energy_j",
                "endurance_lifetime_h", "residency", "interchip_bytes"):
        assert key in d["totals"], key
    for key in ("mapping", "tile", "required_adc_bits", "fold_fraction", "replication",
                "weight_load", "alternatives"):
        assert key in d["layers"][1], key
    assert d["layers"][1]["mapping"] == "frequency" and d["layers"][1]["tile"] == [4, 8, 8]
    text = r.to_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(NETS["c3d"]) and rows[1]["layer"] == "conv2a"
    assert rows[1]["tile"] == "4x8x8" and rows[0]["mapping"] == "spatial"
    assert int(rows[1]["count_adc_conversion"]) == r.layers[1].actions["adc_conversion"]
    assert (tmp_path / "r.csv").read_text() == text
    assert "conv5b" in r.table() and "frames/s" in r.table() and "chip(s)" in r.table()


def test_compare_ratios():
    res = cost.compare(NETS["vgg16"], ("fda", "isaac", "asic-fft"))
    assert list(res) == ["fda", "isaac", "asic-fft"]
    assert res["fda"]["latency_ratio"] == res["fda"]["energy_ratio"] == 1.0
    assert res["isaac"]["latency_ratio"] == pytest.approx(
        res["isaac"]["latency_s"] / res["fda"]["latency_s"])
    text = report.to_text(report.comparison_table(res))
    assert "asic-fft" in text and "chips" in text and "lifetime" in text
    both = cost.compare(NETS["vgg16"], ("fda",), residency="reprogram")
    assert both["fda"]["residency"] == "reprogram"


def test_comparison_table_is_one_table_in_two_widths():
    res = cost.compare(NETS["c3d"][:2])
    wide = report.to_text(report.comparison_table(res))
    narrow = report.to_text(report.comparison_table(res, title=None, compact=True))
    assert "latency / first" in wide and "lat/1st" in narrow and "E/1st" in narrow
    assert "latency / first" not in narrow                     # no caption when compact
    assert max(len(l) for l in wide.splitlines()) <= 160       # the CLI's piped width
    assert all(f"{t['energy_j'] * 1e3:.3f}" in wide and f"{t['energy_j'] * 1e3:.3f}" in narrow
               for t in res.values())
    assert "\x1b" not in narrow and not any(l != l.rstrip() for l in narrow.splitlines())


def test_results_are_deterministic():
    a = cost.estimate(NETS["c3d"], "fda").as_dict()
    b = cost.estimate(NETS["c3d"], Accelerator.from_preset("fda")).as_dict()
    assert a == b


# -- bad input ----------------------------------------------------------------------------------
def test_layers_the_accelerator_cannot_run():
    big = Layer("k11", "conv2d", 3, 8, (32, 32), (11, 11))
    freq_only = Accelerator.from_preset("fda", execution__mappings=["frequency"])
    with pytest.raises(MappingError, match=r"k11.*frequency\.tile_2d"):
        cost.estimate(big, freq_only)
    assert cost.estimate(big, "fda").layers[0].mapping == "spatial"    # spatial runs it
    assert cost.estimate(big, "isaac").layers[0].cycles > 0
    assert cost.estimate(big, freq_only.replace(frequency__tile_2d=[16, 16])).layers[0].cycles > 0


@pytest.mark.parametrize("overrides, match", [
    (dict(organisation__crossbars_per_pe_array=0), r"crossbars_per_pe_array"),
    (dict(organisation__fft_units_per_tile=0), r"fft_units_per_tile"),
    (dict(technology__clock_ghz=0.0), r"technology\.clock_ghz"),
    (dict(actions__adc_conversion__latency_ns=0.0), r"ADC rate"),
    (dict(frequency__tile_2d=[6, 8]), r"powers of two"),
    (dict(frequency__hermitian="most"), r"frequency\.hermitian"),
    (dict(crossbar__pe="triple"), r"crossbar\.pe"),
    (dict(components__adc__scaling="price"), r"components\.adc\.scaling"),
    (dict(memory__dram_gb_per_s=0), r"memory\.dram_gb_per_s"),
    (dict(memory__dram_gb_per_s=1e-300), r"memory\.dram_gb_per_s"),
    (dict(execution__residency="cloud"), r"execution\.residency"),
    (dict(execution__chips=0), r"execution\.chips"),
    (dict(execution__mappings=["winograd"]), r"execution\.mappings"),
])
def test_impossible_configurations(overrides, match):
    with pytest.raises(ArchError, match=match):
        Accelerator.from_preset("fda", **overrides)


@pytest.mark.parametrize("attr", ["power_mw", "area_mm2"])
def test_all_zero_powers_or_areas_are_refused(attr):
    data = fdafast.arch.preset_data("isaac")
    for c in data["components"].values():
        c[attr] = 0.0
    with pytest.raises(ArchError, match=rf"components\.\*\.{attr}"):
        Accelerator.from_dict(data)


def test_bad_estimate_arguments():
    with pytest.raises(fdafast.FdafastError, match="known presets"):
        cost.estimate(NETS["c3d"], "fdaa")
    with pytest.raises(fdafast.FdafastError, match="at least one layer"):
        cost.estimate([], "fda")
    with pytest.raises(fdafast.FdafastError, match="Layer objects"):
        cost.estimate([(3, 64)], "fda")
    with pytest.raises(fdafast.FdafastError, match="same batch"):
        cost.estimate(workloads.c3d(batch=1)[:2] + workloads.c3d(batch=2)[2:3], "fda")
    with pytest.raises(fdafast.FdafastError, match="Accelerator or a preset"):
        cost.estimate(NETS["c3d"], 3)
    with pytest.raises(fdafast.FdafastError, match=r"net\.layers\(batch=\.\.\.\)"):
        cost.estimate(fdafast.nn.zoo.tiny2d(), "fda")
    with pytest.raises(fdafast.FdafastError, match="sequence of Layer"):
        cost.estimate(5, "fda")
    with pytest.raises(fdafast.FdafastError, match="at least one accelerator"):
        cost.compare(NETS["c3d"], ())
    with pytest.raises(fdafast.FdafastError, match=r"execution\.residency"):
        cost.estimate(NETS["c3d"], "fda", residency="cloud")


def test_energy_is_counts_times_the_table():
    table = {"adc_conversion": (2.5, 1.0), "dram_byte": (10.0, 0.1)}
    assert dataflow.action_energy({"adc_conversion": 3, "dram_byte": 0}, table) == \
        {"adc_conversion": 7.5, "dram_byte": 0.0}
    acc = Accelerator.from_preset("fda")
    layer = NETS["c3d"][1]
    lm = dataflow.map_option(layer, acc, "frequency", (4, 8, 8))
    by_hand = {a: n * acc.action_table()[a][0] for a, n in lm.actions.items()}
    assert dataflow.action_energy(lm.actions, acc.action_table()) == by_hand
    r = cost.estimate([layer], acc.replace(execution__residency="reprogram"))
    assert r.layers[0].actions["adc_conversion"] == lm.actions["adc_conversion"]


@pytest.mark.parametrize("preset", ["fda", "asic-fft"])
@pytest.mark.parametrize("mode", ["pipelined", "reprogram"])
def test_the_report_charges_the_tile_the_emulation_runs(preset, mode):
    """A layer's mapping is chosen on the layer by itself, so the tile in a network's
    report is mapping.layer_tile's (what the ReRAM emulation runs), whatever the
    neighbours, the pooling stated or inferred, and the batch."""
    acc = Accelerator.from_preset(preset, execution__residency=mode)
    for net in (NETS["c3d"], workloads.c3d(batch=4), NETS["vgg16"]):
        r = cost.estimate(net, acc)
        for layer, lr in zip(net, r.layers):
            if lr.mapping == "frequency":
                unstated = dataclasses.replace(layer, pool=None, batch=1)
                assert layer.batch == 1 or tuple(lr.tile) == mapping.layer_tile(layer, acc)
                assert tuple(lr.tile) == mapping.layer_tile(unstated, acc), layer.name
