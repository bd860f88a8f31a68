"""The porosity profile: porosity per slice against the depth along the core (mm), one curve per
object, the surrogate's prediction of its object beside the computed one, the current slice
marked. Clicking the plot asks for that depth (:attr:`ProfilePlot.depthClicked`); the mouse
reads out every curve at the depth under it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from superqt.utils import QSignalThrottler

from engines.soil.porosity import Profile
from widgets.soil.palette import object_colour

PREDICTED_STYLE = Qt.PenStyle.DashLine
HOVER_INTERVAL_MS = 50


class ProfilePlot(QWidget):
    """Porosity (0–1) against depth (mm); :meth:`set_profile` draws a core's curves."""

    depthClicked = Signal(int)  # volume slice index along the depth nearest the click

    def __init__(self, parent: QWidget | None = None, title: str = "Porosity along the core"
                 ) -> None:
        super().__init__(parent)
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0, title=title)
        self.plot.setLabel("bottom", "Depth along the core axis", units="mm")
        self.plot.setLabel("left", "Porosity per slice")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setYRange(0.0, 1.0, padding=0.02)
        # the legend beside the plot, not over the curves (they span the whole depth)
        self.legend = pg.LegendItem(labelTextSize="8pt", verSpacing=-4)
        self.widget.addItem(self.legend, row=0, col=1)
        self.marker = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen((200, 30, 30), width=1.5))
        self.marker.setZValue(50)
        self.plot.addItem(self.marker, ignoreBounds=True)
        self.marker.hide()
        self.readout = QLabel("Analyze a core to see its porosity profile.")
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.readout)
        self.profile: Profile | None = None
        self.predicted: tuple[str, np.ndarray] | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._mouse_x: float | None = None
        self._throttle = QSignalThrottler(parent=self)
        self._throttle.setTimeout(HOVER_INTERVAL_MS)
        self._throttle.triggered.connect(self._read_out)
        self.widget.scene().sigMouseMoved.connect(self._mouse_moved)
        self.widget.scene().sigMouseClicked.connect(self._clicked)

    # -- content -------------------------------------------------------------------------------
    def clear(self, message: str = "") -> None:
        self.plot.clear()
        self.legend.clear()
        self.plot.addItem(self.marker, ignoreBounds=True)
        self.marker.hide()
        self.curves = {}
        self.profile, self.predicted = None, None
        if message:
            self.readout.setText(message)

    def set_profile(self, profile: Profile, predicted: tuple[str, np.ndarray] | None = None,
                    hidden: tuple[str, ...] = (), label: str = "") -> None:
        """Draw ``profile``'s curves (objects in ``hidden`` left out: e.g. object1, which is
        pore everywhere) and ``predicted`` = ``(object name, porosity per slice)``."""
        self.clear()
        self.profile, self.predicted = profile, predicted
        depth = np.asarray(profile.depth_mm, dtype=np.float64)
        for name, values in profile.porosity.items():
            if name in hidden:
                continue
            pen = pg.mkPen(object_colour(name), width=2 if predicted and
                           predicted[0] == name else 1.5)
            self.curves[name] = self.plot.plot(depth, values, pen=pen)
            self.legend.addItem(self.curves[name], f"{name} computed")
        if predicted is not None:
            name, values = predicted
            pen = pg.mkPen((20, 20, 20), width=2, style=PREDICTED_STYLE)
            self.curves["predicted"] = self.plot.plot(depth, values, pen=pen)
            self.legend.addItem(self.curves["predicted"], f"{name} surrogate")
        self.plot.setXRange(float(depth[0]), float(depth[-1]), padding=0.01)
        self.plot.setYRange(0.0, 1.0, padding=0.02)
        self.readout.setText(label or "Click the plot to move the slice views to a depth; "
                             "the mouse reads out the curves.")

    def set_slice(self, index: int) -> None:
        """Mark volume slice ``index`` along the depth (hidden outside the profile)."""
        profile = self.profile
        if profile is None or len(profile) == 0:
            return
        where = np.flatnonzero(profile.slice_index == int(index))
        if where.size == 0:
            self.marker.hide()
            return
        self.marker.setPos(float(profile.depth_mm[where[0]]))
        self.marker.show()

    # -- mouse ---------------------------------------------------------------------------------
    def _row_at(self, x_mm: float) -> int | None:
        if self.profile is None or len(self.profile) == 0:
            return None
        return int(np.argmin(np.abs(self.profile.depth_mm - x_mm)))

    def _mouse_moved(self, scene_pos) -> None:
        if self.plot.sceneBoundingRect().contains(scene_pos):
            self._mouse_x = float(self.plot.vb.mapSceneToView(scene_pos).x())
            self._throttle.throttle()

    def _read_out(self) -> None:
        row = None if self._mouse_x is None else self._row_at(self._mouse_x)
        if row is not None:
            self.readout.setText(self.reading(row))

    def reading(self, row: int) -> str:
        """The values of every drawn curve at profile row ``row``."""
        profile = self.profile
        parts = [f"depth {profile.depth_mm[row]:.2f} mm (slice {profile.slice_index[row]})"]
        parts += [f"{name} {profile.porosity[name][row]:.4f}" for name in self.curves
                  if name in profile.porosity]
        if self.predicted is not None:
            name, values = self.predicted
            parts.append(f"surrogate {name} {values[row]:.4f}")
        return "  ·  ".join(parts)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x = float(self.plot.vb.mapSceneToView(event.scenePos()).x())
        self.click_depth(x)

    def click_depth(self, depth_mm: float) -> None:
        """As a click at ``depth_mm``: emit the nearest slice's index."""
        row = self._row_at(depth_mm)
        if row is not None:
            self.depthClicked.emit(int(self.profile.slice_index[row]))
