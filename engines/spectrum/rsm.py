"""Random sampling methods (paper Sec. III-A, appendix): short measurements from long ones.

RSM-3 ("random weighted selection in counts"): a measurement of ``k`` counts is a multinomial
draw of ``k`` events from the long reference spectrum. RSM-2: binomial thinning of every channel.
``k`` relates to live time through the count rate (paper: 19650 counts ~ 2.479 s).

:func:`rsm3_torch` is exact for every ``k`` and bounded in memory: small ``k`` draws events by
inverse-CDF sampling in chunks; large ``k`` splits the counts down a binary tree over the
channels with one batched binomial draw per level (``log2(n_channels)`` levels), whose cost does
not grow with ``k``. Both give the multinomial distribution exactly.
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
RSM3_METHODS = ("auto", "cdf", "tree")
_CDF_CHUNK_ELEMENTS = 1 << 22  # uniform draws per chunk (32 MiB of float64)


def counts_for_live_time(live_time_s: float, count_rate: float = PAPER_COUNT_RATE) -> int:
    """Counts expected in ``live_time_s`` seconds at ``count_rate`` counts/s (at least 1)."""
    if not (np.isfinite(live_time_s) and live_time_s >= 0 and count_rate > 0):
        raise InputError(f"live time must be >= 0 s and count rate > 0, got {live_time_s} s, "
                         f"{count_rate} counts/s")
    return max(1, int(round(live_time_s * count_rate)))


def live_time_for_counts(counts: float, count_rate: float = PAPER_COUNT_RATE) -> float:
    """Live time in seconds that collects ``counts`` at ``count_rate`` counts/s."""
    if not (np.isfinite(counts) and counts >= 0 and count_rate > 0):
        raise InputError(f"counts must be >= 0 and count rate > 0, got {counts}, {count_rate}")
    return float(counts) / count_rate


def to_probabilities(spectra: np.ndarray) -> np.ndarray:
    """Normalise reference spectra (..., n_channels) to probabilities per row."""
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.ndim == 0 or not np.all(np.isfinite(spectra)) or np.any(spectra < 0):
        raise InputError("reference spectra must be finite, non-negative arrays of counts")
    totals = spectra.sum(axis=-1, keepdims=True)
    if np.any(totals <= 0):
        raise InputError("a reference spectrum has no counts")
    return spectra / totals


def rsm3_torch(probabilities: torch.Tensor, counts: torch.Tensor | int,
               generator: torch.Generator | None = None, *, method: str = "auto") -> torch.Tensor:
    """Exact multinomial draws on the tensor's device.

    Parameters
    ----------
    probabilities
        (B, n_channels) per-row channel weights, non-negative (rows are normalised here).
    counts
        (B,) integer tensor (or one int for all rows) of counts per draw, >= 0.
    generator
        Optional ``torch.Generator`` on the same device, for reproducible draws.
    method
        ``"cdf"`` (inverse CDF, cost ~ B k log n), ``"tree"`` (binomial splitting, cost ~ B n)
        or ``"auto"`` (``"cdf"`` while ``k_max <= 2 n_channels``, the CPU break-even).

    Returns
    -------
    (B, n_channels) float32 counts on ``probabilities.device``; row ``b`` sums to ``counts[b]``.
    """
    import torch

    if probabilities.ndim != 2 or probabilities.shape[1] < 1:
        raise InputError(f"probabilities must be (B, n_channels), got {tuple(probabilities.shape)}")
    device = probabilities.device
    batch, n_channels = probabilities.shape
    counts = torch.as_tensor(counts, device=device)
    if counts.ndim == 0:
        counts = counts.expand(batch)
    if counts.shape != (batch,) or counts.is_floating_point() and bool(
            (counts != counts.round()).any()):
        raise InputError(f"counts must be integers of shape ({batch},), got {tuple(counts.shape)}")
    if method not in RSM3_METHODS:
        raise InputError(f"unknown RSM-3 method {method!r}; valid names: {', '.join(RSM3_METHODS)}")
    weights = probabilities.double()
    totals = weights.sum(dim=1, keepdim=True)
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or bool(
            (totals <= 0).any()):
        raise InputError("probabilities must be finite, non-negative, with a positive row sum")
    if bool((counts < 0).any()):
        raise InputError("the number of counts to draw must be >= 0")
    weights = weights / totals
    k = counts.to(torch.float64)
    k_max = int(k.max()) if batch else 0
    if method == "auto":
        method = "cdf" if k_max <= 2 * n_channels else "tree"
    if method == "cdf":
        return _rsm3_cdf(weights, k, k_max, generator).float()
    return _rsm3_tree(weights, k, generator).float()


def _rsm3_cdf(weights: torch.Tensor, k: torch.Tensor, k_max: int,
              generator: torch.Generator | None) -> torch.Tensor:
    """Inverse-CDF sampling of ``k_max`` events per row in bounded chunks; surplus dropped."""
    import torch

    batch, n_channels = weights.shape
    cdf = torch.cumsum(weights, dim=1)
    cdf = (cdf / cdf[:, -1:]).contiguous()
    out = torch.zeros(batch, n_channels, device=weights.device, dtype=torch.float64)
    chunk = max(1, _CDF_CHUNK_ELEMENTS // max(batch, 1))
    for start in range(0, k_max, chunk):
        size = min(chunk, k_max - start)
        uniform = torch.rand(batch, size, device=weights.device, dtype=torch.float64,
                             generator=generator)
        channels = torch.searchsorted(cdf, uniform, right=True).clamp_(max=n_channels - 1)
        keep = (torch.arange(start, start + size, device=weights.device) < k[:, None]).double()
        out.scatter_add_(1, channels, keep)
    return out


def _rsm3_tree(weights: torch.Tensor, k: torch.Tensor,
               generator: torch.Generator | None) -> torch.Tensor:
    """Conditional-binomial splitting of ``k`` down a binary tree over the channels."""
    import torch

    batch, n_channels = weights.shape
    levels = max(1, (n_channels - 1).bit_length())
    padded = torch.nn.functional.pad(weights, (0, (1 << levels) - n_channels))
    sums = [padded]
    for _ in range(levels):
        sums.append(sums[-1].view(batch, -1, 2).sum(dim=-1))
    counts = k.view(batch, 1)
    for level in range(levels - 1, -1, -1):
        children = sums[level].view(batch, -1, 2)
        total = children.sum(dim=-1)
        left_share = torch.where(total > 0, children[..., 0] / total.clamp_min(1e-300),
                                 torch.zeros_like(total)).clamp_(0.0, 1.0)
        left = torch.binomial(counts, left_share, generator=generator)
        counts = torch.stack((left, counts - left), dim=-1).view(batch, -1)
    return counts[:, :n_channels]


def rsm3(probabilities: np.ndarray, counts: int | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multinomial draws with numpy.

    Parameters
    ----------
    probabilities
        (B, n_channels) or (n_channels,) non-negative channel weights (normalised here).
    counts
        An int or a (B,) array of counts per draw, >= 0.

    Returns
    -------
    (B, n_channels) int64 counts (or (n_channels,) for 1-D input).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    squeeze = probabilities.ndim == 1
    probabilities = np.atleast_2d(probabilities)
    if probabilities.ndim != 2:
        raise InputError(f"probabilities must be (B, n_channels), got {probabilities.shape}")
    probabilities = to_probabilities(probabilities)
    counts = np.asarray(counts)
    if counts.dtype.kind == "f" and np.any(counts != np.round(counts)):
        raise InputError("the number of counts to draw must be an integer")
    try:
        counts = np.broadcast_to(counts.astype(np.int64), probabilities.shape[:1])
    except ValueError:
        raise InputError(f"counts of shape {counts.shape} do not match "
                         f"{probabilities.shape[0]} spectra") from None
    if np.any(counts < 0):
        raise InputError("the number of counts to draw must be >= 0")
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

    Returns
    -------
    int64 array shaped like ``spectra``; its expectation is ``fraction * spectra``.
    """
    spectra = np.asarray(spectra, dtype=np.float64)
    fraction = np.asarray(fraction, dtype=np.float64)
    if not np.all(np.isfinite(spectra)) or np.any(spectra < 0):
        raise InputError("RSM-2 needs finite, non-negative counts")
    if not np.all(np.isfinite(fraction)) or np.any(fraction <= 0) or np.any(fraction > 1):
        raise InputError("RSM-2 keep fraction must be in (0, 1]")
    return rng.binomial(np.rint(spectra).astype(np.int64), fraction)
