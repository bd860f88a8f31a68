"""What an event display needs of one event, computed once per event (no drawing here).

:func:`cell_view` reduces an event's hits to the 4986 cells: which cells are hit, the hit that
represents each cell (the hit the model's image shows: first in time, or the highest signal
density), its time and ADC, the cell's truth and its model score. A :class:`HitWindow` in time
and ADC hides hits from the display; truth, scores and therefore purity and retention stay
those of the whole event (the window is a display filter, not a selection cut).

:func:`model_images` returns the event as the model sees it (the image's colour channels) and
the model's scores and the truth on the same pixel grid, for the "model view".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engines.cdc.events import Event
from engines.cdc.features import HitTable, hit_table, log_charge
from engines.cdc.geometry import N_CELLS
from engines.cdc.images import FORMATS, ImageConfig, build_images, cell_of_pixel, select_hits
from engines.cdc.signal_density import SignalDensity
from engines.core.errors import InputError

#: image settings of the model view when no model is loaded (no density table: first hit)
DEFAULT_IMAGE_CONFIG = ImageConfig(hit_selection="first")


@dataclass(frozen=True)
class HitWindow:
    """Hits shown by the display: ``time_ns`` (the event's times: ns from the trigger, or on the
    file's clock without one) and ``adc`` (charge in the file's units) ranges, inclusive.

    Infinite bounds mean no limit.
    """

    time_ns: tuple[float, float] = (-np.inf, np.inf)
    adc: tuple[float, float] = (-np.inf, np.inf)

    def __post_init__(self) -> None:
        for name in ("time_ns", "adc"):
            low, high = getattr(self, name)
            if not low <= high:
                raise InputError(f"{name.replace('_ns', '')} window: low {low:g} is above "
                                 f"high {high:g}")

    @property
    def is_open(self) -> bool:
        """True when the window hides nothing."""
        return all(np.isinf(b) for b in (*self.time_ns, *self.adc))

    def describe(self) -> str:
        """``"time -50…400 ns, charge ≥ 1"``: an open end is left out, a range open at both
        ends reads "no limit"."""
        def span(low: float, high: float, unit: str) -> str:
            if np.isinf(low) and np.isinf(high):
                return "no limit"
            if np.isinf(high):
                return f"≥ {low:g}{unit}"
            if np.isinf(low):
                return f"≤ {high:g}{unit}"
            return f"{low:g}…{high:g}{unit}"

        return f"time {span(*self.time_ns, ' ns')}, charge {span(*self.adc, '')}"

    def mask(self, event: Event) -> np.ndarray:
        """(n_hits,) bool: True for hits inside the window."""
        return ((event.time_ns >= self.time_ns[0]) & (event.time_ns <= self.time_ns[1])
                & (event.adc >= self.adc[0]) & (event.adc <= self.adc[1]))


@dataclass
class CellView:
    """One event on the 4986 cells.

    Attributes
    ----------
    hit : (4986,) bool
        The cell holds at least one hit (inside the window or not).
    shown : (4986,) bool
        The cell holds at least one hit inside the display window.
    n_hits : (4986,) int32
        Hits of the cell (all of them).
    selected : (4986,) int64
        Index into the event's hits of the hit drawn for the cell (chosen among the hits
        inside the window like the model's image chooses), -1 where none is shown.
    time_ns, adc : (4986,) float32
        Time (ns from the trigger) and ADC of the selected hit; NaN where none is shown.
    signal : (4986,) bool
        The cell holds a signal hit (truth; all False without truth).
    score : (4986,) float32
        The model's cell score in [0, 1]; NaN for cells without a hit or without scores.
    hits_in_window : (n_hits,) bool
        Which of the event's hits are inside the window.
    """

    hit: np.ndarray
    shown: np.ndarray
    n_hits: np.ndarray
    selected: np.ndarray
    time_ns: np.ndarray
    adc: np.ndarray
    signal: np.ndarray
    score: np.ndarray
    hits_in_window: np.ndarray

    @property
    def has_scores(self) -> bool:
        return bool(np.isfinite(self.score[self.hit]).any())

    def hits_of(self, event: Event, cell: int) -> np.ndarray:
        """Indices of the hits of ``cell`` in ``event``, sorted by time."""
        index = np.flatnonzero(event.cell == cell)
        return index[np.argsort(event.time_ns[index], kind="stable")]


def cell_view(event: Event, cells: np.ndarray | None = None, scores: np.ndarray | None = None,
              window: HitWindow | None = None, image_config: ImageConfig | None = None,
              density: SignalDensity | None = None) -> CellView:
    """Reduce ``event`` to its cells for display.

    Parameters
    ----------
    cells, scores : (k,) int and (k,) float, optional
        Model scores of the event's hit cells (see :class:`engines.cdc.analysis.ScoredCells`).
    window
        Display window (default: everything).
    image_config, density
        The model's hit selection for multi-hit cells; without them the first hit in time.

    Returns
    -------
    :class:`CellView`
    """
    window = window or HitWindow()
    config = image_config or DEFAULT_IMAGE_CONFIG
    if config.hit_selection == "density" and density is None:
        config = dataclasses.replace(config, hit_selection="first")
    cell = event.cell.astype(np.int64)
    inside = window.mask(event)
    n_hits = np.bincount(cell, minlength=N_CELLS).astype(np.int32)
    signal = np.zeros(N_CELLS, dtype=bool)
    signal[cell[event.is_signal]] = True
    shown_hits = np.flatnonzero(inside)
    hits = hit_table([event], config.time_reference_percentile)
    chosen = shown_hits[select_hits(HitTable(*(a[shown_hits] for a in hits)), config, density)]
    selected = np.full(N_CELLS, -1, dtype=np.int64)
    selected[cell[chosen]] = chosen
    time_ns = np.full(N_CELLS, np.nan, dtype=np.float32)
    adc = np.full(N_CELLS, np.nan, dtype=np.float32)
    time_ns[cell[chosen]] = event.time_ns[chosen]
    adc[cell[chosen]] = event.adc[chosen]
    score = np.full(N_CELLS, np.nan, dtype=np.float32)
    if cells is not None and scores is not None:
        score[np.asarray(cells, dtype=np.int64)] = scores
    return CellView(n_hits > 0, selected >= 0, n_hits, selected, time_ns, adc, signal, score,
                    inside)


class ModelImages(NamedTuple):
    """An event on an image grid (H, W): see :func:`model_images`.

    Attributes
    ----------
    rgb : (H, W, 3) float32
        The model's input channels (time, ADC, Δφ; Δφ black for 2-channel models) in [0, 1];
        black = no cell, white = cell without a hit.
    score : (H, W) float32
        Cell score on hit cells, NaN elsewhere.
    truth : (H, W) bool
        Pixels of cells holding a signal hit.
    cell : (H, W) int64
        Cell shown at each pixel, -1 where there is none.
    """

    rgb: np.ndarray
    score: np.ndarray
    truth: np.ndarray
    cell: np.ndarray


def model_images(event: Event, image_format: str, image_config: ImageConfig | None = None,
                 density: SignalDensity | None = None, cells: np.ndarray | None = None,
                 scores: np.ndarray | None = None) -> ModelImages:
    """The event as the model's input image on ``image_format``'s grid, with scores and truth.

    Parameters
    ----------
    image_format
        ``"reduced"`` (71×71), ``"normal"`` (128×128) or ``"polar"`` (20×320); the model's
        other settings (scaling, bits, hit selection, Δφ) are kept.
    cells, scores : (k,) arrays, optional
        Model scores of the event's hit cells.
    """
    if image_format not in FORMATS:
        raise InputError(f"unknown image format {image_format!r}; valid: {', '.join(FORMATS)}")
    config = image_config or DEFAULT_IMAGE_CONFIG
    if config.hit_selection == "density" and density is None:
        config = dataclasses.replace(config, hit_selection="first")
    config = dataclasses.replace(config, format=image_format)
    batch = build_images([event], config, density)
    height, width = config.grid_shape
    rgb = np.zeros((height, width, 3), dtype=np.float32)
    rgb[:, :, :config.channels] = np.moveaxis(batch.images[0], 0, -1)
    shown = cell_of_pixel(image_format)
    pixels = np.flatnonzero(shown >= 0)
    if config.channels == 2:  # keep empty cells white
        flat = rgb.reshape(-1, 3)
        empty = np.all(flat[pixels, :2] == 1.0, axis=1)
        flat[pixels[empty], 2] = 1.0
    per_cell = np.full(N_CELLS, np.nan, dtype=np.float32)
    if cells is not None and scores is not None:
        per_cell[np.asarray(cells, dtype=np.int64)] = scores
    score = np.where(shown >= 0, per_cell[np.maximum(shown, 0)], np.nan).astype(np.float32)
    return ModelImages(rgb, score.reshape(height, width), batch.labels[0] > 0,
                       shown.astype(np.int64).reshape(height, width))


@dataclass(frozen=True)
class ColourScales:
    """Colour-bar levels of a file from its data (robust percentiles).

    ``time_ns`` and ``log10_charge``: the 1st and 99th percentiles of the hit times and of
    log10 charge; ``trigger_times``: whether the times are relative to a trigger (for the
    axis label). ``time_bounds_ns`` and ``log10_charge_bounds``: the full ranges (0.1–99.9 %,
    for the display-window sliders).
    """

    time_ns: tuple[float, float]
    log10_charge: tuple[float, float]
    time_bounds_ns: tuple[float, float]
    log10_charge_bounds: tuple[float, float]
    trigger_times: bool


def colour_scales(events, max_events: int = 500) -> ColourScales:
    """:class:`ColourScales` from up to ``max_events`` events spread over ``events``."""
    n = len(events)
    step = max(1, -(-n // max_events))
    chosen = [events[i] for i in range(0, n, step)]
    times = np.concatenate([e.time_ns for e in chosen]) if chosen else np.zeros(0)
    charge = log_charge(np.concatenate([e.adc for e in chosen])) if chosen else np.zeros(0)

    def pct(values: np.ndarray, low: float, high: float, default: tuple[float, float]
            ) -> tuple[float, float]:
        if values.size == 0:
            return default
        lo, hi = (float(v) for v in np.percentile(values, (low, high)))
        return (lo, hi if hi > lo else lo + 1.0)

    return ColourScales(pct(times, 1, 99, (-500.0, 1500.0)), pct(charge, 1, 99, (0.0, 3.0)),
                        pct(times, 0.1, 99.9, (-500.0, 1500.0)),
                        pct(charge, 0.1, 99.9, (0.0, 3.0)),
                        bool(chosen) and all(e.trigger_time_known for e in chosen))
