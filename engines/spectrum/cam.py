"""Class activation maps over energy (Zhou et al. 2016; paper Sec. III-C).

For a network ending in ``features -> global average pooling -> linear classifier``, the map of
class ``c`` at feature position ``l`` is ``M_c(l) = sum_k w[c, k] * f_k(l)`` (no bias), so
``mean_l M_c(l) + bias[c]`` is exactly the logit of class ``c``. The map (length L') is
linearly upsampled to the kept input channels and placed back on the full grid, where the
discarded channels are NaN (they were never seen by the model).

A network with a likelihood head (:class:`~engines.spectrum.models.layers.LikelihoodHead`) adds
the template log-likelihood to its logits; its map is the per-channel term of that sum times
the number of kept channels, added at full resolution, so the mean of the map over the kept
channels stays the logit (less the bias).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, drive

if TYPE_CHECKING:
    import torch

    from engines.spectrum.classifier import SpectrumClassifier
    from engines.spectrum.references import ReferenceSet


@dataclass
class ClassActivationMap:
    """Activation maps of a batch of spectra on the full energy grid.

    Attributes
    ----------
    energies_kev
        Channel centres, shape (n_channels,), keV.
    maps
        (B, n_channels) float32 activation of ``class_index[b]``; NaN in discarded channels.
    class_index
        (B,) int64 class each map belongs to.
    probabilities
        (B, n_classes) softmax output for the same spectra.
    classes
        Class names.
    """

    energies_kev: np.ndarray
    maps: np.ndarray
    class_index: np.ndarray
    probabilities: np.ndarray
    classes: list[str]


def class_activation_maps(model: torch.nn.Module, x: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and the maps of every class at feature resolution.

    Parameters
    ----------
    model
        A ``GapClassifier`` (has ``features`` and ``classifier``) in eval mode.
    x
        (B, C_in, L) model input.

    Returns
    -------
    logits (B, n_classes) and the network's maps (B, n_classes, L'), both float32; the logits
    include the likelihood head, the maps do not (see :func:`likelihood_maps`).
    """
    import torch

    features = model.features(x).float()
    with torch.autocast(features.device.type, enabled=False):  # keep the maps in fp32 on GPU
        maps = torch.einsum("ck,bkl->bcl", model.classifier.weight.float(), features)
        logits = maps.mean(dim=-1) + model.classifier.bias.float()
        if getattr(model, "likelihood", None) is not None:
            logits = logits + model.likelihood(x)
    return logits, maps


def likelihood_maps(model: torch.nn.Module, x: torch.Tensor, class_index: torch.Tensor
                    ) -> torch.Tensor | None:
    """(B, n_kept) map of the likelihood head for ``class_index[b]`` on the kept channels
    (its per-channel terms times n_kept), or None without a head."""
    head = getattr(model, "likelihood", None)
    if head is None:
        return None
    return head.channel_contributions(x, class_index) * x.shape[-1]


def upsample(maps: torch.Tensor, length: int) -> torch.Tensor:
    """Linear upsampling (B, n, L') -> (B, n, length); feature ``j`` covers input
    ``[j * length / L', (j + 1) * length / L')``."""
    import torch

    return torch.nn.functional.interpolate(maps, size=length, mode="linear", align_corners=False)


def to_full_grid(kept_maps: np.ndarray, keep_mask: np.ndarray) -> np.ndarray:
    """Place (..., n_kept) values on the full grid (..., n_channels), NaN where discarded."""
    out = np.full(kept_maps.shape[:-1] + keep_mask.shape, np.nan, dtype=np.float32)
    out[..., keep_mask] = kept_maps
    return out


def iter_channel_importance(classifier: SpectrumClassifier, counts: np.ndarray,
                            labels: np.ndarray, batch_size: int = 256
                            ) -> TaskGenerator[np.ndarray]:
    """Mean |CAM| per channel and class, over samples of that class (paper Sec. III-C).

    A generator: yields :class:`Progress` once per batch and returns the importance. Each
    sample's map of its *true* class is divided by its largest |value| before averaging, so
    every sample weighs the same whatever its count level.

    Parameters
    ----------
    counts
        (N, n_channels) spectra on the classifier's grid.
    labels
        (N,) true class of each spectrum.

    Returns
    -------
    (n_classes, n_channels) float64 in [0, 1]; NaN in discarded channels and for classes without
    samples.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != labels.size:
        raise InputError(f"expected (N, n_channels) counts and N labels, got {counts.shape} and "
                         f"{labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= classifier.n_classes):
        raise InputError(f"labels must lie in [0, {classifier.n_classes})")
    n_channels = classifier.grid.n_channels
    sums = np.zeros((classifier.n_classes, n_channels))
    seen = np.zeros(classifier.n_classes)
    for start in range(0, labels.size, batch_size):
        chunk = labels[start:start + batch_size]
        result = classifier.cam(counts[start:start + batch_size], class_index=chunk)
        maps = np.abs(result.maps.astype(np.float64))
        peak = np.nanmax(maps, axis=1, keepdims=True)
        maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
        np.add.at(sums, chunk, np.nan_to_num(maps))
        seen += np.bincount(chunk, minlength=classifier.n_classes)
        done = start + chunk.size
        yield Progress(done / labels.size, f"class activation maps {done}/{labels.size}")
    with np.errstate(invalid="ignore", divide="ignore"):
        importance = sums / seen[:, None]
    importance[:, ~classifier.preprocess.keep_mask(n_channels)] = np.nan
    return importance


def channel_importance(classifier: SpectrumClassifier, counts: np.ndarray, labels: np.ndarray,
                       batch_size: int = 256) -> np.ndarray:
    """:func:`iter_channel_importance` run to completion."""
    return drive(iter_channel_importance(classifier, counts, labels, batch_size))


def importance_from_references(classifier: SpectrumClassifier, references: ReferenceSet,
                               counts: int, draws_per_class: int = 50, seed: int = 0
                               ) -> TaskGenerator[np.ndarray]:
    """Channel importance on seeded RSM-3 draws of ``counts`` from each class's references.

    A generator like :func:`iter_channel_importance`; ``references`` must use the classifier's
    classes (same order) and grid.
    """
    if list(references.classes) != list(classifier.classes):
        raise InputError("the references' classes differ from the classifier's")
    if references.grid != classifier.grid:
        raise InputError("the references are not on the classifier's energy grid")
    draws, labels = references.draw(counts, draws_per_class, seed)
    return (yield from iter_channel_importance(classifier, draws, labels))


def suggest_discard_ranges(importance: np.ndarray, threshold: float = 0.05, min_width: int = 32
                           ) -> list[tuple[int, int]]:
    """Channel ranges that no class relies on (paper Sec. III-C).

    Parameters
    ----------
    importance
        (n_classes, n_channels) or (n_channels,) from :func:`channel_importance`; NaN channels
        (already discarded) count as unimportant.
    threshold
        A channel is unimportant when its largest importance over classes is below
        ``threshold`` times the overall maximum (0-1).
    min_width
        Shortest run of unimportant channels worth discarding.

    Returns
    -------
    Half-open ``[(start, stop), ...]`` ranges, usable as ``PreprocessConfig.discard``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    importance = np.atleast_2d(np.asarray(importance, dtype=np.float64))
    with np.errstate(all="ignore"):
        valid = ~np.all(np.isnan(importance), axis=0)
        combined = np.where(valid, np.nanmax(np.where(valid, importance, 0.0), axis=0), np.nan)
    top = np.nanmax(combined) if np.any(valid) else 0.0
    low = ~valid | (combined < threshold * top)
    padded = np.r_[False, low, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= min_width]
