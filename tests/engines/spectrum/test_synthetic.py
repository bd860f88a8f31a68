"""Synthetic PGNAA library: nuclear data, detector response, spectra, files and difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.spectrum.peers import peer_confusions
from engines.spectrum.spectrum import PAPER_CALIBRATION, PAPER_GRID
from engines.spectrum.synthetic import (
    LIBRARIES,
    expected_spectra,
    iter_sample_library,
    library_spec,
    write_sample_library,
)
from engines.spectrum.synthetic.detector import DetectorModel
from engines.spectrum.synthetic.materials import MATERIAL_LIBRARIES, mass_fractions
from engines.spectrum.synthetic.nuclear_data import ELEMENTS, element

EDGES = PAPER_GRID.edges


def _channel(energy_kev: float) -> int:
    return int(round(float(PAPER_CALIBRATION.channel(energy_kev))))


def _has_peak(spectrum: np.ndarray, energy_kev: float) -> bool:
    """A local maximum within 2 channels of the energy, standing above its surroundings."""
    ch = _channel(energy_kev)
    top = spectrum[ch - 2:ch + 3].max()
    return top > 1.5 * np.median(spectrum[ch - 40:ch + 40])


def test_nuclear_data_is_sane():
    for symbol, data in ELEMENTS.items():
        assert data.atomic_mass > 0 and data.sigma_b > 0, symbol
        assert all(0 < e < 11000 and 0 < y <= 1 for e, y in data.lines), symbol
    assert element("H").lines == ((2223.3, 1.0),)
    assert element("B").doppler_fwhm_kev == 15.0
    with pytest.raises(InputError, match="known elements"):
        element("Xx")


def test_formula_parser_and_compositions():
    water = mass_fractions({"H2O": 1.0})
    assert water["H"] == pytest.approx(2 * 1.008 / 18.015, rel=1e-3)
    with pytest.raises(InputError):
        mass_fractions({"H2O)": 1.0})
    with pytest.raises(InputError):
        mass_fractions({"Qq": 1.0})
    sizes = {"materials12": 12, "aluminium4": 4, "copper5": 5, "mixed19": 19}
    for name, materials in MATERIAL_LIBRARIES.items():
        assert len(materials) == sizes[name]
        for material in materials:
            assert sum(material.composition.values()) == pytest.approx(1.0)
    for name, major, least, most in (("aluminium4", "Al", 0.98, 0.01),
                                     ("copper5", "Cu", 0.93, 0.065)):
        compositions = [m.composition for m in MATERIAL_LIBRARIES[name]]
        assert all(c[major] >= least for c in compositions)
        for symbol in {s for c in compositions for s in c} - {major}:
            spread = max(c.get(symbol, 0) for c in compositions) - min(
                c.get(symbol, 0) for c in compositions)
            assert spread <= most, (name, symbol)  # same major element, small minor differences


def test_detector_resolution_and_single_line_response():
    detector = DetectorModel()
    assert detector.fwhm(1332.0) == pytest.approx(1.8, abs=0.05)
    assert detector.fwhm(7631.0) == pytest.approx(3.95, abs=0.05)
    assert detector.full_energy_efficiency(1332.0) > 3 * detector.full_energy_efficiency(7631.0)

    out = detector.response(np.array([1332.0]), np.array([1e6]), EDGES)
    assert out.sum() == pytest.approx(1e6 * detector.total_efficiency(1332.0), rel=1e-3)
    assert abs(int(np.argmax(out)) - _channel(1332.0)) <= 1
    assert out[_channel(1350.0):].sum() < 1e-6 * out.sum()  # nothing above the photopeak
    edge = 2 * 1332.0 ** 2 / (511.0 + 2 * 1332.0)  # Compton edge, 1118 keV
    assert out[_channel(edge - 20)] > 1.25 * out[_channel(edge + 60)]
    peak = out[_channel(1332.0) - 6:_channel(1332.0) + 7].sum()
    full = 1e6 * detector.full_energy_efficiency(1332.0)
    assert peak == pytest.approx(full, rel=0.05)

    high = detector.response(np.array([7631.0]), np.array([1e6]), EDGES)
    assert _has_peak(high, 7631.0 - 511.0) and _has_peak(high, 7631.0 - 1022.0)
    low = detector.response(np.array([900.0]), np.array([1e6]), EDGES)
    assert not _has_peak(low, 900.0 - 511.0)


def test_expected_spectra_carry_the_physics():
    names, spectra = expected_spectra("materials12")
    spec = library_spec("materials12")
    assert names == spec.class_names and spectra.shape == (12, 16384)
    np.testing.assert_allclose(spectra.sum(axis=1), spec.count_rate_cps * spec.live_time_s)
    for row in spectra:  # moderator hydrogen and annihilation in every spectrum
        assert _has_peak(row, 2223.3) and _has_peak(row, 511.0)
    soil, soil_hg = spectra[names.index("Soil-1")], spectra[names.index("Soil HgS inhomogeneous")]
    hg = _channel(368.1)
    assert soil_hg[hg] > 1.2 * soil[hg]
    assert abs(soil_hg[_channel(3000)] / soil[_channel(3000)] - 1) < 0.01
    pvc, cu = spectra[names.index("PVC")], spectra[names.index("Cu")]
    assert _has_peak(pvc, 1164.9) and _has_peak(pvc, 6110.8) and not _has_peak(cu, 1164.9)
    assert _has_peak(cu, 278.3) and _has_peak(cu, 7915.6)


def test_gain_drift_moves_peaks():
    names, nominal = expected_spectra("materials12")
    _, drifted = expected_spectra("materials12", gain_drift=1e-3)
    scrap = names.index("Scrap metal powder")
    window = slice(_channel(7600), _channel(7660))
    shift = np.argmax(drifted[scrap, window]) - np.argmax(nominal[scrap, window])
    assert shift == pytest.approx(7631.1e-3 / 0.704981, abs=1.5)
    with pytest.raises(InputError):
        expected_spectra("materials12", gain_drift=0.5)


def _read(path):
    lines = path.read_text().splitlines()
    comments = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    counts = np.array([float(line.split(",")[1]) for line in lines
                       if line and line[0] not in '#"'])
    return comments, counts


def test_write_sample_library_layout_and_reproducibility(tmp_path):
    root = write_sample_library(tmp_path / "a", "copper5", seed=3, measurements_per_class=2)
    spec = library_spec("copper5")
    assert root == tmp_path / "a" / "copper5"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.csv"))
    assert files == sorted(f"{m.name}/{m.slug}_{i}.csv" for m in spec.materials for i in (0, 1))
    comments, counts = _read(root / "Cu-1" / "cu_1_0.csv")
    assert counts.size == 16384 and np.all(counts == np.rint(counts))
    live = float(comments["live_time_s"])
    assert abs(live / spec.live_time_s - 1) <= 0.05
    assert counts.sum() == pytest.approx(spec.count_rate_cps * live, rel=1e-3)
    assert float(comments["real_time_s"]) > live
    assert comments["calibration_kev"].split() == ["2.0727", "0.704981"]
    _, other = _read(root / "Cu-1" / "cu_1_1.csv")
    assert not np.array_equal(counts, other)  # a second, independent measurement

    again = write_sample_library(tmp_path / "b", "copper5", seed=3, measurements_per_class=2)
    changed = write_sample_library(tmp_path / "c", "copper5", seed=4, measurements_per_class=2)
    name = "Cu-4/cu_4_1.csv"
    assert (root / name).read_bytes() == (again / name).read_bytes()
    assert (root / name).read_bytes() != (changed / name).read_bytes()


def test_materials12_writes_with_progress(tmp_path):
    task = iter_sample_library(tmp_path, "materials12")
    reports = []
    try:
        while True:
            reports.append(next(task))
    except StopIteration as stop:
        root = stop.value
    assert all(isinstance(r, Progress) for r in reports) and reports[-1].fraction == 1.0
    assert len(list(root.rglob("*.csv"))) == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["materials12"]  # no staging left


def test_a_cancelled_write_leaves_no_half_library(tmp_path):
    task = iter_sample_library(tmp_path, "copper5")
    for _ in range(4):
        next(task)
    task.close()  # what Cancel does at a yield
    assert list(tmp_path.iterdir()) == []
    # a later complete run next to an existing folder with a user's file keeps that file
    (tmp_path / "copper5").mkdir()
    (tmp_path / "copper5" / "notes.txt").write_text("mine")
    root = write_sample_library(tmp_path, "copper5", measurements_per_class=1)
    assert (root / "notes.txt").read_text() == "mine" and len(list(root.rglob("*.csv"))) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copper5"]


def test_bad_library_arguments(tmp_path):
    assert LIBRARIES == ("materials12", "aluminium4", "copper5")
    with pytest.raises(InputError, match="valid names"):
        expected_spectra("steel9")
    with pytest.raises(InputError):
        write_sample_library(tmp_path, "materials12", measurements_per_class=0)
    with pytest.raises(InputError):
        write_sample_library(tmp_path, "materials12", seed=-1)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        write_sample_library(blocker, "copper5", measurements_per_class=1)


def _ml_accuracy(library: str, counts: int, draws: int = 40) -> tuple[float, np.ndarray]:
    spec = library_spec(library)
    _, spectra = expected_spectra(library)
    kept = spectra[:, spec.kept]
    confusion = peer_confusions(kept, kept, counts, draws, np.random.default_rng(counts),
                                methods=("ml",))["ml"]
    return np.trace(confusion) / confusion.sum(), np.diag(confusion) / draws


def test_materials12_is_easy_at_the_paper_count_with_soils_hardest():
    accuracy, recall = _ml_accuracy("materials12", 19650)
    assert accuracy >= 0.98
    names = library_spec("materials12").class_names
    worst = names[int(np.argmin(recall))]
    assert worst in ("Soil-1", "Soil HgS inhomogeneous")


@pytest.mark.parametrize("library", ["aluminium4", "copper5"])
def test_alloys_need_far_more_counts(library):
    low, _ = _ml_accuracy(library, 20000)
    high, _ = _ml_accuracy(library, 500000)
    assert low < 0.95
    assert high >= 0.97
