"""fdafast.evaluate and `fdafast evaluate`: accuracy on a data set of videos made here, in
float and under simulated hardware, inline and on Dask, resumable; the bad inputs."""
import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest

import fdafast
from fdafast import evaluation
from fdafast.data import DatasetError
from fdafast.evaluation import EvaluationError
from fdafast.nn.graph import WeightsError
from fdafast.store import StoreError

import videos

av = pytest.importorskip("av")
torch = pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = ["east", "north", "west", "south"]          # the model's classes, in output order
#: Hardware small enough for tests: 4-bit weights and inputs, 6-bit ADCs.
SMALL = {"weight_bits": 4, "input_bits": 4, "adc_bits": 6}


@pytest.fixture(scope="module")
def trained():
    """(network, float accuracy of the torch model on the held-out clips, clips, labels)."""
    m, acc, (x, y) = videos.train_model()
    net = fdafast.from_torch(m, x[:1].astype(np.float32) / 255)
    assert acc >= 0.75                                  # it learned the task
    return m, net, acc, x, y


@pytest.fixture(scope="module")
def folder(trained, tmp_path_factory):
    """The held-out clips as lossless videos in class folders."""
    root = tmp_path_factory.mktemp("lossless")
    videos.class_folders(root, trained[3], trained[4])
    return root


def inline(net, data, **kw):
    kw.setdefault("classes", NAMES)
    kw.setdefault("scheduler", "inline")
    return fdafast.evaluate(net, data, threads=1, **kw)


# -- accuracy ----------------------------------------------------------------------------------
def test_float_gives_the_trained_accuracy_from_videos_npy_and_iterables(trained, folder, tmp_path):
    _, net, acc, x, y = trained
    r = inline(net, folder, mode="float")
    t = r.totals["video"]["float"]
    assert r.configs == ["float"] and t["n"] == len(y) and t["top1"] == acc
    assert t["top1_lo"] < acc <= t["top1_hi"] and t["top5"] == 1.0
    for i, (clip, label) in enumerate(zip(x, y)):       # .npy clips: the same
        np.save(tmp_path / f"c{i}.npy", clip)
    (tmp_path / "m.csv").write_text("".join(f"c{i}.npy,{NAMES[l]}\n" for i, l in enumerate(y)))
    assert inline(net, tmp_path / "m.csv", mode="float").totals["video"]["float"]["top1"] == acc
    pairs = ((clip, int(label)) for clip, label in zip(x, y))
    r = fdafast.evaluate(net, pairs, mode="float", scheduler="inline")
    assert r.totals["clip"]["float"]["top1"] == acc
    per = r.totals["video"]["float"]["per_class"]
    assert sum(n for _, n in per.values()) == len(y)


def test_lossy_codecs_and_odd_sizes_keep_most_of_the_accuracy(trained, tmp_path):
    _, net, acc, x, y = trained
    for suffix in ("mp4", "webm", "avi"):
        if not videos.encoder_available(videos.CODECS[suffix][0]):
            pytest.skip(f"this PyAV's FFmpeg has no {videos.CODECS[suffix][0]} encoder")
        videos.class_folders(tmp_path / suffix, x[:12], y[:12], suffix)
    big, _ = videos.shapes(2, seed=9, frames=9, size=15)            # 15x15: resized to 14
    for i, clip in enumerate(big):
        videos.write_video(tmp_path / "mp4" / NAMES[0] / f"odd{i}.mkv", clip[0, :, :13, :])
    for suffix in ("mp4", "webm", "avi"):
        r = inline(net, tmp_path / suffix, mode="float", sampling={"clips": 2})
        t = r.totals["video"]["float"]
        assert r.failed == 0 and t["top1"] >= acc - 0.25, (suffix, t["top1"])


def test_hardware_configurations_in_one_pass_over_one_float_reference(trained, folder,
                                                                     monkeypatch):
    _, net, acc, _, y = trained
    from fdafast import _eval_task
    calls, real = [], _eval_task.run

    def counting(n, x, mode, **kw):
        calls.append((mode, len(x)))
        return real(n, x, mode, **kw)
    monkeypatch.setattr(_eval_task, "run", counting)
    configs = [SMALL, {**SMALL, "read_sigma": 0.02}]
    r = inline(net, folder, mode="reram", configs=configs, batch=12, calibration=2)
    names = ["adc_bits=6,input_bits=4,weight_bits=4",
             "adc_bits=6,input_bits=4,read_sigma=0.02,weight_bits=4"]
    assert r.configs == ["float"] + names
    floats = [c for c in calls if c[0] == "fft"]
    assert [n for _, n in floats] == [1] * len(y)         # each clip once in float, alone
    assert sorted({n for m, n in calls if m == "reram"}) == [1, 2]    # clips alone; calibration
    for name in names:
        t = r.totals["video"][name]
        assert t["n"] == len(y) and t["energy_j"] > 0 and t["latency_s"] > 0
        assert t["drop_lo"] <= t["drop"] <= t["drop_hi"]
        assert t["drop"] == pytest.approx(acc - t["top1"])
        assert t["snr_db"] > 5 and 0 <= t["agree"] <= 1
    assert r.costs[names[0]] == r.costs[names[1]]         # device effects cost nothing
    m = r.confusion(names[0])
    assert m.shape == (4, 4) and m.sum() == len(y)
    clip_rows = [row for row in r.rows if row["level"] == "clip"]
    assert len(clip_rows) == 3 * len(y)
    with pytest.raises(EvaluationError, match="no configuration 'nope'"):
        r.confusion("nope")


def test_each_clip_is_read_with_noise_of_its_own(trained):
    """Identical clips read under read noise give different outputs (a key per video
    and clip), the same in every process; without read noise, identical ones."""
    from fdafast._eval_task import clip_read_key
    _, net, _, x, y = trained
    pairs = [(x[0], int(y[0]))] * 3
    configs = [SMALL, {**SMALL, "read_sigma": 0.3}]
    r = fdafast.evaluate(net, pairs, mode="reram", configs=configs, scheduler="inline",
                         threads=1, calibration=1)
    quiet, noisy = r.configs[1:]
    snr = {c: [row["snr_db"] for row in r.rows if row["level"] == "clip" and row["config"] == c]
           for c in (quiet, noisy)}
    assert len(snr[quiet]) == len(snr[noisy]) == 3
    assert len(set(snr[quiet])) == 1 and len(set(snr[noisy])) == 3
    keys = {clip_read_key(v, c) for v in ("a", "b") for c in (0, 1)}
    assert len(keys) == 4 and all(0 <= k < 2 ** 64 for k in keys)
    out = subprocess.run([sys.executable, "-c", "from fdafast._eval_task import clip_read_key;"
                          "print(clip_read_key('a', 1))"], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert int(out.stdout) == clip_read_key("a", 1)


def test_a_network_evaluated_again_is_calibrated_again(trained, folder, tmp_path):
    import pickle
    _, net, _, x, y = trained
    fresh = pickle.loads(pickle.dumps(net))
    noise = np.random.default_rng(0).integers(0, 256, x[0].shape, dtype=np.uint8)
    other = [(noise, 0)] + [(clip, int(label)) for clip, label in zip(x[:8], y[:8])]
    # 2-bit ADCs: the calibrated full scale (noise's is larger) changes the outputs
    kw = dict(mode="reram", configs=[{**SMALL, "adc_bits": 2}], calibration=1, batch=24)
    inline(net, folder, **kw)                                  # calibrated on folder's first
    a = inline(net, other, **kw)
    b = inline(fresh, other, **kw)
    strip = lambda rows: [(r["key"], r["pred"], r["snr_db"]) for r in rows]  # noqa: E731
    assert strip(a.rows) == strip(b.rows)


def test_failed_videos_are_recorded_and_the_rest_go_on(trained, folder, tmp_path):
    import shutil
    _, net, acc, x, y = trained
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    (data / "east" / "zz-corrupt.mp4").write_bytes(np.random.default_rng(1).bytes(2000))
    videos.write_video(data / "north" / "zz-short.mkv", x[0, 0, :4])
    r = inline(net, data, mode="float", out=tmp_path / "out")
    errors = r.errors()
    assert r.failed == 2 and set(errors) == {"east/zz-corrupt.mp4", "north/zz-short.mkv"}
    assert "VideoError" in errors["east/zz-corrupt.mp4"]
    assert "ClipTooShortError" in errors["north/zz-short.mkv"]
    assert r.totals["video"]["float"]["top1"] == acc and r.totals["video"]["float"]["failed"] == 2
    stored = evaluation.read_results(tmp_path / "out" / "evaluation.csv")
    assert sum(s["status"] == "error" for s in stored) == 2
    ok = lambda rows: [s for s in rows if s["status"] == "ok"]            # noqa: E731
    with pytest.raises(EvaluationError, match="zz-corrupt.mp4 failed: VideoError.*kept in"):
        inline(net, data, mode="float", out=tmp_path / "out", resume=True, on_error="raise")
    assert ok(evaluation.read_results(tmp_path / "out" / "evaluation.csv")) == ok(stored)


def test_an_interrupted_evaluation_resumes_and_repeats_nothing(trained, folder, tmp_path):
    _, net, acc, _, y = trained
    kw = dict(mode="quant", configs=[SMALL], out=tmp_path, batch=4)
    full = inline(net, folder, **kw)
    store = tmp_path / "evaluation.csv"
    lines = store.read_text().splitlines(keepends=True)
    cut = len(lines) // 2
    store.write_text("".join(lines[:cut]) + lines[cut][:10])    # killed mid-line
    again = inline(net, folder, resume=True, **kw)
    assert again.skipped + again.computed == len(y) and 0 < again.computed < len(y)
    strip = lambda rows: sorted((r["key"], r["pred"], r["top1"]) for r in rows)  # noqa: E731
    assert strip(again.rows) == strip(full.rows)
    assert strip(evaluation.read_results(store)) == strip(full.rows)
    done = inline(net, folder, resume=True, **kw)
    assert done.computed == 0 and done.skipped == len(y)
    with pytest.raises(StoreError, match="another study.*configs"):
        inline(net, folder, mode="quant", configs=[{**SMALL, "adc_bits": 7}], out=tmp_path,
               resume=True)
    with pytest.raises(StoreError, match="already holds results"):
        inline(net, folder, **kw)


def test_on_dask_the_results_equal_inline_ones(trained, folder):
    pytest.importorskip("distributed")
    _, net, _, _, _ = trained
    kw = dict(mode="reram", configs=[SMALL], classes=NAMES, calibration=2, batch=3)
    seen = []
    dask = fdafast.evaluate(net, folder, workers=2, progress=lambda *a: seen.append(a), **kw)
    here = inline(net, folder, **{k: v for k, v in kw.items() if k != "classes"})
    strip = lambda rows: sorted((r["key"], r["pred"], round(r["snr_db"], 6)) for r in rows)  # noqa
    assert strip(dask.rows) == strip(here.rows)
    assert seen[0][:3] == (0, len(trained[4]), 0.0)
    done, total, rate, eta = seen[-1]
    assert done == total == len(trained[4]) and rate > 0 and eta == 0


def test_on_dask_workers_load_a_named_model_themselves(tmp_path):
    pytest.importorskip("distributed")
    rng = np.random.default_rng(1)
    for i in range(3):
        np.save(tmp_path / f"c{i}.npy", rng.random((3, 9, 32, 32), dtype=np.float32))
    kw = dict(mode="quant", configs=[{"adc_bits": 6}], num_classes=4)
    dask = fdafast.evaluate("tiny3d", tmp_path, workers=1, **kw)
    here = fdafast.evaluate("tiny3d", tmp_path, scheduler="inline", threads=1, batch=1, **kw)
    strip = lambda rows: sorted((r["key"], r["pred"], round(r["snr_db"], 6)) for r in rows)  # noqa
    assert strip(dask.rows) == strip(here.rows) and len(dask.rows) == 3 * 2 * 2


# -- bad input ---------------------------------------------------------------------------------
def test_bad_inputs_are_fdafast_errors_naming_the_reason(trained, folder, tmp_path):
    _, net, _, x, _ = trained
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no videos"):
        inline(net, tmp_path / "empty", mode="float")
    with pytest.raises(DatasetError, match="not among the model's 3 classes"):
        inline(net, folder, mode="float", classes=NAMES[:3])
    with pytest.raises(DatasetError, match="5 classes but the model predicts 4"):
        inline(net, folder, mode="float", classes=NAMES + ["up"])
    with pytest.raises(EvaluationError, match="mode must be"):
        inline(net, folder, mode="fft")
    with pytest.raises(EvaluationError, match="'float' evaluates the float reference alone"):
        inline(net, folder, mode="float", configs=[SMALL])
    with pytest.raises(fdafast.FdafastError, match="unknown sweep parameter"):
        inline(net, folder, mode="quant", configs=[{"adc_bit": 6}])
    with pytest.raises(fdafast.FdafastError, match="frames.*takes"):
        inline(net, folder, mode="float", sampling={"frames": 4})
    with pytest.raises(DatasetError, match="label 7 is not one of the model's 4 outputs"):
        fdafast.evaluate(net, [(x[0], 7)], mode="float", scheduler="inline")
    with pytest.raises(EvaluationError, match="--scheduler must be"):
        inline(net, folder, mode="float", scheduler="nowhere")


def test_weights_that_do_not_match_leave_the_results_intact(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(d / f"c{i}.npy", rng.random((3, 8, 32, 32), dtype=np.float32))
    out = tmp_path / "out"
    fdafast.evaluate("tiny3d", d, mode="float", out=out, scheduler="inline", num_classes=4)
    before = (out / "evaluation.csv").read_text()
    np.savez(tmp_path / "w.npz", **{"conv1.weight": np.zeros((2, 2, 2, 2, 2), np.float32)})
    with pytest.raises(WeightsError, match="do not match"):
        fdafast.evaluate("tiny3d", d, mode="float", out=out, resume=True, scheduler="inline",
                         num_classes=4, weights=tmp_path / "w.npz")
    assert (out / "evaluation.csv").read_text() == before


# -- the command line --------------------------------------------------------------------------
def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "fdafast", "evaluate", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def one_line_error(r, match):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and match in lines[0], r.stderr


def test_the_command_writes_rows_totals_and_plots(trained, folder, tmp_path):
    pytest.importorskip("onnx")
    import warnings
    m, _, acc, x, _ = trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, torch.from_numpy(x[:1].astype(np.float32) / 255),
                          str(tmp_path / "m.onnx"), dynamo=False)
    (tmp_path / "classes.txt").write_text("\n".join(NAMES) + "\n")
    out = tmp_path / "out"
    r = cli(tmp_path / "m.onnx", "--data", folder, "--classes", tmp_path / "classes.txt",
            "--mode", "quant", "--param", "adc_bits=6,8", "--param", "weight_bits=4",
            "--param", "input_bits=4", "--scheduler", "inline", "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "adc_bits=6,input_bits=4,weight_bits=4" in r.stdout and "top-1 %" in r.stdout
    for name in evaluation_files():
        assert (out / name).is_file(), name
    for name in ("accuracy_energy.png", "confusion.png"):
        assert png_size(out / name) == (1000, 600)
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["totals"]["video"]["float"]["top1"] == acc
    assert set(summary["costs"]) == {"adc_bits=6,input_bits=4,weight_bits=4",
                                     "adc_bits=8,input_bits=4,weight_bits=4"}
    r = cli(tmp_path / "m.onnx", "--data", folder, "--classes", tmp_path / "classes.txt",
            "--mode", "quant", "--param", "adc_bits=6,8", "--param", "weight_bits=4",
            "--param", "input_bits=4", "--scheduler", "inline", "--out", out, "--resume")
    assert r.returncode == 0 and "0 videos computed, 24 skipped" in r.stdout


def evaluation_files():
    from fdafast.cli import EVALUATION_FILES
    return EVALUATION_FILES


def test_the_command_fails_on_one_line(folder, tmp_path, capsys):
    from fdafast.cli import main

    def in_process(*args):                  # the same path as the script's, without its start
        code = main(["evaluate", *map(str, args)])
        err = capsys.readouterr().err
        return subprocess.CompletedProcess(args, code, "", err)
    (tmp_path / "empty").mkdir()
    one_line_error(cli("tiny3d", "--data", tmp_path / "empty", "--out", tmp_path / "o"),
                   "holds no videos")
    m = tmp_path / "m.csv"
    np.save(tmp_path / "a.npy", np.zeros((3, 8, 32, 32), np.float32))
    m.write_text("a.npy,\n")
    one_line_error(in_process("tiny3d", "--data", m, "--out", tmp_path / "o"), "has no label")
    (tmp_path / "c.txt").write_text("east\nwest\n")
    one_line_error(in_process("tiny3d", "--data", folder, "--classes", tmp_path / "c.txt",
                              "--out", tmp_path / "o"), "not among the model's 2 classes")
    one_line_error(in_process("tiny3d", "--data", folder, "--weights", tmp_path / "none.npz",
                              "--out", tmp_path / "o"), "no weights file")
    one_line_error(in_process("tiny3d", "--data", folder, "--param", "adc_bits=4", "--mode",
                              "float", "--out", tmp_path / "o"), "float reference alone")
    one_line_error(in_process("tiny3d", "--data", folder, "--confusion", "adc_bits=5",
                              "--out", tmp_path / "o"), "--confusion 'adc_bits=5'")
    with pytest.raises(SystemExit):
        main(["evaluate", "tiny3d", "--data", str(m), "--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err
