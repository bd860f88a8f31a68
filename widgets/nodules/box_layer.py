"""Review boxes in the three slice views, editable in any of them.

A review item's box ``(z0, y0, x0, z1, y1, x1)`` (voxel-edge units of the axial LPS scan) is
shown in every view whose slice cuts it: a :class:`~widgets.imaging.box_overlay.BoxOverlay`
is a child of each view's image item, whose item coordinates are (column, row) voxel edges of
the shown slice, so the view's own flips and mm scaling apply to the boxes too. In a view
with column axis ``c`` and row axis ``r`` a box is the rectangle ``(lo[c], lo[r], hi[c],
hi[r])``; moving or resizing it there changes those two axes (the axial view edits x and y,
the coronal and sagittal views also the slice span z). A box drawn in draw mode gets the
third axis from its mean side, centred on the crosshair.

A second, inert overlay per view shows what is not reviewed: the true nodules nothing found
(dashed) and, in the axial view, the detector's 2-D boxes of the shown slice (thin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPen

from engines.core.review import ReviewItem
from engines.imaging.views import VIEWS
from widgets.imaging.box_overlay import BoxOverlay
from widgets.imaging.slice_view import SliceViews


def _pen(rgb: tuple[int, int, int], width: float = 2.0, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(*rgb), width, style)
    pen.setCosmetic(True)
    return pen


#: pens of the reviewed boxes, by review state and (colour mode "outcome") by truth outcome
PENS: dict[str, QPen] = {
    "proposed": _pen((255, 200, 0)), "accepted": _pen((40, 210, 90)),
    "rejected": _pen((150, 150, 150), 1.5, Qt.PenStyle.DotLine),
    "uncertain": _pen((90, 170, 255)),
    "tp": _pen((40, 210, 90)), "fp": _pen((240, 70, 50)), "excluded": _pen((170, 170, 170)),
}
#: pens of the inert boxes: true nodules nothing found, the detector's 2-D slice boxes
STATIC_PENS: dict[str, QPen] = {"missed": _pen((255, 60, 255), 2.0, Qt.PenStyle.DashLine),
                                "slice": _pen((0, 220, 220), 1.0, Qt.PenStyle.DotLine)}
COLOUR_MODES = {"state": "Review state", "outcome": "Truth (TP / FP / missed)"}


def box_state(item: ReviewItem, mode: str, outcomes: Mapping[int, str] | None) -> str:
    """The :data:`PENS` key of an item's box: its review state, or in colour mode
    ``"outcome"`` its truth outcome (rejected items stay rejected)."""
    if mode == "outcome" and outcomes is not None and item.state.value != "rejected":
        return outcomes.get(item.id, item.state.value)
    return item.state.value


class BoxLayer(QObject):
    """Boxes of review items over :class:`SliceViews`; emits edits, never changes items."""

    boxSelected = Signal(object)        # item id, or None
    geometryEdited = Signal(int, object)  # item id, new box (z0, y0, x0, z1, y1, x1)
    boxDrawn = Signal(object)           # box (z0, y0, x0, z1, y1, x1) drawn in draw mode

    def __init__(self, views: SliceViews) -> None:
        super().__init__(views)
        self.views = views
        self.items: list[ReviewItem] = []
        self.outcomes: Mapping[int, str] | None = None
        self.missed = np.zeros((0, 6))
        self.slice_boxes = (np.zeros(0, np.int64), np.zeros((0, 4)))
        self.mode = "state"
        self.selected: int | None = None
        self.overlays: dict[str, BoxOverlay] = {}
        self.static: dict[str, BoxOverlay] = {}
        for view in VIEWS:
            overlay = BoxOverlay(PENS)
            overlay.setParentItem(views.image_item(view))
            overlay.boxSelected.connect(self._selected)
            overlay.boxEdited.connect(lambda box_id, rect, v=view: self._edited(v, box_id, rect))
            overlay.boxDrawn.connect(lambda rect, v=view: self._drawn(v, rect))
            inert = BoxOverlay(STATIC_PENS)
            inert.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            inert.setAcceptHoverEvents(False)
            inert.setParentItem(views.image_item(view))
            inert.setZValue(overlay.zValue() - 1)
            self.overlays[view], self.static[view] = overlay, inert
        views.positionChanged.connect(lambda _zyx: self.refresh())

    # -- content ---------------------------------------------------------------------------
    def set_items(self, items: Sequence[ReviewItem], outcomes: Mapping[int, str] | None = None,
                  missed: np.ndarray | None = None) -> None:
        """Show ``items`` (those with a box); ``outcomes`` item id -> ``tp``/``fp``/...,
        ``missed`` (k, 6) boxes of true nodules nothing found."""
        self.items = [item for item in items if item.box is not None]
        self.outcomes = outcomes
        self.missed = np.zeros((0, 6)) if missed is None else np.asarray(missed).reshape(-1, 6)
        self.refresh()

    def set_slice_boxes(self, z: np.ndarray, boxes: np.ndarray) -> None:
        """The detector's 2-D boxes (x0, y0, x1, y1) with their slices, for the axial view."""
        self.slice_boxes = (np.asarray(z, np.int64), np.asarray(boxes, float).reshape(-1, 4))
        self.refresh()

    def set_mode(self, mode: str) -> None:
        """``"state"`` colours by review state, ``"outcome"`` by truth outcome."""
        self.mode = mode
        self.refresh()

    def set_draw_mode(self, on: bool) -> None:
        for overlay in self.overlays.values():
            overlay.set_draw_mode(on)

    def select(self, item_id: int | None) -> None:
        """Select ``item_id`` in every view that shows it (emits nothing)."""
        self.selected = item_id
        for overlay in self.overlays.values():
            overlay.select(item_id if item_id in overlay.ids else None)

    # -- drawing ---------------------------------------------------------------------------
    def _state(self, item: ReviewItem) -> str:
        return box_state(item, self.mode, self.outcomes)

    def _rect(self, view: str, box) -> tuple[float, float, float, float]:
        geo = self.views.geometries[view]
        lo, hi = box[:3], box[3:]
        return (lo[geo.col_axis], lo[geo.row_axis], hi[geo.col_axis], hi[geo.row_axis])

    def _cuts(self, view: str, box) -> bool:
        geo = self.views.geometries[view]
        k = self.views.position[geo.normal_axis]
        return box[geo.normal_axis] < k + 1 and box[3 + geo.normal_axis] > k

    def refresh(self) -> None:
        """Redraw every view's boxes for the current slices."""
        if self.views.volume is None:
            return
        shape = self.views.volume.shape
        for view, overlay in self.overlays.items():
            geo = self.views.geometries[view]
            shown = [item for item in self.items if self._cuts(view, item.box)]
            overlay.set_bounds((0.0, 0.0, float(shape[geo.col_axis]), float(shape[geo.row_axis])))
            overlay.set_boxes([item.id for item in shown],
                              [self._rect(view, item.box) for item in shown],
                              [self._state(item) for item in shown])
            overlay.select(self.selected if self.selected in overlay.ids else None)
            missed = [box for box in self.missed if self._cuts(view, box)] \
                if self.mode == "outcome" else []
            rects = [self._rect(view, box) for box in missed]
            states = ["missed"] * len(rects)
            if view == "axial":
                z, boxes = self.slice_boxes
                here = boxes[z == self.views.position[0]]
                rects += [tuple(b) for b in here]
                states += ["slice"] * len(here)
            self.static[view].set_boxes(list(range(len(rects))), rects, states)

    # -- edits -----------------------------------------------------------------------------
    def _selected(self, box_id) -> None:
        self.selected = box_id
        self.boxSelected.emit(box_id)

    def _item(self, item_id: int) -> ReviewItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def _edited(self, view: str, item_id: int, rect) -> None:
        item = self._item(item_id)
        if item is None:
            return
        geo = self.views.geometries[view]
        box = list(item.box)
        box[geo.col_axis], box[geo.row_axis] = rect[0], rect[1]
        box[3 + geo.col_axis], box[3 + geo.row_axis] = rect[2], rect[3]
        self.geometryEdited.emit(item_id, tuple(float(v) for v in box))

    def _drawn(self, view: str, rect) -> None:
        geo = self.views.geometries[view]
        spacing = self.views.volume.spacing_zyx
        side_mm = ((rect[2] - rect[0]) * spacing[geo.col_axis]
                   + (rect[3] - rect[1]) * spacing[geo.row_axis]) / 2
        n = geo.normal_axis
        half = max(side_mm / spacing[n] / 2, 0.5)
        centre = self.views.position[n] + 0.5
        box = [0.0] * 6
        box[geo.col_axis], box[geo.row_axis] = rect[0], rect[1]
        box[3 + geo.col_axis], box[3 + geo.row_axis] = rect[2], rect[3]
        box[n] = max(centre - half, 0.0)
        box[3 + n] = min(centre + half, float(self.views.volume.shape[n]))
        self.boxDrawn.emit(tuple(float(v) for v in box))
