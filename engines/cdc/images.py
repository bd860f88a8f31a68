"""Events -> images for the U-Net, and pixel scores -> per-hit scores (paper Sec. 3.5).

One pixel per CDC cell (all 4986, guard layers included). A cell with several hits shows one
of them: the first in time, or the one at the highest (time, ADC) signal density
(:class:`engines.cdc.signal_density.SignalDensity`). Channels: hit time, ADC and, optionally,
Δφ = cell azimuth − centre of the triggering CTH counter. Each is scaled to [0, 1]
(``linear`` over the whole recorded range or ``limited`` to the signal region with capped
values outside), quantised to ``bits`` bits, and squeezed into ``[gap, 1 − gap]`` so that two
values stay reserved: 0 (black) for pixels without a cell and 1 (white) for cells without a
hit. At 1–2 bits there are too few codes for gaps: hits then use every code but white (as in
the paper's 2-bit example), so a 1-bit image only tells hit from no hit.

Formats
    ``reduced``: cells in index order, row-major into a 71×71 grid (4986 of 5041 pixels).
    ``normal``: the read-out end-plate (x, y) binned into 128×128 pixels of 12.78 mm over
    ±81.8 cm (y up); no two cells share a pixel; about 30 % of the pixels are cells.

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
from engines.cdc.geometry import LAYER_RADIUS_CM, N_CELLS, get_geometry
from engines.cdc.signal_density import SignalDensity
from engines.core.config import from_json, param, to_json, validate
from engines.core.errors import InputError, ModelError

FORMATS = {"reduced": (71, 71), "normal": (128, 128)}
HIT_SELECTIONS = ("density", "first")
SCALINGS = ("linear", "limited")


def _increasing(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and pair[1] > pair[0] else "must be an increasing (low, high) pair"


@dataclass(frozen=True)
class ImageConfig:
    """How events become images (times in ns relative to the trigger)."""

    format: str = param("reduced", label="Image format", choices=tuple(FORMATS),
                        help="reduced: the 71×71 cell index grid; normal: x, y binned to 128×128")
    input_size: int = param(288, label="Input size", unit="px", range=(32, 1024), step=16,
                            help="model input side after nearest resize")
    hit_selection: str = param("density", label="Multi-hit cells", choices=HIT_SELECTIONS,
                               help="the first hit, or the hit of highest (time, ADC) signal "
                                    "density")
    scaling: str = param("linear", label="Scaling", choices=SCALINGS,
                         help="linear over the whole recorded range, or limited to the signal "
                              "region")
    bits: int = param(16, label="Colour bit precision", range=(1, 16))
    delta_phi: bool = param(True, label="Δφ channel", flag="delta-phi",
                            help="add the Δφ-to-trigger channel (3 channels, else 2)")
    gap: float = param(0.02, label="Gap", range=(0.0, 0.2), cli=False,
                       help="reserved margin next to black and white")
    linear_time_ns: tuple[float, float] = param((-800.0, 1200.0), label="Linear time range",
                                                unit="ns", check=_increasing, cli=False)
    linear_adc: tuple[float, float] = param((0.0, 2000.0), label="Linear ADC range",
                                            check=_increasing, cli=False)
    limited_time_ns: tuple[float, float] = param((-50.0, 400.0), label="Limited time range",
                                                 unit="ns", check=_increasing, cli=False,
                                                 help="signal region (paper Fig. 8)")
    limited_adc: tuple[float, float] = param((0.0, 700.0), label="Limited ADC range",
                                             check=_increasing, cli=False)

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

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageConfig:
        known = {f.name for f in fields(cls)}
        try:
            return from_json(cls, {k: v for k, v in data.items() if k in known},
                             "image settings")
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


@cache
def pixel_of_cell(format: str) -> np.ndarray:
    """Flat pixel index (row·W + col) of every cell, (4986,) int64, for ``format``."""
    if format not in FORMATS:
        raise InputError(f"unknown image format {format!r}; valid: {', '.join(FORMATS)}")
    height, width = FORMATS[format]
    if format == "reduced":
        pixels = np.arange(N_CELLS, dtype=np.int64)
    else:
        geometry = get_geometry()
        half = float(LAYER_RADIUS_CM[-1])
        size = 2.0 * half / width
        col = np.clip(np.floor((geometry.cell_x + half) / size), 0, width - 1)
        row = np.clip(np.floor((half - geometry.cell_y) / size), 0, height - 1)
        pixels = (row * width + col).astype(np.int64)
        if np.unique(pixels).size != N_CELLS:
            raise RuntimeError("normal format: two cells share a pixel")
    pixels.setflags(write=False)
    return pixels


@cache
def cell_of_pixel(format: str) -> np.ndarray:
    """Cell shown at each flat pixel, (H·W,) int64, -1 where there is no cell."""
    height, width = FORMATS[format]
    cells = np.full(height * width, -1, dtype=np.int64)
    cells[pixel_of_cell(format)] = np.arange(N_CELLS)
    cells.setflags(write=False)
    return cells


def valid_mask(format: str) -> np.ndarray:
    """(H, W) bool, True on cell pixels."""
    return (cell_of_pixel(format) >= 0).reshape(FORMATS[format])


class _Hits(NamedTuple):
    event: np.ndarray     # (n,) int64 event index within the batch
    cell: np.ndarray
    time_ns: np.ndarray
    adc: np.ndarray
    is_signal: np.ndarray


def _concatenate(events: Sequence[Event]) -> _Hits:
    counts = np.array([e.n_hits for e in events], dtype=np.int64)
    if len(events) == 0:
        empty = np.zeros(0)
        return _Hits(empty.astype(np.int64), empty.astype(np.int64), empty, empty,
                     empty.astype(bool))
    return _Hits(np.repeat(np.arange(len(events)), counts),
                 np.concatenate([e.cell for e in events]).astype(np.int64),
                 np.concatenate([e.time_ns for e in events]).astype(np.float64),
                 np.concatenate([e.adc for e in events]).astype(np.float64),
                 np.concatenate([e.is_signal for e in events]))


def _check_density(config: ImageConfig, density: SignalDensity | None) -> None:
    if config.hit_selection == "density" and density is None:
        raise ModelError("hit selection 'density' needs the (time, ADC) signal density of the "
                         "training data")


def select_hits(event: np.ndarray, cell: np.ndarray, time_ns: np.ndarray, adc: np.ndarray,
                config: ImageConfig, density: SignalDensity | None) -> np.ndarray:
    """Index of the hit that represents each hit cell.

    Parameters
    ----------
    event, cell, time_ns, adc : (n,) arrays
        Hits of several events, ``event`` numbering the events.

    Returns
    -------
    (n_hit_cells,) int64
        Indices into the hit arrays, one per distinct (event, cell), sorted by (event, cell).
        Ties in density are broken by time.
    """
    _check_density(config, density)
    key = event * N_CELLS + cell
    if config.hit_selection == "density":
        order = np.lexsort((time_ns, -density(time_ns, adc), key))
    else:
        order = np.lexsort((time_ns, key))
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


def scale_features(time_ns: np.ndarray, adc: np.ndarray, delta_phi: np.ndarray | None,
                   config: ImageConfig) -> np.ndarray:
    """Hit colours, (C, n) float32 in [0, 1] excluding the reserved white (1.0).

    Δφ is NaN when the trigger counter is unknown; such hits get the middle value.
    """
    t_range = config.linear_time_ns if config.scaling == "linear" else config.limited_time_ns
    a_range = config.linear_adc if config.scaling == "linear" else config.limited_adc
    columns = [(time_ns - t_range[0]) / (t_range[1] - t_range[0]),
               (adc - a_range[0]) / (a_range[1] - a_range[0])]
    if config.delta_phi:
        dphi = np.where(np.isnan(delta_phi), 0.0, delta_phi)
        columns.append((dphi + np.pi) / (2.0 * np.pi))
    values = np.clip(np.stack(columns), 0.0, 1.0)
    return _quantise(values, config.bits, config.gap).astype(np.float32)


def _delta_phi(hits: _Hits, events: Sequence[Event]) -> np.ndarray:
    geometry = get_geometry()
    counters = np.array([e.trigger_counter for e in events], dtype=np.int64)[hits.event]
    dphi = geometry.cell_phi[hits.cell] - geometry.cth_phi_center[np.maximum(counters, 0)]
    dphi = np.mod(dphi + np.pi, 2.0 * np.pi) - np.pi
    return np.where(counters >= 0, dphi, np.nan)


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
    pixels = pixel_of_cell(config.format)
    hits = _concatenate(events)
    chosen = select_hits(hits.event, hits.cell, hits.time_ns, hits.adc, config, density)
    images = np.zeros((n, config.channels, height * width), dtype=np.float32)
    images[:, :, pixels] = 1.0
    dphi = _delta_phi(hits, events)[chosen] if config.delta_phi else None
    values = scale_features(hits.time_ns[chosen], hits.adc[chosen], dphi, config)
    event, pixel = hits.event[chosen], pixels[hits.cell[chosen]]
    for channel in range(config.channels):
        images[event, channel, pixel] = values[channel]
    labels = np.zeros((n, height * width), dtype=np.float32)
    signal = hits.is_signal
    labels[hits.event[signal], pixels[hits.cell[signal]]] = 1.0
    valid = np.broadcast_to(valid_mask(config.format), (n, height, width))
    return ImageBatch(images.reshape(n, config.channels, height, width),
                      labels.reshape(n, height, width), valid)


def cell_scores(pixel_scores: np.ndarray, config: ImageConfig) -> np.ndarray:
    """Scores of the 4986 cells, (N, 4986), from pixel scores (N, H, W) on the grid."""
    pixel_scores = np.asarray(pixel_scores)
    n = pixel_scores.shape[0]
    if pixel_scores.shape[1:] != config.grid_shape:
        raise ValueError(f"pixel scores of shape {pixel_scores.shape[1:]}, expected "
                         f"{config.grid_shape}")
    return pixel_scores.reshape(n, -1)[:, pixel_of_cell(config.format)]


def pixel_scores_to_hits(events: Sequence[Event], pixel_scores: np.ndarray, config: ImageConfig,
                         density: SignalDensity | None = None) -> list[np.ndarray]:
    """Per-hit scores from per-pixel scores.

    The hit shown in the image gets its cell's score. The other hits of a multi-hit cell
    get the cell score times their signal density relative to the shown hit (capped at 1),
    so a cell flagged as signal does not turn all its background hits into positives;
    without a density table every hit shares its cell's score.

    Parameters
    ----------
    events
        The N events the images were built from.
    pixel_scores : (N, H, W)
        Signal probability per pixel on the cell grid.

    Returns
    -------
    list of N arrays (n_hits,) float32 in [0, 1]
    """
    hits = _concatenate(events)
    per_cell = cell_scores(pixel_scores, config)
    score = per_cell[hits.event, hits.cell].astype(np.float64)
    if density is not None and len(score):
        chosen = select_hits(hits.event, hits.cell, hits.time_ns, hits.adc, config, density)
        q = density(hits.time_ns, hits.adc)
        key = hits.event * N_CELLS + hits.cell
        group = np.searchsorted(key[chosen], key)  # chosen is sorted by key
        ratio = np.minimum(1.0, q / q[chosen][group])
        score *= ratio
    score = np.clip(score, 0.0, 1.0).astype(np.float32)
    bounds = np.cumsum([0] + [e.n_hits for e in events])
    return [score[bounds[i]:bounds[i + 1]] for i in range(len(events))]
