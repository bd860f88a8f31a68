"""Count-conserving rebinning of spectra onto a model's energy grid.

The source counts are treated as spread uniformly in energy within each source channel, so the
cumulative count is piecewise linear in energy between the source channel edges. It is
evaluated at the target edges and differenced: counts are conserved over the energy range both
binnings share, target channels outside the source range receive 0, and source counts outside
the target range are dropped. Works for any increasing edges (linear or quadratic
calibrations, finer or coarser targets).
"""

from __future__ import annotations

import numpy as np

from engines.core.errors import InputError
from engines.spectrum.spectrum import EnergyGrid, Spectrum


def rebin(spectrum: Spectrum, grid: EnergyGrid) -> np.ndarray:
    """Rebin a spectrum onto ``grid``.

    Parameters
    ----------
    spectrum
        Source spectrum; its calibration gives the source channel edges in keV.
    grid
        Target energy grid.

    Returns
    -------
    np.ndarray
        Counts per target channel, shape (grid.n_channels,), float64.
    """
    return rebin_counts(spectrum.counts, spectrum.edges, grid.edges)


def rebin_counts(counts: np.ndarray, source_edges: np.ndarray,
                 target_edges: np.ndarray) -> np.ndarray:
    """Rebin counts (optionally a batch of spectra sharing one source binning).

    Parameters
    ----------
    counts
        Shape (..., n_source): counts per source channel, >= 0.
    source_edges
        Shape (n_source + 1,): strictly increasing source channel edges in keV.
    target_edges
        Shape (n_target + 1,): strictly increasing target channel edges in keV.

    Returns
    -------
    np.ndarray
        Shape (..., n_target), float64. ``result.sum(-1)`` equals the counts of the source lying
        between ``target_edges[0]`` and ``target_edges[-1]``.

    Raises
    ------
    InputError
        Mismatched shapes or edges that do not increase.
    """
    counts = np.asarray(counts, dtype=np.float64)
    source_edges = _check_edges(source_edges, "source")
    target_edges = _check_edges(target_edges, "target")
    if counts.ndim == 0 or counts.shape[-1] != source_edges.size - 1:
        raise InputError(f"rebin: counts of shape {counts.shape} do not match "
                         f"{source_edges.size} source edges")
    if counts.ndim == 1:
        cumulative = np.concatenate(([0.0], np.cumsum(counts)))
        at_targets = np.interp(target_edges, source_edges, cumulative)
    else:
        # Same piecewise-linear interpolation as np.interp, with weights shared by the batch.
        n_source = counts.shape[-1]
        index = np.clip(np.searchsorted(source_edges, target_edges, side="right") - 1,
                        0, n_source - 1)
        width = source_edges[index + 1] - source_edges[index]
        fraction = np.clip((target_edges - source_edges[index]) / width, 0.0, 1.0)
        cumulative = np.concatenate((np.zeros(counts.shape[:-1] + (1,)),
                                     np.cumsum(counts, axis=-1)), axis=-1)
        at_targets = cumulative[..., index] + fraction * counts[..., index]
    return np.maximum(np.diff(at_targets, axis=-1), 0.0)


def overlap_fraction(spectrum: Spectrum, grid: EnergyGrid) -> float:
    """Fraction of the spectrum's counts that fall inside the grid's energy range, in [0, 1]."""
    total = spectrum.total_counts
    if total <= 0:
        return 0.0
    return float(rebin(spectrum, grid).sum() / total)


def _check_edges(edges: np.ndarray, what: str) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise InputError(f"rebin: {what} edges must be 1-D with at least 2 values, got shape "
                         f"{edges.shape}")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise InputError(f"rebin: {what} edges must be finite and strictly increasing")
    return edges
