"""The hybrid call: fallback level from the network and ML accuracies, the ML peer below it,
and the result saying who called."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.progress import drive
from engines.spectrum.analysis import analyze_spectra, classification_record
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.hybrid import fallback_level, iter_fit_fallback, leave_one_out
from engines.spectrum.models import create_model
from engines.spectrum.spectrum import Spectrum
from tests.engines.spectrum.test_evaluation import PREPROCESS, ml_network, similar_references


def test_fallback_level_is_above_the_last_level_where_the_network_trails():
    levels = np.array([100, 1000, 10_000, 100_000])
    assert fallback_level(levels, [0.9, 0.95, 0.99, 1.0], [0.9, 0.953, 0.99, 1.0]) is None
    assert fallback_level(levels, [0.1, 0.9, 0.99, 1.0], [0.9, 0.95, 0.99, 1.0]) == 10_000
    assert fallback_level(levels, [0.1, 0.99, 0.97, 1.0], [0.9, 0.95, 0.99, 1.0]) == 100_000
    assert fallback_level(levels, [0.1, 0.9, 0.9, 0.9], [0.9, 0.95, 0.99, 1.0]) == 1_000_000


def test_leave_one_out_templates_drop_the_file():
    kept = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = leave_one_out(kept, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(out, [[0, 1], [1, 0], [0.5, 0.5]])


def _untrained(references) -> SpectrumClassifier:
    model = create_model("small_cnn", references.n_classes, PREPROCESS.in_channels,
                         channels=(4,), kernels=(3,))
    model.classifier.bias.data[:] = 0.0
    model.classifier.weight.data[:] = 0.0  # always the same logits: chance
    return SpectrumClassifier(model, references.classes, references.grid, PREPROCESS,
                              references.templates(PREPROCESS))


def test_a_network_at_the_bound_needs_no_fallback_and_a_poor_one_falls_back():
    references = similar_references()
    exact = ml_network(references)
    level, table = drive(iter_fit_fallback(exact, references, levels=(30, 300, 3000), draws=60))
    assert level is None and len(table) == 3
    assert all(abs(r["network_accuracy"] - r["ml_accuracy"]) < 0.03 for r in table)
    poor = _untrained(references)
    level, table = drive(iter_fit_fallback(poor, references, levels=(30, 300, 3000), draws=60))
    assert level == 30_000 and table[-1]["ml_accuracy"] > 0.9


def test_below_the_fallback_the_ml_peer_calls_and_says_so():
    references = similar_references()
    poor = _untrained(references)
    poor.fallback_counts = 5000
    rng = np.random.default_rng(0)
    counts = rng.multinomial(2000, references.probabilities()[2], size=50).astype(float)
    assessment = poor.assess(counts)
    assert set(assessment.method) == {"ml"}
    np.testing.assert_array_equal(poor.predict(counts), poor.ml_logits(counts).argmax(axis=1))
    assert np.mean(poor.predict(counts) == 2) > 0.8
    assert np.all(poor.predict(counts, hybrid=False) == poor.predict(counts, hybrid=False)[0])
    spectrum = Spectrum(references.spectra[2], references.grid.calibration, name="c")
    [analysis] = drive(analyze_spectra(poor, [spectrum], short_counts=2000))
    assert analysis.method == "ml" and analysis.called_by == "ML peer (hybrid)"
    assert analysis.evidence_label.startswith("ML evidence: ")
    keep = poor.keep_mask
    top, second = np.argsort(analysis.probabilities)[::-1][:2]
    logs = np.log(poor.templates[[top, second]])
    assert np.nansum(analysis.cam) == pytest.approx(
        float(analysis.counts[keep] @ (logs[0] - logs[1])), rel=1e-4)
    record = classification_record(analysis)
    assert record["called_by"] == "ml" and record["in_library"] is None
    [above] = drive(analyze_spectra(poor, [spectrum], short_counts=20_000))
    assert above.method == "cnn"
