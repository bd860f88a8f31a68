"""Sample core sets (DICOM series + manifest) and the batch job's per-core analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.core.batch import load_job, run_one
from engines.core.errors import InputError
from engines.core.progress import drive
from engines.core.samples import default_sample, sample_datasets
from engines.imaging.volume_io import read_volume
from engines.soil.samples import (
    MANIFEST,
    core_plan,
    is_complete,
    iter_write_core_set,
    read_manifest,
)
from engines.soil.synthetic import generate_core

from .conftest import TINY


@pytest.fixture(scope="module")
def core_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soil") / "cores"
    return drive(iter_write_core_set(folder, cores=2, seed=3, config=TINY))


def test_core_set_is_dicom_series_with_a_manifest(core_set):
    assert sorted(p.name for p in core_set.iterdir()) == [
        "core01_forest", "core02_grassland", MANIFEST]
    assert is_complete(core_set)
    entry = read_manifest(core_set)["cores"][1]
    assert entry["site"] == "grassland" and entry["seed"] == 3001
    volume = read_volume(core_set / "core02_grassland")
    assert volume.modality == "CT"
    assert volume.spacing_xyz == pytest.approx((0.351, 0.351, 0.25))
    again = drive(generate_core("grassland", 3001, TINY))  # the manifest regenerates it
    np.testing.assert_array_equal(volume.array, again.volume.array)
    import pydicom

    first = sorted((core_set / "core01_forest").iterdir())[0]
    ds = pydicom.dcmread(first)
    assert ds.RescaleType == "HU" and float(ds.RescaleIntercept) == -1024.0


def test_core_set_target_is_checked(tmp_path, core_set):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="^other: exists and is not a synthetic core set"):
        drive(iter_write_core_set(tmp_path / "other", 1, 0, TINY))
    with pytest.raises(InputError, match="--cores"):
        core_plan(0, 0)
    assert not is_complete(tmp_path / "other")


def test_sample_registry():
    datasets = sample_datasets("soil")
    assert [d.name for d in datasets] == ["cores6"] and default_sample("soil").name == "cores6"


def test_batch_row_matches_analyze(core_set, tmp_path):
    job = load_job("engines.soil.batch:JOB")
    assert job.find(core_set) == [core_set / "core01_forest", core_set / "core02_grassland"]
    row = run_one("engines.soil.batch:JOB", "none", "cpu", str(core_set / "core01_forest"),
                  str(tmp_path))
    assert row["status"] == "ok", row["error"]
    report = json.loads((tmp_path / "core01_forest.json").read_text())
    assert {k: row[k] for k in report["porosity"]} == report["porosity"]
    assert row["crop"] == report["crop"] and (tmp_path / "core01_forest_profile.csv").is_file()
    bad = run_one("engines.soil.batch:JOB", "none", "cpu", str(tmp_path / "missing"),
                  str(tmp_path))
    assert bad["status"] == "error" and bad["error"].startswith("missing")


def test_batch_with_a_model(core_set, tmp_path):
    from engines.soil.models import SoilSurrogate, create_model

    SoilSurrogate(create_model("vgg_light", 32), 4).save(tmp_path / "m")
    row = run_one("engines.soil.batch:JOB", str(tmp_path / "m"), "cpu",
                  str(core_set / "core02_grassland"), str(tmp_path))
    assert row["status"] == "ok" and 0 <= row["model_rmse_object4"] < 10
