"""Calibrated gamma spectra and energy grids.

Channel ``ch`` (0-based) is centred at ``E(ch) = c0 + c1*ch + c2*ch**2`` keV and spans
``[E(ch - 0.5), E(ch + 0.5)]``. The paper's detector: ``E(ch) = 2.0727 + 0.704981*ch`` keV over
16384 channels (ch 8000 = 5641.92 keV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.core.errors import InputError


@dataclass(frozen=True)
class Calibration:
    """Polynomial channel -> energy calibration ``(c0, c1[, c2])`` in keV."""

    coefficients: tuple[float, ...]

    def __post_init__(self) -> None:
        coefficients = tuple(float(c) for c in self.coefficients)
        if not 2 <= len(coefficients) <= 3 or not all(np.isfinite(coefficients)):
            raise InputError(f"energy calibration must be linear or quadratic, got {coefficients}")
        object.__setattr__(self, "coefficients", coefficients)

    def energy(self, channel: np.ndarray | float) -> np.ndarray:
        """Energy in keV at (fractional) channel positions."""
        channel = np.asarray(channel, dtype=np.float64)
        c = self.coefficients + (0.0,) * (3 - len(self.coefficients))
        return c[0] + channel * (c[1] + channel * c[2])

    def edges(self, n_channels: int) -> np.ndarray:
        """Channel edges in keV, shape (n_channels + 1,)."""
        return self.energy(np.arange(n_channels + 1) - 0.5)

    def channel(self, energy_kev: np.ndarray | float) -> np.ndarray:
        """Fractional channel at an energy (inverse of :meth:`energy`)."""
        energy_kev = np.asarray(energy_kev, dtype=np.float64)
        c = self.coefficients + (0.0,) * (3 - len(self.coefficients))
        if c[2] == 0.0:
            return (energy_kev - c[0]) / c[1]
        disc = np.sqrt(np.maximum(c[1] ** 2 - 4 * c[2] * (c[0] - energy_kev), 0.0))
        return (-c[1] + disc) / (2 * c[2])

    def check_monotonic(self, n_channels: int, source: str) -> None:
        """Raise :class:`InputError` unless energy increases over every channel."""
        if n_channels < 2 or np.any(np.diff(self.edges(n_channels)) <= 0):
            raise InputError(f"{source}: energy calibration {self.coefficients} is not increasing "
                             f"over {n_channels} channels")


PAPER_CALIBRATION = Calibration((2.0727, 0.704981))
PAPER_CHANNELS = 16384
#: Most channels a spectrum (file or model grid) may have.
MAX_CHANNELS = 1 << 20


@dataclass(frozen=True)
class EnergyGrid:
    """The energy binning a model works on: a calibration and a channel count."""

    calibration: Calibration = PAPER_CALIBRATION
    n_channels: int = PAPER_CHANNELS

    @property
    def edges(self) -> np.ndarray:
        return self.calibration.edges(self.n_channels)

    @property
    def energies(self) -> np.ndarray:
        return self.calibration.energy(np.arange(self.n_channels))

    def to_json(self) -> dict:
        return {"calibration": list(self.calibration.coefficients), "n_channels": self.n_channels}

    @classmethod
    def from_json(cls, data: dict) -> EnergyGrid:
        """Parse :meth:`to_json` output; ValueError for a channel count outside 2…2²⁰."""
        n_channels = int(data["n_channels"])
        if not 2 <= n_channels <= MAX_CHANNELS:
            raise ValueError(f"n_channels {n_channels} outside 2…{MAX_CHANNELS}")
        return cls(Calibration(tuple(data["calibration"])), n_channels)


PAPER_GRID = EnergyGrid()


@dataclass
class Spectrum:
    """A measured (or synthetic) spectrum.

    Attributes
    ----------
    counts
        Counts per channel, shape (n_channels,), float64, all >= 0.
    calibration
        Channel -> keV.
    live_time_s, real_time_s
        Acquisition times in seconds when known.
    """

    counts: np.ndarray
    calibration: Calibration
    live_time_s: float | None = None
    real_time_s: float | None = None
    name: str = ""
    source: Path | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        label = self.source.name if self.source else (self.name or "spectrum")
        counts = np.asarray(self.counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size < 2:
            raise InputError(f"{label}: expected a 1-D array of at least 2 channels, "
                             f"got shape {counts.shape}")
        if not np.all(np.isfinite(counts)):
            raise InputError(f"{label}: counts contain NaN or infinite values")
        if np.any(counts < 0):
            raise InputError(f"{label}: negative counts in channel {int(np.argmax(counts < 0))}")
        self.counts = counts
        self.calibration.check_monotonic(counts.size, label)

    @property
    def n_channels(self) -> int:
        return int(self.counts.size)

    @property
    def total_counts(self) -> float:
        return float(self.counts.sum())

    @property
    def energies(self) -> np.ndarray:
        """Channel centres in keV, shape (n_channels,)."""
        return self.calibration.energy(np.arange(self.n_channels))

    @property
    def edges(self) -> np.ndarray:
        return self.calibration.edges(self.n_channels)

    @property
    def count_rate(self) -> float | None:
        """Counts per second of live time, when the live time is known."""
        if not self.live_time_s:
            return None
        return self.total_counts / self.live_time_s
