"""Accelerator descriptions: presets, TOML loading, validation, published figures."""
import csv
import pathlib

import pytest

import fdafast
from fdafast import Accelerator
from fdafast.arch import ArchError, preset_data

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "isaac_table1.csv"


def within(value, target, rel=0.05):
    return abs(value - target) <= rel * abs(target)


def test_presets_listed():
    assert "isaac" in fdafast.presets()


def test_isaac_reproduces_published_figures():
    """ISAAC (Shafiee et al., ISCA 2016): Table I totals and Table IV's ISAAC-CE."""
    s = Accelerator.from_preset("isaac").summary()
    assert within(s["tile_power_mw"], 330.0)
    assert within(s["chip_power_w"], 65.8)
    assert within(s["chip_area_mm2"], 85.4)
    assert within(s["peak_gops_per_mm2"], 478.95)
    assert within(s["peak_gops_per_w"], 627.5)
    # the arithmetic, written out: 168*12*8 crossbars, 128 rows x 16 weights,
    # 2 ops each, per 16 reads of 100 ns
    assert s["peak_ops_per_s"] == pytest.approx(168 * 12 * 8 * 128 * 16 * 2 / 1.6e-6)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/data is not beside the checkout")
def test_isaac_preset_matches_the_shared_table():
    """Every component row of the shipped preset equals the project's copy of Table I."""
    rows = [r for r in csv.DictReader(l for l in SHARED.open() if not l.startswith("#"))]
    comps = dict(Accelerator.from_preset("isaac").components)
    level = {"ima": "pe_array", "tile": "tile", "chip": "chip"}
    alias = {("tile", "shift_add"): "tile_shift_add", ("ima", "shift_add"): "ima_shift_add",
             ("tile", "output_register"): "tile_output_register",
             ("ima", "output_register"): "ima_output_register"}
    for r in rows:
        name = alias.get((r["level"], r["component"]), r["component"])
        c = comps[name]
        assert c.level == level[r["level"]]
        assert c.power_mw == pytest.approx(float(r["power_mw"]))
        assert c.area_mm2 == pytest.approx(float(r["area_mm2"]))
    assert len(rows) == len(comps)


def test_overrides_by_dotted_path():
    base = Accelerator.from_preset("isaac")
    a = Accelerator.from_preset("isaac", organisation__tiles=84)
    b = Accelerator.from_preset("isaac", **{"organisation.tiles": 84})
    assert a == b and a.organisation.tiles == 84
    assert a.summary()["peak_ops_per_s"] == pytest.approx(base.summary()["peak_ops_per_s"] / 2)
    # 2-bit DACs: ceil(15/2) + 1 = 9 reads per 16-bit input instead of 16
    c = base.replace(crossbar__dac_bits=2)
    assert c.summary()["peak_ops_per_s"] == pytest.approx(16 / 9 * base.summary()["peak_ops_per_s"])


def test_file_round_trip(tmp_path):
    text = (pathlib.Path(fdafast.arch.__file__).parent / "presets" / "isaac.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "isaac"', 'name = "mine"'))
    acc = Accelerator.from_file(path)
    assert acc.meta.name == "mine"
    assert acc.summary()["chip_area_mm2"] == Accelerator.from_preset("isaac").summary()[
        "chip_area_mm2"]


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["crossbar"].update(bogus=1), r"crossbar\.bogus"),
    (lambda d: d["components"]["adc"].update(energy=1), r"components\.adc\.energy"),
    (lambda d: d.update(extra={}), "unknown section"),
    (lambda d: d["technology"].update(clock_ghz=0), r"technology\.clock_ghz"),
    (lambda d: d["organisation"].update(crossbars_per_pe_array=0),
     r"organisation\.crossbars_per_pe_array"),
    (lambda d: d["organisation"].update(tiles=1.5), r"organisation\.tiles"),
    (lambda d: d["components"]["adc"].update(power_mw=-1), r"components\.adc\.power_mw"),
    (lambda d: d["components"]["adc"].update(level="board"), r"components\.adc\.level"),
    (lambda d: d["crossbar"].update(cell_bits=32), "cell_bits"),
    (lambda d: d["crossbar"].update(cols=4), "columns"),
    (lambda d: d["meta"].update(kind="quantum"), r"meta\.kind"),
    (lambda d: d["crossbar"].pop("rows"), r"crossbar\.rows"),
    (lambda d: d.update(components={}), "components"),
])
def test_bad_descriptions(mutate, match):
    data = preset_data("isaac")
    mutate(data)
    with pytest.raises(ArchError, match=match):
        Accelerator.from_dict(data)


def test_bad_names_and_files(tmp_path):
    with pytest.raises(ArchError, match="known presets: .*isaac"):
        Accelerator.from_preset("nope")
    with pytest.raises(ArchError, match="organisation.tile"):
        Accelerator.from_preset("isaac", organisation__tile=3)
    with pytest.raises(ArchError, match="names a table"):
        Accelerator.from_preset("isaac", crossbar=3)
    with pytest.raises(ArchError, match="no accelerator description"):
        Accelerator.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[meta\nname=")
    with pytest.raises(ArchError, match="not valid TOML"):
        Accelerator.from_file(bad)
    with pytest.raises(fdafast.FdafastError):
        Accelerator.from_preset("isaac", technology__clock_ghz=-1.0)


def _table1():
    rows = [r for r in csv.DictReader(l for l in SHARED.open() if not l.startswith("#"))]
    return {(r["level"], r["component"]): r for r in rows}


def test_isaac_action_energies_follow_from_the_component_table():
    """Each ISAAC action energy is Table I's group power over its units and action rate."""
    comps = dict(Accelerator.from_preset("isaac").components)
    t = Accelerator.from_preset("isaac").action_table()
    read_s, clock = 100e-9, 1.2e9
    mw = {n: c.power_mw * 1e-3 for n, c in comps.items()}          # watts
    assert t["crossbar_read"][0] == pytest.approx(mw["crossbar"] / 8 * read_s * 1e12)
    assert t["dac_drive"][0] == pytest.approx(mw["dac"] / 1024 * read_s * 1e12)
    assert t["sample_hold"][0] == pytest.approx(mw["sample_hold"] / 1024 * read_s * 1e12)
    assert t["adc_conversion"][0] == pytest.approx(mw["adc"] / 8 / clock * 1e12)
    assert t["adc_conversion"][1] == pytest.approx(1e9 / clock)
    assert t["shift_add"][0] == pytest.approx(mw["ima_shift_add"] * read_s / 1024 * 1e12)
    edram = mw["edram_buffer"] / (32 * clock) + mw["edram_to_ima_bus"] / (48 * clock)
    assert t["buffer_byte"][0] == pytest.approx(edram * 1e12, rel=1e-3)
    assert t["noc_byte"][0] == pytest.approx(mw["router"] / (8 * 4 * clock) * 1e12)


def test_fda_shares_isaac_devices_and_adds_fft_units():
    fda, isaac = Accelerator.from_preset("fda"), Accelerator.from_preset("isaac")
    assert fda.kind.value == "frequency-reram" and fda.crossbar.config.pe == "rowpair"
    assert fda.organisation.crossbars == isaac.organisation.crossbars
    fc, ic = dict(fda.components), dict(isaac.components)
    for name in ("adc", "dac", "sample_hold", "crossbar", "ima_shift_add"):
        assert fc[name] == ic[name]
    s = fda.summary()
    # ISAAC's tile plus the FFT and IFFT units (28.8 mW each), less the two sigmoid
    # units (0.52 mW together; ReLU is taken as free)
    assert s["tile_power_mw"] == pytest.approx(329.81 - 0.52 + 2 * 28.8)
    # same peak: a complex MAC (8 ops) per 2 cells per 2 x 16 reads, as 2 real weights
    # (2 ops each) per 2 cells per 16 reads
    assert s["peak_ops_per_s"] == pytest.approx(isaac.summary()["peak_ops_per_s"])
    for name, a in fda.actions:
        if name in dict(isaac.actions):
            assert a == dict(isaac.actions)[name]


def test_asic_fft_summary_arithmetic():
    s = Accelerator.from_preset("asic-fft").summary()
    # 16 tiles x 256 complex MACs x 8 ops x 1.2 GHz
    assert s["peak_ops_per_s"] == pytest.approx(16 * 256 * 8 * 1.2e9)
    # tile: MAC array 768 + SRAM 138.2 + FFT 57.6 + IFFT 57.6 + router 42 mW
    assert s["tile_power_mw"] == pytest.approx(768 + 138.2 + 57.6 + 57.6 + 42)
    assert s["chip_power_w"] == pytest.approx((16 * s["tile_power_mw"] + 10400) / 1000)


def test_scaling_moves_adc_and_crossbar_numbers():
    base = Accelerator.from_preset("isaac")
    six = base.replace(crossbar__adc_bits=6)
    assert six.action_table()["adc_conversion"][0] == pytest.approx(
        base.action_table()["adc_conversion"][0] / 4)
    big = base.replace(crossbar__rows=256, crossbar__cols=256)
    assert big.action_table()["crossbar_read"][0] == pytest.approx(4 * 30.0)
    assert big.summary()["chip_area_mm2"] > base.summary()["chip_area_mm2"]
    assert six.summary()["chip_power_w"] < base.summary()["chip_power_w"]


@pytest.mark.parametrize("preset, mutate, match", [
    ("fda", lambda d: d["actions"].update(warp_drive={"energy_pj": 1.0}),
     r"actions\.warp_drive"),
    ("fda", lambda d: d["actions"].pop("fft_butterfly"), r"actions\.fft_butterfly"),
    ("fda", lambda d: d.pop("frequency"), r"\[frequency\]"),
    ("asic-fft", lambda d: d.pop("digital"), r"\[digital\]"),
    ("fda", lambda d: d["actions"]["adc_conversion"].pop("reference"), r"reference"),
    ("fda", lambda d: d["frequency"].update(tile_3d=[4, 8]), r"frequency\.tile_3d"),
    ("asic-fft", lambda d: d["digital"].update(mac_rows=0), r"digital\.mac_rows"),
    ("isaac", lambda d: d["crossbar"].update(weight_encoding="gray"),
     r"crossbar\.weight_encoding"),
    ("isaac", lambda d: d["crossbar"].update(dac_bits=16), r"crossbar: dac_bits"),
])
def test_bad_new_sections(preset, mutate, match):
    data = preset_data(preset)
    mutate(data)
    with pytest.raises(ArchError, match=match):
        Accelerator.from_dict(data)


@pytest.mark.parametrize("name", ["fda", "isaac", "asic-fft"])
def test_every_preset_round_trips(name):
    acc = Accelerator.from_preset(name)
    assert Accelerator.from_dict(acc.as_dict()) == acc
    assert acc.summary()["chip_area_mm2"] > 0
