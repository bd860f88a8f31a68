"""Foreign materials come out "not in the library": on toy spectra always, and on the real gamma
spectra in ../shared/data/spectra with the bundled demo model (skipped when they are absent)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import ModelError
from engines.core.model import demo_model_path
from engines.core.progress import drive
from engines.spectrum.foreign import foreign_rejection, format_foreign
from engines.spectrum.spectrum import Spectrum
from tests.engines.spectrum.test_openset import _library, calibrated  # noqa: F401 (fixture)

REAL_CALIBRATED = ["01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf",
                   "1110C NAA cave background May 2017.spe", "1110C NAA cave pottery.Spe",
                   "Mendocino_07-10-13_Acq-10-10-13.Spe"]
REAL_UNCALIBRATED = ["SGM102432.spe", "nai_detector.spe"]


def _spectrum(counts: np.ndarray, grid, name: str, calibrated_: bool = True) -> Spectrum:
    return Spectrum(counts, grid.calibration, live_time_s=100.0, name=name,
                    metadata={"calibrated": calibrated_})


def test_foreign_toy_spectra_are_rejected_and_own_ones_accepted(calibrated):  # noqa: F811
    classifier, references = calibrated
    grid = references.grid
    foreign = _library(3, seed=7).probabilities()[[0, 2]] * 1e6  # peaks elsewhere
    own = references.probabilities()[[0]] * 1e6
    spectra = [_spectrum(foreign[0], grid, "a"), _spectrum(foreign[1], grid, "b"),
               _spectrum(own[0], grid, "own"), _spectrum(foreign[0], grid, "raw", False)]
    result = drive(foreign_rejection(classifier, spectra, levels=(1000, 5000), draws=30))
    assert list(result.refused) == ["raw"] and "no energy calibration" in result.refused["raw"]
    rows = {(r.file, r.counts): r for r in result.rows}
    for name in ("a", "b"):
        assert rows[name, None].rejected == 1.0 and rows[name, 5000].by_tests == 1.0
    assert rows["own", 5000].rejected < 0.2 and rows["own", None].rejected == 0.0
    assert rows["own", 5000].closest == references.classes[0]
    assert 0.6 < result.rejection_rate(5000) < 0.75  # 2 of 3 files foreign
    text = format_foreign(result)
    assert "raw" in text and "refused" in text and "rejected by the two tests" in text
    assert set(result.to_json()["rejection"]) == {"file", "1000", "5000"}
    classifier.open_set, saved = None, classifier.open_set
    try:
        with pytest.raises(ModelError, match="calibrate"):
            drive(foreign_rejection(classifier, spectra))
    finally:
        classifier.open_set = saved


def test_real_spectra_of_foreign_materials_are_not_in_the_library(shared_spectra):
    """None of the real HPGe spectra (a beach, a lead cave, pottery, kelp) is a PGNAA material
    of the demo library: every one, whole and at every count level, is "not in the library"."""
    from engines.spectrum.classifier import SpectrumClassifier
    from engines.spectrum.readers import read_spectrum

    path = demo_model_path("spectrum")
    if path is None:
        pytest.skip("bundled demo model not present; build it with `make demo-models`")
    classifier = SpectrumClassifier.load(path, "cpu")
    spectra = [read_spectrum(shared_spectra / name)
               for name in REAL_CALIBRATED + REAL_UNCALIBRATED]
    result = drive(foreign_rejection(classifier, spectra, levels=(100, 1000, 19650), draws=8))
    assert sorted(result.refused) == sorted(REAL_UNCALIBRATED)
    assert all(r.rejected == 1.0 for r in result.rows)
    whole = [r for r in result.rows if r.counts is None]
    assert len(whole) == 4 and all(r.by_tests == 1.0 and r.by_fit == 1.0 for r in whole)
    assert all(r.confidence > 0.99 for r in whole)  # what the bare call would have claimed
    assert result.rejection_rate(19650, tests_only=True) >= 0.9  # not by the coverage alone
