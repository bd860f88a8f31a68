"""Batched, on-device training draws: reference augmentation and short-measurement sampling.

All functions work on (B, n_channels) probability rows (each summing to 1) on any torch device.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from engines.spectrum.rsm import rsm3_torch

if TYPE_CHECKING:
    import torch


def stretch_energy_axis(probabilities: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Gain drift: move the content of channel ``ch`` to ``ch * (1 + gain)``.

    Parameters
    ----------
    probabilities
        (B, n_channels) rows summing to 1.
    gains
        (B,) relative gain changes, e.g. uniform in [-0.003, 0.003].

    Returns
    -------
    (B, n_channels) rows summing to 1 (content stretched past the last channel is dropped and
    the row renormalised). The cumulative distribution is interpolated, so counts are conserved.
    """
    import torch

    batch, n = probabilities.shape
    cumulative = torch.nn.functional.pad(torch.cumsum(probabilities.double(), dim=1), (1, 0))
    edges = torch.arange(n + 1, device=probabilities.device, dtype=torch.float32) - 0.5
    # fractional index into ``cumulative`` of each new edge (float32 is exact to ~1e-3 channel)
    source = (edges[None, :] / (1.0 + gains.float()[:, None]) + 0.5).clamp_(0.0, n - 1e-3)
    low = source.long()
    values = torch.lerp(torch.gather(cumulative, 1, low), torch.gather(cumulative, 1, low + 1),
                        (source - low).double())
    return _renormalise(torch.diff(values, dim=1).clamp_min_(0.0)).to(probabilities.dtype)


def smear(probabilities: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Resolution change: Gaussian smoothing with a per-row width.

    Parameters
    ----------
    probabilities
        (B, n_channels) rows summing to 1.
    sigmas
        (B,) extra Gaussian standard deviation in channels (0 = unchanged).

    Returns
    -------
    (B, n_channels) rows summing to 1 (edge losses renormalised).
    """
    import torch

    batch, n = probabilities.shape
    sigma_max = float(sigmas.max()) if batch else 0.0
    if sigma_max <= 0.0:
        return probabilities
    half = max(1, int(math.ceil(3.0 * sigma_max)))
    offsets = torch.arange(-half, half + 1, device=probabilities.device, dtype=torch.float32)
    widths = sigmas.float().clamp_min(1e-3)[:, None]
    kernels = torch.exp(-0.5 * (offsets[None, :] / widths) ** 2)
    kernels = (kernels / kernels.sum(dim=1, keepdim=True))[:, None, :]
    smoothed = torch.nn.functional.conv1d(probabilities.float()[None], kernels, padding=half,
                                          groups=batch)[0]
    return _renormalise(smoothed.clamp_min(0.0)).to(probabilities.dtype)


def draw_spectra(probabilities: torch.Tensor, counts: torch.Tensor,
                 generator: torch.Generator | None = None,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
    """Short measurements of ``counts[b]`` events from each probability row (RSM-3).

    Parameters
    ----------
    probabilities
        (B, n_channels) rows summing to 1.
    counts
        (B,) integer counts per draw.
    generator
        A torch generator on ``probabilities.device`` (torch path).
    rng
        A numpy generator: when given, the draws are exact multinomials from numpy, which on a
        CPU is several times faster than :func:`rsm3_torch` (its cost hardly grows with k).

    Returns
    -------
    (B, n_channels) float32 counts on ``probabilities.device``: exact multinomial draws (numpy
    with ``rng``, else :func:`rsm3_torch`).
    """
    import torch

    if rng is not None:
        rows = probabilities.detach().to("cpu", torch.float64).numpy()
        rows = rows / rows.sum(axis=1, keepdims=True)
        draws = rng.multinomial(counts.cpu().numpy().astype(np.int64), rows)
        return torch.from_numpy(draws.astype(np.float32)).to(probabilities.device)
    return rsm3_torch(probabilities, counts.to(probabilities.device).long(), generator=generator)


def split_counts(counts: torch.Tensor, fractions: torch.Tensor,
                 generator: torch.Generator | None = None,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
    """Binomial(counts, fractions) per row: how many of ``counts`` events fall in a channel
    subset holding ``fractions`` of the probability, shape (B,) int64."""
    import torch

    if rng is not None:
        values = rng.binomial(counts.cpu().numpy().astype(np.int64),
                              np.clip(fractions.detach().cpu().double().numpy(), 0.0, 1.0))
        return torch.from_numpy(values).to(counts.device)
    return torch.binomial(counts.double(), fractions.double().clamp(0.0, 1.0),
                          generator=generator).long()


def log_uniform_counts(low: int, high: int, size: int, generator: torch.Generator | None,
                       device: torch.device) -> torch.Tensor:
    """(size,) int64 counts drawn log-uniformly from [low, high]."""
    import torch

    if low == high:
        return torch.full((size,), int(low), dtype=torch.long, device=device)
    u = torch.rand(size, generator=generator, device=device, dtype=torch.float64)
    values = torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return values.round().long().clamp(int(low), int(high))


def _renormalise(rows: torch.Tensor) -> torch.Tensor:
    totals = rows.sum(dim=1, keepdim=True)
    return rows / totals.clamp_min(1e-300)
