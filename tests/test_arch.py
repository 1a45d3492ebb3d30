"""Accelerator descriptions: presets, TOML loading, validation, published figures."""
import csv
import pathlib

import pytest

import fdafast
from fdafast import Accelerator
from fdafast.arch import ArchError, models, preset_data

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
    """Each ISAAC action energy is Table I's group power over its units and action rate;
    the input and output registers of the IMA are charged to the row drive and the
    shift-and-add they serve."""
    comps = dict(Accelerator.from_preset("isaac").components)
    t = Accelerator.from_preset("isaac").action_table()
    read_s, clock = 100e-9, 1.2e9
    adc_rate = 128 / read_s         # sec. V: 128 samples per 100 ns read, 1.28 GS/s
    mw = {n: c.power_mw * 1e-3 for n, c in comps.items()}          # watts
    assert t["crossbar_read"][0] == pytest.approx(mw["crossbar"] / 8 * read_s * 1e12)
    assert t["dac_drive"][0] == pytest.approx(
        (mw["dac"] + mw["input_register"]) / 1024 * read_s * 1e12)
    assert t["sample_hold"][0] == pytest.approx(mw["sample_hold"] / 1024 * read_s * 1e12)
    assert t["adc_conversion"][0] == pytest.approx(mw["adc"] / 8 / adc_rate * 1e12)
    assert t["adc_conversion"][1] == pytest.approx(1e9 / adc_rate)
    assert t["shift_add"][0] == pytest.approx(
        (mw["ima_shift_add"] + mw["ima_output_register"]) * read_s / 1024 * 1e12)
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
    acc = Accelerator.from_preset("asic-fft")
    s = acc.summary()
    # 16 tiles x 256 complex MACs x 8 ops x 1.2 GHz
    assert s["peak_ops_per_s"] == pytest.approx(16 * 256 * 8 * 1.2e9)
    # a complex MAC: arithmetic 3.6 pJ x 32/45 (Horowitz) plus 8 register accesses of one
    # 16-bit MAC each (0.9 pJ x 32/45; Eyeriss's RF = 1x a MAC)
    mac = 3.6 * 32 / 45 + 8 * 0.9 * 32 / 45
    assert acc.action_table()["complex_mac"][0] == pytest.approx(mac)
    assert acc.action_table()["real_mac"][0] == pytest.approx(5 * 0.9 * 32 / 45)
    # tile: MAC array 256 x 7.68 pJ x 1.2 GHz + SRAM 138.2 + FFT 57.6 + IFFT 57.6 + router 42
    assert s["tile_power_mw"] == pytest.approx(256 * mac * 1.2 + 138.2 + 57.6 + 57.6 + 42)
    assert s["chip_power_w"] == pytest.approx((16 * s["tile_power_mw"] + 10400) / 1000)


def test_scaling_moves_adc_and_crossbar_numbers():
    base = Accelerator.from_preset("isaac")
    six = base.replace(crossbar__adc_bits=6)
    # SAR ADC: 93.8 % scales with the bits (6/8), 6.2 % doubles per bit (1/4)
    assert six.action_table()["adc_conversion"][0] == pytest.approx(
        base.action_table()["adc_conversion"][0] * (0.938 * 6 / 8 + 0.062 / 4))
    assert six.action_table()["adc_conversion"][1] == pytest.approx(0.78125 * 7 / 9)
    big = base.replace(crossbar__rows=256, crossbar__cols=256)
    assert big.action_table()["crossbar_read"][0] == pytest.approx(4 * 30.0)
    assert big.read_ns() == pytest.approx(150.0)          # half the read scales with rows
    assert big.summary()["chip_area_mm2"] > base.summary()["chip_area_mm2"]
    assert six.summary()["chip_power_w"] < base.summary()["chip_power_w"]
    four = base.replace(crossbar__dac_bits=4)
    assert four.action_table()["dac_drive"][0] == pytest.approx(
        8 * base.action_table()["dac_drive"][0])
    three = base.replace(crossbar__cell_bits=3)
    assert three.action_table()["cell_write"][0] == pytest.approx(3.5 * 7 / 3)
    assert three.write_row_ns() == pytest.approx(500.0 * 7 / 3)


@pytest.mark.parametrize("preset", ["isaac", "fda"])
def test_precision_models_reproduce_the_presets_at_nominal_bits(preset):
    """Every scaled number equals the preset's point value at its reference setting, the
    ADC's energy and time grow with the bits and stay above a floor."""
    acc = Accelerator.from_preset(preset)
    for name, a in acc.actions:
        assert acc.action_table()[name] == (a.energy_pj, a.latency_ns), name
    adc = dict(acc.actions)["adc_conversion"]
    e = [models.sar_adc_factor(b, 8, adc.share) for b in range(1, 17)]
    assert e == sorted(e) and e[7] == 1.0
    assert e[0] > 0.1                         # the floor: a decision and the fixed logic
    assert e[15] == pytest.approx(0.938 * 2 + 0.062 * 256)
    assert models.sar_adc_factor(9, 8, 1.0) == 2.0       # share 1: pure Walden
    # ISAAC's ADC table of the CiMLoop library (SAR scaling after Saberi et al.):
    # 4 bits 0.79 pJ, 10 bits 2.38 pJ at 1.667 pJ for 8 bits
    assert 1.667 * models.sar_adc_factor(4, 8, 0.062) == pytest.approx(0.79, rel=0.01)
    assert 1.667 * models.sar_adc_factor(10, 8, 0.062) == pytest.approx(2.38, rel=0.01)
    assert models.read_latency_ns(100.0, 128, None, 0.5) == 100.0


def test_peak_is_bounded_by_the_adc_rate():
    """512 columns on one ADC per crossbar: a read takes 512 conversions, not 100 ns."""
    base = Accelerator.from_preset("fda")
    wide = base.replace(crossbar__cols=512)
    assert wide.read_sequence_ns(512) == pytest.approx(512 * 0.78125)
    crossbar_bound = 4 * base.summary()["peak_ops_per_s"]       # 4x the weights per read
    assert wide.summary()["peak_ops_per_s"] == pytest.approx(crossbar_bound * 100 / 400)
    more_adcs = wide.replace(organisation__adcs_per_pe_array=32)
    assert more_adcs.summary()["peak_ops_per_s"] == pytest.approx(crossbar_bound)


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["memory"].update(dram_gb_per_s=1e-300), r"memory\.dram_gb_per_s"),
    (lambda d: d["memory"].update(dram_gb_per_s=float("inf")), r"memory\.dram_gb_per_s"),
    (lambda d: d["technology"].update(clock_ghz=1e-12), r"technology\.clock_ghz"),
    (lambda d: d["crossbar"].update(rows_share=1.5), r"crossbar\.rows_share"),
    (lambda d: d["crossbar"].update(endurance_writes=0), r"crossbar\.endurance_writes"),
    (lambda d: d["crossbar"].update(write_power_limit_w=-1), r"crossbar\.write_power_limit_w"),
    (lambda d: d["crossbar"].update(reference_rows=0), r"crossbar\.reference_rows"),
    (lambda d: d["components"]["adc"].update(share=2), r"components\.adc\.share"),
    (lambda d: d["components"]["dac"].update(share=0.5), r"components\.dac\.share"),
    (lambda d: d["actions"]["dac_drive"].update(reference=0), r"actions\.dac_drive\.reference"),
    (lambda d: d["execution"].update(objective="cheap"), r"execution\.objective"),
    (lambda d: d["execution"].update(mappings=["frequency"]), r"execution\.mappings"),
    (lambda d: d["execution"].update(tie_tolerance=-0.1), r"execution\.tie_tolerance"),
    (lambda d: d["execution"].update(pool_on_chip="yes"), r"execution\.pool_on_chip"),
    (lambda d: d["execution"].update(weight_load="mail"), r"execution\.weight_load"),
    (lambda d: d["actions"].update(link_bytes={"energy_pj": 1.0}), r"actions\.link_bytes"),
])
def test_bad_execution_and_physics_fields(mutate, match):
    data = preset_data("isaac")
    mutate(data)
    with pytest.raises(ArchError, match=match):
        Accelerator.from_dict(data)


def test_description_without_the_new_sections_still_loads(tmp_path):
    """Older descriptions (no [execution], no link_byte, no write physics) load with
    the documented defaults."""
    data = preset_data("isaac")
    del data["execution"], data["actions"]["link_byte"]
    for k in ("reference_rows", "endurance_writes", "write_power_limit_w"):
        del data["crossbar"][k]
    acc = Accelerator.from_dict(data)
    assert acc.execution.residency == "reprogram" and acc.execution.mappings == ("spatial",)
    assert acc.action_table()["link_byte"][0] == acc.action_table()["dram_byte"][0]
    assert acc.crossbar.endurance_writes is None and acc.read_ns() == 100.0


def test_unreadable_descriptions(tmp_path):
    with pytest.raises(ArchError, match="cannot read"):
        Accelerator.from_file(tmp_path)
    junk = tmp_path / "junk.toml"
    junk.write_bytes(bytes(range(256)))
    with pytest.raises(ArchError, match="not valid TOML"):
        Accelerator.from_file(junk)


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
