"""The examples run (quick settings) and print what they promise."""
import pathlib
import runpy
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _run(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_video_accuracy_example(capsys, monkeypatch):
    pytest.importorskip("torch")
    out = _run("video_accuracy.py", capsys, monkeypatch)
    assert "float top-1" in out and "reram top-1" in out and "one clip on fda" in out
    float_acc = float(out.split("float top-1:")[1].split()[0])
    assert float_acc > 0.5


def test_digits_example(capsys, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = _run("digits_accuracy.py", capsys, monkeypatch)
    assert "float top-1" in out
