"""Classical template classifiers, the peers of the CNN (paper Sec. V) and its physical bound.

All methods compare a batch of measured spectra with one template per class on the same kept
channels and return scores where higher is better:

* ``"ml"`` - multinomial maximum likelihood, ``counts . log(template)``. For a measurement
  drawn from one of known templates it is the optimal (Bayes, equal priors) classifier: the
  bound a learned model can approach but not beat.
* ``"ncc"`` - normalised cross-correlation (Pearson correlation of counts and template).
* ``"chi2"`` - chi-squared template matching, returned as ``-chi2``. Expected counts are
  ``total * template``; the variance is Mighell's (ApJ 518, 380, 1999) ``chi2_gamma`` form
  ``sum (n + min(n, 1) - e)**2 / (n + 1)``, well defined for zero counts and zero templates.

Each score is a few matrix products, so a (B, n) batch against (C, n) templates costs
O(B * C * n) with no (B, C, n) temporaries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engines.core.errors import InputError
from engines.core.metrics import confusion_matrix
from engines.core.registry import lookup

PEER_METHODS: tuple[str, ...] = ("ml", "ncc", "chi2")
DEFAULT_FLOOR = 1e-12


def _check(counts: np.ndarray, templates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    templates = np.atleast_2d(np.asarray(templates, dtype=np.float64))
    if counts.ndim != 2 or templates.ndim != 2 or counts.shape[1] != templates.shape[1]:
        raise InputError(f"counts (B, n) and templates (C, n) must share n channels, got "
                         f"{counts.shape} and {templates.shape}")
    if not (np.all(np.isfinite(counts)) and np.all(np.isfinite(templates))):
        raise InputError("counts and templates must be finite")
    if np.any(counts < 0) or np.any(templates < 0):
        raise InputError("counts and templates must be non-negative")
    totals = templates.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise InputError("every template needs a positive total on the kept channels")
    return counts, templates / totals


def ml_scores(counts: np.ndarray, templates: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """Multinomial log-likelihood ``sum_i n_i log p_ci`` (the constant term omitted).

    ``floor`` (a probability) keeps empty template channels finite: ``log(max(p, floor))``.
    """
    counts, templates = _check(counts, templates)
    return counts @ np.log(np.maximum(templates, floor)).T


def ncc_scores(counts: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Pearson correlation between each measured spectrum and each template, in [-1, 1].

    A constant spectrum or template (no variance) scores 0.
    """
    counts, templates = _check(counts, templates)
    x = counts - counts.mean(axis=1, keepdims=True)
    y = templates - templates.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(y, axis=1)[None, :]
    return np.divide(x @ y.T, norms, out=np.zeros((x.shape[0], y.shape[0])), where=norms > 0)


def chi2_scores(counts: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Minus Mighell's chi-squared of each spectrum against each scaled template.

    With ``a = n + min(n, 1)``, ``w = n + 1`` and ``e = N p`` (``N`` = total counts):
    ``chi2 = sum a^2/w - 2 N (a/w) . p + N^2 (1/w) . p^2``.
    """
    counts, templates = _check(counts, templates)
    a = counts + np.minimum(counts, 1.0)
    inv_w = 1.0 / (counts + 1.0)
    total = counts.sum(axis=1, keepdims=True)
    chi2 = ((a * a * inv_w).sum(axis=1, keepdims=True)
            - 2.0 * total * ((a * inv_w) @ templates.T)
            + total ** 2 * (inv_w @ (templates ** 2).T))
    return -chi2


_SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ml": ml_scores, "ncc": ncc_scores, "chi2": chi2_scores}


def peer_scores(method: str, counts: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Scores (B, C), higher is better, of (B, n) counts against (C, n) templates.

    Templates may be counts or probabilities: each row is normalised to sum 1.
    """
    return lookup(_SCORERS, method, "peer method")(counts, templates)


def peer_predict(method: str, counts: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Predicted class index per spectrum, (B,) int64 (argmax of :func:`peer_scores`)."""
    return np.argmax(peer_scores(method, counts, templates), axis=1).astype(np.int64)


def peer_confusions(templates: np.ndarray, sources: np.ndarray, counts: int,
                    draws_per_class: int, rng: np.random.Generator,
                    methods: tuple[str, ...] = PEER_METHODS,
                    batch: int = 256) -> dict[str, np.ndarray]:
    """Confusion matrices of peer methods on RSM-3 draws of ``counts`` events.

    Parameters
    ----------
    templates
        (C, n) class templates (counts or probabilities) on the kept channels.
    sources
        (C, n) spectra the test measurements are drawn from (e.g. held-out measurements of
        the same classes), on the same channels; row ``c`` is class ``c``.
    counts
        Counts per test measurement (>= 1).
    draws_per_class
        Test measurements per class (>= 1).

    Returns
    -------
    ``{method: (C, C) int64 confusion matrix}`` (rows: true class).
    """
    from engines.spectrum.rsm import rsm3, to_probabilities

    templates = np.atleast_2d(np.asarray(templates, dtype=np.float64))
    probabilities = to_probabilities(sources)
    if probabilities.shape != templates.shape:
        raise InputError(f"sources {probabilities.shape} and templates {templates.shape} differ")
    if counts < 1 or draws_per_class < 1:
        raise InputError("counts and draws per class must be >= 1")
    n_classes = templates.shape[0]
    labels = np.repeat(np.arange(n_classes), draws_per_class)
    out = {m: np.zeros((n_classes, n_classes), dtype=np.int64) for m in methods}
    for start in range(0, labels.size, batch):
        true = labels[start:start + batch]
        measured = rsm3(probabilities[true], counts, rng)
        for method in methods:
            out[method] += confusion_matrix(true, peer_predict(method, measured, templates),
                                            n_classes)
    return out
