"""The nodules workspace's 3-D cell: the scan's lungs rendered faintly (the ``ct_lung_faint``
transfer function, so that what lies inside them stays visible) and every shown candidate as an
opaque sphere at its world centre, coloured as its boxes in the slice views (by review state,
or TP / FP with the truth colours), with the true nodules nothing found as magenta spheres, and
a legend of the colours with their counts under the view. A sphere has the candidate's diameter,
but at least :data:`MIN_RADIUS_MM` in radius: a 3 mm nodule drawn to scale is a dot of one or
two pixels in a view of the whole chest. A :class:`widgets.imaging.three_d_pane.ThreeDPane`,
made only when the 3-D view is switched on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtWidgets import QLabel, QWidget

from engines.core.review import ReviewItem
from engines.imaging.volume import Volume
from engines.nodules.candidates import item_geometry
from widgets.imaging.three_d_pane import ThreeDPane
from widgets.nodules.box_layer import PENS, STATIC_PENS, box_state

SPHERE_ALPHA = 255
#: smallest drawn sphere radius (mm): 10 mm across is a few pixels in a view of the whole chest
MIN_RADIUS_MM = 5.0
#: camera magnification of :meth:`CandidatePane.reset_camera`: the lungs fill the cell
ZOOM = 1.6
PRESET = "ct_lung_faint"
#: legend names of the sphere colours (the :data:`PENS` keys, then ``missed``)
LEGEND_NAMES = {"proposed": "proposed", "accepted": "accepted", "rejected": "rejected",
                "uncertain": "uncertain", "tp": "true positive", "fp": "false positive",
                "excluded": "excluded finding", "missed": "missed nodule"}


def _rgb(key: str) -> tuple[int, int, int]:
    colour = (STATIC_PENS if key == "missed" else PENS)[key].color()
    return colour.red(), colour.green(), colour.blue()


def candidate_spheres(items: Sequence[ReviewItem], volume: Volume,
                      outcomes: Mapping[int, str] | None = None, mode: str = "state",
                      missed_xyz: np.ndarray | None = None,
                      missed_diameters: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Centres (n, 3) world mm, drawn radii (n,) mm (half the diameter, at least
    :data:`MIN_RADIUS_MM`), RGBA colours (n, 4) and colour keys (n,) of the spheres: one per
    item with a box (its world centre and diameter, the colour of its box in ``mode``), then
    one per missed true nodule (``missed_xyz``, ``missed_diameters``; key ``"missed"``)."""
    centres, diameters, keys = [], [], []
    for item in items:
        if item.box is None:
            continue
        xyz, diameter = item_geometry(item, volume)
        centres.append(xyz)
        diameters.append(diameter)
        keys.append(box_state(item, mode, outcomes))
    if missed_xyz is not None and len(missed_xyz):
        for xyz, diameter in zip(np.reshape(missed_xyz, (-1, 3)), np.ravel(missed_diameters),
                                 strict=True):
            centres.append(tuple(xyz))
            diameters.append(float(diameter))
            keys.append("missed")
    radii = np.maximum(np.asarray(diameters, dtype=np.float64) / 2, MIN_RADIUS_MM)
    colours = [(*_rgb(key), SPHERE_ALPHA) for key in keys]
    return (np.asarray(centres, dtype=np.float64).reshape(-1, 3), radii,
            np.asarray(colours, dtype=np.float64).reshape(-1, 4), keys)


def legend_entries(keys: Sequence[str]) -> list[tuple[str, tuple[int, int, int], int]]:
    """(name, rgb, count) per colour present in ``keys``, in :data:`LEGEND_NAMES` order."""
    counts = Counter(keys)
    return [(LEGEND_NAMES[key], _rgb(key), counts[key]) for key in LEGEND_NAMES if counts[key]]


def legend_html(keys: Sequence[str]) -> str:
    """The legend line: a coloured disc, the name and the count of each colour present."""
    parts = [f'<span style="color: rgb{rgb}; font-size: 14pt;">●</span> {name} {count}'
             for name, rgb, count in legend_entries(keys)]
    return "Spheres: " + ("  ·  ".join(parts) if parts else "none shown") + \
        f"  (drawn ≥ {2 * MIN_RADIUS_MM:g} mm across)"


class CandidatePane(ThreeDPane):
    """The lungs and the candidates as spheres, with their legend (module docstring)."""

    def __init__(self, host, enabled: bool, parent: QWidget | None = None) -> None:
        self.spheres = (np.zeros((0, 3)), np.zeros(0), np.zeros((0, 4)))
        self.legend = QLabel(legend_html([]))
        self.legend.setWordWrap(True)
        super().__init__(host, enabled, PRESET, parent)
        self._layout.addWidget(self.legend)
        self.legend.setVisible(self.enabled)

    def view_made(self) -> None:
        self._layout.removeWidget(self.legend)  # the legend below the view
        self._layout.addWidget(self.legend)
        self.view.volumeShown.connect(self.reset_camera)  # the lungs fill the cell

    def set_enabled(self, on: bool, volume: Volume | None) -> None:
        super().set_enabled(on, volume)
        self.legend.setVisible(self.enabled)
        if self.showing:
            self.view.set_spheres(*self.spheres)

    def show_spheres(self, centres: np.ndarray, radii: np.ndarray, colours: np.ndarray,
                     keys: Sequence[str] = ()) -> None:
        """Draw these spheres (kept and drawn when the view is switched on later) and list
        their colours (``keys``, see :func:`candidate_spheres`) in the legend."""
        self.spheres = (centres, radii, colours)
        self.legend.setText(legend_html(keys))
        if self.showing:
            self.view.set_spheres(centres, radii, colours)

    def reset_camera(self, side: str = "anterior") -> None:
        """Look at the lungs from ``side``, magnified so that they fill the cell (the body
        outline and the table need no room)."""
        if self.showing:
            self.view.reset_camera(side, ZOOM)
