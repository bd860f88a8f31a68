"""``nodules ...`` verbs through a parser built from ``app.cli.nodules.register`` (the
workspace is registered in ``app/workspaces.py`` once its widget exists): sample, info, train,
detect, evaluate, and exit 2 with one line naming the file on bad input."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from app.cli.nodules import register
from engines.core.errors import LabLensError
from engines.nodules.luna16 import read_findings


def run(argv: list[str]) -> int:
    """What ``main.py nodules ...`` does with these arguments (see app.cli.main)."""
    import sys

    parser = argparse.ArgumentParser(prog="main.py nodules")
    register(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except LabLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "scans"
    assert run(["sample", "--out", str(path), "--scans", "3", "--seed", "4", "--small"]) == 0
    return path


@pytest.fixture(scope="module")
def model(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_model") / "tiny"
    assert run(["train", "--data", str(data), "--out", str(path), "--arch",
                "ssdlite_mobilenet_v3_small", "--steps", "4", "--batch-size", "4",
                "--crop-px", "64", "--val-every", "2", "--val-fraction", "0.34",
                "--pixel-mm", "3", "--min-box-mm", "8", "--half"]) == 0
    return path


def test_sample_and_info(data, tmp_path, capsys):
    assert (data / "annotations.csv").is_file() and len(list((data / "subset0").glob("*.mhd"))) == 3
    out = tmp_path / "info.json"
    assert run(["info", str(data), "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["scans"] == 3 and info["nodules"] >= 3
    scan = sorted((data / "subset0").glob("*.mhd"))[0]
    capsys.readouterr()
    assert run(["info", str(scan)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["seriesuid"] == scan.stem and len(shown["shape_zyx"]) == 3


def test_train_detect_evaluate(data, model, tmp_path, capsys):
    assert model.with_suffix(".safetensors").is_file()
    capsys.readouterr()
    assert run(["info", str(model.with_suffix(".safetensors"))]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "lablens.nodule_detector"
    scan = sorted((data / "subset0").glob("*.mhd"))[0]
    csv = tmp_path / "candidates.csv"
    assert run(["detect", "--model", str(model), "--scan", str(scan), "--out", str(csv),
                "--threshold", "0", "--json", str(tmp_path / "d.json")]) == 0
    assert csv.read_text().splitlines()[0] == \
        "seriesuid,coordX,coordY,coordZ,probability,diameter_mm"
    found = read_findings(csv, "probability")
    assert set(found.scan) <= {scan.stem} and np.all(found.probability >= 0)
    summary = json.loads((tmp_path / "d.json").read_text())
    assert summary["candidates"] == len(found) and summary["threshold"] == 0
    report = tmp_path / "eval.json"
    assert run(["evaluate", "--model", str(model), "--data", str(data), "--json", str(report),
                "--bootstrap", "20", "--peer"]) == 0
    result = json.loads(report.read_text())
    assert set(result["slice"]) == {"precision", "recall", "f1", "tp", "fp", "fn"}
    assert list(result["froc"]) == ["0.125", "0.25", "0.5", "1", "2", "4", "8"]
    assert result["scans"] == 3 and 0 <= result["cpm"] <= 1 and "peer" in result
    assert "swaps precision and recall" in capsys.readouterr().out


def test_bad_inputs_exit_2_with_one_line(data, tmp_path, capsys):
    junk = tmp_path / "junk.mhd"
    junk.write_text("not a header")
    assert run(["info", str(junk)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: junk.mhd:") and "\n" not in err
    assert run(["detect", "--model", str(tmp_path / "none"), "--scan", str(junk), "--out",
                str(tmp_path / "c.csv")]) == 2
    assert "none.safetensors: model file not found" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "annotations.csv").write_text("seriesuid,coordX\n")
    (bad / "a.mhd").write_text("x")
    assert run(["evaluate", "--model", str(tmp_path / "none"), "--data", str(bad)]) == 2
    capsys.readouterr()
    assert run(["train", "--data", str(bad), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: annotations.csv: no column coordY") and "\n" not in err
    assert run(["sample", "--out", str(tmp_path / "s"), "--scans", "0"]) == 2
    assert run(["train", "--data", str(data), "--out", str(tmp_path / "m"),
                "--hu-window", "wide"]) == 2
