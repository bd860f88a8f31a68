"""The gamma spectrum plot: counts over energy, CAM overlay, discard regions, hover readout.

The spectrum is a step curve over channel edges in keV. The class activation map is an image
strip behind the curve spanning the visible height, with a diverging colour bar (red = evidence
for the call, blue = against it, white = none). Discarded channel ranges are grey regions whose
edges can be dragged; they are bound two-way to a :class:`PreprocessConfig`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QWidget

from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.spectrum import EnergyGrid
from widgets.common.log_axis import DecadeAxis

SPECTRUM_PEN = pg.mkPen((20, 50, 140), width=1)  # width > 1 strokes 10x slower
DISCARD_BRUSH = pg.mkBrush(110, 110, 110, 55)
DISCARD_HOVER_BRUSH = pg.mkBrush(110, 110, 110, 90)
CAM_OPACITY = 0.5
PAD = 0.02  # fraction of the kept energy range shown beyond it on each side


class SpectrumPlot(pg.PlotWidget):
    """Spectrum, CAM and discard regions; emits :attr:`discardChanged` when a region moves."""

    discardChanged = Signal(object)  # PreprocessConfig with the new discard ranges
    hovered = Signal(str)  # "E = … keV, ch …, counts …" under the mouse

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": DecadeAxis("left")})
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        item = self.plot_item
        item.setLabel("bottom", "Energy", units="keV")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "Counts per channel")
        # no grid: with log minor ticks its lines cost more to paint than the 16k-channel curve
        # no clip-to-view / downsampling: pyqtgraph 0.13-0.14 breaks them for step curves
        item.vb.setAutoVisible(y=True)
        self.curve = item.plot(pen=SPECTRUM_PEN, stepMode="center", name="spectrum")
        self.cam_image = pg.ImageItem(axisOrder="row-major")
        self.cam_image.setOpacity(CAM_OPACITY)
        self.cam_image.setZValue(-20)
        item.addItem(self.cam_image, ignoreBounds=True)
        self.cam_bar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap=pg.colormap.get("CET-D1"),
                                       interactive=False, width=14)
        self.cam_bar.getAxis("right").enableAutoSIPrefix(False)
        self.cam_bar.setImageItem(self.cam_image, insert_in=item)
        self.cam_bar.setVisible(False)
        self.cam_image.setVisible(False)
        item.vb.sigYRangeChanged.connect(self._fit_cam_height)
        self.regions: list[pg.LinearRegionItem] = []
        self.preprocess = PreprocessConfig()
        self.grid = EnergyGrid()
        self.edges = np.zeros(0)
        self.counts = np.zeros(0)
        self.calibrated = True
        self.cam = np.zeros(0)
        self.cam_visible = True
        self._cam_edges = np.zeros(0)
        self._hover_energy: float | None = None
        self._hover = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._mouse_moved)

    @property
    def plot_item(self) -> pg.PlotItem:
        return self.getPlotItem()

    # -- spectrum ----------------------------------------------------------------------------
    def set_spectrum(self, edges_kev: np.ndarray, counts: np.ndarray, title: str = "",
                     calibrated: bool = True) -> None:
        """Show counts (n,) over channel edges (n + 1,) in keV (channel numbers when the file
        has no energy calibration)."""
        if calibrated:
            self.plot_item.setLabel("bottom", "Energy", units="keV")
        else:
            self.plot_item.setLabel("bottom", "Channel (the file has no energy calibration)")
        changed_axis = calibrated != self.calibrated
        self.calibrated = calibrated
        self.edges = np.asarray(edges_kev, dtype=np.float64)
        self.counts = np.asarray(counts, dtype=np.float64)
        self.curve.setData(self.edges, self.counts, stepMode="center")
        self.plot_item.setTitle(title, size="10pt")
        (x0, x1), _ = self.plot_item.vb.viewRange()
        shown = min(x1, self.edges[-1]) - max(x0, self.edges[0])
        if changed_axis or shown < 0.5 * (x1 - x0):  # the view would show little of it
            self.plot_item.setXRange(self.edges[0], self.edges[-1], padding=0.01)
            self.plot_item.enableAutoRange(y=True)
        self._refresh_readout()

    def clear_spectrum(self) -> None:
        self.edges, self.counts = np.zeros(0), np.zeros(0)
        self.curve.setData([], [])
        self.plot_item.setTitle("")

    # -- log / linear --------------------------------------------------------------------------
    @property
    def log_y(self) -> bool:
        return bool(self.plot_item.ctrl.logYCheck.isChecked())

    def set_log_y(self, log: bool) -> None:
        self.plot_item.setLogMode(x=False, y=bool(log))
        self.plot_item.enableAutoRange(y=True)

    def toggle_log_y(self) -> None:
        self.set_log_y(not self.log_y)

    # -- class activation map -------------------------------------------------------------------
    def set_cam(self, edges_kev: np.ndarray, cam: np.ndarray, label: str) -> None:
        """Show a CAM (n,) (NaN = discarded, drawn transparent) over edges (n + 1,) in keV."""
        self.cam = np.asarray(cam, dtype=np.float32)
        self._cam_edges = np.asarray(edges_kev, dtype=np.float64)
        finite = self.cam[np.isfinite(self.cam)]
        scale = float(np.max(np.abs(finite))) if finite.size else 1.0
        scale = scale if scale > 0 else 1.0
        self.cam_image.setImage(self.cam[None, :], levels=(-scale, scale), autoLevels=False)
        self.cam_bar.setLevels((-scale, scale))
        self.cam_bar.getAxis("right").setLabel(label)
        self._fit_cam_height()
        self._show_cam()
        self._refresh_readout()

    def clear_cam(self) -> None:
        self.cam = np.zeros(0)
        self._show_cam()

    def set_cam_visible(self, visible: bool) -> None:
        self.cam_visible = bool(visible)
        self._show_cam()

    @property
    def has_cam(self) -> bool:
        return self.cam.size > 0

    def _show_cam(self) -> None:
        shown = self.cam_visible and self.has_cam
        self.cam_image.setVisible(shown)
        self.cam_bar.setVisible(shown)

    def _fit_cam_height(self, *_args) -> None:
        if self._cam_edges.size < 2:
            return
        (_, _), (y0, y1) = self.plot_item.vb.viewRange()
        x0, x1 = self._cam_edges[0], self._cam_edges[-1]
        self.cam_image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    # -- discard regions ------------------------------------------------------------------------
    def set_preprocess(self, config: PreprocessConfig, grid: EnergyGrid | None = None) -> None:
        """Draw ``config.discard`` (channels of ``grid``) as draggable regions."""
        self.preprocess = config
        if grid is not None:
            self.grid = grid
        for region in self.regions:
            self.plot_item.removeItem(region)
        self.regions = []
        edges = self.grid.edges
        n = self.grid.n_channels
        for start, stop in config.discard:
            start, stop = min(start, n - 1), min(stop, n)
            region = pg.LinearRegionItem((edges[start], edges[stop]), brush=DISCARD_BRUSH,
                                         hoverBrush=DISCARD_HOVER_BRUSH,
                                         bounds=(edges[0], edges[-1]))
            region.setZValue(-10)
            region.setToolTip(f"Discarded channels {start}-{stop - 1} "
                              f"({edges[start]:.1f}-{edges[stop]:.1f} keV); drag the edges")
            region.sigRegionChangeFinished.connect(self._region_moved)
            self.plot_item.addItem(region, ignoreBounds=True)
            self.regions.append(region)

    def discard_channels(self) -> list[tuple[int, int]]:
        """The regions as half-open channel ranges of the grid."""
        n = self.grid.n_channels
        ranges = []
        for region in self.regions:
            low, high = sorted(region.getRegion())
            start, stop = (int(np.clip(np.rint(self.grid.calibration.channel(e) + 0.5), 0, n))
                           for e in (low, high))
            ranges.append((min(start, n - 1), max(stop, min(start, n - 1) + 1)))
        return ranges

    def _region_moved(self, *_args) -> None:
        config = dataclasses.replace(self.preprocess, discard=self.discard_channels())
        self.preprocess = config
        self.discardChanged.emit(config)

    def show_kept_range(self) -> None:
        """Zoom x to the kept channels (plus a small margin so the region edges show)."""
        kept = self.preprocess.kept_channels(self.grid.n_channels)
        edges = self.grid.edges
        low, high = edges[kept[0]], edges[kept[-1] + 1]
        margin = PAD * (high - low)
        self.plot_item.setXRange(low - margin, high + margin, padding=0)
        self.plot_item.enableAutoRange(y=True)

    # -- hover ----------------------------------------------------------------------------------
    def readout(self, energy_kev: float) -> str:
        """Text for the channel under ``energy_kev``: energy, channel, counts (and CAM)."""
        if self.edges.size < 2 or not self.edges[0] <= energy_kev < self.edges[-1]:
            return f"E = {energy_kev:.1f} keV" if self.calibrated else ""
        channel = int(np.searchsorted(self.edges, energy_kev, side="right") - 1)
        if not self.calibrated:
            return f"ch {channel}, counts {self.counts[channel]:.0f} (no energy calibration)"
        text = f"E = {energy_kev:.1f} keV, ch {channel}, counts {self.counts[channel]:.0f}"
        if self.has_cam and self._cam_edges.size == self.edges.size:
            value = self.cam[channel]
            text += ", CAM discarded" if not np.isfinite(value) else f", CAM {value:+.3g}"
        return text

    def _refresh_readout(self) -> None:
        if self._hover_energy is not None:  # keep the readout true to what is drawn
            self.hovered.emit(self.readout(self._hover_energy))

    def hover_at(self, energy_kev: float) -> None:
        """Show the readout at ``energy_kev`` as if the mouse were there."""
        self._hover_energy = float(energy_kev)
        self.hovered.emit(self.readout(self._hover_energy))

    def _mouse_moved(self, event) -> None:
        position = event[0]
        if self.plot_item.sceneBoundingRect().contains(position):
            self.hover_at(self.plot_item.vb.mapSceneToView(position).x())
