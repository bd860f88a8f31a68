"""Marginal distributions of CDC events, and how far they are from a real ICEDUST file's.

The reference, ``icedust_marginals.json`` beside this module, summarises one public ICEDUST
Monte-Carlo file of the COMET Phase-I CDC (25 event windows, 46 185 hits; histograms and counts
only). The synthetic background resamples its per-particle histograms
(:mod:`engines.cdc.synthetic_background`), and :func:`compare` measures the same histograms on
any events and reports their distance from the reference:

Distances
    Histograms (charge, time, drift time, layer, track length, particle mix) are compared by
    the total-variation distance ``½ Σ |p − q|`` of the normalised counts over the reference's
    bins (0 = identical, 1 = disjoint); values outside the bins are counted in the end bins.
    Per-event figures (occupancy, hits per hit cell) are compared by their means, as a relative
    difference. :data:`TOLERANCES` states the limit for each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from engines.cdc.events import Event, particle_name
from engines.cdc.geometry import get_geometry

REFERENCE_PATH = Path(__file__).with_name("icedust_marginals.json")
HISTOGRAMS = ("log10_charge", "detected_time_ns", "drift_time_ns", "layer")

#: the distance each comparison may reach (see the module docstring for the measures)
TOLERANCES = {
    "background log10_charge": 0.05,
    "background detected_time_ns": 0.08,
    "background drift_time_ns": 0.05,
    "background layer": 0.05,
    "pid_hit_fraction": 0.05,
    "proton log10_charge": 0.06,
    "e- log10_charge": 0.06,
    "proton detected_time_ns": 0.10,
    "e- detected_time_ns": 0.10,
    "proton track length": 0.15,
    "e- track length": 0.15,
    "occupancy (mean, relative)": 0.10,
    "hits per hit cell (mean, relative)": 0.08,
    "signal log10_charge": 0.30,
}


@cache
def reference() -> dict[str, Any]:
    """The reference marginals (the parsed JSON; do not modify)."""
    return json.loads(REFERENCE_PATH.read_text())


@dataclass(frozen=True)
class Histogram:
    """Counts over bin edges, with inverse-CDF sampling (uniform within a bin)."""

    edges: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        return cls(np.asarray(data["edges"], dtype=np.float64),
                   np.asarray(data["counts"], dtype=np.float64))

    @property
    def probabilities(self) -> np.ndarray:
        total = self.counts.sum()
        return self.counts / total if total > 0 else self.counts

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Values at cumulative probabilities ``u`` in [0, 1) (uniform within each bin)."""
        p = self.probabilities
        upper = np.cumsum(p)
        u = np.asarray(u, dtype=np.float64) * upper[-1]
        index = np.minimum(np.searchsorted(upper, u, side="right"), len(p) - 1)
        lower = upper[index] - p[index]
        fraction = np.clip((u - lower) / np.where(p[index] > 0, p[index], 1.0), 0.0, 1.0)
        return self.edges[index] + fraction * (self.edges[index + 1] - self.edges[index])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.quantile(rng.random(n))

    def mean(self) -> float:
        centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        return float(np.sum(self.probabilities * centres))

    def count(self, values: np.ndarray) -> np.ndarray:
        """Counts of ``values`` on these bins, values outside going to the end bins."""
        index = np.searchsorted(self.edges, np.asarray(values, dtype=np.float64), side="right")
        index = np.clip(index - 1, 0, len(self.counts) - 1)
        return np.bincount(index, minlength=len(self.counts)).astype(np.float64)


def tv_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance of two count vectors (normalised here); 1 if either is empty."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def species_histogram(pid: str, name: str) -> Histogram:
    """Reference histogram ``name`` of background particle ``pid`` (e.g. "proton")."""
    return Histogram.from_json(reference()["by_pid_background"][pid][name])


def length_histogram(pid: str) -> Histogram:
    """Reference background track lengths (hits per track) of ``pid``."""
    return Histogram.from_json(reference()["background_track_length_hits"][pid])


def _hit_values(events: Sequence[Event], mask_of) -> dict[str, np.ndarray]:
    layer_of = get_geometry().layer_of_cell
    values: dict[str, list[np.ndarray]] = {name: [] for name in HISTOGRAMS}
    for event in events:
        mask = mask_of(event)
        values["log10_charge"].append(np.log10(np.maximum(event.adc[mask], 1e-3)))
        values["detected_time_ns"].append(event.time_ns[mask] + np.float32(
            event.trigger_time_ns))
        drift = (event.drift_time_ns if event.drift_time_ns is not None
                 else np.full(event.n_hits, np.nan))
        values["drift_time_ns"].append(drift[mask][np.isfinite(drift[mask])])
        values["layer"].append(layer_of[event.cell[mask]] - 1)
    return {name: np.concatenate(v) if v else np.zeros(0) for name, v in values.items()}


def _track_lengths(events: Sequence[Event], pdg: int) -> np.ndarray:
    lengths = []
    for event in events:
        if event.pid is None:
            continue
        mask = (event.pid == pdg) & ~event.is_signal & (event.track_id >= 0)
        _ids, counts = np.unique(event.track_id[mask], return_counts=True)
        lengths.append(counts)
    return np.concatenate(lengths) if lengths else np.zeros(0)


@dataclass(frozen=True)
class Comparison:
    """One line of :func:`compare`: ``distance`` against ``tolerance`` (passes when ≤)."""

    name: str
    distance: float
    tolerance: float

    @property
    def passes(self) -> bool:
        return bool(self.distance <= self.tolerance)


def compare(events: Sequence[Event]) -> list[Comparison]:
    """Distances of the marginals of ``events`` (with truth) from the reference, one
    :class:`Comparison` per entry of :data:`TOLERANCES` (the particle-resolved ones need
    per-hit particle truth, ``Event.pid``)."""
    ref = reference()
    out: list[tuple[str, float]] = []
    background = _hit_values(events, lambda e: ~e.is_signal)
    for name in HISTOGRAMS:
        hist = Histogram.from_json(ref["all_background"][name])
        out.append((f"background {name}", tv_distance(hist.count(background[name]),
                                                      hist.counts)))
    with_pid = [e for e in events if e.pid is not None]
    pids = np.concatenate([e.pid[~e.is_signal] for e in with_pid]) if with_pid else np.zeros(0)
    names = list(ref["pid_hit_fraction"])
    codes = {particle_name(code): code for code in np.unique(pids)}
    measured = [np.count_nonzero(pids == codes[n]) if n in codes else 0 for n in names]
    out.append(("pid_hit_fraction", tv_distance(measured,
                                                [ref["pid_hit_fraction"][n] for n in names])))
    pdg = {"proton": 2212, "e-": 11}
    for species in ("proton", "e-"):
        values = _hit_values(with_pid, lambda e, c=pdg[species]: (e.pid == c) & ~e.is_signal)
        for name in ("log10_charge", "detected_time_ns"):
            hist = species_histogram(species, name)
            out.append((f"{species} {name}", tv_distance(hist.count(values[name]),
                                                         hist.counts)))
    for species in ("proton", "e-"):
        hist = length_histogram(species)
        out.append((f"{species} track length",
                    tv_distance(hist.count(_track_lengths(with_pid, pdg[species])), hist.counts)))
    occupancy = np.array([e.occupancy for e in events])
    per_cell = np.array([e.n_hits / max(1, len(e.hit_cells)) for e in events])
    ref_occ = float(np.mean(ref["per_event"]["occupancy_of_read_out_cells"]))
    ref_mult = float(np.mean(ref["per_event"]["hits_per_hit_cell"]))
    out.append(("occupancy (mean, relative)", abs(occupancy.mean() / ref_occ - 1.0)))
    out.append(("hits per hit cell (mean, relative)", abs(per_cell.mean() / ref_mult - 1.0)))
    signal = _hit_values(events, lambda e: e.is_signal)
    hist = Histogram.from_json(ref["signal"]["log10_charge"])
    out.append(("signal log10_charge", tv_distance(hist.count(signal["log10_charge"]),
                                                   hist.counts)))
    return [Comparison(name, distance, TOLERANCES[name]) for name, distance in out]


def reference_occupancy() -> float:
    """Mean read-out occupancy of the reference file's windows (about 0.32)."""
    return float(np.mean(reference()["per_event"]["occupancy_of_read_out_cells"]))
