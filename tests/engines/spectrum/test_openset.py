"""Open set: deviance, calibrated p-values per count level, the feature model, AUROC and
false accepts, and the classifier's "not in the library" verdict end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.core.errors import ModelError
from engines.core.progress import drive
from engines.spectrum.evaluation import EvaluateConfig, evaluate
from engines.spectrum.openset import (
    NullModel,
    OpenSet,
    auroc,
    cumulants,
    false_accept_at,
    fit_log_p,
    log_likelihood,
    nearest_mahalanobis,
    smooth,
    smoothing_weights,
    tied_gaussian,
)
from engines.spectrum.openset_calibration import (
    between_file_spread,
    iter_calibrate_open_set,
    leave_one_out_templates,
)
from engines.spectrum.references import ReferenceSet
from tests.engines.spectrum.test_evaluation import PREPROCESS, ml_network
from tests.engines.spectrum.toy_references import gaussian_references


def test_cumulants_are_those_of_the_log_probability_of_a_draw():
    template = np.array([[0.5, 0.25, 0.25]])
    mean, kappa2, kappa3 = cumulants(template)
    values = np.log([0.5, 0.25, 0.25])
    assert mean[0] == pytest.approx(np.dot(template[0], values))
    assert kappa2[0] == pytest.approx(np.dot(template[0], (values - mean[0]) ** 2))
    assert kappa3[0] == pytest.approx(np.dot(template[0], (values - mean[0]) ** 3))
    assert log_likelihood(np.array([[2.0, 1.0, 0.0]]), template)[0, 0] == pytest.approx(
        2 * np.log(0.5) + np.log(0.25))


def test_smoothing_keeps_rows_normalised_and_vanishes_with_many_counts():
    weights = smoothing_weights(np.array([1e3, 1e9]), 100)
    assert weights[0] > 1e3 * weights[1] and weights[1] < 1e-6
    smoothed = smooth(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0.1, 0.1]))
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0)
    assert smoothed[0, 1] == pytest.approx(0.05)


def test_null_model_interpolates_log_log_and_extrapolates():
    null = NullModel(np.array([100.0, 1000.0]), np.array([[10.0, 100.0]]),
                     np.array([[20.0, 200.0]]))
    # mean ~ k: at k = 10 000 the extrapolated mean is 1000; a value at the mean has p ~ 0.5
    log_p = null.log_p(np.array([1000.0, 5000.0]), np.array([10_000.0, 10_000.0]), 0)
    assert np.exp(log_p[0]) == pytest.approx(0.5, abs=0.05) and np.exp(log_p[1]) < 1e-10
    with pytest.raises(ModelError):
        NullModel(np.array([100.0, 50.0]), np.ones((1, 2)), np.ones((1, 2)))


@pytest.mark.parametrize("k", [10, 100, 300, 3000, 100_000])
def test_fit_p_values_are_uniform_for_draws_from_the_template_at_every_count_level(k):
    rng = np.random.default_rng(k)
    template = rng.dirichlet(np.full(400, 2.0))[None, :]
    mean, kappa2, kappa3 = cumulants(template)
    draws = rng.multinomial(k, template[0], size=4000).astype(float)
    p = np.exp(fit_log_p(log_likelihood(draws, template)[:, 0], np.full(4000, k),
                         mean[0], kappa2[0], kappa3[0], 0.0))
    assert 0.035 < np.mean(p < 0.05) < 0.065 and 0.004 < np.mean(p < 0.01) < 0.018
    assert 0.47 < np.median(p) < 0.53


def test_between_file_spread_widens_the_null_for_files_that_differ():
    rng = np.random.default_rng(3)
    base = rng.dirichlet(np.full(300, 2.0))
    files = [base * np.exp(rng.normal(0, 0.05, 300)) for _ in range(4)]
    kept = np.array([f / f.sum() * 1e7 for f in files])
    spread = between_file_spread(kept, np.zeros(4, int), 1)
    assert spread[0] > 0
    # a fifth file: rejected at 10^6 counts by counting noise alone, accepted with the spread
    new = base * np.exp(rng.normal(0, 0.05, 300))
    template = smooth(kept.mean(axis=0, keepdims=True) / 1e7, smoothing_weights(4e7, 300))
    counts = rng.multinomial(1_000_000, new / new.sum()).astype(float)[None]
    mean, kappa2, kappa3 = cumulants(template)
    value = log_likelihood(counts, template)[:, 0]
    assert fit_log_p(value, 1e6, mean, kappa2, kappa3, 0.0)[0] < np.log(1e-6)
    assert fit_log_p(value, 1e6, mean, kappa2, kappa3, spread)[0] > np.log(0.01)


def test_auroc_and_false_accepts_at_95_percent_true_accepts():
    inside, outside = np.arange(100.0), np.arange(100.0) - 1000
    assert auroc(inside, outside) == 1.0 and auroc(outside, inside) == 0.0
    assert auroc(np.zeros(10), np.zeros(10)) == 0.5
    assert false_accept_at(inside, outside) == 0.0
    assert false_accept_at(inside, inside) == 0.95
    assert np.isnan(auroc(inside, np.zeros(0)))


def test_tied_gaussian_distance_is_the_mahalanobis_distance():
    rng = np.random.default_rng(1)
    features = np.r_[rng.normal(0, 1, (500, 3)), rng.normal(5, 1, (500, 3))]
    labels = np.repeat([0, 1], 500)
    means, precision = tied_gaussian(features, labels, 2)
    np.testing.assert_allclose(means, [[0] * 3, [5] * 3], atol=0.2)
    d = nearest_mahalanobis(np.array([[0.0, 0, 0], [5, 5, 5], [2.5, 2.5, 2.5]]), means, precision)
    assert d[0] < 0.2 and d[1] < 0.2 and d[2] == pytest.approx(3 * 2.5 ** 2, rel=0.2)


def test_leave_one_out_templates_exclude_the_file():
    kept = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    loo, left_out = leave_one_out_templates(kept, np.array([0, 0, 1]), 2)
    assert loo[0, 1] > 0.9 and loo[1, 0] > 0.9  # each from the other file of class 0
    assert loo[2] == pytest.approx([0.5, 0.5], abs=0.01)  # a single file: its own template
    assert left_out.tolist() == [True, True, False]


def _library(n_classes: int, seed: int) -> ReferenceSet:
    refs = gaussian_references(n_classes, 128, refs_per_class=2, seed=seed)
    return ReferenceSet(refs.classes, refs.grid, refs.spectra, refs.labels)


@pytest.fixture(scope="module")
def calibrated():
    """An exact-ML network on 3 classes with its open set calibrated on 2 files per class."""
    references = _library(3, seed=0)
    classifier = ml_network(references)
    classifier.open_set = drive(iter_calibrate_open_set(
        classifier, references, (1000, 10_000), levels=(100, 300, 1000, 3000, 10_000, 100_000)))
    return classifier, references


def test_in_library_draws_are_accepted_and_foreign_spectra_are_not(calibrated):
    classifier, references = calibrated
    rng = np.random.default_rng(5)
    keep = classifier.keep_mask
    own = rng.multinomial(5000, references.probabilities()[[0, 2, 4]], size=(40, 3))
    own = own.reshape(-1, keep.size).astype(float)
    scores = classifier.assess(own).open_set
    assert scores.in_library.mean() > 0.9 and (scores.fit_class == np.tile([0, 1, 2], 40)).all()
    foreign = _library(3, seed=7).probabilities()  # peaks elsewhere
    draws = rng.multinomial(5000, foreign[[0, 2]], size=(20, 2)).reshape(-1, keep.size)
    scores = classifier.assess(draws.astype(float)).open_set
    assert not scores.in_library.any() and np.all(scores.p_fit < 1e-6)
    row = scores.row(0)
    assert row["in_library"] is False and set(row) == {"in_library", "p_fit", "p_network",
                                                       "log_likelihood", "feature_distance"}


def test_open_set_survives_save_and_load(tmp_path):
    from engines.spectrum.classifier import SpectrumClassifier
    from engines.spectrum.models import create_model

    references = _library(3, seed=0)
    model = create_model("small_cnn", 3, PREPROCESS.in_channels, channels=(4, 8),
                         kernels=(5, 3), stem_stride=2)
    classifier = SpectrumClassifier(model, references.classes, references.grid, PREPROCESS,
                                    references.templates(PREPROCESS))
    classifier.open_set = drive(iter_calibrate_open_set(classifier, references, (1000, 10_000),
                                                        levels=(100, 1000, 10_000)))
    path = classifier.save(tmp_path / "model")
    loaded = SpectrumClassifier.load(path)
    assert loaded.open_set is not None and loaded.open_set.has_network
    counts = np.random.default_rng(2).multinomial(3000, references.probabilities()[1],
                                                  size=4).astype(float)
    a, b = classifier.assess(counts).open_set, loaded.assess(counts).open_set
    np.testing.assert_allclose(a.log_p_fit, b.log_p_fit, rtol=1e-5)
    np.testing.assert_allclose(a.log_p_network, b.log_p_network, rtol=1e-3, atol=1e-3)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["open_set"]["alpha"] == 0.01 and len(meta["open_set"]["spread"]) == 3
    with pytest.raises(ModelError):
        OpenSet(np.full(2, 0.1), np.ones(3))  # 2 weights for 3 spreads


def test_evaluation_measures_held_out_classes_as_out_of_library(calibrated):
    classifier, references = calibrated
    others = _library(2, seed=11)
    data = ReferenceSet([*references.classes, "foreign-0", "foreign-1"], references.grid,
                        np.r_[references.spectra, others.spectra],
                        np.r_[references.labels, others.labels + 3])
    result = drive(evaluate(classifier, data, EvaluateConfig(counts=(100, 3000),
                                                             draws_per_class=60, peers=("ml",))))
    assert result.unknown_classes == ["foreign-0", "foreign-1"]
    low, high = (level.open_set for level in result.levels)
    assert high["n_in"] == 180 and high["n_out"] == 120
    assert high["auroc"] > 0.99 and high["false_accept_at_95"] < 0.05
    assert high["true_accept"] > 0.9 and high["false_accept"] < 0.05
    assert low["auroc"] <= high["auroc"]
    assert result.levels[1].accuracy == pytest.approx(result.levels[1].peer_accuracy("ml"),
                                                      abs=0.02)
    assert "out of the library: foreign-0, foreign-1" in __import__(
        "engines.spectrum.evaluation", fromlist=["format_table"]).format_table(result)


def test_models_without_open_set_stay_silent(calibrated):
    classifier, references = calibrated
    plain = ml_network(references, PREPROCESS)
    assert plain.assess(references.spectra[:1]).open_set is None
    assert classifier.assess(references.spectra[:1]).open_set is not None
