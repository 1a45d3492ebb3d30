"""The fdafast command through its real entry point, in subprocesses."""
import csv
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest

pytest.importorskip("rich")
pytest.importorskip("matplotlib")
distributed = pytest.importorskip("distributed")

EXE = shutil.which("fdafast")
CMD = [EXE] if EXE else [sys.executable, "-m", "fdafast"]


def fdafast(*args, timeout=300, **kw):
    return subprocess.run(CMD + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_entry_point_is_installed():
    assert EXE is not None, "pip install -e . should put the fdafast script on PATH"
    r = fdafast("--help")
    assert r.returncode == 0 and "simulate" in r.stdout and "sweep" in r.stdout


def test_listing_commands():
    r = fdafast("models")
    assert r.returncode == 0 and "r2plus1d_18" in r.stdout and "40.52" in r.stdout
    r = fdafast("presets")
    assert r.returncode == 0 and all(n in r.stdout for n in ("fda", "isaac", "asic-fft"))
    r = fdafast("preset", "show", "fda")
    assert r.returncode == 0 and 'kind = "frequency-reram"' in r.stdout


def test_simulate_writes_json_csv_and_plots(tmp_path):
    r = fdafast("simulate", "tiny3d", "--mode", "quant", "--batch", 2, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "conv2" in r.stdout and "frames/s" in r.stdout and "SNR" in r.stdout
    d = json.loads((tmp_path / "simulation.json").read_text())
    assert set(d) == {"meta", "errors", "output_error", "top1_agreement", "cost"}
    assert d["meta"]["batch"] == 2 and d["meta"]["mode"] == "quant"
    assert set(d["errors"]) == {"conv1", "conv2", "fc"}
    assert set(d["cost"]) == {"accelerator", "layers", "totals"}
    assert d["cost"]["totals"]["batch"] == 2
    layer_rows = rows(tmp_path / "layers.csv")
    assert [r["layer"] for r in layer_rows] == ["conv1", "conv2", "fc"]
    for col in ("latency_s", "energy_total_pj", "snr_db", "rel_l2", "energy_pj_adc"):
        assert col in layer_rows[0]
    for name in ("energy.png", "latency.png"):
        assert png_size(tmp_path / name) == (1000, 600)


def test_simulate_from_an_onnx_file_and_an_npy_input(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import warnings

    import numpy as np
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 3)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, torch.randn(1, 1, 8, 8), str(tmp_path / "m.onnx"), dynamo=False)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 1, 8, 8)))
    r = fdafast("simulate", tmp_path / "m.onnx", "--input", tmp_path / "x.npy",
                "--mode", "fft")
    assert r.returncode == 0, r.stderr
    assert "batch 2" in r.stdout


def test_compare(tmp_path):
    r = fdafast("compare", "tiny2d", "--arch", "fda,isaac,asic-fft", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "latency / first" in r.stdout
    got = rows(tmp_path / "compare.csv")
    assert [g["accelerator"] for g in got] == ["fda", "isaac", "asic-fft"]
    assert float(got[0]["latency_ratio"]) == 1.0
    assert png_size(tmp_path / "compare.png") == (1000, 600)
    assert set(json.loads((tmp_path / "compare.json").read_text())["results"]) == \
        {"fda", "isaac", "asic-fft"}
    for key in ("chips", "area_mm2_total", "power_w", "reprogram_energy_j",
                "endurance_lifetime_h", "residency"):
        assert key in got[0], key


def test_warnings_are_one_line_each(tmp_path):
    """C3D's column sums need 9 bits on the presets' 8-bit ADCs: said in one line per
    accelerator, with no source location."""
    r = fdafast("compare", "c3d", "--arch", "fda,isaac", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(l.startswith("fdafast compare: warning: ") for l in lines)
    assert "8-bit ADC" in lines[0] and ".py" not in r.stderr


def test_compare_in_another_residency(tmp_path):
    r = fdafast("compare", "tiny2d", "--arch", "fda,isaac", "--residency", "reprogram",
                "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert {g["residency"] for g in rows(tmp_path / "compare.csv")} == {"reprogram"}


def test_sweep_on_a_local_cluster_with_a_failing_point(tmp_path):
    # tile 2 is smaller than the 3x3 kernels: those points fail, the others go on
    r = fdafast("sweep", "tiny2d", "--param", "adc_bits=5:6", "--param", "tile=2,8",
                "--workers", 2, "--out", tmp_path)
    assert r.returncode == 1, r.stderr
    got = rows(tmp_path / "sweep.csv")
    assert sorted(g["id"] for g in got) == sorted(
        f"adc_bits={a},tile={t}" for a in (5, 6) for t in (2, 8))
    bad = [g for g in got if g["status"] == "error"]
    assert {g["tile"] for g in bad} == {"2"} and "MappingError" in bad[0]["error"]
    assert "failed adc_bits=5,tile=2" in r.stdout
    front = rows(tmp_path / "pareto.csv")
    assert front and all(f["tile"] == "8" for f in front)
    assert png_size(tmp_path / "pareto.png") == (1000, 600)


def test_sweep_on_an_existing_scheduler(tmp_path):
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        r = fdafast("sweep", "tiny2d", "--param", "hermitian=half,none", "--mode", "none",
                    "--scheduler", cluster.scheduler_address, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    got = {g["id"]: g for g in rows(tmp_path / "sweep.csv")}
    assert set(got) == {"hermitian=half", "hermitian=none"}
    # symmetric reuse never costs more (tiny2d's small layers may map spatially, where
    # the spectrum's symmetry does not matter)
    assert float(got["hermitian=half"]["energy_j"]) <= float(got["hermitian=none"]["energy_j"])


def test_interrupted_sweep_resumes_without_loss_or_repeats(tmp_path):
    args = ["sweep", "tiny3d", "--param", "adc_bits=3:8", "--param", "cell_bits=1,2",
            "--workers", 1, "--out", tmp_path]
    proc = subprocess.Popen(CMD + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    out = tmp_path / "sweep.csv"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if out.exists() and len(rows(out)) >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)              # the command and its workers
        proc.wait()
    before = [g["id"] for g in rows(out)]
    assert 2 <= len(before) < 12, "the sweep should have been cut mid-way"
    r = fdafast(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert f"{12 - len(before)} points computed, {len(before)} skipped" in r.stdout
    after = [g["id"] for g in rows(out)]
    assert len(after) == len(set(after)) == 12                 # nothing lost, nothing twice
    assert after[:len(before)] == before                       # finished points kept


@pytest.mark.parametrize("args, message", [
    (["simulate", "lenet"], "unknown model 'lenet'; zoo models: c3d"),
    (["simulate", "tiny2d", "--arch", "fdb"], "known presets: asic-fft, fda, isaac"),
    (["compare", "tiny2d", "--arch", "fda,tpu"], "known presets"),
    (["sweep", "tiny2d", "--param", "adc_bit=4:6"], "unknown sweep parameter(s) adc_bit; valid"),
    (["sweep", "tiny2d", "--param", "adc_bits"], "write NAME=VALUES"),
    (["sweep", "tiny2d", "--param", "adc_bits=6:4"], "bad range"),
    (["preset", "show", "tpu"], "unknown preset 'tpu'"),
    (["simulate", "tiny2d", "--input", "1,2,3"], "expects inputs of shape"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--input", "1,8,8"], "takes an existing .npy"),
])
def test_errors_name_what_is_valid(args, message, tmp_path):
    r = fdafast(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert message in " ".join(r.stderr.split()), r.stderr


def test_unreachable_scheduler_fails_fast(tmp_path):
    t0 = time.time()
    r = fdafast("sweep", "tiny2d", "--param", "adc_bits=4,5", "--scheduler",
                "tcp://127.0.0.1:9", "--timeout", 3, "--out", tmp_path, timeout=120)
    assert r.returncode == 2 and "cannot reach the Dask scheduler" in r.stderr
    assert time.time() - t0 < 60


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = fdafast("simulate", "tiny2d", "--mode", "fft", "--out", blocker / "sub")
    assert r.returncode == 2 and "cannot write to the output directory" in r.stderr
    r = fdafast("sweep", "tiny2d", "--param", "adc_bits=4", "--out", blocker)
    assert r.returncode == 2 and "cannot write" in r.stderr


def test_bench_runs_a_suite():
    r = fdafast("bench", "--suite", "estimate", timeout=600)
    assert r.returncode == 0, r.stderr
    assert "1,000-point sweep" in r.stdout and "lat/1st" in r.stdout
    r = fdafast("bench", "--suite", "gpu")
    assert r.returncode == 2 and "suites: estimate, conv, crossbar, network" in r.stderr
