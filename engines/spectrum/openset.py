"""Open-set decision: does a measured spectrum fit any class of the library at all?

A classifier always names one of its classes. Two calibrated scores say whether the spectrum
is a measurement of a library material at all; each is a p-value under "this is a new
measurement of one of the classes, with these counts":

* **Goodness of fit** (counts side). The multinomial log-likelihood of the measured counts
  ``n`` (``k`` in the kept channels) under the best-fitting class template ``p`` (the ML
  class), ``L = sum_i n_i ln p_i``, is a sum of ``k`` independent draws of ``ln p_X`` with
  ``X ~ p``: its mean ``k mu``, variance ``k kappa2`` and third cumulant ``k kappa3`` under
  the template are exact at every count level (``mu, kappa2, kappa3`` are the cumulants of
  ``ln p_X``), and a Pearson type III (shifted gamma) distribution with these three cumulants
  gives the p-value, two-sided (too poor and too good a fit both mean "not this template").
  A new measurement of a library material also differs from its template by calibration,
  resolution and composition spread: per class, the log-likelihood per count of each reference
  file under the template built *without* it (leave one file out) deviates from the
  template's expectation by ``m_j``, and the mean of ``m_j^2`` adds ``k^2 r^2`` to the
  variance (a class with a single file borrows the median over the classes). At low counts the
  exact multinomial term rules, at high counts the measured spread.
* **Feature distance** (network side). The squared Mahalanobis distance of the network's pooled
  (GAP) features to the nearest class mean under a tied covariance (Lee et al., NeurIPS 2018),
  with class means and covariance from training-range draws; its null is simulated with fresh
  draws at 16 count levels from 100 to 10^7 (a scaled chi-square with the simulated mean and
  variance, interpolated log-log in ``k``).

The spectrum is "in the library" when both p-values are at least ``alpha``; otherwise the
result reads "not in the library (closest: X)". Templates are smoothed with a Jeffreys prior
(half a count per channel over the references' total counts), so a count where no reference
had one is unlikely rather than impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2
from scipy.stats import gamma as gamma_distribution

from engines.core.errors import InputError, ModelError

DEFAULT_ALPHA = 0.01
LOG_P_FLOOR = -1e6  # log p-values below this are reported as this (p underflows anyway)
#: Count levels of the simulated feature-distance null (a factor ~2.15 apart).
CALIBRATION_LEVELS: tuple[int, ...] = tuple(int(v) for v in np.geomspace(100, 10_000_000, 16))


def smoothing_weights(kept_totals: np.ndarray, n_kept: int) -> np.ndarray:
    """Jeffreys smoothing weight per template, ``0.5 n / (N + 0.5 n)``, shape like ``kept_totals``
    (``N`` = counts of the references behind a template in the kept channels)."""
    totals = np.asarray(kept_totals, dtype=np.float64)
    return 0.5 * n_kept / (totals + 0.5 * n_kept)


def smooth(templates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(1 - w) p + w / n`` per row of (C, n) templates (rows summing to 1)."""
    templates = np.atleast_2d(np.asarray(templates, dtype=np.float64))
    weights = np.asarray(weights, dtype=np.float64).reshape(-1, 1)
    return (1.0 - weights) * templates + weights / templates.shape[1]


def log_likelihood(counts: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """``sum_i n_i ln p_i`` of (B, n) counts under (C, n) strictly positive templates, (B, C)."""
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    return counts @ np.log(np.atleast_2d(templates)).T


def cumulants(templates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and third cumulant of ``ln p_X`` with ``X ~ p`` per template, each (C,)."""
    templates = np.atleast_2d(np.asarray(templates, dtype=np.float64))
    logs = np.log(templates)
    mean = (templates * logs).sum(axis=1)
    centred = logs - mean[:, None]
    return mean, (templates * centred ** 2).sum(axis=1), (templates * centred ** 3).sum(axis=1)


def fit_log_p(log_likelihood_: np.ndarray, k: np.ndarray, mean: np.ndarray, kappa2: np.ndarray,
              kappa3: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Natural log of the two-sided p-value of log-likelihoods (B,) of ``k`` (B,) counts under
    templates with the per-row cumulants (B,) and between-file spread ``r^2`` (B,)."""
    x = np.asarray(log_likelihood_, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    centre = k * mean
    variance = np.maximum(k * kappa2 + k ** 2 * spread, 1e-300)
    skew = k * kappa3 / variance ** 1.5
    # Pearson III in the direction of positive skew (ln p_X is skewed towards rare channels)
    sign = np.where(skew < 0, -1.0, 1.0)
    x, centre, skew = sign * x, sign * centre, np.maximum(np.abs(skew), 1e-6)
    shape = 4.0 / skew ** 2
    scale = np.sqrt(variance) * skew / 2.0
    location = centre - shape * scale
    lower = gamma_distribution.logcdf(x, shape, loc=location, scale=scale)
    upper = gamma_distribution.logsf(x, shape, loc=location, scale=scale)
    out = np.clip(np.log(2.0) + np.minimum(lower, upper), LOG_P_FLOOR, 0.0)
    return np.where(k > 0, out, 0.0)


def _loglog(k: np.ndarray, levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Piecewise log-log interpolation of ``values`` (L,) at ``levels`` (L,), extrapolated
    linearly (in log-log) beyond both ends; ``k`` any shape."""
    x, y = np.log(levels), np.log(np.maximum(values, 1e-300))
    lk = np.log(np.maximum(np.asarray(k, dtype=np.float64), 1.0))
    out = np.interp(lk, x, y)
    if x.size >= 2:
        low, high = lk < x[0], lk > x[-1]
        out[low] = y[0] + (lk[low] - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
        out[high] = y[-1] + (lk[high] - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
    return np.exp(out)


@dataclass
class NullModel:
    """Null distribution of a non-negative statistic per group and count level (a scaled
    chi-square with the simulated mean and variance, interpolated log-log in the counts).

    Attributes
    ----------
    levels
        (L,) increasing count levels.
    mean, var
        (G, L) simulated mean and variance of the statistic (G = classes, or 1).
    """

    levels: np.ndarray
    mean: np.ndarray
    var: np.ndarray

    def __post_init__(self) -> None:
        self.levels = np.asarray(self.levels, dtype=np.float64)
        self.mean = np.atleast_2d(np.asarray(self.mean, dtype=np.float64))
        self.var = np.atleast_2d(np.asarray(self.var, dtype=np.float64))
        if (self.mean.shape != self.var.shape or self.mean.shape[1] != self.levels.size
                or self.levels.size < 1 or np.any(np.diff(self.levels) <= 0)
                or not np.all(np.isfinite(self.mean)) or not np.all(np.isfinite(self.var))):
            raise ModelError("open-set calibration: malformed null model")

    def log_p(self, statistic: np.ndarray, counts: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Natural log of the upper-tail p-value of ``statistic`` (B,) at ``counts`` (B,) in
        ``group`` (B,), from the scaled chi-square with the interpolated moments."""
        statistic = np.asarray(statistic, dtype=np.float64)
        counts = np.asarray(counts, dtype=np.float64)
        group = np.broadcast_to(np.asarray(group, dtype=np.int64), statistic.shape)
        out = np.zeros(statistic.shape)
        for g in np.unique(group):
            rows = group == g
            mean = _loglog(counts[rows], self.levels, self.mean[g])
            var = _loglog(counts[rows], self.levels, np.maximum(self.var[g], 1e-12))
            scale, dof = var / (2.0 * mean), 2.0 * mean ** 2 / var
            out[rows] = chi2.logsf(statistic[rows] / scale, dof)
        return np.maximum(out, LOG_P_FLOOR)

    def to_json(self) -> dict[str, Any]:
        return {"levels": self.levels.tolist(), "mean": self.mean.tolist(),
                "var": self.var.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NullModel:
        return cls(np.array(data["levels"]), np.array(data["mean"]), np.array(data["var"]))


def fit_null(statistics: np.ndarray, levels: np.ndarray, groups: np.ndarray, n_groups: int
             ) -> NullModel:
    """Moments per group and level of simulated null statistics (N,) drawn at ``levels`` (N,)
    (values of one increasing grid) in ``groups`` (N,)."""
    grid = np.unique(levels)
    mean = np.zeros((n_groups, grid.size))
    var = np.zeros((n_groups, grid.size))
    for j, level in enumerate(grid):
        for g in range(n_groups):
            values = statistics[(levels == level) & (groups == g)]
            if values.size < 2:
                raise InputError(f"open-set calibration: too few draws at {level:g} counts")
            mean[g, j] = max(float(values.mean()), 1e-9)
            var[g, j] = max(float(values.var(ddof=1)), 1e-9 * mean[g, j] ** 2)
    return NullModel(grid, mean, var)


@dataclass
class OpenSetScores:
    """Open-set scores of a batch of spectra (all arrays (B,)).

    Attributes
    ----------
    fit_class
        Best-fitting class (multinomial ML on the smoothed templates).
    log_likelihood, log_p_fit
        Its log-likelihood and the natural log of the goodness-of-fit p-value.
    distance, log_p_network
        Squared Mahalanobis distance of the features to the nearest class mean and the log of
        its p-value (NaN and 0 when the model has no feature model).
    in_library
        Both p-values >= ``alpha``.
    """

    fit_class: np.ndarray
    log_likelihood: np.ndarray
    log_p_fit: np.ndarray
    distance: np.ndarray
    log_p_network: np.ndarray
    in_library: np.ndarray
    alpha: float

    @property
    def p_fit(self) -> np.ndarray:
        return np.exp(self.log_p_fit)

    @property
    def p_network(self) -> np.ndarray:
        return np.exp(self.log_p_network)

    @property
    def log_p(self) -> np.ndarray:
        """The smaller of the two log p-values: the open-set score (low = not in the library)."""
        return np.minimum(self.log_p_fit, self.log_p_network)

    def row(self, i: int) -> dict[str, Any]:
        """JSON-able scores of spectrum ``i``."""
        distance = float(self.distance[i])
        return {"in_library": bool(self.in_library[i]), "p_fit": float(self.p_fit[i]),
                "p_network": float(self.p_network[i]) if np.isfinite(distance) else None,
                "log_likelihood": float(self.log_likelihood[i]),
                "feature_distance": distance if np.isfinite(distance) else None}


@dataclass
class OpenSet:
    """The calibrated open-set test of one classifier.

    Attributes
    ----------
    smoothing
        (C,) Jeffreys weight of each class template (:func:`smoothing_weights`).
    spread
        (C,) between-file variance ``r^2`` of the log-likelihood per count (module docstring).
    means, precision
        (C, F) class means and (F, F) tied precision of the pooled features, or None.
    network_null
        Null of the nearest squared Mahalanobis distance per count level, or None.
    alpha
        Significance below which either score says "not in the library".
    """

    smoothing: np.ndarray
    spread: np.ndarray
    means: np.ndarray | None = None
    precision: np.ndarray | None = None
    network_null: NullModel | None = None
    alpha: float = DEFAULT_ALPHA

    def __post_init__(self) -> None:
        self.smoothing = np.asarray(self.smoothing, dtype=np.float64).ravel()
        self.spread = np.asarray(self.spread, dtype=np.float64).ravel()
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"open-set alpha must be in (0, 1), got {self.alpha}")
        if (self.spread.shape != self.smoothing.shape or np.any(self.spread < 0)
                or not np.all(np.isfinite(self.spread))
                or np.any((self.smoothing < 0) | (self.smoothing >= 1))):
            raise ModelError("open-set calibration: malformed goodness-of-fit settings")
        if (self.means is None) != (self.network_null is None) or (
                self.means is not None and self.precision is None):
            raise ModelError("open-set calibration: incomplete feature model")

    @property
    def has_network(self) -> bool:
        return self.means is not None

    def feature_distance(self, pooled: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance (B,) of pooled features (B, F) to the nearest mean."""
        return nearest_mahalanobis(pooled, self.means, self.precision)

    def scores(self, kept_counts: np.ndarray, templates: np.ndarray,
               pooled: np.ndarray | None = None, alpha: float | None = None) -> OpenSetScores:
        """Scores of (B, n_kept) counts against the classifier's (C, n_kept) templates and,
        when the feature model exists, its (B, F) pooled features."""
        kept_counts = np.atleast_2d(np.asarray(kept_counts, dtype=np.float64))
        alpha = self.alpha if alpha is None else float(alpha)
        k = kept_counts.sum(axis=1)
        smoothed = smooth(templates, self.smoothing)
        likelihoods = log_likelihood(kept_counts, smoothed)
        best = likelihoods.argmax(axis=1)
        value = likelihoods[np.arange(best.size), best]
        mean, kappa2, kappa3 = cumulants(smoothed)
        log_p_fit = fit_log_p(value, k, mean[best], kappa2[best], kappa3[best],
                              self.spread[best])
        if self.has_network and pooled is not None:
            distance = self.feature_distance(pooled)
            log_p_net = self.network_null.log_p(distance, k, np.zeros(k.size, np.int64))
        else:
            distance, log_p_net = np.full(k.size, np.nan), np.zeros(k.size)
        threshold = np.log(alpha)
        in_library = (log_p_fit >= threshold) & (log_p_net >= threshold) & (k > 0)
        return OpenSetScores(best, value, log_p_fit, distance, log_p_net, in_library, alpha)

    def to_json(self) -> dict[str, Any]:
        """Sidecar content (the feature means and precision go into the weights file)."""
        return {"alpha": self.alpha, "smoothing": self.smoothing.tolist(),
                "spread": self.spread.tolist(),
                "network_null": None if self.network_null is None else self.network_null.to_json()}

    def tensors(self) -> dict[str, np.ndarray]:
        if not self.has_network:
            return {}
        return {"open_set.means": self.means.astype(np.float32),
                "open_set.precision": self.precision.astype(np.float32)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, tensors: dict[str, np.ndarray]
                  ) -> OpenSet | None:
        if not data:
            return None
        try:
            network = data.get("network_null")
            means, precision = tensors.get("open_set.means"), tensors.get("open_set.precision")
            return cls(np.array(data["smoothing"]), np.array(data["spread"]),
                       None if means is None else np.asarray(means, np.float64),
                       None if precision is None else np.asarray(precision, np.float64),
                       None if network is None else NullModel.from_json(network),
                       float(data.get("alpha", DEFAULT_ALPHA)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"open-set calibration is malformed ({exc})") from None


def nearest_mahalanobis(pooled: np.ndarray, means: np.ndarray, precision: np.ndarray
                        ) -> np.ndarray:
    """Squared Mahalanobis distance (B,) of features (B, F) to the nearest of (C, F) means
    under the (F, F) precision."""
    pooled = np.atleast_2d(np.asarray(pooled, dtype=np.float64))
    projected = pooled @ precision
    squared = ((projected * pooled).sum(axis=1, keepdims=True) - 2.0 * projected @ means.T
               + ((means @ precision) * means).sum(axis=1)[None, :])
    return np.maximum(squared.min(axis=1), 0.0)


def tied_gaussian(features: np.ndarray, labels: np.ndarray, n_classes: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Class means (C, F) and tied precision (F, F) of features (N, F) with labels (N,);
    the covariance is shrunk by 1e-3 of its mean variance so it is always invertible."""
    features = np.asarray(features, dtype=np.float64)
    means = np.stack([features[labels == c].mean(axis=0) for c in range(n_classes)])
    centred = features - means[labels]
    covariance = centred.T @ centred / max(features.shape[0] - n_classes, 1)
    ridge = 1e-3 * max(float(np.trace(covariance)) / covariance.shape[0], 1e-12)
    precision = np.linalg.inv(covariance + ridge * np.eye(covariance.shape[0]))
    return means, 0.5 * (precision + precision.T)


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the ROC curve for telling ``out`` from ``in`` when *lower* scores mean "out"
    (Mann-Whitney; ties count one half). NaN when either side is empty."""
    in_scores, out_scores = np.asarray(in_scores, float), np.asarray(out_scores, float)
    if in_scores.size == 0 or out_scores.size == 0:
        return float("nan")
    values = np.concatenate([in_scores, out_scores])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(values.size)
    sorted_values = values[order]
    # average ranks of ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], values.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = 0.5 * (start + end - 1) + 1.0
    rank_in = ranks[:in_scores.size].sum()
    u = rank_in - in_scores.size * (in_scores.size + 1) / 2.0
    return float(u / (in_scores.size * out_scores.size))


def false_accept_at(in_scores: np.ndarray, out_scores: np.ndarray, true_accept: float = 0.95
                    ) -> float:
    """Fraction of ``out`` accepted by the highest threshold that accepts at least
    ``true_accept`` of ``in`` (accept = score >= threshold)."""
    in_scores, out_scores = np.asarray(in_scores, float), np.asarray(out_scores, float)
    if in_scores.size == 0 or out_scores.size == 0:
        return float("nan")
    ordered = np.sort(in_scores)
    threshold = ordered[in_scores.size - int(np.ceil(true_accept * in_scores.size - 1e-9))]
    return float(np.mean(out_scores >= threshold))


def open_set_summary(batches: list[tuple[np.ndarray, OpenSetScores]]) -> dict[str, Any]:
    """Open-set figures of one count level from ``(known (B,) bool, scores)`` batches.

    Returns
    -------
    ``n_in``, ``n_out``; ``true_accept`` / ``false_accept``: in- and out-of-library draws
    accepted at the model's alpha; ``auroc`` (of the combined score) and ``auroc_fit`` /
    ``auroc_network``; ``false_accept_at_95``: out-of-library draws accepted at the threshold
    that accepts 95 % of the in-library ones (None where there are no out-of-library draws).
    """
    known = np.concatenate([k for k, _ in batches])
    accepted = np.concatenate([s.in_library for _, s in batches])
    fit = np.concatenate([s.log_p_fit for _, s in batches])
    net = np.concatenate([s.log_p_network for _, s in batches])
    has_network = bool(np.any(np.isfinite(np.concatenate([s.distance for _, s in batches]))))
    combined = np.minimum(fit, net)
    out: dict[str, Any] = {"n_in": int(known.sum()), "n_out": int((~known).sum()),
                           "true_accept": float(accepted[known].mean()) if known.any() else None,
                           "false_accept": None, "auroc": None, "auroc_fit": None,
                           "auroc_network": None, "false_accept_at_95": None}
    if (~known).any() and known.any():
        out.update(false_accept=float(accepted[~known].mean()),
                   auroc=auroc(combined[known], combined[~known]),
                   auroc_fit=auroc(fit[known], fit[~known]),
                   auroc_network=auroc(net[known], net[~known]) if has_network else None,
                   false_accept_at_95=false_accept_at(combined[known], combined[~known]))
    return out
