"""Classical template classifiers: hand-checked scores, robustness, and ML beating NCC."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.peers import (
    PEER_METHODS,
    chi2_scores,
    ml_scores,
    ncc_scores,
    peer_confusions,
    peer_predict,
    peer_scores,
)

TEMPLATES = np.array([[0.50, 0.25, 0.25],
                      [0.25, 0.50, 0.25]])


def test_ml_scores_by_hand():
    counts = np.array([[2, 0, 1], [0, 3, 0]])
    expected = np.array([[2 * np.log(0.5) + np.log(0.25), 3 * np.log(0.25)],
                         [3 * np.log(0.25), 3 * np.log(0.5)]])
    np.testing.assert_allclose(ml_scores(counts, TEMPLATES), expected)
    assert peer_predict("ml", counts, TEMPLATES).tolist() == [0, 1]


def test_ml_floor_keeps_empty_template_channels_finite():
    templates = np.array([[1.0, 0.0], [0.5, 0.5]])
    scores = ml_scores(np.array([[5, 1]]), templates, floor=1e-9)
    assert np.all(np.isfinite(scores))
    assert scores[0, 0] == pytest.approx(np.log(1e-9))
    assert peer_predict("ml", np.array([[5, 1]]), templates)[0] == 1
    assert peer_predict("ml", np.array([[5, 0]]), templates)[0] == 0


def test_templates_given_as_counts_are_normalised():
    counts = np.array([[4, 1, 2]])
    for method in PEER_METHODS:
        np.testing.assert_allclose(peer_scores(method, counts, TEMPLATES * 1000),
                                   peer_scores(method, counts, TEMPLATES))


def test_ncc_is_pearson_correlation():
    rng = np.random.default_rng(0)
    counts = rng.poisson(20, size=(4, 30)).astype(float)
    templates = rng.random((3, 30))
    expected = np.array([[np.corrcoef(c, t)[0, 1] for t in templates] for c in counts])
    np.testing.assert_allclose(ncc_scores(counts, templates), expected, atol=1e-12)
    assert ncc_scores(np.array([[1, 2, 3]]), np.array([[3, 2, 1]]))[0, 0] == pytest.approx(-1)
    assert ncc_scores(np.array([[2, 2, 2]]), TEMPLATES).tolist() == [[0.0, 0.0]]


def test_chi2_matches_mighell_loop_and_handles_zero_counts():
    rng = np.random.default_rng(1)
    counts = rng.poisson(1.5, size=(5, 12)).astype(float)
    counts[0] = 0.0
    templates = rng.random((2, 12))
    templates[1, 3] = 0.0
    templates /= templates.sum(axis=1, keepdims=True)
    expected = np.zeros((5, 2))
    for b, n in enumerate(counts):
        for c, p in enumerate(templates):
            e = n.sum() * p
            expected[b, c] = -np.sum((n + np.minimum(n, 1) - e) ** 2 / (n + 1))
    np.testing.assert_allclose(chi2_scores(counts, templates), expected, rtol=1e-10, atol=1e-10)
    assert np.all(np.isfinite(chi2_scores(counts, templates)))


@pytest.mark.parametrize("method", PEER_METHODS)
def test_noiseless_spectra_are_recognised(method):
    templates = np.array([[0.6, 0.2, 0.1, 0.1], [0.1, 0.1, 0.2, 0.6], [0.2, 0.4, 0.3, 0.1]])
    assert peer_predict(method, 1000 * templates, templates).tolist() == [0, 1, 2]


def test_ml_beats_ncc_when_templates_differ_by_relative_amplitude():
    # Each template is a peak on a flat continuum; only the peak fraction differs (90 % vs 80 %).
    # Pearson correlation is blind to offset and scale, so NCC cannot tell them apart;
    # the likelihood uses the peak-to-continuum ratio and nearly always can at 200 counts.
    n = 50
    templates = np.empty((2, n))
    for row, peak in enumerate((0.9, 0.8)):
        templates[row] = (1 - peak) / (n - 1)
        templates[row, 0] = peak
    result = peer_confusions(templates, templates, counts=200, draws_per_class=500,
                             rng=np.random.default_rng(7), methods=("ml", "ncc"))
    accuracy = {m: np.trace(c) / c.sum() for m, c in result.items()}
    assert accuracy["ml"] > 0.95
    assert accuracy["ncc"] < 0.65


def test_peer_confusions_shape_and_totals():
    result = peer_confusions(TEMPLATES, TEMPLATES * 10, counts=2000, draws_per_class=20,
                             rng=np.random.default_rng(3))
    assert set(result) == set(PEER_METHODS)
    for confusion in result.values():
        assert confusion.shape == (2, 2) and confusion.sum(axis=1).tolist() == [20, 20]
        assert np.trace(confusion) == 40


def test_bad_input_raises_input_error():
    with pytest.raises(InputError, match="valid names"):
        peer_scores("svm", np.ones((1, 3)), TEMPLATES)
    with pytest.raises(InputError):
        peer_scores("ml", np.ones((1, 4)), TEMPLATES)
    with pytest.raises(InputError):
        peer_scores("ncc", -np.ones((1, 3)), TEMPLATES)
    with pytest.raises(InputError):
        peer_scores("chi2", np.ones((1, 3)), np.zeros((2, 3)))
    with pytest.raises(InputError):
        peer_confusions(TEMPLATES, np.ones((3, 3)), counts=10, draws_per_class=2,
                        rng=np.random.default_rng(0))


def test_peer_confusions_rows_are_the_true_class():
    """An asymmetric, imperfect case: single-count draws from a flat template land in the
    narrow template's only channel 1 time in 8 and are then called "narrow"; draws from the
    narrow template are never called "flat". Rows are the true class, columns the prediction."""
    flat, narrow = np.full(8, 1 / 8), np.r_[1.0, np.zeros(7)]
    templates = np.array([flat, narrow])
    result = peer_confusions(templates, templates, counts=1, draws_per_class=800,
                             rng=np.random.default_rng(5), methods=("ml",))["ml"]
    assert result.sum(axis=1).tolist() == [800, 800]
    assert result[1].tolist() == [0, 800]  # narrow draws: always right
    assert 60 < result[0, 1] < 140  # flat draws called narrow: about 100 of 800
