"""``<workspace> batch``: a LocalCluster of 2 workers gives the single-process results, lists
failures without stopping, resumes, and its table has the contract's columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.cli import main
from engines.core.model import demo_model_path
from engines.spectrum.synthetic import write_sample_library


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch_inputs")
    write_sample_library(folder, "materials12", seed=5, measurements_per_class=1)
    (folder / "broken.spe").write_text("$SPEC_ID:\nnot a spectrum\n")
    return folder


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_batch_on_two_workers_matches_classify_and_resumes(inputs, tmp_path, capsys):
    if demo_model_path("spectrum") is None:
        pytest.skip("no bundled spectrum demo model")
    files = sorted(str(p) for p in inputs.rglob("*.csv"))[:6]
    single = tmp_path / "single.json"
    assert main(["spectrum", "classify", "--model", "demo", *files, "--json", str(single)]) == 0
    expected = {r["file"]: r for r in json.loads(single.read_text())["results"]}

    out = tmp_path / "out"
    subset = tmp_path / "subset"
    subset.mkdir()
    for name in files:  # the same six spectra plus the broken file, in one folder
        (subset / Path(name).name).write_bytes(Path(name).read_bytes())
    (subset / "broken.spe").write_bytes((inputs / "broken.spe").read_bytes())
    capsys.readouterr()
    assert main(["spectrum", "batch", "--model", "demo", "--inputs", str(subset), "--out",
                 str(out), "--workers", "2", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "6 analyzed, 1 failed, 0 done before" in printed
    rows = _rows(out)
    assert list(rows[0])[:3] == ["input", "status", "error"]
    assert {"predicted", "probability", "total_counts", "live_time_s"} <= set(rows[0])
    by_name = {Path(r["input"]).name: r for r in rows}
    assert by_name["broken.spe"]["status"] == "error"
    assert by_name["broken.spe"]["error"].startswith("broken.spe: ")
    for name, record in expected.items():
        row = by_name[Path(name).name]
        assert row["status"] == "ok" and row["predicted"] == record["predicted"]
        assert float(row["probability"]) == pytest.approx(record["probability"], abs=1e-6)
        assert float(row["total_counts"]) == pytest.approx(record["total_counts"])

    # a re-run skips what is done and retries only the failure
    assert main(["spectrum", "batch", "--model", "demo", "--inputs", str(subset), "--out",
                 str(out), "--workers", "1", "--device", "cpu"]) == 0
    assert "0 analyzed, 1 failed, 6 done before" in capsys.readouterr().out
    assert len(_rows(out)) == 7


def test_batch_without_inputs_or_with_a_dead_scheduler_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["spectrum", "batch", "--model", "demo", "--inputs", str(empty), "--out",
                 str(tmp_path / "o")]) == 2
    assert "no input files found" in capsys.readouterr().err
    (empty / "a.csv").write_text("Energy (keV),Counts\n1,2\n")
    assert main(["spectrum", "batch", "--model", "demo", "--inputs", str(empty), "--out",
                 str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
