"""The density of signal hits over (time, charge) features, used to pick one hit per multi-hit
cell.

Paper Sec. 3.5.1: a histogram of the signal hits of the training data over (time, ADC) is a
density map; in a cell with several hits the hit at the highest density represents the cell.
Here the axes are the unit-free features of :mod:`engines.cdc.features` (time from the
reference, log10 charge from the event's median), and there are two maps: over (time, charge)
for events with a trigger time, and over charge alone for events without one (their time from
the window start says nothing about the signal). The tables are built from training events
only (:meth:`SignalDensity.fit`) and travel with the model in its JSON sidecar
(:meth:`SignalDensity.to_json` / :meth:`SignalDensity.from_json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.features import hit_table
from engines.core.errors import ModelError

DEFAULT_TIME_RANGE_NS = (-1000.0, 3500.0)
DEFAULT_CHARGE_RANGE = (-2.5, 2.5)
_FLOOR = 1e-9


@dataclass(frozen=True, eq=False)
class SignalDensity:
    """Normalised signal-hit densities.

    Attributes
    ----------
    table : (n_time, n_charge) float64
        Density over (time from the trigger, charge) bins, for events with a trigger time.
    charge_table : (n_charge,) float64
        Density over charge bins, for events without one.
    time_edges_ns : (n_time + 1,) float64
    charge_edges : (n_charge + 1,) float64
        Bins of the time feature (ns) and the charge feature (decades from the median).

    Both tables sum to 1 before a floor of 1e-9 is added, so ties between hits outside the
    signal region are broken by time (earliest first).
    """

    table: np.ndarray
    charge_table: np.ndarray
    time_edges_ns: np.ndarray
    charge_edges: np.ndarray

    @classmethod
    def fit(cls, events: Iterable[Event], time_bins: int = 90, charge_bins: int = 50,
            time_range_ns: tuple[float, float] = DEFAULT_TIME_RANGE_NS,
            charge_range: tuple[float, float] = DEFAULT_CHARGE_RANGE,
            smoothing_bins: float = 1.0, percentile: float = 1.0) -> SignalDensity:
        """Histogram the signal hits of ``events`` (values outside go to the edge bins).

        Events with a trigger time fill the 2-D table, all events the charge table; an
        empty 2-D table (no event with a trigger time) stays flat.

        Raises
        ------
        ModelError
            When the events contain no signal hit (nothing to learn a density from).
        """
        from scipy.ndimage import gaussian_filter

        hits = hit_table(list(events), percentile)
        signal = hits.is_signal
        if not signal.any():
            raise ModelError("no signal hits in the training events: cannot build the "
                             "(time, charge) signal density")
        time_edges = np.linspace(*time_range_ns, int(time_bins) + 1)
        charge_edges = np.linspace(*charge_range, int(charge_bins) + 1)
        t = np.clip(hits.time_ns[signal], time_edges[0], time_edges[-1])
        q = np.clip(hits.charge[signal], charge_edges[0], charge_edges[-1])
        known = hits.trigger_known[signal]
        table, _, _ = np.histogram2d(t[known], q[known], bins=(time_edges, charge_edges))
        charge_table, _ = np.histogram(q, bins=charge_edges)
        charge_table = charge_table.astype(np.float64)
        if smoothing_bins > 0:
            table = gaussian_filter(table, smoothing_bins, mode="nearest")
            charge_table = gaussian_filter(charge_table, smoothing_bins, mode="nearest")
        table = table / table.sum() if table.sum() > 0 else np.full(table.shape, 1 / table.size)
        return cls(table + _FLOOR, charge_table / charge_table.sum() + _FLOOR, time_edges,
                   charge_edges)

    def __call__(self, time_ns: np.ndarray, charge: np.ndarray,
                 trigger_known: np.ndarray | bool = True) -> np.ndarray:
        """Density at each hit (features as in :class:`engines.cdc.features.HitTable`); the
        2-D table where ``trigger_known``, the charge table elsewhere."""
        ti = np.clip(np.searchsorted(self.time_edges_ns, time_ns, side="right") - 1, 0,
                     self.table.shape[0] - 1)
        qi = np.clip(np.searchsorted(self.charge_edges, charge, side="right") - 1, 0,
                     self.table.shape[1] - 1)
        return np.where(trigger_known, self.table[ti, qi], self.charge_table[qi])

    def to_json(self) -> dict[str, Any]:
        return {"time_edges_ns": [float(v) for v in self.time_edges_ns],
                "charge_edges": [float(v) for v in self.charge_edges],
                "table": [[float(f"{v:.6g}") for v in row] for row in self.table],
                "charge_table": [float(f"{v:.6g}") for v in self.charge_table]}

    @classmethod
    def from_json(cls, data: Any) -> SignalDensity:
        """Rebuild from :meth:`to_json` output; ModelError when malformed."""
        try:
            table = np.asarray(data["table"], dtype=np.float64)
            charge_table = np.asarray(data["charge_table"], dtype=np.float64)
            time_edges = np.asarray(data["time_edges_ns"], dtype=np.float64)
            charge_edges = np.asarray(data["charge_edges"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise ModelError("signal density in the model description is malformed (a model "
                             "made before the unit-free charge features needs retraining)"
                             ) from None
        ok = (table.ndim == 2 and time_edges.shape == (table.shape[0] + 1,)
              and charge_edges.shape == (table.shape[1] + 1,)
              and charge_table.shape == (table.shape[1],)
              and all(np.all(np.isfinite(a)) and np.all(a > 0) for a in (table, charge_table))
              and np.all(np.diff(time_edges) > 0) and np.all(np.diff(charge_edges) > 0))
        if not ok:
            raise ModelError("signal density in the model description has inconsistent shapes "
                             "or values")
        return cls(table, charge_table, time_edges, charge_edges)
