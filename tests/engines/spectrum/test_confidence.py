"""Count-dependent confidence calibration."""

import numpy as np
import pytest

from engines.spectrum.confidence import CountTemperature, fit_count_temperature


def _draws(scale_of_k, n=6000, classes=4, seed=0):
    """Logits whose calibrated version is ``scale_of_k(k) * logits``; labels drawn from it."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    k = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n))
    calibrated = logits * scale_of_k(k)[:, None]
    p = np.exp(calibrated - calibrated.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = (p.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    return logits, labels, k


def test_recovers_a_linear_growth_of_confidence_with_counts():
    logits, labels, k = _draws(lambda k: 2.0 * k / 1e4)
    fitted = fit_count_temperature(logits, labels, k, k_ref=1e4)
    assert fitted.b == pytest.approx(1.0, abs=0.15)
    assert np.exp(fitted.a) == pytest.approx(2.0, rel=0.2)


def test_calibrated_logits_stay_near_identity():
    logits, labels, k = _draws(lambda k: np.ones_like(k), seed=1)
    fitted = fit_count_temperature(logits, labels, k, k_ref=1e4)
    assert abs(fitted.a) < 0.15 and abs(fitted.b) < 0.15


def test_scale_is_positive_so_the_call_never_changes():
    temperature = CountTemperature(a=0.3, b=0.9)
    logits = np.random.default_rng(2).normal(size=(50, 5))
    k = np.geomspace(10, 1e6, 50)
    assert np.array_equal(temperature.apply(logits, k).argmax(1), logits.argmax(1))
    assert CountTemperature.from_json(temperature.to_json()) == temperature
    assert CountTemperature.from_json(None) == CountTemperature()


def test_classifier_applies_and_stores_the_temperature(tmp_path):
    from engines.spectrum.classifier import SpectrumClassifier
    from tests.engines.spectrum.test_classifier import make_classifier

    classifier = make_classifier()
    counts = np.random.default_rng(0).poisson(3.0, (4, 256)).astype(np.float64)
    before = classifier.predict_proba(counts)
    classifier.temperature = CountTemperature(a=1.0, b=0.0)
    sharper = classifier.predict_proba(counts)
    assert np.array_equal(before.argmax(1), sharper.argmax(1))
    assert np.all(sharper.max(1) >= before.max(1) - 1e-12)
    np.testing.assert_allclose(classifier.cam(counts).probabilities, sharper, atol=1e-5)
    classifier.save(tmp_path / "m")
    loaded = SpectrumClassifier.load(tmp_path / "m")
    assert loaded.temperature == classifier.temperature
