"""The 2-D (hit time, ADC) density of signal hits, used to pick one hit per multi-hit cell.

Paper Sec. 3.5.1: a histogram of the signal hits of the training data over (time, ADC) is a
density map; in a cell with several hits the hit at the highest density represents the cell.
The table is built from training events only (:meth:`SignalDensity.fit`) and travels with the
model in its JSON sidecar (:meth:`SignalDensity.to_json` / :meth:`SignalDensity.from_json`), so
the same selection is applied at inference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.core.errors import ModelError

DEFAULT_TIME_RANGE_NS = (-800.0, 1200.0)
DEFAULT_ADC_RANGE = (0.0, 2000.0)


@dataclass(frozen=True, eq=False)
class SignalDensity:
    """Normalised signal-hit density over (time, ADC) bins.

    Attributes
    ----------
    table : (n_time, n_adc) float64
        Density per bin (sums to 1 before the floor is added); never 0, so ties between
        hits outside the signal region are broken by time (earliest first).
    time_edges_ns : (n_time + 1,) float64
    adc_edges : (n_adc + 1,) float64
    """

    table: np.ndarray
    time_edges_ns: np.ndarray
    adc_edges: np.ndarray

    @classmethod
    def fit(cls, events: Iterable[Event], time_bins: int = 80, adc_bins: int = 80,
            time_range_ns: tuple[float, float] = DEFAULT_TIME_RANGE_NS,
            adc_range: tuple[float, float] = DEFAULT_ADC_RANGE,
            smoothing_bins: float = 1.0) -> SignalDensity:
        """Histogram the signal hits of ``events`` (values outside the ranges go to edge bins).

        Parameters
        ----------
        time_bins, adc_bins
            Number of bins [4, 1000].
        smoothing_bins
            Gaussian smoothing width in bins [0, 10] (fills holes of a small sample).

        Raises
        ------
        ModelError
            When the events contain no signal hit (nothing to learn a density from).
        """
        from scipy.ndimage import gaussian_filter

        times, adcs = [], []
        for event in events:
            times.append(event.time_ns[event.is_signal])
            adcs.append(event.adc[event.is_signal])
        t = np.concatenate(times) if times else np.zeros(0)
        a = np.concatenate(adcs) if adcs else np.zeros(0)
        if t.size == 0:
            raise ModelError("no signal hits in the training events: cannot build the "
                             "(time, ADC) signal density")
        time_edges = np.linspace(*time_range_ns, int(time_bins) + 1)
        adc_edges = np.linspace(*adc_range, int(adc_bins) + 1)
        t = np.clip(t, time_edges[0], time_edges[-1])
        a = np.clip(a, adc_edges[0], adc_edges[-1])
        hist, _, _ = np.histogram2d(t, a, bins=(time_edges, adc_edges))
        if smoothing_bins > 0:
            hist = gaussian_filter(hist, smoothing_bins, mode="nearest")
        hist /= hist.sum()
        return cls(hist + 1e-9, time_edges, adc_edges)

    def __call__(self, time_ns: np.ndarray, adc: np.ndarray) -> np.ndarray:
        """Density at each hit, shape of ``time_ns``; values outside the ranges use edge bins."""
        ti = np.searchsorted(self.time_edges_ns, time_ns, side="right") - 1
        ai = np.searchsorted(self.adc_edges, adc, side="right") - 1
        ti = np.clip(ti, 0, self.table.shape[0] - 1)
        ai = np.clip(ai, 0, self.table.shape[1] - 1)
        return self.table[ti, ai]

    def to_json(self) -> dict[str, Any]:
        return {"time_edges_ns": [float(v) for v in self.time_edges_ns],
                "adc_edges": [float(v) for v in self.adc_edges],
                "table": [[float(f"{v:.6g}") for v in row] for row in self.table]}

    @classmethod
    def from_json(cls, data: Any) -> SignalDensity:
        """Rebuild from :meth:`to_json` output; ModelError when malformed."""
        try:
            table = np.asarray(data["table"], dtype=np.float64)
            time_edges = np.asarray(data["time_edges_ns"], dtype=np.float64)
            adc_edges = np.asarray(data["adc_edges"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise ModelError("signal density in the model description is malformed") from None
        ok = (table.ndim == 2 and time_edges.shape == (table.shape[0] + 1,)
              and adc_edges.shape == (table.shape[1] + 1,) and np.all(np.isfinite(table))
              and np.all(table > 0) and np.all(np.diff(time_edges) > 0)
              and np.all(np.diff(adc_edges) > 0))
        if not ok:
            raise ModelError("signal density in the model description has inconsistent shapes "
                             "or values")
        return cls(table, time_edges, adc_edges)
