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
PEAK_PEN = pg.mkPen((200, 30, 30), width=1.5)
PEAK_HIGHLIGHT_PEN = pg.mkPen((230, 120, 0), width=3)
PAD = 0.02  # fraction of the kept energy range shown beyond it on each side


class SpectrumPlot(pg.PlotWidget):
    """Spectrum, CAM and discard regions; emits :attr:`discardChanged` when a region moves."""

    discardChanged = Signal(object)  # PreprocessConfig with the new discard ranges
    hovered = Signal(str)  # "E = … keV, ch …, counts …" under the mouse
    titleChanged = Signal(str)  # what the plot shows (drawn by the workspace above the plot)
    peakClicked = Signal(int)  # index of the fitted peak clicked on the plot

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": DecadeAxis("left")})
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        item = self.plot_item
        item.setLabel("bottom", "Energy", units="keV")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "Counts per channel")
        item.getAxis("left").enableAutoSIPrefix(False)  # never "(x1e+06)" on a counts axis
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
        self.title = ""
        self.peak_items: list[pg.PlotDataItem] = []
        self._peak_data: list[tuple[np.ndarray, np.ndarray]] = []
        self.peak_centroids = np.zeros(0)
        self.peak_widths = np.zeros(0)
        self.highlighted = -1
        self.scene().sigMouseClicked.connect(self._clicked)

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
        self.set_title(title)
        self.clear_peaks()
        self._apply_limits()
        (x0, x1), _ = self.plot_item.vb.viewRange()
        shown = min(x1, self.edges[-1]) - max(x0, self.edges[0])
        if changed_axis or shown < 0.5 * (x1 - x0):  # the view would show little of it
            self.plot_item.setXRange(self.edges[0], self.edges[-1], padding=0.01)
            self.plot_item.enableAutoRange(y=True)
        self._refresh_readout()

    def clear_spectrum(self) -> None:
        self.edges, self.counts = np.zeros(0), np.zeros(0)
        self.curve.setData([], [])
        self.set_title("")
        self.clear_peaks()

    def set_title(self, title: str) -> None:
        self.title = title
        self.titleChanged.emit(title)

    def _apply_limits(self) -> None:
        """Keep panning and zooming on the data: energies within 5 % of the spectrum's range,
        counts between 0.1 and 10x the largest value (log) or 0 and 1.3x (linear)."""
        vb = self.plot_item.vb
        if self.edges.size < 2:
            return
        low, high = float(self.edges[0]), float(self.edges[-1])
        span = high - low
        finest = float(np.min(np.diff(self.edges)))
        top = max(float(self.counts.max()) if self.counts.size else 1.0, 1.0)
        if self.log_y:
            y_min, y_max = -1.0, float(np.log10(top)) + 1.0
        else:
            y_min, y_max = -0.02 * top, 1.3 * top
        vb.setLimits(xMin=low - 0.05 * span, xMax=high + 0.05 * span, minXRange=3 * finest,
                     maxXRange=1.1 * span, yMin=y_min, yMax=y_max, maxYRange=y_max - y_min,
                     minYRange=0.05 if self.log_y else 1.0)

    # -- log / linear --------------------------------------------------------------------------
    @property
    def log_y(self) -> bool:
        return bool(self.plot_item.ctrl.logYCheck.isChecked())

    def set_log_y(self, log: bool) -> None:
        self.plot_item.setLogMode(x=False, y=bool(log))
        self._apply_limits()
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

    # -- fitted peaks ---------------------------------------------------------------------------
    def set_peaks(self, curves: list[tuple[np.ndarray, np.ndarray]], centroids: np.ndarray,
                  fwhm: np.ndarray) -> None:
        """Draw the fitted peak models (Gaussian + background per channel, (x, counts) per
        peak) and remember their centroids and widths (keV) for clicks."""
        self.clear_peaks()
        self._peak_data = [(np.asarray(x, float), np.asarray(y, float)) for x, y in curves]
        self.peak_centroids = np.asarray(centroids, dtype=np.float64)
        self.peak_widths = np.asarray(fwhm, dtype=np.float64)
        for x, y in self._peak_data:
            item = pg.PlotDataItem(x, y, pen=PEAK_PEN)
            item.setZValue(10)
            self.plot_item.addItem(item, ignoreBounds=True)
            self.peak_items.append(item)

    def clear_peaks(self) -> None:
        for item in self.peak_items:
            self.plot_item.removeItem(item)
        self.peak_items, self._peak_data, self.highlighted = [], [], -1
        self.peak_centroids, self.peak_widths = np.zeros(0), np.zeros(0)

    def highlight_peak(self, index: int, zoom: bool = True) -> None:
        """Emphasise fitted peak ``index`` and (optionally) zoom to +-8 FWHM around it."""
        for i, item in enumerate(self.peak_items):
            item.setPen(PEAK_HIGHLIGHT_PEN if i == index else PEAK_PEN)
        self.highlighted = index
        if zoom and 0 <= index < self.peak_centroids.size:
            centre, width = self.peak_centroids[index], max(self.peak_widths[index], 1e-3)
            self.plot_item.setXRange(centre - 8 * width, centre + 8 * width, padding=0)
            self.plot_item.enableAutoRange(y=True)

    def peak_at(self, energy_kev: float) -> int:
        """Index of the fitted peak within one FWHM of ``energy_kev`` (closest), or -1."""
        if self.peak_centroids.size == 0:
            return -1
        distance = np.abs(self.peak_centroids - energy_kev) / np.maximum(self.peak_widths, 1e-9)
        best = int(np.argmin(distance))
        return best if distance[best] <= 1.0 else -1

    def _clicked(self, event) -> None:
        if not self.plot_item.sceneBoundingRect().contains(event.scenePos()):
            return
        index = self.peak_at(self.plot_item.vb.mapSceneToView(event.scenePos()).x())
        if index >= 0:
            self.peakClicked.emit(index)

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
