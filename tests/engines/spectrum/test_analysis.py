"""Analyze: classify opened spectra as recorded or as a short RSM-3 measurement, CSV table."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.spectrum.analysis import (
    analyze_spectra,
    model_counts,
    prediction_table,
    short_measurement,
)
from engines.spectrum.spectrum import Calibration, Spectrum
from tests.engines.spectrum.test_classifier import make_classifier


@pytest.fixture(scope="module")
def classifier():
    return make_classifier()


def _spectrum(counts: np.ndarray, calibration=(0.0, 10.0), **kwargs) -> Spectrum:
    return Spectrum(counts, Calibration(calibration), **kwargs)


def test_as_recorded_gives_probabilities_and_a_cam_on_the_kept_channels(classifier):
    counts = np.random.default_rng(1).poisson(20.0, 256).astype(float)
    reports = []
    [analysis] = drive(analyze_spectra(classifier, [_spectrum(counts, name="a")]), reports.append)
    assert len(reports) == 2 and reports[-1].fraction == 1.0
    assert analysis.probabilities.shape == (3,) and analysis.probabilities.sum() == pytest.approx(1)
    np.testing.assert_allclose(analysis.probabilities,
                               classifier.predict_proba(counts)[0], rtol=1e-6)
    assert analysis.predicted == classifier.classes[int(np.argmax(analysis.probabilities))]
    keep = classifier.keep_mask
    assert np.all(np.isfinite(analysis.cam[keep])) and np.all(np.isnan(analysis.cam[~keep]))
    assert analysis.edges_kev.shape == (257,) and analysis.short_counts is None
    assert analysis.mode == "as recorded" and analysis.total_counts == counts.sum()


def test_other_calibrations_are_rebinned_onto_the_model_grid(classifier):
    # 512 channels of 5 keV cover the same 0-2560 keV as the model's 256 channels of 10 keV
    fine = np.random.default_rng(2).poisson(10.0, 512).astype(float)
    counts = model_counts(classifier, _spectrum(fine, calibration=(-2.5, 5.0)))
    assert counts.shape == (256,)
    assert counts.sum() == pytest.approx(fine.sum(), rel=1e-9)


def test_a_short_measurement_has_k_counts_and_a_scaled_live_time(classifier):
    counts = np.full(256, 100.0)
    spectrum = _spectrum(counts, live_time_s=64.0, name="long")
    [a, b] = drive(analyze_spectra(classifier, [spectrum, spectrum], short_counts=640, seed=3))
    assert a.total_counts == 640 and b.total_counts == 640
    assert a.live_time_s == pytest.approx(64.0 * 640 / counts.sum())
    assert not np.array_equal(a.counts, b.counts)  # spectrum i uses seed + i
    assert a.mode == "RSM-3 draw of 640 counts (seed 3)" and b.seed == 4
    again, _ = short_measurement(counts, 640, None, seed=3)
    np.testing.assert_array_equal(again, a.counts)
    assert short_measurement(counts, 10, None)[1] is None
    with pytest.raises(InputError, match="counts"):
        short_measurement(counts, 0, None)


def test_unusable_spectra_are_input_errors_naming_them(classifier):
    uncalibrated = _spectrum(np.ones(256), metadata={"calibrated": False}, name="raw")
    with pytest.raises(InputError, match="raw: has no energy calibration"):
        drive(analyze_spectra(classifier, [uncalibrated]))
    far_away = _spectrum(np.ones(256), calibration=(1e5, 10.0), name="far")
    with pytest.raises(InputError, match="far: has no counts"):
        drive(analyze_spectra(classifier, [far_away]))


def test_prediction_table(classifier):
    analyses = drive(analyze_spectra(classifier, [_spectrum(np.full(256, 5.0), name="x")]))
    header, rows = prediction_table(analyses)
    assert header[:6] == ["file", "mode", "total_counts", "live_time_s", "predicted",
                          "confidence"]
    assert header[6:10] == ["called_by", "in_library", "p_fit", "p_network"]
    assert header[10:] == [f"p_{c}" for c in classifier.classes]
    assert rows[0][0] == "x" and rows[0][3] == "" and rows[0][4] in classifier.classes
    assert rows[0][6] == "cnn" and rows[0][7:10] == ["", "", ""]  # no open-set calibration
    assert sum(float(v) for v in rows[0][10:]) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InputError, match="no predictions"):
        prediction_table([])
    other = analyses[0].__class__(**{**analyses[0].__dict__, "classes": ["a", "b", "c"]})
    with pytest.raises(InputError, match="different classes"):
        prediction_table([analyses[0], other])
