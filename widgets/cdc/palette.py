"""Colours of the CDC workspace: colour modes of the event display and outcome classes.

Outcome colours follow the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies); signal-like classes are also drawn larger than background, so the track stands
out without relying on colour alone. Continuous modes use perceptually uniform maps whose low
end is dark (a low score must not look like the light grey of an empty cell). Their levels come
from each file's data (:func:`engines.cdc.display.colour_scales`); ``levels`` here are only
the fallback before a file is open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg


@dataclass(frozen=True)
class ColourMode:
    """A colouring of the hit cells: colour-bar label, colour map (None = categorical) and
    default levels (physical units)."""

    title: str
    label: str
    colormap: str | None
    levels: tuple[float, float]


COLOUR_MODES = {
    "time": ColourMode("Time", "Hit time from trigger (ns)", "viridis", (-600.0, 900.0)),
    "charge": ColourMode("Charge", "log10 charge (file units)", "CET-L8", (0.0, 4.0)),
    "score": ColourMode("Score", "Signal score", "plasma", (0.0, 1.0)),
    "outcome": ColourMode("Outcome", "", None, (0.0, 1.0)),
}
#: the time axis of files without trigger times
TIME_LABEL_NO_TRIGGER = "Hit time, file clock (ns)"

# indexed by the outcome codes of engines.cdc.outcomes (0 … 8)
OUTCOME_COLOURS = (
    (0, 158, 115),    # true positive: bluish green
    (213, 94, 0),     # false positive: vermillion
    (0, 114, 178),    # missed: blue
    (200, 200, 200),  # background (rejected): light grey
    (0, 114, 178),    # kept (no truth): blue
    (200, 200, 200),  # rejected (no truth): light grey
    (20, 20, 20),     # signal (truth, no scores): black, as in the paper's Fig. 3
    (185, 185, 185),  # background (truth, no scores): grey
    (140, 140, 140),  # hit (no truth, no scores) / not scored: mid grey
)
OUTCOME_SIZES = (8.5, 8.5, 8.5, 5.0, 8.0, 5.0, 8.0, 5.0, 6.0)


def brush_table(colormap: str | None, n: int = 256) -> np.ndarray:
    """(n,) object array of QBrush along ``colormap`` (empty for categorical modes)."""
    if colormap is None:
        return np.zeros(0, dtype=object)
    colours = pg.colormap.get(colormap).getLookupTable(0.0, 1.0, n, alpha=True)
    return np.array([pg.mkBrush(*c) for c in colours], dtype=object)


def lut_index(values: np.ndarray, levels: tuple[float, float], top: int) -> np.ndarray:
    """Lookup-table index 0…top of ``values`` between ``levels`` (clipped; NaN -> 0)."""
    low, high = levels
    span = high - low if high > low else 1.0
    scaled = np.nan_to_num((np.asarray(values, dtype=np.float64) - low) / span, nan=0.0)
    return np.clip(np.rint(scaled * top), 0, top).astype(np.int64)


def qcolor_rgb(colour: tuple[int, int, int]) -> str:
    """``#rrggbb`` of an RGB tuple, for rich text."""
    return "#{:02x}{:02x}{:02x}".format(*colour)
