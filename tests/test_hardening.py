"""Regression tests of the boundary: each finding of the hardening review.

Every bad input gets a FdafastError naming the value (or, on the command
line, one line on stderr and status 2) before anything large is allocated.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import fdafast
from fdafast import InvalidArgumentError
from fdafast._args import MemoryLimitError, max_threads
from fdafast.nn import WeightsError, zoo
from fdafast.nn.load import load_input, load_model
from fdafast.nn.graph import GraphError

EXE = shutil.which("fdafast")
CMD = [EXE] if EXE else [sys.executable, "-m", "fdafast"]


def cli(*args, cwd=None, timeout=120, env=None):
    return subprocess.run(CMD + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


# -- threads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", [10 ** 6, 5000, 2 ** 40])
def test_absurd_thread_counts_are_refused_not_crashed(threads):
    x, w = np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3))
    with pytest.raises(InvalidArgumentError, match=f"threads={threads}.*at most"):
        fdafast.conv2d(x, w, threads=threads)
    assert fdafast.conv2d(x, w, threads=max_threads()).shape == (1, 1, 4, 4)


def test_thread_environment_variable_is_capped(monkeypatch):
    monkeypatch.setenv("FDAFAST_NUM_THREADS", "1000000")
    with pytest.raises(InvalidArgumentError, match="FDAFAST_NUM_THREADS"):
        fdafast.conv2d(np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)))


def test_cli_threads_are_checked_before_any_work(tmp_path):
    one_line_error(cli("simulate", "tiny2d", "--mode", "fft", "--threads", 1000000,
                       cwd=tmp_path), "--threads")
    env = dict(os.environ, FDAFAST_NUM_THREADS="1000000")
    one_line_error(cli("simulate", "tiny2d", "--mode", "fft", cwd=tmp_path, env=env),
                   "FDAFAST_NUM_THREADS")


# -- memory ---------------------------------------------------------------------------------
def test_huge_padding_is_refused_before_any_allocation():
    with pytest.raises(MemoryLimitError, match="padding"):
        fdafast.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), padding=10 ** 9)


def test_a_huge_broadcast_input_is_refused_before_any_allocation():
    x = np.broadcast_to(np.float32(1), (4096, 64, 1024, 1024))     # 1 TiB, as a view
    w = np.ones((8, 64, 3, 3), np.float32)
    t0 = time.time()
    with pytest.raises(MemoryLimitError, match="smaller batch"):
        fdafast.conv2d(x, w)
    assert time.time() - t0 < 10


def test_memory_is_asked_only_for_allocations_past_the_threshold(monkeypatch):
    """check_memory asks psutil only above UNCHECKED_BYTES, and refuses past it what
    the machine does not have."""
    from fdafast import _args
    asked = []

    class Tight:
        available = _args.UNCHECKED_BYTES + 10

    def virtual_memory():
        asked.append(1)
        return Tight()
    monkeypatch.setattr(_args.psutil, "virtual_memory", virtual_memory)
    _args.check_memory(_args.UNCHECKED_BYTES, "small", "fix")
    assert not asked
    _args.check_memory(_args.UNCHECKED_BYTES + 10, "fits", "fix")
    assert len(asked) == 1
    with pytest.raises(MemoryLimitError, match="too big needs .*; fix it"):
        _args.check_memory(_args.UNCHECKED_BYTES + 11, "too big", "fix it")


def test_a_random_input_larger_than_memory_is_refused():
    net = zoo.tiny2d()
    with pytest.raises(MemoryLimitError, match="TiB.*smaller batch"):
        load_input(net, batch=10 ** 12)


def test_an_input_shape_is_compared_with_the_network_before_filling_it(tmp_path):
    net = zoo.tiny2d()
    with pytest.raises(fdafast.ShapeError, match="expects inputs of shape"):
        load_input(net, "1000000,1,4000,4000")
    one_line_error(cli("simulate", "tiny2d", "--input", "1000000,1,4000,4000", cwd=tmp_path),
                   "expects inputs of shape")


# -- sloppy values are refused, not truncated --------------------------------------------------------
def test_sloppy_numbers_are_refused(tmp_path):
    net = zoo.tiny2d()
    with pytest.raises(InvalidArgumentError, match="8.7"):
        load_input(net, "8.7,1,8,8")
    with pytest.raises(InvalidArgumentError, match="batch"):
        load_input(net, batch=1.5)
    x = np.random.default_rng(0).random((2,) + net.input_shape)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        fdafast.simulate(net, x, mode="fft", batch_size=1.5)
    with pytest.raises(fdafast.ShapeError, match="empty"):
        fdafast.simulate(net, x[:0], mode="fft")
    with pytest.raises(GraphError, match="num_classes"):
        zoo.tiny2d(num_classes=0)
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        load_model("tiny2d", num_classes=0)


@pytest.mark.parametrize("args, needle", [
    (["simulate", "tiny2d", "--batch", "-1"], "--batch must be >= 1"),
    (["simulate", "tiny2d", "--batch", "1.5"], "--batch takes an integer"),
    (["simulate", "tiny2d", "--num-classes", "-3"], "--num-classes must be >= 1"),
    (["simulate", "tiny2d", "--seed", "-1"], "--seed must be >= 0"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--timeout", "-1"], "--timeout must be > 0"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--timeout", "nan"], "--timeout must be"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--workers", "-1"], "--workers must be >= 1"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--workers", "0"], "--workers must be >= 1"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--scheduler", "not-an-address"],
     "--scheduler must be an address"),
    (["sweep", "tiny2d", "--param", "adc_bits=4:5", "--param", "adc_bits=6"],
     "adc_bits given more than once"),
    (["sweep", "tiny2d", "--param", "adc_bits=4", "--objective", "energy_j:min,energy_j:max"],
     "more than once"),
    (["simulate"], "required"),
    (["sweep", "tiny2d", "--param", "adc_bits=1:100000000"], "at most 1,000,000 points"),
    (["sweep", "tiny2d", "--param", "adc_bits=1:1000", "--param", "rows=1:2000"],
     "2,000,000 points"),
])
def test_cli_numbers_and_options_are_validated(args, needle, tmp_path):
    t0 = time.time()
    one_line_error(cli(*args, cwd=tmp_path), needle)
    assert time.time() - t0 < 60                           # nothing hangs


# -- files -------------------------------------------------------------------------------------------
def test_bad_input_files_are_named(tmp_path):
    net = zoo.tiny2d()
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "complex.npy", np.ones((1, 1, 8, 8), np.complex64))
    np.save(tmp_path / "wrong.npy", np.ones((1, 2, 8, 8), np.float32))
    (tmp_path / "dir.npy").mkdir()
    cases = {"garbage.npy": "cannot read", "objects.npy": "cannot read",
             "complex.npy": "real", "wrong.npy": "expects inputs of shape",
             "dir.npy": "not a file"}
    for name, needle in cases.items():
        with pytest.raises(fdafast.FdafastError, match=needle):
            load_input(net, str(tmp_path / name))
        one_line_error(cli("simulate", "tiny2d", "--input", tmp_path / name, cwd=tmp_path),
                       needle)


def test_bad_accelerator_files_are_named(tmp_path):
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)))
    (tmp_path / "dir.toml").mkdir()
    for name in ("bin.toml", "dir.toml"):
        with pytest.raises(fdafast.arch.ArchError, match="bin.toml|dir.toml"):
            fdafast.Accelerator.from_file(tmp_path / name)
        one_line_error(cli("simulate", "tiny2d", "--arch", tmp_path / name, cwd=tmp_path),
                       name)
    one_line_error(cli("preset", "show", tmp_path / "bin.toml"), "cannot read")


def test_an_output_file_in_the_way_is_found_before_the_run(tmp_path):
    (tmp_path / "simulation.json").mkdir()
    t0 = time.time()
    one_line_error(cli("simulate", "c3d", "--out", tmp_path, cwd=tmp_path), "simulation.json")
    assert time.time() - t0 < 30                            # not after a 20 s C3D run


def test_weights_are_checked_as_they_will_be_stored(tmp_path):
    net = zoo.tiny2d()
    state = net.state_dict()
    huge = dict(state, **{"conv1.weight": np.full(state["conv1.weight"].shape, 1e300)})
    with pytest.raises(WeightsError, match="not finite: conv1.weight"):
        net.load_weights(huge)
    cplx = dict(state, **{"conv1.weight": state["conv1.weight"] + 1j})
    with pytest.raises(WeightsError, match="not real numbers: conv1.weight"):
        net.load_weights(cplx)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(WeightsError, match="cannot read"):
        net.load_weights(tmp_path / "bad.npz")
    np.save(tmp_path / "single.npz", np.ones(3))
    (tmp_path / "single.npz.npy").rename(tmp_path / "single.npz")
    with pytest.raises(WeightsError, match="single array"):
        net.load_weights(tmp_path / "single.npz")
    np.testing.assert_array_equal(net.state_dict()["conv1.weight"], state["conv1.weight"])


# -- the sweep store from the command line ------------------------------------------------------------
def test_a_resumed_sweep_of_another_study_is_refused(tmp_path):
    base = ["sweep", "tiny2d", "--param", "hermitian=half,none", "--mode", "none",
            "--workers", 1, "--out", tmp_path]
    r = cli(*base, timeout=300)
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "sweep.csv").read_text()
    one_line_error(cli("sweep", "tiny3d", *base[2:], "--resume"), "another study",
                   "model: 'tiny3d' now, 'tiny2d' in the store")
    one_line_error(cli(*base, "--param", "adc_bits=4,5", "--resume"), "params")
    one_line_error(cli(*base), "already holds results")
    assert (tmp_path / "sweep.csv").read_text() == before
    identity = json.loads((tmp_path / "sweep.csv.identity.json").read_text())
    assert identity["model"] == "tiny2d" and identity["params"] == ["hermitian"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sweep.csv").mkdir()
    one_line_error(cli(*base[:-1], tmp_path / "d"), "sweep.csv")


def test_failed_points_leave_no_worker_traceback(tmp_path):
    # tile 2 is smaller than the 3x3 kernels: emulating those points fails
    r = cli("sweep", "tiny2d", "--param", "tile=2,8", "--workers", 1,
            "--objective", "energy_j:min", "--out", tmp_path, timeout=300)
    assert r.returncode == 1 and (tmp_path / "pareto.png").stat().st_size > 0
    assert "Traceback" not in r.stderr and "MappingError" in r.stdout
    from fdafast.sweep import read_results
    rows = read_results(tmp_path / "sweep.csv")
    assert {r_["status"] for r_ in rows} == {"ok", "error"}


def test_a_bug_keeps_its_traceback_and_says_so(monkeypatch, capsys):
    from fdafast import cli as cli_mod

    def broken(args):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(cli_mod, "cmd_presets", broken)
    assert cli_mod.main(["presets"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error" in err


def test_info_shows_the_configuration():
    r = cli("info")
    assert r.returncode == 0, r.stderr
    assert f"instruction set:  {fdafast._dispatch.isa()}" in r.stdout and "OpenMP" in r.stdout
