"""``main.py cdc ...``: sample, info, train, tune-fit, evaluate, analyze, and exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from engines.cdc.hdf5_io import read_predictions
from engines.cdc.io import read_events


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("cdc") / "events.h5"
    assert main(["cdc", "sample", "--out", str(path), "--events", "24", "--occupancy", "0.3",
                 "--seed", "2"]) == 0
    return path


def test_sample_and_info(sample, tmp_path, capsys):
    out = tmp_path / "info.json"
    assert main(["cdc", "info", str(sample), "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["events"] == 24 and info["hits"] > 24 * 1000
    assert 0 < info["signal_hits"] < info["hits"]
    assert info["occupancy_mean"] == pytest.approx(0.31, abs=0.04)
    assert json.loads(capsys.readouterr().out)["events"] == 24


@pytest.mark.slow
def test_train_evaluate_analyze(sample, tmp_path, capsys):
    model = tmp_path / "tiny"
    assert main(["cdc", "train", "--data", str(sample), "--out", str(model), "--encoder",
                 "efficientnet-b0", "--epochs", "1", "--batch-size", "8", "--input-size", "64",
                 "--pos-weight", "5", "--half"]) == 0
    assert (tmp_path / "tiny.safetensors").is_file() and (tmp_path / "tiny.json").is_file()
    assert "best epoch 1" in capsys.readouterr().out

    tuned = tmp_path / "tuned"          # the second stage alone, re-tuned: the U-Net unchanged
    assert main(["cdc", "tune-fit", "--model", str(model), "--out", str(tuned), "--events", "20",
                 "--trees", "10", "--depth", "2", "--half"]) == 0
    assert "20 tuning events" in capsys.readouterr().out
    meta = json.loads((tmp_path / "tuned.json").read_text())
    assert len(meta["track_fit"]["rescorer"]["trees"]) == 10
    assert meta["track_fit"]["rescore"]["events"] == 20 and "tune_with_fit" in meta["metrics"]
    assert (tmp_path / "tuned.safetensors").read_bytes() == (
        tmp_path / "tiny.safetensors").read_bytes()
    model = tuned

    report = tmp_path / "eval.json"
    assert main(["cdc", "evaluate", "--model", str(model), "--data", str(sample), "--json",
                 str(report)]) == 0
    result = json.loads(report.read_text())
    for block in (result, result["peer"]):
        assert 0 <= block["auc"] <= 1
        assert {"purity_at_retention_0.9", "retention_at_purity_0.9", "curve"} <= set(block)
    assert result["curve"][0].keys() == {"threshold", "purity", "retention"}
    assert result["events"] == 24

    predictions = tmp_path / "pred.h5"
    assert main(["cdc", "analyze", "--model", str(model), "--data", str(sample), "--out",
                 str(predictions)]) == 0
    scored = read_predictions(predictions)
    original = read_events(sample)
    assert len(scored) == 24
    for a, b in zip(scored, original, strict=True):
        np.testing.assert_array_equal(a.cell, b.cell)
        assert a.score.shape == (a.n_hits,) and np.all((a.score >= 0) & (a.score <= 1))


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    assert main(["cdc", "info", str(junk)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: junk.h5:") and "\n" not in err
    assert main(["cdc", "evaluate", "--model", str(tmp_path / "none"), "--data",
                 str(junk)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["cdc", "sample", "--out", str(tmp_path / "x.h5"), "--events", "0"]) == 2
    assert main(["cdc", "sample", "--out", str(tmp_path / "x.csv"), "--events", "3"]) == 2
    assert main(["cdc", "train", "--data", str(junk), "--out", str(tmp_path / "m"),
                 "--bits", "20"]) == 2
    assert "bit precision" in capsys.readouterr().err
