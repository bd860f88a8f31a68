"""Random sampling methods (paper Sec. III-A, appendix): short measurements from long ones.

RSM-3 ("random weighted selection in counts"): a measurement of ``k`` counts is a multinomial
draw of ``k`` events from the long reference spectrum. RSM-2: binomial thinning of every channel.
``k`` relates to live time through the count rate (paper: 19650 counts ~ 2.479 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engines.core.errors import InputError

if TYPE_CHECKING:
    import torch

PAPER_COUNTS = 19650
PAPER_LIVE_TIME_S = 2.479
PAPER_COUNT_RATE = PAPER_COUNTS / PAPER_LIVE_TIME_S  # counts per second


def counts_for_live_time(live_time_s: float, count_rate: float = PAPER_COUNT_RATE) -> int:
    return max(1, int(round(live_time_s * count_rate)))


def live_time_for_counts(counts: float, count_rate: float = PAPER_COUNT_RATE) -> float:
    return float(counts) / count_rate


def to_probabilities(spectra: np.ndarray) -> np.ndarray:
    """Normalise reference spectra (..., n_channels) to probabilities per row."""
    spectra = np.asarray(spectra, dtype=np.float64)
    totals = spectra.sum(axis=-1, keepdims=True)
    if np.any(totals <= 0):
        raise InputError("a reference spectrum has no counts")
    return spectra / totals


def rsm3_torch(probabilities: torch.Tensor, counts: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Multinomial draws on the tensor's device.

    Parameters
    ----------
    probabilities
        (B, n_channels) per-row channel probabilities (each row sums to 1).
    counts
        (B,) integer number of counts of each draw.

    Returns
    -------
    (B, n_channels) float32 counts; row ``b`` sums to ``counts[b]``.

    Draws ``max(counts)`` events per row by inverse-CDF sampling and drops the surplus, so one
    batched ``searchsorted`` serves rows of different ``k``.
    """
    import torch

    batch, n_channels = probabilities.shape
    k_max = int(counts.max())
    cdf = torch.cumsum(probabilities.double(), dim=1)
    cdf = (cdf / cdf[:, -1:]).contiguous()
    uniform = torch.rand(batch, k_max, device=probabilities.device, dtype=torch.float64,
                         generator=generator)
    channels = torch.searchsorted(cdf, uniform).clamp_(max=n_channels - 1)
    keep = torch.arange(k_max, device=probabilities.device) < counts.to(probabilities.device)[:, None]
    out = torch.zeros(batch, n_channels, device=probabilities.device, dtype=torch.float32)
    out.scatter_add_(1, channels, keep.float())
    return out


def rsm3(probabilities: np.ndarray, counts: int | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multinomial draws with numpy.

    Parameters
    ----------
    probabilities
        (B, n_channels) or (n_channels,) channel probabilities.
    counts
        An int or a (B,) array of counts per draw.

    Returns
    -------
    (B, n_channels) int64 counts (or (n_channels,) for 1-D input).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    squeeze = probabilities.ndim == 1
    probabilities = np.atleast_2d(probabilities)
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), probabilities.shape[:1])
    if np.any(counts < 0):
        raise InputError("the number of counts to draw must be >= 0")
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    out = rng.multinomial(counts, probabilities)
    return out[0] if squeeze else out


def rsm2(spectra: np.ndarray, fraction: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binomial thinning: keep each recorded count with probability ``fraction``.

    Parameters
    ----------
    spectra
        (..., n_channels) non-negative integer counts of long measurements.
    fraction
        Kept fraction in (0, 1], scalar or broadcastable to ``spectra[..., :1]``.
    """
    spectra = np.asarray(spectra)
    fraction = np.asarray(fraction, dtype=np.float64)
    if np.any(fraction <= 0) or np.any(fraction > 1):
        raise InputError("RSM-2 keep fraction must be in (0, 1]")
    return rng.binomial(np.rint(spectra).astype(np.int64), fraction)
