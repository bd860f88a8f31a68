"""Training input: one or more long reference spectra per class on a common energy grid.

:class:`ReferenceSet` is all the training code needs. :func:`from_library` adapts any object
with ``classes``, ``grid``, ``spectra`` and ``labels`` attributes (the spectrum library loader)
without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.spectrum import EnergyGrid


@dataclass
class ReferenceSet:
    """Long reference measurements with their class labels.

    Attributes
    ----------
    classes
        Class names, length n_classes (>= 2).
    grid
        Energy grid of the spectra.
    spectra
        (n_refs, n_channels) counts (or expected counts), >= 0, each row with a positive total.
    labels
        (n_refs,) class index of each spectrum; every class has at least one.
    """

    classes: list[str]
    grid: EnergyGrid
    spectra: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        self.spectra = np.asarray(self.spectra, dtype=np.float64)
        self.labels = np.asarray(self.labels).astype(np.int64, copy=False).ravel()
        n = len(self.classes)
        if n < 2:
            raise InputError(f"training needs at least 2 classes, got {n}")
        if len(set(self.classes)) != n:
            raise InputError("class names must be unique")
        if self.spectra.ndim != 2 or self.spectra.shape[1] != self.grid.n_channels:
            raise InputError(f"reference spectra have shape {self.spectra.shape}, expected "
                             f"(n_refs, {self.grid.n_channels}) for the energy grid")
        if self.labels.shape != self.spectra.shape[:1]:
            raise InputError(f"{self.labels.size} labels for {self.spectra.shape[0]} spectra")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= n):
            raise InputError(f"labels must lie in [0, {n})")
        if not np.all(np.isfinite(self.spectra)) or np.any(self.spectra < 0):
            raise InputError("reference spectra must be finite and >= 0")
        if np.any(self.spectra.sum(axis=1) <= 0):
            raise InputError("a reference spectrum has no counts")
        missing = [self.classes[c] for c in np.setdiff1d(np.arange(n), self.labels)]
        if missing:
            raise InputError(f"no reference spectrum for class(es): {', '.join(missing)}")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def probabilities(self) -> np.ndarray:
        """Each reference normalised to sum 1, shape (n_refs, n_channels)."""
        return self.spectra / self.spectra.sum(axis=1, keepdims=True)

    def templates(self, preprocess: PreprocessConfig | None = None) -> np.ndarray:
        """Class templates: mean normalised reference per class, restricted to the kept channels
        and renormalised, shape (n_classes, n_kept) (n_kept = n_channels without preprocessing).
        """
        probabilities = self.probabilities()
        if preprocess is not None:
            probabilities = probabilities[:, preprocess.keep_mask(self.grid.n_channels)]
        sums = np.zeros((self.n_classes, probabilities.shape[1]))
        np.add.at(sums, self.labels, probabilities)
        totals = sums.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            raise InputError("a class has no counts in the kept channels")
        return sums / totals


    def draw(self, counts: int, draws_per_class: int, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
        """Seeded short measurements (RSM-3, numpy; identical on every machine).

        Each draw picks one of its class's references at random.

        Parameters
        ----------
        counts
            Counts per measurement (>= 1).
        draws_per_class
            Measurements per class (>= 1).

        Returns
        -------
        counts (n_classes * draws_per_class, n_channels) float32 and labels (same length,)
        int64, ordered by class.
        """
        from engines.spectrum.rsm import rsm3

        if counts < 1 or draws_per_class < 1:
            raise InputError("counts and draws per class must be >= 1")
        rng = np.random.default_rng([seed, 7919])
        labels = np.repeat(np.arange(self.n_classes), draws_per_class)
        pick = np.empty(labels.size, dtype=np.int64)
        for c in range(self.n_classes):
            pick[labels == c] = rng.choice(np.flatnonzero(self.labels == c), size=draws_per_class)
        return rsm3(self.probabilities()[pick], int(counts), rng).astype(np.float32), labels


def from_library(library: Any) -> ReferenceSet:
    """Adapt a spectrum library (``classes``, ``grid``, ``spectra``, ``labels``) or return a
    :class:`ReferenceSet` unchanged."""
    if isinstance(library, ReferenceSet):
        return library
    missing = [name for name in ("classes", "grid", "spectra", "labels")
               if not hasattr(library, name)]
    if missing:
        raise InputError(f"{type(library).__name__} is not a spectrum library "
                         f"(missing {', '.join(missing)})")
    return ReferenceSet(list(library.classes), library.grid, np.asarray(library.spectra),
                        np.asarray(library.labels))
