"""Events -> images for the U-Net, and pixel scores -> per-hit scores (paper Sec. 3.5).

One pixel per CDC cell (all 4986, guard layers included). A cell with several hits shows one
of them: the first in time, or the one at the highest signal density
(:class:`engines.cdc.signal_density.SignalDensity`). Channels (:mod:`engines.cdc.features`):
time from the reference (the trigger, or the window's start without one), charge in decades
from the event's median and, optionally, Δφ = cell azimuth − centre of the triggering CTH
counter (the middle value without a counter). Each is scaled to [0, 1] (``linear`` over the
whole range or ``limited`` to the signal region with capped values outside — for the time of
events with a trigger only, as without one the signal region is unknown), quantised to
``bits`` bits, and squeezed into ``[gap, 1 − gap]`` so that two values stay reserved: 0
(black) for pixels without a cell and 1 (white) for cells without a hit. At 1–2 bits there are
too few codes for gaps: hits then use every code but white (as in the paper's 2-bit example),
so a 1-bit image only tells hit from no hit.

Formats
    ``reduced``: cells in index order, row-major into a 71×71 grid (4986 of 5041 pixels).
    ``normal``: the read-out end-plate (x, y) binned into 128×128 pixels of 12.78 mm over
    ±81.8 cm (y up); no two cells share a pixel; about 30 % of the pixels are cells.
    ``polar`` (not in the paper): one row per LayerID (20) and 320 columns of azimuth; every
    pixel shows the cell of its row whose wire is nearest its azimuth, so a cell covers 1.05
    (outer layers) to 1.6 (inner) pixels and neighbouring cells — within a layer and across
    layers — are neighbouring pixels; the azimuth wraps around (the light U-Net pads it
    circularly). A cell's score is the mean over its pixels.

The images stay on this cell grid; the model resizes them (nearest) to its input size and
brings its output back to the grid (linear), see :mod:`engines.cdc.model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from engines.cdc.events import Event
from engines.cdc.features import DEFAULT_REFERENCE_PERCENTILE, HitTable, hit_table
from engines.cdc.geometry import LAYER_RADIUS_CM, N_CELLS, get_geometry
from engines.cdc.signal_density import SignalDensity
from engines.core.config import from_json, param, to_json, validate
from engines.core.errors import InputError, ModelError

FORMATS = {"reduced": (71, 71), "normal": (128, 128), "polar": (20, 320)}
HIT_SELECTIONS = ("density", "first")
SCALINGS = ("linear", "limited")
#: the channel value of Δφ for events without a trigger counter
NO_TRIGGER_DELTA_PHI = 0.5


def _increasing(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and pair[1] > pair[0] else "must be an increasing (low, high) pair"


@dataclass(frozen=True)
class ImageConfig:
    """How events become images (features of :mod:`engines.cdc.features`)."""

    format: str = param("reduced", label="Image format", choices=tuple(FORMATS),
                        help="reduced: the 71×71 cell index grid; normal: x, y binned to "
                             "128×128; polar: layer × azimuth, 20×320")
    input_size: int = param(288, label="Input size", unit="px", range=(32, 1024), step=16,
                            help="model input side after nearest resize")
    hit_selection: str = param("density", label="Multi-hit cells", choices=HIT_SELECTIONS,
                               help="the first hit, or the hit of highest signal density")
    scaling: str = param("linear", label="Scaling", choices=SCALINGS,
                         help="linear over the whole range, or limited to the signal region")
    bits: int = param(16, label="Colour bit precision", range=(1, 16))
    delta_phi: bool = param(True, label="Δφ channel", flag="delta-phi",
                            help="add the Δφ-to-trigger channel (3 channels, else 2)")
    gap: float = param(0.02, label="Gap", range=(0.0, 0.2), cli=False,
                       help="reserved margin next to black and white")
    time_reference_percentile: float = param(
        DEFAULT_REFERENCE_PERCENTILE, label="Window reference percentile", unit="%",
        range=(0.0, 50.0), cli=False,
        help="without a trigger time, times count from this percentile of the event's hits")
    linear_time_ns: tuple[float, float] = param((-1000.0, 3500.0), label="Linear time range",
                                                unit="ns", check=_increasing, cli=False,
                                                help="time from the reference")
    linear_charge: tuple[float, float] = param((-2.5, 2.5), label="Linear charge range",
                                               unit="decades", check=_increasing, cli=False,
                                               help="log10 charge from the event's median")
    limited_time_ns: tuple[float, float] = param((-50.0, 400.0), label="Limited time range",
                                                 unit="ns", check=_increasing, cli=False,
                                                 help="signal region from the trigger "
                                                      "(paper Fig. 8)")
    limited_charge: tuple[float, float] = param((-2.0, 0.5), label="Limited charge range",
                                                unit="decades", check=_increasing, cli=False,
                                                help="signal region")

    def __post_init__(self) -> None:
        validate(self)

    @property
    def channels(self) -> int:
        return 3 if self.delta_phi else 2

    @property
    def grid_shape(self) -> tuple[int, int]:
        return FORMATS[self.format]

    @property
    def signal_size_ratio(self) -> float:
        """Input pixels per cell along one axis (paper Fig. 13)."""
        return self.input_size / self.grid_shape[0]

    @property
    def channel_ranges(self) -> dict[str, tuple[float, float]]:
        """Feature ranges of the time and charge channels (for range warnings)."""
        limited = self.scaling == "limited"
        return {"time_from_reference_ns": self.linear_time_ns,
                "log10_charge_from_median": self.limited_charge if limited
                else self.linear_charge}

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageConfig:
        if "linear_adc" in data:
            raise ModelError("the model was made for ADC features (before the unit-free "
                             "charge and time features): retrain it")
        known = {f.name for f in fields(cls)}
        try:
            return from_json(cls, {k: v for k, v in data.items() if k in known})
        except InputError as exc:
            raise ModelError(f"image configuration in the model description is invalid ({exc})"
                             ) from None


class ImageBatch(NamedTuple):
    """Images of N events on the cell grid.

    Attributes
    ----------
    images : (N, C, H, W) float32
        Channel values in [0, 1]; 0 = no cell, 1 = cell without a hit.
    labels : (N, H, W) float32
        1 where the cell holds at least one signal hit.
    valid : (N, H, W) bool
        True on cell pixels (a read-only broadcast of one mask).
    """

    images: np.ndarray
    labels: np.ndarray
    valid: np.ndarray


def _polar_cells() -> np.ndarray:
    """Cell of every pixel of the polar grid, (20·320,) int64."""
    geometry = get_geometry()
    height, width = FORMATS["polar"]
    layer = np.repeat(np.arange(height), width)
    phi = (np.tile(np.arange(width), height) + 0.5) * (2.0 * np.pi / width)
    wires = geometry.wires_per_layer[layer]
    wire = np.rint((phi - geometry.layer_phi0[layer]) / (2.0 * np.pi / wires)).astype(np.int64)
    return geometry.cell_index(layer, wire)


@cache
def cell_of_pixel(format: str) -> np.ndarray:
    """Cell shown at each flat pixel, (H·W,) int64, -1 where there is no cell."""
    if format not in FORMATS:
        raise InputError(f"unknown image format {format!r}; valid: {', '.join(FORMATS)}")
    height, width = FORMATS[format]
    if format == "polar":
        cells = _polar_cells()
    else:
        cells = np.full(height * width, -1, dtype=np.int64)
        cells[_one_pixel_per_cell(format)] = np.arange(N_CELLS)
    cells.setflags(write=False)
    return cells


def _one_pixel_per_cell(format: str) -> np.ndarray:
    height, width = FORMATS[format]
    if format == "reduced":
        return np.arange(N_CELLS, dtype=np.int64)
    geometry = get_geometry()
    half = float(LAYER_RADIUS_CM[-1])
    size = 2.0 * half / width
    col = np.clip(np.floor((geometry.cell_x + half) / size), 0, width - 1)
    row = np.clip(np.floor((half - geometry.cell_y) / size), 0, height - 1)
    pixels = (row * width + col).astype(np.int64)
    if np.unique(pixels).size != N_CELLS:
        raise RuntimeError("normal format: two cells share a pixel")
    return pixels


@cache
def pixel_of_cell(format: str) -> np.ndarray:
    """One flat pixel index (row·W + col) per cell, (4986,) int64: the cell's own pixel, or
    for ``polar`` the first of its pixels."""
    shown = cell_of_pixel(format)
    if format == "polar":
        pixels = np.full(N_CELLS, -1, dtype=np.int64)
        order = np.flatnonzero(shown >= 0)[::-1]
        pixels[shown[order]] = order  # the last write per cell is its first pixel
        if (pixels < 0).any():
            raise RuntimeError("polar format: a cell has no pixel")
    else:
        pixels = _one_pixel_per_cell(format)
    pixels.setflags(write=False)
    return pixels


@cache
def _pixel_groups(format: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels sorted by their cell, each cell's first position and pixel count."""
    shown = cell_of_pixel(format)
    pixels = np.flatnonzero(shown >= 0)
    pixels = pixels[np.argsort(shown[pixels], kind="stable")]
    counts = np.bincount(shown[pixels], minlength=N_CELLS)
    return pixels, np.r_[0, np.cumsum(counts)[:-1]], counts


def valid_mask(format: str) -> np.ndarray:
    """(H, W) bool, True on cell pixels."""
    return (cell_of_pixel(format) >= 0).reshape(FORMATS[format])


def _check_density(config: ImageConfig, density: SignalDensity | None) -> None:
    if config.hit_selection == "density" and density is None:
        raise ModelError("hit selection 'density' needs the signal density of the training "
                         "data")


def select_hits(hits: HitTable, config: ImageConfig, density: SignalDensity | None
                ) -> np.ndarray:
    """Index of the hit that represents each hit cell.

    Returns
    -------
    (n_hit_cells,) int64
        Indices into the hits, one per distinct (event, cell), sorted by (event, cell).
        Ties in density are broken by time.
    """
    _check_density(config, density)
    key = hits.event * N_CELLS + hits.cell
    if config.hit_selection == "density":
        q = density(hits.time_ns, hits.charge, hits.trigger_known)
        order = np.lexsort((hits.time_ns, -q, key))
    else:
        order = np.lexsort((hits.time_ns, key))
    sorted_key = key[order]
    first = np.r_[True, sorted_key[1:] != sorted_key[:-1]] if len(order) else np.zeros(0, bool)
    return order[first]


def _quantise(values: np.ndarray, bits: int, gap: float) -> np.ndarray:
    """Map [0, 1] values to hit codes of ``bits`` bits, returned as fractions of white."""
    top = (1 << int(bits)) - 1
    margin = int(round(gap * top))
    high = top - max(1, margin)
    low = min(margin, high)
    return (low + np.rint(values * (high - low))) / top


def scale_features(hits: HitTable, config: ImageConfig) -> np.ndarray:
    """Hit colours, (C, n) float32 in [0, 1] excluding the reserved white (1.0).

    Δφ is NaN when the trigger counter is unknown; such hits get the middle value.
    """
    limited = config.scaling == "limited"
    t_lo, t_hi = config.linear_time_ns
    time = (hits.time_ns - t_lo) / (t_hi - t_lo)
    if limited:  # the signal region is known only relative to a trigger
        lo, hi = config.limited_time_ns
        time = np.where(hits.trigger_known, (hits.time_ns - lo) / (hi - lo), time)
    q_lo, q_hi = config.limited_charge if limited else config.linear_charge
    columns = [time, (hits.charge - q_lo) / (q_hi - q_lo)]
    if config.delta_phi:
        columns.append(np.where(np.isnan(hits.delta_phi), NO_TRIGGER_DELTA_PHI,
                                (np.nan_to_num(hits.delta_phi) + np.pi) / (2.0 * np.pi)))
    values = np.clip(np.stack(columns), 0.0, 1.0)
    return _quantise(values, config.bits, config.gap).astype(np.float32)


def build_images(events: Sequence[Event], config: ImageConfig,
                 density: SignalDensity | None = None) -> ImageBatch:
    """Images, labels and valid masks of ``events``, vectorised over all their hits.

    Parameters
    ----------
    events
        N events (truth is used for the labels; events without truth get all-zero labels).
    density
        Signal density, required when ``config.hit_selection == "density"``.

    Returns
    -------
    :class:`ImageBatch` with images (N, C, H, W) float32, labels (N, H, W) float32 and
    valid (N, H, W) bool on the ``config.format`` grid.
    """
    n = len(events)
    height, width = config.grid_shape
    shown = cell_of_pixel(config.format)
    hits = hit_table(events, config.time_reference_percentile)
    chosen = select_hits(hits, config, density)
    # per cell first (slot N_CELLS: no cell, black), then gathered onto the grid's pixels
    cells = np.ones((n, config.channels, N_CELLS + 1), dtype=np.float32)
    cells[:, :, N_CELLS] = 0.0
    values = scale_features(HitTable(*(a[chosen] for a in hits)), config)
    for channel in range(config.channels):
        cells[hits.event[chosen], channel, hits.cell[chosen]] = values[channel]
    gather = np.where(shown >= 0, shown, N_CELLS)
    images = cells[:, :, gather]
    truth = np.zeros((n, N_CELLS + 1), dtype=np.float32)
    signal = hits.is_signal
    truth[hits.event[signal], hits.cell[signal]] = 1.0
    labels = truth[:, gather]
    valid = np.broadcast_to(valid_mask(config.format), (n, height, width))
    return ImageBatch(images.reshape(n, config.channels, height, width),
                      labels.reshape(n, height, width), valid)


def cell_scores(pixel_scores: np.ndarray, config: ImageConfig) -> np.ndarray:
    """Scores of the 4986 cells, (N, 4986), from pixel scores (N, H, W) on the grid (a cell
    covering several pixels gets their mean)."""
    pixel_scores = np.asarray(pixel_scores)
    n = pixel_scores.shape[0]
    if pixel_scores.shape[1:] != config.grid_shape:
        raise ValueError(f"pixel scores of shape {pixel_scores.shape[1:]}, expected "
                         f"{config.grid_shape}")
    flat = pixel_scores.reshape(n, -1)
    if config.format != "polar":
        return flat[:, pixel_of_cell(config.format)]
    pixels, starts, counts = _pixel_groups(config.format)
    return (np.add.reduceat(flat[:, pixels], starts, axis=1) / counts).astype(flat.dtype)


def pixel_scores_to_hits(events: Sequence[Event], pixel_scores: np.ndarray, config: ImageConfig,
                         density: SignalDensity | None = None) -> list[np.ndarray]:
    """Per-hit scores from per-pixel scores (N, H, W) on the cell grid; see
    :func:`cell_scores_to_hits`."""
    return cell_scores_to_hits(events, cell_scores(pixel_scores, config), config, density)


def cell_scores_to_hits(events: Sequence[Event], scores: np.ndarray, config: ImageConfig,
                        density: SignalDensity | None = None) -> list[np.ndarray]:
    """Per-hit scores from per-cell scores.

    The hit shown in the image gets its cell's score. The other hits of a multi-hit cell
    get the cell score times their signal density relative to the shown hit (capped at 1),
    so a cell flagged as signal does not turn all its background hits into positives;
    without a density table every hit shares its cell's score.

    Parameters
    ----------
    events
        The N events.
    scores : (N, 4986)
        Signal probability per cell.

    Returns
    -------
    list of N arrays (n_hits,) float32 in [0, 1]
    """
    hits = hit_table(events, config.time_reference_percentile)
    score = np.asarray(scores)[hits.event, hits.cell].astype(np.float64)
    if density is not None and len(score):
        chosen = select_hits(hits, config, density)
        q = density(hits.time_ns, hits.charge, hits.trigger_known)
        key = hits.event * N_CELLS + hits.cell
        group = np.searchsorted(key[chosen], key)  # chosen is sorted by key
        score *= np.minimum(1.0, q / q[chosen][group])
    score = np.clip(score, 0.0, 1.0).astype(np.float32)
    bounds = np.cumsum([0] + [e.n_hits for e in events])
    return [score[bounds[i]:bounds[i + 1]] for i in range(len(events))]
