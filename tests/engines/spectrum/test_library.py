"""Dataset folders ``DIR/<material>/<spectra>``: loading, templates, count rates, summaries."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.spectrum.library import iter_load_library, load_library, summarize
from engines.spectrum.readers import write_csv, write_n42, write_spe
from engines.spectrum.spectrum import PAPER_GRID, Calibration, EnergyGrid, Spectrum

GRID = EnergyGrid(Calibration((0.0, 1.0)), 100)  # 1 keV channels, -0.5 .. 99.5 keV


def _spectrum(peak_kev: float, total: float = 1000.0, live: float | None = 10.0) -> Spectrum:
    channels = np.arange(120)
    shape = np.exp(-0.5 * ((channels - peak_kev) / 2.0) ** 2)
    return Spectrum(np.round(total * shape / shape.sum()), Calibration((0.0, 1.0)),
                    live_time_s=live, real_time_s=live)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "materials"
    for name in ("water", "steel", "zinc"):
        (root / name).mkdir(parents=True)
    write_csv(root / "steel" / "run1.csv", _spectrum(30, live=10.0))
    write_spe(root / "steel" / "run2.Spe", _spectrum(30, live=30.0))
    write_n42(root / "water" / "long.n42", _spectrum(60, live=None))
    write_csv(root / "zinc" / "a.csv", _spectrum(80, live=5.0))
    (root / "zinc" / "notes.md").write_text("not a spectrum")
    (root / "zinc" / ".hidden.csv").write_text("garbage")
    (root / ".cache").mkdir()
    return root


def test_load_library(dataset):
    library = load_library(dataset, GRID)
    assert library.classes == ["steel", "water", "zinc"]
    assert library.spectra.shape == (4, 100) and library.spectra.dtype == np.float64
    assert library.labels.tolist() == [0, 0, 1, 2] and library.labels.dtype == np.int64
    assert [f.name for f in library.files] == ["run1.csv", "run2.Spe", "long.n42", "a.csv"]
    np.testing.assert_array_equal(library.live_times[[0, 1, 3]], [10.0, 30.0, 5.0])
    assert np.isnan(library.live_times[2])
    assert np.argmax(library.spectra[2]) == 60


def test_templates_and_count_rates(dataset):
    library = load_library(dataset, GRID)
    templates = library.class_templates()
    assert templates.shape == (3, 100)
    np.testing.assert_allclose(templates.sum(axis=1), 1.0)
    steel = library.spectra[0] + library.spectra[1]
    np.testing.assert_allclose(templates[0], steel / steel.sum())
    assert library.count_rate(0) == pytest.approx(steel.sum() / 40.0)
    assert library.count_rate(1) is None  # no live time in the water file
    with pytest.raises(InputError, match="out of range"):
        library.count_rate(3)


def test_subset(dataset):
    library = load_library(dataset, GRID)
    part = library.subset([3, 0])
    assert part.classes == library.classes and part.grid == GRID
    assert part.labels.tolist() == [2, 0]
    np.testing.assert_array_equal(part.spectra, library.spectra[[3, 0]])
    assert [f.name for f in part.files] == ["a.csv", "run1.csv"]


def test_progress_per_file(dataset):
    task = iter_load_library(dataset, GRID)
    reports = []
    while True:
        try:
            reports.append(next(task))
        except StopIteration as stop:
            library = stop.value
            break
    assert all(isinstance(r, Progress) for r in reports)
    assert len(reports) == len(library.files) + 1
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "steel/run1.csv" in reports[0].message


def test_default_grid_is_the_paper_grid(tmp_path):
    (tmp_path / "d" / "a").mkdir(parents=True)
    write_csv(tmp_path / "d" / "a" / "x.csv", Spectrum(np.ones(50), Calibration((100.0, 2.0))))
    library = load_library(tmp_path / "d")
    assert library.grid == PAPER_GRID and library.spectra.shape == (1, 16384)
    assert library.spectra.sum() == pytest.approx(50.0)


@pytest.mark.parametrize(("layout", "message"), [
    ("missing", "dataset folder not found"),
    ("file", "not a folder"),
    ("flat", "no class sub-folders"),
    ("empty_class", "steel: class folder holds no spectrum files"),
    ("bad_file", "broken.csv: no energy column"),
    ("outside_grid", "far.csv: no counts inside the energy grid"),
    ("uncalibrated", "raw.spe: has no energy calibration"),
])
def test_errors(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout == "file":
        root.write_text("x")
    elif layout != "missing":
        root.mkdir()
    if layout == "flat":
        write_csv(root / "loose.csv", _spectrum(30))
    if layout in ("empty_class", "bad_file", "outside_grid", "uncalibrated"):
        (root / "steel").mkdir()
    if layout == "bad_file":
        (root / "steel" / "broken.csv").write_text("Counts\n1\n2\n")
    if layout == "outside_grid":
        write_csv(root / "steel" / "far.csv", Spectrum(np.ones(10), Calibration((500.0, 1.0))))
    if layout == "uncalibrated":
        (root / "steel" / "raw.spe").write_text("$SPEC_ID:\nx\n$DATA:\n0 2\n1\n2\n3\n")
    with pytest.raises(InputError, match=message):
        load_library(root, GRID)


def test_summarize_file(dataset):
    summary = summarize(dataset / "steel" / "run2.Spe")
    json.dumps(summary)
    assert summary["format"] == "spe" and summary["channels"] == 120
    assert summary["calibration_kev"] == [0.0, 1.0]
    assert summary["energy_range_kev"] == [-0.5, 119.5]
    assert summary["live_time_s"] == 30.0 and summary["real_time_s"] == 30.0
    assert summary["count_rate_cps"] == pytest.approx(summary["total_counts"] / 30.0)


def test_summarize_folder(dataset):
    summary = summarize(dataset)
    json.dumps(summary)
    assert summary["files"] == 4
    by_name = {c["name"]: c for c in summary["classes"]}
    assert list(by_name) == ["steel", "water", "zinc"]
    assert by_name["steel"]["files"] == 2 and by_name["steel"]["live_time_s"] == 40.0
    assert by_name["water"]["live_time_s"] is None
    assert by_name["zinc"]["total_counts"] == pytest.approx(1000.0, abs=2)


@pytest.mark.needs_shared
def test_summarize_real_uncalibrated_file(shared_spectra):
    summary = summarize(shared_spectra / "nai_detector.spe")
    json.dumps(summary)
    assert summary["channels"] == 1001 and summary["calibration_kev"] is None
    assert summary["count_rate_cps"] == pytest.approx(398163 / 3600)
