"""The cost model: hand-derived counts, agreement with the crossbar emulation,
physical sense, reports, and errors."""
import csv
import io
import json
import math

import numpy as np
import pytest

import fdafast
from fdafast import Accelerator, CrossbarConfig, ReRAM, cost, dataflow, report, workloads
from fdafast.arch import ArchError
from fdafast.dataflow import MappingError
from fdafast.workloads import Layer

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
    lm = dataflow.map_layer(layer, small_fda())
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
    # fits on 64 crossbars: two copies, no reprogramming
    assert (lm.replication, lm.folds, lm.reprogram_cycles, a["cell_write"]) == (2, 1, 0, 0)
    # real 4x4 FFT: ceil(16 * log2(16) / 4) = 16 butterflies per channel-tile
    assert a["fft_butterfly"] == 9 * 6 * 16 and a["ifft_butterfly"] == 9 * 3 * 16
    # bytes: spectra 24 values of 1 byte per channel-tile, accumulators 24 x 4 bytes,
    # 16-bit activations: tiles read 9*6*16*2, spectra written 9*6*24 and read once,
    # accumulators written and read 2*9*3*96, outputs written 3*25*2
    assert lm.traffic["buffer_bytes"] == 1728 + 1296 + 5184 + 150 + 1296
    assert lm.traffic["noc_bytes"] == 1296 * 1 + 9 * 3 * 96
    assert lm.traffic["dram_bytes"] == 0
    # stages at 1.2 GHz: a read is 100 ns (6 columns x 0.833 ns of ADC < 100 ns),
    # 2 x 4 reads = 800 ns = 960 cycles on each of 2 copies; FFT 6 x 16 x 0.104 ns = 10 ns
    svc = {s.name: (s.service, s.servers) for s in lm.stages}
    assert svc == {"dram": (0, 1), "buffer": (34, 1), "fft": (12, 1), "mac": (960, 2),
                   "ifft": (6, 1)}
    # closed form: ceil(9 / 2) waves of 960 cycles + one pass of the other stages
    assert cost.closed_form_cycles(lm) == 5 * 960 + 34 + 12 + 6
    assert 5 * 960 <= cost.schedule_cycles(lm) <= 5 * 960 + 2 * (34 + 12 + 960 + 6)


def test_hand_derived_3d_exact_symmetry():
    """conv3d 2 -> 2, 3x4x4 input, 3x3x3 kernel, padding 1, 4x4x4 tiles, hermitian='exact'."""
    layer = Layer("tiny3d", "conv3d", 2, 2, (3, 4, 4), (3, 3, 3), padding=(1, 1, 1))
    lm = dataflow.map_layer(layer, small_fda(frequency__hermitian="exact"))
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
    assert lm.replication == 1 and lm.folds == 1


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
    tile = acc.frequency.tile_2d if kind == "conv2d" else acc.frequency.tile_3d
    rng = np.random.default_rng(3)
    w = rng.standard_normal((cout, cin // layer.groups) + kernel)
    x = rng.standard_normal((1, cin) + spatial)
    plan = fdafast.ConvPlan(w, x.shape, stride=layer.stride, padding=layer.padding,
                            dilation=layer.dilation, groups=layer.groups, tile=tile,
                            engine=ReRAM(SMALL_CFG))
    plan(x)
    emu = plan.last_counts
    lm = dataflow.map_layer(layer, acc)
    assert acc.crossbar.config == SMALL_CFG
    assert (lm.crossbars, lm.cells) == (emu.crossbars, emu.cells)
    a = lm.actions
    assert (a["crossbar_read"], a["adc_conversion"], a["dac_drive"], a["shift_add"]) == \
        (emu.reads, emu.adc_conversions, emu.dac_drives, emu.shift_adds)


# -- physical sense ------------------------------------------------------------------------
NETS = {"c3d": workloads.c3d(), "vgg16": workloads.vgg16()}
EXTRA = [Layer("dw", "conv2d", 32, 32, (28, 28), (3, 3), padding=(1, 1), groups=32),
         Layer("s2", "conv2d", 64, 128, (56, 56), (3, 3), stride=(2, 2), padding=(1, 1)),
         Layer("k5", "conv3d", 16, 16, (8, 16, 16), (3, 5, 5), padding=(1, 2, 2), batch=1)]


def layers():
    return NETS["c3d"] + NETS["vgg16"] + EXTRA


@pytest.mark.parametrize("preset", ["fda", "isaac"])
def test_more_adc_bits_never_lower_adc_energy(preset):
    for layer in layers():
        last = -1.0
        for bits in range(3, 13):
            r = cost.estimate(layer, Accelerator.from_preset(preset, crossbar__adc_bits=bits))
            e = r.layers[0].energy_pj["adc"]
            assert e >= last, (layer.name, bits)
            last = e


@pytest.mark.parametrize("preset", ["fda", "asic-fft"])
def test_hermitian_reuse_never_costs_more(preset):
    # on the same tiles: energy and every traffic; with tiles chosen per layer the
    # choice optimises cycles, so those are what cannot get worse
    pairs = (("half", "none"), ("exact", "half"))
    fixed = {m: Accelerator.from_preset(preset, frequency__hermitian=m,
                                        frequency__tile_policy="fixed")
             for m in ("none", "half", "exact")}
    per = {m: a.replace(frequency__tile_policy="per-layer") for m, a in fixed.items()}
    for layer in layers():
        r = {m: cost.estimate(layer, a).layers[0] for m, a in fixed.items()}
        for lo, hi in pairs:
            assert r[lo].energy_total_pj <= r[hi].energy_total_pj, (layer.name, lo)
            for k, v in r[lo].traffic.items():
                assert v <= r[hi].traffic[k], (layer.name, lo, k)
        c = {m: cost.estimate(layer, a).layers[0].closed_form_cycles for m, a in per.items()}
        for lo, hi in pairs:
            assert c[lo] <= c[hi], (layer.name, lo)


@pytest.mark.parametrize("preset", ["fda", "isaac"])
def test_a_layer_that_fits_never_reprograms(preset):
    acc = Accelerator.from_preset(preset)
    seen = set()
    for layer in layers():
        lm = dataflow.map_layer(layer, acc)
        fits = lm.crossbars <= acc.organisation.crossbars
        seen.add(fits)
        if fits:
            assert lm.folds == 1 and lm.reprogram_cycles == 0
            assert lm.actions["cell_write"] == 0
            assert cost.estimate(layer, acc).layers[0].energy_pj["reprogramming"] == 0
        else:
            assert lm.folds == math.ceil(lm.crossbars / acc.organisation.crossbars)
            assert lm.actions["cell_write"] == lm.cells > 0
    assert seen == {True, False}            # both cases were exercised


@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
def test_doubling_the_hardware_never_slows_a_layer(preset):
    acc = Accelerator.from_preset(preset)
    big = acc.replace(organisation__tiles=2 * acc.organisation.tiles)
    for layer in layers():
        assert cost.estimate(layer, big).layers[0].cycles <= \
            cost.estimate(layer, acc).layers[0].cycles, layer.name


def test_per_layer_tiles():
    """Per layer: a power-of-two tile between the kernel and the preset's largest, never
    more cycles (closed form) than the fixed largest tile, and the one the emulation uses."""
    per = Accelerator.from_preset("fda")
    fixed = per.replace(frequency__tile_policy="fixed")
    assert per.frequency.tile_policy == "per-layer"
    for layer in layers():
        if layer.kind == "linear":
            continue
        tile = dataflow.layer_tile(layer, per)
        kext = (1,) * (3 - len(layer.kernel)) + tuple(
            d * (k - 1) + 1 for k, d in zip(layer.kernel, layer.dilation))
        largest = (1,) + per.frequency.tile_2d if layer.kind == "conv2d" \
            else per.frequency.tile_3d
        assert all(k <= t <= m and t & (t - 1) == 0 for t, k, m in zip(tile, kext, largest))
        assert dataflow.layer_tile(layer, fixed) == largest
        assert cost.closed_form_cycles(dataflow.map_layer(layer, per)) <= \
            cost.closed_form_cycles(dataflow.map_layer(layer, fixed))
    assert {dataflow.layer_tile(l, per) for l in NETS["c3d"][:8]} != {(4, 8, 8)}
    net = fdafast.nn.zoo.tiny3d(input_shape=(3, 4, 12, 12))
    x = np.random.default_rng(0).random((1,) + net.input_shape)
    net.run(x, mode="quant")
    plans = [p for p in fdafast.nn.execute.executor(net).plans.values()
             if hasattr(p, "tile")]
    for layer, plan in zip(net.layers(), plans):
        assert plan.tile == dataflow.layer_tile(layer, per)


# -- identities ------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["fda", "isaac", "asic-fft"])
def test_energy_is_counts_times_table_and_layers_sum(preset):
    acc = Accelerator.from_preset(preset)
    r = cost.estimate(NETS["c3d"], acc)
    table = dict(acc.actions)
    for l in r.layers:
        by_hand = sum(n * table[a].energy_pj * acc.scale(table[a]) for a, n in l.actions.items())
        assert l.energy_total_pj == pytest.approx(by_hand, rel=1e-12)
    t = r.totals
    assert t["cycles"] == sum(l.cycles for l in r.layers)
    assert t["latency_s"] == pytest.approx(sum(l.latency_s for l in r.layers))
    assert t["energy_j"] == pytest.approx(sum(l.energy_total_pj for l in r.layers) * 1e-12)
    assert t["frames_per_s"] == pytest.approx(1 / t["latency_s"])
    assert t["gops_per_w"] == pytest.approx(2 * 38.55e9 / t["energy_j"] / 1e9, rel=1e-3)
    for l in r.layers:
        assert all(0 <= u <= 1 + 1e-9 for u in l.utilisation.values()), l.utilisation


def test_symmetric_reuse_savings_are_reported():
    fixed = dict(frequency__tile_policy="fixed")
    half = cost.estimate(NETS["vgg16"][:13], Accelerator.from_preset("fda", **fixed))
    none = cost.estimate(NETS["vgg16"][:13], Accelerator.from_preset(
        "fda", frequency__hermitian="none", **fixed))
    for h, n in zip(half.layers, none.layers):
        assert (h.bins["complex"], n.bins["complex"]) == (40, 64)      # 8x8 tiles
        assert h.bins["saving"] == 1 - 40 / 64 and n.bins["saving"] == 0
        # conversions scale with the bins; a real FFT is half a complex one
        assert h.actions["adc_conversion"] * 64 == n.actions["adc_conversion"] * 40
        assert 2 * h.actions["fft_butterfly"] == n.actions["fft_butterfly"]
    # more than the bins' share: the full spectra also need more folds and DRAM
    assert 1 - half.totals["energy_j"] / none.totals["energy_j"] > 1 - 40 / 64
    exact = cost.estimate(NETS["vgg16"][:1], Accelerator.from_preset(
        "fda", frequency__hermitian="exact", **fixed))
    assert exact.layers[0].bins["saving"] == 1 - (2 * 30 + 4) / 128


def test_report_outputs(tmp_path):
    r = cost.estimate(NETS["c3d"], "fda")
    d = json.loads(r.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == d
    assert [l["name"] for l in d["layers"]] == [l.name for l in NETS["c3d"]]
    assert d["totals"]["latency_s"] == pytest.approx(r.totals["latency_s"])
    assert set(d["layers"][0]["energy_pj"]) == set(cost.ENERGY_COMPONENTS)
    text = r.to_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(NETS["c3d"]) and rows[1]["layer"] == "conv2a"
    assert int(rows[1]["count_adc_conversion"]) == r.layers[1].actions["adc_conversion"]
    assert (tmp_path / "r.csv").read_text() == text
    assert "conv5b" in r.table() and "frames/s" in r.table()


def test_compare_ratios():
    res = cost.compare(NETS["vgg16"], ("fda", "isaac", "asic-fft"))
    assert list(res) == ["fda", "isaac", "asic-fft"]
    assert res["fda"]["latency_ratio"] == res["fda"]["energy_ratio"] == 1.0
    assert res["isaac"]["latency_ratio"] == pytest.approx(
        res["isaac"]["latency_s"] / res["fda"]["latency_s"])
    assert "asic-fft" in report.to_text(report.comparison_table(res))


def test_comparison_table_is_one_table_in_two_widths():
    res = cost.compare(NETS["c3d"][:2])
    wide = report.to_text(report.comparison_table(res))
    narrow = report.to_text(report.comparison_table(res, title=None, compact=True))
    assert "latency / first" in wide and "lat/1st" in narrow and "E/1st" in narrow
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
    with pytest.raises(MappingError, match=r"k11.*frequency\.tile_2d"):
        cost.estimate(big, "fda")
    assert cost.estimate(big, "isaac").layers[0].cycles > 0       # spatial runs any kernel
    assert cost.estimate(big, Accelerator.from_preset(
        "fda", frequency__tile_2d=[16, 16])).layers[0].cycles > 0


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
])
def test_impossible_configurations(overrides, match):
    with pytest.raises(ArchError, match=match):
        Accelerator.from_preset("fda", **overrides)


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


def test_energy_is_counts_times_the_table():
    table = {"adc_conversion": (2.5, 1.0), "dram_byte": (10.0, 0.1)}
    assert dataflow.action_energy({"adc_conversion": 3, "dram_byte": 0}, table) == \
        {"adc_conversion": 7.5, "dram_byte": 0.0}
    acc = Accelerator.from_preset("fda")
    layer = NETS["c3d"][1]
    lm = dataflow.map_layer(layer, acc)
    by_hand = {a: n * acc.action_table()[a][0] for a, n in lm.actions.items()}
    assert dataflow.action_energy(lm.actions, acc.action_table()) == by_hand
    assert cost.estimate([layer], acc).layers[0].energy_pj == cost.energy_by_component(by_hand)
