"""Calibrating the open-set test of a trained classifier on its reference library.

The goodness-of-fit null is simulated by drawing RSM-3 measurements of ``k`` counts (in the kept
channels, the count the scores are indexed by) from each reference file and scoring them against the class template built without that file (leave one
file out; a class with a single file is scored against its own template, which is optimistic).
The feature model (class means, tied covariance) is fitted on draws over the training count
range, and its null simulated at the same count levels as the fit. See
:mod:`engines.spectrum.openset` for the scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.spectrum.evaluation import KeptSampler, full_grid, references_on_grid
from engines.spectrum.openset import (
    CALIBRATION_LEVELS,
    DEFAULT_ALPHA,
    OpenSet,
    cumulants,
    fit_null,
    nearest_mahalanobis,
    smooth,
    smoothing_weights,
    tied_gaussian,
)

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier

NETWORK_DRAWS = 32  # per class and level for the feature-distance null
FEATURE_DRAWS = 48  # per class and level for the class means and covariance
FEATURE_LEVELS = 4  # count levels over the training range for the feature model


def leave_one_out_templates(kept: np.ndarray, labels: np.ndarray, n_classes: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed template of each reference's class built without it, (n_refs, n_kept), and
    whether it really left the reference out (n_refs,) bool (False for single-file classes,
    whose template is their own).

    Parameters
    ----------
    kept
        (n_refs, n_kept) reference counts in the kept channels.
    labels
        (n_refs,) class of each reference.
    """
    kept = np.asarray(kept, dtype=np.float64)
    totals = kept.sum(axis=1)
    rows = kept / totals[:, None]
    out = np.empty_like(rows)
    left_out = np.zeros(rows.shape[0], dtype=bool)
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        for j in members:
            others = members[members != j] if members.size > 1 else members
            left_out[j] = members.size > 1
            weight = smoothing_weights(totals[others].sum(), kept.shape[1])
            out[j] = smooth(rows[others].mean(axis=0), weight)[0]
    return out, left_out


def between_file_spread(kept: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``r^2`` per class (C,): mean over its files of ``m_j^2``, with ``m_j`` the expected
    log-likelihood per count of file ``j`` under its leave-one-out template minus that
    template's own expectation; single-file classes get the median of the others."""
    kept = np.asarray(kept, dtype=np.float64)
    templates, left_out = leave_one_out_templates(kept, labels, n_classes)
    rows = kept / kept.sum(axis=1, keepdims=True)
    expected, _, _ = cumulants(templates)
    shift = (rows * np.log(templates)).sum(axis=1) - expected
    spread = np.full(n_classes, np.nan)
    for c in range(n_classes):
        members = (labels == c) & left_out
        if members.any():
            spread[c] = float(np.mean(shift[members] ** 2))
    known = spread[np.isfinite(spread)]
    return np.where(np.isfinite(spread), spread, float(np.median(known)) if known.size else 0.0)


def iter_calibrate_open_set(classifier: SpectrumClassifier, references: Any,
                            count_range: tuple[int, int], seed: int = 0,
                            alpha: float = DEFAULT_ALPHA,
                            levels: tuple[int, ...] = CALIBRATION_LEVELS
                            ) -> TaskGenerator[OpenSet]:
    """Calibrate the open-set test; a generator yielding progress, returning the
    :class:`OpenSet`.

    Parameters
    ----------
    classifier
        The trained classifier (its templates and kept channels are used).
    references
        Its reference library (a :class:`ReferenceSet` or spectrum library with the classifier's
        classes in its order), on any grid.
    count_range
        ``(low, high)`` counts the network was trained on (the feature model is fitted there).
    """
    refs = references_on_grid(references, classifier.grid)
    if list(refs.classes) != list(classifier.classes):
        raise InputError("open-set calibration: the references' classes differ from the "
                         "classifier's")
    keep = classifier.keep_mask
    n_classes = classifier.n_classes
    sampler = KeptSampler(refs.probabilities(), keep)
    kept_counts = refs.spectra[:, keep]
    class_totals = np.bincount(refs.labels, weights=kept_counts.sum(axis=1), minlength=n_classes)
    weights = smoothing_weights(class_totals, int(keep.sum()))
    spread = between_file_spread(kept_counts, refs.labels, n_classes)
    rng = np.random.default_rng([seed, 31337])
    steps = len(levels) + FEATURE_LEVELS
    done = 0
    yield Progress(0.0, "open-set calibration: spread between reference files")

    low, high = count_range
    features, feature_labels = [], []
    for level in np.unique(np.geomspace(low, high, FEATURE_LEVELS).astype(np.int64)):
        pooled, labels = _pooled(classifier, refs.labels, sampler, keep, int(level),
                                 FEATURE_DRAWS, rng)
        features.append(pooled)
        feature_labels.append(labels)
        done += 1
        yield Progress(done / steps, f"open-set calibration: feature model at {level:,} counts")
    means, precision = tied_gaussian(np.concatenate(features), np.concatenate(feature_labels),
                                     n_classes)
    distances, distance_levels = [], []
    for level in levels:
        pooled, _ = _pooled(classifier, refs.labels, sampler, keep, int(level), NETWORK_DRAWS, rng)
        distances.append(nearest_mahalanobis(pooled, means, precision))
        distance_levels.append(np.full(pooled.shape[0], level))
        done += 1
        yield Progress(min(done / steps, 1.0),
                       f"open-set calibration: feature distance at {level:,} counts")
    distance_levels = np.concatenate(distance_levels)
    network_null = fit_null(np.concatenate(distances), distance_levels,
                            np.zeros(distance_levels.size, np.int64), 1)
    return OpenSet(weights, spread, means, precision, network_null, alpha)


def _pooled(classifier: SpectrumClassifier, ref_labels: np.ndarray, sampler: KeptSampler,
            keep: np.ndarray, level: int, per_class: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features (C * per_class, F) and labels of fresh draws of ``level`` counts in the
    kept channels."""
    from engines.spectrum.evaluation import pick_references

    labels = np.repeat(np.arange(classifier.n_classes), per_class)
    rows = pick_references(ref_labels, labels, rng)
    draws = rng.multinomial(level, sampler.kept_probabilities[rows]).astype(np.float32)
    _, pooled = classifier.forward(full_grid(draws, keep))
    return pooled, labels
