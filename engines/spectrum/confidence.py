"""Count-dependent confidence calibration of a trained classifier.

The multinomial log-likelihood of a class grows linearly with the number of counts ``k`` in a
measurement, so a calibrated classifier must become more confident as counts accumulate. A
network fed normalised spectra cannot see ``k``; its logits are therefore rescaled by

``s(k) = exp(a + b * ln(k / k_ref))``

with ``(a, b)`` fitted by minimising the negative log-likelihood of validation draws over a
range of count levels (temperature scaling, Guo et al. 2017, with the temperature a function
of the counts). The scale is positive, so the predicted class never changes; only the
probabilities do, which is what a confidence threshold (live time-to-decision) relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from engines.spectrum.rsm import PAPER_COUNTS


@dataclass(frozen=True)
class CountTemperature:
    """Logit scale ``exp(a + b ln(k / k_ref))``; the default is the identity."""

    a: float = 0.0
    b: float = 0.0
    k_ref: float = float(PAPER_COUNTS)

    def scale(self, kept_counts: np.ndarray) -> np.ndarray:
        """Scale per spectrum, shape (B,), from the counts in the kept channels (B,)."""
        k = np.maximum(np.asarray(kept_counts, dtype=np.float64), 1.0)
        return np.exp(self.a + self.b * np.log(k / self.k_ref))

    def apply(self, logits: np.ndarray, kept_counts: np.ndarray) -> np.ndarray:
        """Calibrated logits (B, n_classes)."""
        return np.asarray(logits, dtype=np.float64) * self.scale(kept_counts)[:, None]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "k_ref": self.k_ref}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CountTemperature:
        """Parse :meth:`to_json` output; ValueError unless a and b are finite and k_ref > 0."""
        if not data:
            return cls()
        a, b, k_ref = float(data["a"]), float(data["b"]), float(data["k_ref"])
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(k_ref) and k_ref > 0):
            raise ValueError(f"confidence a={a}, b={b}, k_ref={k_ref}: a and b must be finite "
                             "and k_ref a positive count")
        return cls(a, b, k_ref)


def fit_count_temperature(logits: np.ndarray, labels: np.ndarray, kept_counts: np.ndarray,
                          k_ref: float = float(PAPER_COUNTS)) -> CountTemperature:
    """Fit ``(a, b)`` to validation draws.

    Parameters
    ----------
    logits
        (N, n_classes) network logits.
    labels
        (N,) true class indices.
    kept_counts
        (N,) counts of each draw in the kept channels.

    Returns
    -------
    The fitted :class:`CountTemperature` (the identity when the fit does not improve the NLL).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    log_k = np.log(np.maximum(np.asarray(kept_counts, dtype=np.float64), 1.0) / k_ref)
    rows = np.arange(labels.size)

    def nll(params: np.ndarray) -> float:
        scaled = logits * np.exp(params[0] + params[1] * log_k)[:, None]
        return float(-log_softmax(scaled, axis=1)[rows, labels].mean())

    result = minimize(nll, x0=np.zeros(2), method="Nelder-Mead",
                      options={"xatol": 1e-4, "fatol": 1e-7, "maxiter": 2000})
    if not result.success or nll(result.x) >= nll(np.zeros(2)):
        return CountTemperature(k_ref=k_ref)
    return CountTemperature(float(result.x[0]), float(result.x[1]), k_ref)
