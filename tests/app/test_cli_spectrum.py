"""The spectrum CLI contract: verbs, JSON outputs, exit code 2 with a one-line message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engines.spectrum.readers import write_spe
from engines.spectrum.spectrum import PAPER_CALIBRATION, Spectrum

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    assert main(["spectrum", "sample", "--out", str(out), "--measurements", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def model(sample_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "al"
    code = main(["spectrum", "train", "--data", str(sample_dir / "aluminium4"), "--out",
                 str(path), "--arch", "small_cnn", "--steps", "3", "--batch-size", "8",
                 "--val-every", "3", "--val-draws", "4", "--counts", "1000:20000",
                 "--discard", "0:104,14000:16384", "--half", "--device", "cpu",
                 "--json", str(path.with_suffix(".train.json"))])
    assert code == 0
    return path


def _truncated_spe(folder: Path) -> Path:
    path = write_spe(folder / "cut.spe", Spectrum(np.arange(1000.0), PAPER_CALIBRATION,
                                                  live_time_s=10.0))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def test_sample_writes_the_three_libraries(sample_dir, capsys):
    for library, n_classes in (("materials12", 12), ("aluminium4", 4), ("copper5", 5)):
        classes = sorted(p.name for p in (sample_dir / library).iterdir())
        assert len(classes) == n_classes
        assert all(len(list((sample_dir / library / c).glob("*.csv"))) == 1 for c in classes)
    assert "Cu-ETP" not in classes and "Cu-3" in classes


def test_train_reports_a_summary_and_saves_the_model(model, capsys):
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["classes"] == ["Al-1", "Al-2", "Al-3", "Al-4"] and meta["stored_half"] is True
    assert meta["preprocessing"]["discard"] == [[0, 104], [14000, 16384]]
    assert meta["training"]["steps_run"] == 3 and meta["training"]["config"]["counts"] == [
        1000, 20000]
    summary = json.loads(model.with_suffix(".train.json").read_text())
    assert summary["metrics"]["val_accuracy"] == meta["metrics"]["val_accuracy"]


def test_info_on_file_folder_and_model(sample_dir, model, capsys, tmp_path):
    capsys.readouterr()
    assert main(["spectrum", "info", str(sample_dir / "copper5" / "Cu-1" / "cu_1_0.csv")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["channels"] == 16384 and info["live_time_s"] > 0 and info["format"] == "csv"
    out = tmp_path / "info.json"
    assert main(["spectrum", "info", str(sample_dir / "copper5"), "--json", str(out)]) == 0
    folder = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in folder["classes"]] == ["Cu-1", "Cu-2", "Cu-3", "Cu-4", "Cu-5"]
    assert json.loads(out.read_text()) == folder
    assert main(["spectrum", "info", str(model.with_suffix(".json"))]) == 0
    assert json.loads(capsys.readouterr().out)["arch"] == "small_cnn"


def test_evaluate_writes_the_contract_json(sample_dir, model, capsys, tmp_path):
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["spectrum", "evaluate", "--model", str(model), "--data",
                 str(sample_dir / "aluminium4"), "--counts", "100,20000", "--draws", "3",
                 "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ML bound" in printed and "20000" in printed
    data = json.loads(out.read_text())
    assert data["classes"] == ["Al-1", "Al-2", "Al-3", "Al-4"]
    assert [r["counts"] for r in data["results"]] == [100, 20000]
    for row in data["results"]:
        assert row["n"] == 12 and 0 <= row["accuracy"] <= 1 and row["live_time_s"] > 0
        assert all(0 <= row[f"{m}_accuracy"] <= 1 for m in ("ml", "ncc", "chi2"))
    matrix = np.array(data["confusion"]["20000"]["counts"])
    assert matrix.shape == (4, 4) and matrix.sum(axis=1).tolist() == [3, 3, 3, 3]
    assert np.trace(matrix) == round(data["results"][1]["accuracy"] * 12)
    # the paper's rate for the aluminium set-up: 20000 counts ~ 1.11 s
    assert data["results"][1]["live_time_s"] == pytest.approx(1.11, rel=0.01)


def test_classify_files_and_short_draws(sample_dir, model, capsys, tmp_path):
    files = [str(sample_dir / "aluminium4" / c / f"{c.lower().replace('-', '_')}_0.csv")
             for c in ("Al-1", "Al-3")]
    out = tmp_path / "classify.json"
    capsys.readouterr()
    assert main(["spectrum", "classify", "--model", str(model), *files, "--counts", "5000",
                 "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("al_1_0.csv: ")
    data = json.loads(out.read_text())
    assert data["counts"] == 5000 and len(data["results"]) == 2
    first = data["results"][0]
    assert first["total_counts"] == 5000 and first["predicted"] in data["classes"]
    assert first["live_time_s"] == pytest.approx(5000 / 18018, rel=0.02)
    assert sum(t["probability"] for t in first["top"]) <= 1.0 + 1e-9
    assert main(["spectrum", "classify", "--model", str(model), files[0], "--json",
                 str(out)]) == 0
    assert json.loads(out.read_text())["results"][0]["total_counts"] > 1e8


def test_classify_reports_the_open_set_verdict(sample_dir, model, capsys, tmp_path):
    out = tmp_path / "verdict.json"
    own = sample_dir / "aluminium4" / "Al-1" / "al_1_0.csv"
    foreign = sample_dir / "materials12" / "PVC" / "pvc_0.csv"  # not an aluminium alloy
    assert main(["spectrum", "classify", "--model", str(model), str(own), str(foreign),
                 "--counts", "100000", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("pvc_0.csv: not in the library (closest: ")
    data = json.loads(out.read_text())
    assert data["alpha"] == 0.01
    own_row, foreign_row = data["results"]
    for row in (own_row, foreign_row):
        assert {"verdict", "in_library", "p_fit", "p_network", "called_by", "log_likelihood",
                "feature_distance", "reason", "energy_coverage"} <= set(row)
    assert own_row["in_library"] is True and foreign_row["in_library"] is False
    assert foreign_row["p_fit"] < 0.01 and foreign_row["verdict"].startswith("not in the")
    assert main(["spectrum", "classify", "--model", str(model), str(own), "--alpha", "2"]) == 2


def test_calibrate_sets_the_fallback_and_the_open_set(sample_dir, model, capsys, tmp_path):
    out = tmp_path / "recalibrated"
    assert main(["spectrum", "calibrate", "--model", str(model), "--data",
                 str(sample_dir / "aluminium4"), "--out", str(out), "--alpha", "0.05",
                 "--json", str(tmp_path / "cal.json")]) == 0
    printed = capsys.readouterr().out
    assert "calls: " in printed and "counts: network" in printed
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["open_set"]["alpha"] == 0.05 and meta["stored_half"] is True
    assert len(meta["metrics"]["hybrid"]["levels"]) == 10
    data = json.loads((tmp_path / "cal.json").read_text())
    assert data["fallback_counts"] == meta["fallback_counts"]
    assert main(["spectrum", "calibrate", "--model", str(model), "--data",
                 str(sample_dir / "copper5"), "--out", str(out)]) == 2


def test_live_single_file_and_statistics(sample_dir, model, capsys, tmp_path):
    out = tmp_path / "live.json"
    source = sample_dir / "aluminium4" / "Al-2" / "al_2_0.csv"
    assert main(["spectrum", "live", "--model", str(model), str(source), "--max-time", "0.5",
                 "--threshold", "0.5", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert len(data["times_s"]) == 5 and np.array(data["probabilities"]).shape == (5, 4)
    assert main(["spectrum", "live", "--model", str(model), "--data",
                 str(sample_dir / "aluminium4"), "--runs", "2", "--max-time", "0.2"]) == 0
    assert "median s" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["classify", "--model", "MODEL", "CUT"],
    ["evaluate", "--model", "MODEL", "--data", "COPPER"],
    ["evaluate", "--model", "MODEL", "--data", "EMPTY"],
    ["evaluate", "--model", "nowhere/missing", "--data", "COPPER"],
    ["train", "--data", "EMPTY", "--out", "m"],
    ["train", "--data", "COPPER", "--out", "m", "--counts", "ten"],
    ["train", "--data", "COPPER", "--out", "m", "--discard", "0-104"],
])
def test_bad_input_exits_2_with_one_line(args, sample_dir, model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    names = {"MODEL": str(model), "CUT": str(_truncated_spe(tmp_path)),
             "COPPER": str(sample_dir / "copper5"), "EMPTY": str(tmp_path / "empty")}
    capsys.readouterr()
    assert main(["spectrum", *[names.get(a, a) for a in args]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    if "COPPER" in args and "--model" in args and "MODEL" in args:
        assert "knows none of its classes (Cu-1, Cu-2" in err[0]


def test_script_exit_code_and_stderr_for_bad_files(tmp_path):
    empty = tmp_path / "no_classes"
    empty.mkdir()
    for args, expected in (
            (["info", str(_truncated_spe(tmp_path))], "error: cut.spe: $DATA declares 1000"),
            (["train", "--data", str(empty), "--out", str(tmp_path / "m")],
             "error: no_classes: no class sub-folders")):
        result = subprocess.run([sys.executable, "main.py", "spectrum", *args], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
        assert "Traceback" not in result.stderr


def test_classify_calls_a_real_foreign_spectrum_not_in_the_library(shared_spectra, capsys,
                                                                   tmp_path):
    """A real HPGe spectrum of activated pottery is none of the demo library's materials."""
    out = tmp_path / "pottery.json"
    assert main(["spectrum", "classify", "--model", "demo",
                 str(shared_spectra / "1110C NAA cave pottery.Spe"), "--json", str(out)]) == 0
    assert capsys.readouterr().out.startswith("1110C NAA cave pottery.Spe: not in the library "
                                              "(closest: ")
    row = json.loads(out.read_text())["results"][0]
    assert row["in_library"] is False and row["p_fit"] < 0.01
    assert row["verdict"].startswith("not in the library (closest: ")


def test_sample_files_per_class_reach_the_varied_library(tmp_path, monkeypatch):
    from engines.spectrum.synthetic import varied

    seen = []

    def fake(out, name, seed, variation=None):
        seen.append((name, seed, variation))
        yield from ()
        return Path(out) / name

    monkeypatch.setattr(varied, "iter_varied_library", fake)
    assert main(["spectrum", "sample", "--out", str(tmp_path), "--library", "mixed19",
                 "--files", "10:20", "--seed", "7"]) == 0
    assert seen[0][:2] == ("mixed19", 7)
    assert seen[0][2].files_per_class == (10, 20) == varied.REAL_SHAPE.files_per_class
    assert main(["spectrum", "sample", "--out", str(tmp_path), "--library", "mixed19"]) == 0
    assert seen[1][2] is None  # the library's own default
