"""Hit features that do not depend on a file's units or clock (what the model sees).

Real ICEDUST files record ``fCharge`` in the simulation's own units (1…10⁵) and
``fDetectedTime`` on an absolute clock (−100…3500 ns), often without any CTH time; other files
hold ADC counts and trigger-relative times. The image channels therefore use:

Time from the reference, ns
    With a trigger time (``Event.trigger_time_known``) hit times are already relative to it
    (signal hits mostly −50…400 ns). Without one, the reference is a robust window start: the
    ``time_reference_percentile``-th percentile of the event's hit times (the earliest hits,
    about the window's opening; one stray early hit does not move it).
Charge, decades from the event's median
    ``log10(charge) − median(log10 charge)`` over the event's hits: a change of units shifts
    both terms alike. With the calibrated background the median is about 390 simulation units,
    and signal hits sit about 0.85 decades below it.
Δφ
    Cell azimuth minus the centre of the triggering CTH counter, when the counter is known;
    otherwise NaN, which the image shows as the middle value (Δφ = 0 would claim the cell is at
    the counter; the middle code is the documented "no trigger" fallback).

:func:`feature_summary` reports the ranges a file will feed (``cdc info``), and
:func:`range_warnings` compares them with what a model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from engines.cdc.events import Event
from engines.cdc.geometry import get_geometry

DEFAULT_REFERENCE_PERCENTILE = 1.0
SUMMARY_PERCENTILES = (1.0, 50.0, 99.0)


class HitTable(NamedTuple):
    """Features of every hit of N events, concatenated event after event.

    Attributes
    ----------
    event : (n,) int64
        Event index 0…N-1.
    cell : (n,) int64
    time_ns : (n,) float64
        Time from the reference (trigger, or the window's start), ns.
    charge : (n,) float64
        log10 of the charge minus the event's median, decades.
    delta_phi : (n,) float64
        Azimuth from the trigger counter, rad; NaN without one.
    trigger_known : (n,) bool
        The hit's event has a trigger time.
    is_signal : (n,) bool
    """

    event: np.ndarray
    cell: np.ndarray
    time_ns: np.ndarray
    charge: np.ndarray
    delta_phi: np.ndarray
    trigger_known: np.ndarray
    is_signal: np.ndarray


def log_charge(charge: np.ndarray) -> np.ndarray:
    """log10 of charges, non-positive values treated as 1e-3 of the unit."""
    return np.log10(np.maximum(np.asarray(charge, dtype=np.float64), 1e-3))


def time_reference(event: Event, percentile: float = DEFAULT_REFERENCE_PERCENTILE) -> float:
    """The time (ns, on the event's clock) the time feature counts from: 0 with a trigger
    time (times are relative to it), else the ``percentile``-th percentile of hit times."""
    if event.trigger_time_known or event.n_hits == 0:
        return 0.0
    return float(np.percentile(event.time_ns, percentile))


def charge_reference(event: Event) -> float:
    """Median log10 charge of the event's hits (0 without hits)."""
    return float(np.median(log_charge(event.adc))) if event.n_hits else 0.0


def hit_table(events: Sequence[Event],
              percentile: float = DEFAULT_REFERENCE_PERCENTILE) -> HitTable:
    """Features of all hits of ``events`` (vectorised except for two per-event statistics)."""
    counts = np.array([e.n_hits for e in events], dtype=np.int64)
    n = int(counts.sum())
    if n == 0:
        empty = np.zeros(0)
        return HitTable(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty,
                        empty.astype(bool), empty.astype(bool))
    event = np.repeat(np.arange(len(events)), counts)
    t_ref = np.array([time_reference(e, percentile) for e in events])[event]
    q_ref = np.array([charge_reference(e) for e in events])[event]
    known = np.array([e.trigger_time_known for e in events])[event]
    cell = np.concatenate([e.cell for e in events]).astype(np.int64)
    geometry = get_geometry()
    counters = np.array([e.trigger_counter for e in events], dtype=np.int64)[event]
    dphi = geometry.cell_phi[cell] - geometry.cth_phi_center[np.maximum(counters, 0)]
    dphi = np.where(counters >= 0, np.mod(dphi + np.pi, 2.0 * np.pi) - np.pi, np.nan)
    return HitTable(
        event, cell,
        np.concatenate([e.time_ns for e in events]).astype(np.float64) - t_ref,
        log_charge(np.concatenate([e.adc for e in events])) - q_ref,
        dphi, known, np.concatenate([e.is_signal for e in events]))


def feature_summary(events: Sequence[Event],
                    percentile: float = DEFAULT_REFERENCE_PERCENTILE,
                    max_events: int = 2000) -> dict[str, Any]:
    """What a file feeds the model: percentiles of the time and charge features, the raw
    charge and time ranges, the share of events with a trigger time / counter, occupancy.

    Reads at most ``max_events`` events, spread over the file.
    """
    n = len(events)
    step = max(1, -(-n // max_events))
    chosen = [events[i] for i in range(0, n, step)]
    table = hit_table(chosen, percentile)
    raw_q = np.concatenate([e.adc for e in chosen]) if chosen else np.zeros(0)
    raw_t = np.concatenate([e.time_ns for e in chosen]) if chosen else np.zeros(0)

    def pct(values: np.ndarray) -> list[float] | None:
        values = values[np.isfinite(values)]
        if values.size == 0:
            return None
        return [round(float(v), 3) for v in np.percentile(values, SUMMARY_PERCENTILES)]

    return {
        "events_read": len(chosen),
        "percentiles": list(SUMMARY_PERCENTILES),
        "time_from_reference_ns": pct(table.time_ns),
        "log10_charge_from_median": pct(table.charge),
        "raw_time_ns": pct(raw_t),
        "raw_charge": pct(raw_q),
        "trigger_time_fraction": float(np.mean([e.trigger_time_known for e in chosen]))
        if chosen else 0.0,
        "trigger_counter_fraction": float(np.mean([e.trigger_counter >= 0 for e in chosen]))
        if chosen else 0.0,
        "occupancy": pct(np.array([e.occupancy for e in chosen])),
    }


def range_warnings(summary: dict[str, Any], trained: dict[str, Any],
                   image_ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Plain-language warnings where a file's feature summary leaves what a model knows.

    Parameters
    ----------
    summary
        :func:`feature_summary` of the file.
    trained
        :func:`feature_summary` of the model's training events (its sidecar ``expects``).
    image_ranges
        The model's channel ranges, e.g. ``{"time_from_reference_ns": (-1000, 3500),
        "log10_charge_from_median": (-2.5, 2.5)}``; values outside are clipped.
    """
    warnings = []
    for key, label, unit in (("time_from_reference_ns", "time from the reference", " ns"),
                             ("log10_charge_from_median", "log10 charge from the median",
                              " decades")):
        file_range, train_range = summary.get(key), trained.get(key)
        if not file_range:
            continue
        lo, hi = image_ranges[key]
        if file_range[0] < lo or file_range[-1] > hi:
            warnings.append(f"{label}: 1–99 % of the file's hits span {file_range[0]:g}…"
                            f"{file_range[-1]:g}{unit}, beyond the model's channel range "
                            f"{lo:g}…{hi:g}{unit} (values outside are clipped)")
        if train_range:
            width = max(train_range[-1] - train_range[0], 1e-9)
            if (file_range[0] < train_range[0] - 0.25 * width
                    or file_range[-1] > train_range[-1] + 0.25 * width
                    or abs(file_range[1] - train_range[1]) > 0.25 * width):
                warnings.append(f"{label}: the file's 1/50/99 % points "
                                f"{'/'.join(f'{v:g}' for v in file_range)}{unit} are far from "
                                f"the training data's "
                                f"{'/'.join(f'{v:g}' for v in train_range)}{unit}")
    trigger = summary.get("trigger_time_fraction", 0.0)
    trained_trigger = trained.get("trigger_time_fraction")
    if trained_trigger is not None:
        if trigger < 0.5 and trained_trigger > 0.95:
            warnings.append("the file has no trigger (CTH) times, but the model was trained "
                            "only on events with one")
        if trigger > 0.5 and trained_trigger < 0.05:
            warnings.append("the file has trigger times, but the model was trained only on "
                            "events without")
    occupancy, trained_occupancy = summary.get("occupancy"), trained.get("occupancy_range")
    if occupancy and trained_occupancy and (occupancy[1] < trained_occupancy[0] - 0.05
                                            or occupancy[1] > trained_occupancy[1] + 0.05):
        warnings.append(f"median occupancy {occupancy[1]:.2f} is outside the trained "
                        f"{trained_occupancy[0]:.2f}…{trained_occupancy[1]:.2f}")
    return warnings
