"""The nodules workspace's 3-D cell: the scan's lungs rendered with the ``ct_lung`` transfer
function and every shown candidate as a sphere at its world centre with its diameter, coloured
as its boxes in the slice views (by review state, or TP / FP with the truth colours), and the
true nodules nothing found as magenta spheres. A :class:`widgets.imaging.three_d_pane.ThreeDPane`,
made only when the 3-D view is switched on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtWidgets import QWidget

from engines.core.review import ReviewItem
from engines.imaging.volume import Volume
from engines.nodules.candidates import item_geometry
from widgets.imaging.three_d_pane import ThreeDPane
from widgets.nodules.box_layer import PENS, STATIC_PENS, box_state

SPHERE_ALPHA = 230


def candidate_spheres(items: Sequence[ReviewItem], volume: Volume,
                      outcomes: Mapping[int, str] | None = None, mode: str = "state",
                      missed_xyz: np.ndarray | None = None,
                      missed_diameters: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (n, 3) world mm, radii (n,) mm and RGBA colours (n, 4) of the spheres: one per
    item with a box (its world centre and diameter, the colour of its box in ``mode``), then
    one per missed true nodule (``missed_xyz``, ``missed_diameters``)."""
    centres, radii, colours = [], [], []
    for item in items:
        if item.box is None:
            continue
        xyz, diameter = item_geometry(item, volume)
        colour = PENS[box_state(item, mode, outcomes)].color()
        centres.append(xyz)
        radii.append(diameter / 2)
        colours.append((colour.red(), colour.green(), colour.blue(), SPHERE_ALPHA))
    if missed_xyz is not None and len(missed_xyz):
        colour = STATIC_PENS["missed"].color()
        for xyz, diameter in zip(np.reshape(missed_xyz, (-1, 3)), np.ravel(missed_diameters),
                                 strict=True):
            centres.append(tuple(xyz))
            radii.append(float(diameter) / 2)
            colours.append((colour.red(), colour.green(), colour.blue(), SPHERE_ALPHA))
    return (np.asarray(centres, dtype=np.float64).reshape(-1, 3),
            np.asarray(radii, dtype=np.float64),
            np.asarray(colours, dtype=np.float64).reshape(-1, 4))


class CandidatePane(ThreeDPane):
    """The lungs and the candidates as spheres (module docstring)."""

    def __init__(self, host, enabled: bool, parent: QWidget | None = None) -> None:
        self.spheres = (np.zeros((0, 3)), np.zeros(0), np.zeros((0, 4)))
        super().__init__(host, enabled, "ct_lung", parent)

    def set_enabled(self, on: bool, volume: Volume | None) -> None:
        super().set_enabled(on, volume)
        if self.showing:
            self.view.set_spheres(*self.spheres)

    def show_spheres(self, centres: np.ndarray, radii: np.ndarray, colours: np.ndarray) -> None:
        """Draw these spheres (kept and drawn when the view is switched on later)."""
        self.spheres = (centres, radii, colours)
        if self.showing:
            self.view.set_spheres(centres, radii, colours)
