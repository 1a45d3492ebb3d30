"""Weight residency: pipelined layers across chips, reprogramming in partial folds,
write physics and endurance, weight loading, activations between layers."""
import math

import pytest

from fdafast import Accelerator, cost, mapping, residency, workloads
from fdafast.dataflow import MappingError
from fdafast.workloads import Layer

pytestmark = pytest.mark.filterwarnings("ignore::fdafast.cost.AdcResolutionWarning")

C3D, VGG = workloads.c3d(), workloads.vgg16()


def acc(preset, **execution):
    return Accelerator.from_preset(preset, **{f"execution__{k}": v
                                              for k, v in execution.items()})


# -- pipelined ----------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["fda", "isaac"])
@pytest.mark.parametrize("net", [C3D, VGG], ids=["c3d", "vgg16"])
def test_pipelined_holds_every_layer_on_as_many_chips_as_needed(preset, net):
    """Chips as needed for the weights and the balancing replicas: from the fewest that
    hold one copy, more while the frame rate per chip grows."""
    a = acc(preset, residency="pipelined")
    r = cost.estimate(net, a)
    t = r.totals
    need = sum(l.crossbars for l in r.layers)
    least = math.ceil(need / a.organisation.crossbars)
    assert t["chips_for_weights"] == least <= t["chips"]
    assert sum(l.crossbars * l.replication for l in r.layers) <= \
        t["chips"] * a.organisation.crossbars
    assert all(l.fold_fraction == 0 and l.folds == 1 for l in r.layers)
    assert t["reprogram_energy_j"] == 0 and t["endurance_lifetime_h"] is None
    assert t["area_mm2_total"] == pytest.approx(t["chips"] * a.summary()["chip_area_mm2"])
    # one frame at a time through the layers; the slowest layer sets the rate
    assert t["frames_per_s"] == pytest.approx(1 / max(l.latency_s for l in r.layers), rel=1e-6)
    assert t["interchip_bytes"] > 0
    fewest = cost.estimate(net, acc(preset, residency="pipelined", chips=least)).totals
    assert t["frames_per_s"] / t["chips"] >= fewest["frames_per_s"] / least * (1 - 1e-6)


def test_pipelined_c3d_needs_more_fda_chips_than_isaac():
    """Frequency-domain weights take more crossbars (a 3x3x3 kernel becomes up to 160
    complex bins): FDA needs more chips to hold C3D than ISAAC does (about 2.4)."""
    fda, isaac = cost.estimate(C3D, "fda").totals, cost.estimate(C3D, "isaac").totals
    assert isaac["chips_for_weights"] == 3 < fda["chips_for_weights"]


def test_more_chips_buy_replicas_and_throughput():
    few = cost.estimate(C3D, acc("isaac", residency="pipelined", chips=3))
    more = cost.estimate(C3D, acc("isaac", residency="pipelined", chips=8))
    assert more.totals["chips"] == 8 and few.totals["chips"] == 3
    assert more.totals["frames_per_s"] > 1.5 * few.totals["frames_per_s"]
    assert more.layers[0].replication > few.layers[0].replication
    with pytest.raises(MappingError, match=r"execution\.chips = 2.*at least 3"):
        cost.estimate(C3D, acc("isaac", residency="pipelined", chips=2))


def test_pipelined_batch_fills_the_pipeline_once():
    one = cost.estimate(workloads.c3d(batch=1), "fda").totals
    many = cost.estimate(workloads.c3d(batch=64), "fda").totals
    assert many["frames_per_s"] == pytest.approx(one["frames_per_s"], rel=1e-3)
    interval = 1 / one["frames_per_s"]
    assert many["latency_s"] == pytest.approx(one["latency_s"] + 63 * interval, rel=0.01)


# -- reprogram -------------------------------------------------------------------------------
def test_reprogram_keeps_everything_resident_when_it_fits():
    r = cost.estimate(C3D, acc("isaac", residency="reprogram", chips=3))
    t = r.totals
    assert t["chips"] == 3 and t["reprogram_energy_j"] == 0
    assert t["endurance_lifetime_h"] is None and t["writes_per_inference"] == 0
    assert all(l.fold_fraction == 0 and l.write_cycles == 0 for l in r.layers)
    assert r.layers[0].replication > r.layers[4].replication >= 1   # spare crossbars spread
    assert t["cycles"] == sum(l.cycles for l in r.layers)


def test_partial_folds_rewrite_only_what_does_not_fit():
    """C3D fc6 on ISAAC needs 16,384 crossbars, 1.6 % more than a chip's 16,128: only a
    small part is rewritten for each clip, not the whole layer from DRAM."""
    layer = C3D[8]
    a = acc("isaac", residency="reprogram")
    r = cost.estimate(layer, a)
    l = r.layers[0]
    assert l.crossbars == 16384
    assert 256 / 16384 <= l.fold_fraction < 0.1 and l.folds >= 2
    weights = layer.cin * layer.cout * 2                                # 16-bit weights
    assert l.actions["dram_byte"] == pytest.approx(l.fold_fraction * weights, rel=0.01)
    assert l.actions["cell_write"] == pytest.approx(l.fold_fraction * l.cells, rel=0.01)
    t = r.totals
    assert 0 < t["reprogram_energy_j"] < 0.1 * weights * 160e-12      # << a full reload
    assert t["endurance_lifetime_h"] == pytest.approx(
        1e6 / (t["writes_per_inference"] * t["frames_per_s"]) / 3600)


def test_write_energy_follows_the_cell_levels():
    layer = VGG[13]                       # 50,176 crossbars of 2-bit cells: 3 chips' worth
    two = cost.estimate(layer, acc("isaac", residency="reprogram")).layers[0]
    three = cost.estimate(layer, Accelerator.from_preset(
        "isaac", crossbar__cell_bits=3, execution__residency="reprogram")).layers[0]
    per_cell = {b: l.energy_pj["reprogramming"] / l.actions["cell_write"]
                for b, l in ((2, two), (3, three))}
    assert per_cell[3] == pytest.approx(per_cell[2] * 7 / 3)


def test_the_write_drivers_power_limit_slows_programming():
    a = acc("fda", residency="reprogram")
    free = cost.estimate(C3D, a.replace(crossbar__write_power_limit_w=None))
    tight = cost.estimate(C3D, a.replace(crossbar__write_power_limit_w=0.5))
    assert sum(l.write_cycles for l in tight.layers) > sum(l.write_cycles for l in free.layers)
    assert tight.totals["latency_s"] > free.totals["latency_s"]


def test_endurance_sets_the_lifetime():
    a = acc("fda", residency="reprogram")
    t = cost.estimate(C3D, a).totals
    assert t["writes_per_inference"] > 0 and t["endurance_lifetime_h"] > 0
    assert t["endurance_lifetime_h"] == pytest.approx(
        a.crossbar.endurance_writes / (t["writes_per_inference"] * t["frames_per_s"]) / 3600)
    t10 = cost.estimate(C3D, a.replace(crossbar__endurance_writes=1e7)).totals
    assert t10["endurance_lifetime_h"] == pytest.approx(10 * t["endurance_lifetime_h"])
    assert cost.estimate(C3D, a.replace(crossbar__endurance_writes=None)).totals[
        "endurance_lifetime_h"] is None


def test_batches_amortise_reprogramming():
    per_frame = [cost.estimate(workloads.c3d(batch=b), acc("fda", residency="reprogram"))
                 .totals["reprogram_energy_j"] / b for b in (1, 4, 16)]
    assert per_frame[0] > per_frame[1] > per_frame[2]


def test_fda_loads_spatial_kernels_and_transforms_them_when_cheaper():
    """Reloading C3D's weight spectra moves far more DRAM bytes than the 3x3x3 kernels the
    FFT units can transform on chip; 'auto' chooses per layer and reports the choice."""
    runs = {wl: cost.estimate(C3D, acc("fda", residency="reprogram", weight_load=wl))
            for wl in ("frequency", "spatial", "auto")}
    t = {wl: r.totals for wl, r in runs.items()}
    assert t["spatial"]["dram_bytes"] < 0.7 * t["frequency"]["dram_bytes"]
    fft = {wl: sum(l.actions["fft_butterfly"] for l in r.layers) for wl, r in runs.items()}
    assert fft["spatial"] > fft["frequency"]
    edp = {wl: v["latency_s"] * v["energy_j"] for wl, v in t.items()}
    assert edp["auto"] <= min(edp["frequency"], edp["spatial"]) * (1 + 1e-9)
    loads = {l.weight_load for l in runs["auto"].layers if l.fold_fraction > 0}
    assert loads and loads <= {"frequency", "spatial"}
    assert all(l.weight_load in (None, "frequency") for l in runs["frequency"].layers
               if l.mapping == "frequency")


def test_digital_designs_stream_or_hold_weights_in_sram():
    stream = cost.estimate(C3D, "asic-fft")
    assert stream.totals["residency"] == "reprogram"
    assert stream.totals["reprogram_energy_j"] > 0          # weights loaded for every batch
    assert stream.totals["endurance_lifetime_h"] is None     # SRAM does not wear
    held = cost.estimate(C3D, acc("asic-fft", residency="pipelined"))
    a = Accelerator.from_preset("asic-fft")
    sram = a.organisation.tiles * a.memory.buffer_kb_per_tile * 1024
    weights = sum(mapping.choose(l, a).lmap.weight_bytes["frequency" if l.kind != "linear"
                                                          and mapping.choose(l, a).lmap.mapping
                                                          == "frequency" else "spatial"]
                  for l in residency.infer_pools(C3D))
    assert held.totals["chips"] >= math.ceil(weights / sram) - 1
    assert held.totals["reprogram_energy_j"] == 0
    assert held.totals["dram_bytes"] < stream.totals["dram_bytes"]


# -- activations -----------------------------------------------------------------------------
@pytest.mark.parametrize("net", [C3D, VGG], ids=["c3d", "vgg16"])
def test_a_producer_and_its_consumer_agree_on_spills(net):
    a = acc("fda", residency="reprogram")
    layers = residency.infer_pools(net)
    s = residency.spills(layers, a)
    assert s[0][0] and s[-1][1]                      # the network's input and output
    for i in range(len(layers) - 1):
        assert s[i][1] == s[i + 1][0], layers[i].name
    pipelined = residency.spills(layers, acc("fda", residency="pipelined"))
    assert pipelined == [(i == 0, i == len(layers) - 1) for i in range(len(layers))]


def test_pool_inference():
    a = Layer("a", "conv2d", 3, 8, (8, 8), (3, 3), padding=(1, 1))
    b = Layer("b", "conv2d", 8, 8, (4, 4), (3, 3), padding=(1, 1))
    fc = Layer("fc", "linear", 8 * 2 * 2, 10)
    other = Layer("x", "conv2d", 5, 8, (4, 4), (3, 3))
    got = residency.infer_pools([a, b, fc])
    assert [l.pool for l in got] == [(2, 2), (2, 2), ()]
    assert residency.infer_pools([a, other])[0].pool == ()
    assert residency.infer_pools([Layer("s", "conv2d", 3, 8, (8, 8), (3, 3), pool=(),
                                        padding=(1, 1)), b])[0].pool == ()
