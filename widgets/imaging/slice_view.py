"""Three linked orthogonal slice views (axial, coronal, sagittal) of a :class:`Volume`.

Display convention: radiological, as 3D Slicer and ITK-SNAP show an LPS image (patient left on
the screen's right in axial and coronal views, anterior up in axial, superior up in coronal and
sagittal, the face looking left in sagittal); every scene is in world mm, so anisotropic voxels
keep their true aspect (see :mod:`engines.imaging.views`). Mouse and keys: see
:mod:`widgets.imaging.slice_pane`.

The crosshair position is a voxel index ``(z, y, x)`` (:attr:`SliceViews.position`) and a world
position in mm (:attr:`SliceViews.position_mm`); clicking or dragging in one view moves the
other two. :attr:`SliceViews.positionChanged` is throttled to 20 Hz (first change at once, the
last one always delivered), so a 3-D view linked to it never renders faster than that.

A slice change converts three 2-D slices (numpy views of the volume) through the window; no
work is ever done on the whole volume after :meth:`SliceViews.set_volume`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt.utils import QSignalThrottler

from engines.core.errors import InputError
from engines.imaging.views import (
    AXIS_LETTERS,
    VIEW_WORLD_AXES,
    VIEWS,
    SliceGeometry,
    Window,
    dragged_window,
    preset_window,
    robust_range,
    volume_geometry,
)
from engines.imaging.volume import Volume
from widgets.imaging.overlays import HeatOverlay, LabelOverlay, colour_bar
from widgets.imaging.slice_pane import SlicePane
from widgets.imaging.window_level import WindowLevelBar

#: layout name -> label; "main+2": one large view and two small ones stacked beside it
#: (nodules), "row": three equal views, "grid": 2 × 2 as ITK-SNAP (axial, sagittal / the extra
#: widget, e.g. the 3-D view, coronal)
LAYOUTS = {"main+2": "1 large + 2 small", "row": "3 in a row", "grid": "2 × 2"}
POSITION_INTERVAL_MS = 50
HOVER_INTERVAL_MS = 50
COLOUR_BAR_WIDTH_PX = 96


class SliceViews(QWidget):
    """Axial, coronal and sagittal views of one volume with a shared crosshair and window."""

    positionChanged = Signal(object)  # (z, y, x) voxel index, at most every 50 ms
    windowChanged = Signal(float, float)  # level, width

    def __init__(self, parent: QWidget | None = None, layout: str = "row",
                 main_view: str = "axial") -> None:
        super().__init__(parent)
        self.panes = {view: SlicePane(view) for view in VIEWS}
        self.volume: Volume | None = None
        self.geometries: dict[str, SliceGeometry] = {}
        self.position: tuple[int, int, int] = (0, 0, 0)
        self.window = Window(0.0, 1.0)
        self.preset: str | None = None
        self.value_offset = 0.0
        self.data_range = (0.0, 1.0)
        self.labels: LabelOverlay | None = None
        self.heat: HeatOverlay | None = None
        self.extra_widget: QWidget | None = None
        self.layout_name, self.main_view = "row", "axial"
        self._shown: dict[str, int] = {}
        self._drag_start: Window | None = None

        self.window_bar = WindowLevelBar()
        self.layout_combo = QComboBox()
        for name, label in LAYOUTS.items():
            self.layout_combo.addItem(label, name)
        toolbar = QHBoxLayout()
        toolbar.addWidget(self.window_bar)
        toolbar.addStretch(1)
        toolbar.addWidget(QLabel("Layout"))
        toolbar.addWidget(self.layout_combo)
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(3)
        self.colour_bar_view = pg.GraphicsLayoutWidget()
        self.colour_bar_view.setFixedWidth(COLOUR_BAR_WIDTH_PX)
        self.colour_bar_view.setBackground("k")
        self.colour_bar_view.hide()
        self.colour_bar: pg.ColorBarItem | None = None
        views_row = QHBoxLayout()
        views_row.addWidget(self._grid_host, 1)
        views_row.addWidget(self.colour_bar_view)
        self.status = QLabel("no volume")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addLayout(toolbar)
        outer.addLayout(views_row, 1)
        outer.addWidget(self.status)

        self._throttle = QSignalThrottler(parent=self)
        self._throttle.setTimeout(POSITION_INTERVAL_MS)
        self._throttle.triggered.connect(lambda: self.positionChanged.emit(self.position))
        for view, pane in self.panes.items():
            pane.view_box.picked.connect(lambda u, v, view=view: self._picked(view, u, v))
            pane.view_box.stepped.connect(lambda n, view=view: self.step(view, n))
            pane.view_box.windowDragged.connect(
                lambda dx, dy, done, view=view: self._window_dragged(view, dx, dy, done))
        self.hover: tuple[tuple[int, int, int], float] | None = None  # voxel, value
        self._mouse_at: tuple[str, object] | None = None
        # a throttler owned by this widget: it dies with it (pyqtgraph's SignalProxy could
        # fire after the widget is gone)
        self._hover_throttle = QSignalThrottler(parent=self)
        self._hover_throttle.setTimeout(HOVER_INTERVAL_MS)
        self._hover_throttle.triggered.connect(self._hovered)
        for view, pane in self.panes.items():
            pane.scene().sigMouseMoved.connect(
                lambda pos, view=view: self._mouse_moved(view, pos))
        self.window_bar.presetChosen.connect(self.set_window_preset)
        self.window_bar.windowEdited.connect(self.set_window)
        self.layout_combo.activated.connect(
            lambda i: self.set_layout(str(self.layout_combo.itemData(i))))
        self.set_layout(layout, main_view)

    # -- volume ------------------------------------------------------------------------------
    def set_volume(self, volume: Volume, window: str = "full", value_offset: float = 0.0,
                   position: tuple[float, float, float] | None = None) -> None:
        """Show ``volume`` (overlays of a previous volume are removed).

        ``window`` names a window preset (see :data:`engines.imaging.views.WINDOW_PRESETS`);
        ``value_offset`` says the data are stored as ``HU + value_offset`` (2048 for the soil
        paper's [0, 6144] scale) so that HU presets still apply; ``position`` (z, y, x)
        defaults to the centre voxel.
        """
        self.clear_labels()
        self.clear_heatmap()
        self.volume = volume
        self.value_offset = float(value_offset)
        self.geometries = {view: volume_geometry(volume, view) for view in VIEWS}
        self.data_range = robust_range(volume.array)
        for view, pane in self.panes.items():
            pane.set_geometry(self.geometries[view])
        self._shown = {}
        self.position = self._clipped(np.asarray(volume.shape) // 2 if position is None
                                      else position)
        self.set_window_preset(window)
        self._redraw()
        self._throttle.throttle()

    # -- position ----------------------------------------------------------------------------
    @property
    def position_mm(self) -> np.ndarray:
        """World (LPS) position x, y, z in mm of the crosshair voxel's centre."""
        if self.volume is None:
            return np.zeros(3)
        return self.volume.voxel_to_world(np.asarray(self.position, dtype=np.float64))

    def set_position(self, zyx: tuple[float, float, float]) -> None:
        """Move the crosshair to voxel ``zyx`` (rounded, clipped into the volume)."""
        if self.volume is None:
            return
        position = self._clipped(zyx)
        if position != self.position:
            self.position = position
            self._redraw()
            self._throttle.throttle()

    def step(self, view: str, slices: int) -> None:
        """Move ``view``'s slice by ``slices`` voxel planes."""
        if self.volume is None:
            return
        position = list(self.position)
        position[self.geometries[view].normal_axis] += int(slices)
        self.set_position(tuple(position))

    def _clipped(self, zyx) -> tuple[int, int, int]:
        upper = np.asarray(self.volume.shape) - 1
        index = np.clip(np.round(np.asarray(zyx, dtype=np.float64)), 0, upper).astype(int)
        return tuple(int(v) for v in index)

    def _picked(self, view: str, u: float, v: float) -> None:
        geo = self.geometries.get(view)
        if geo is None:
            return
        row, col = geo.index_of(u, v)
        position = list(self.position)
        position[geo.row_axis], position[geo.col_axis] = row, col
        self.set_position(tuple(position))

    def _mouse_moved(self, view: str, scene_pos) -> None:
        self._mouse_at = (view, scene_pos)
        self._hover_throttle.throttle()

    def _hovered(self) -> None:
        """Read out the voxel under the mouse (napari's and Slicer's data probe)."""
        if self.volume is None or self._mouse_at is None:
            return
        view, scene_pos = self._mouse_at
        point = self.panes[view].view_box.mapSceneToView(scene_pos)
        zyx = np.round(self.view_to_index(view, point.x(), point.y())).astype(int)
        inside = bool(((zyx >= 0) & (zyx < np.asarray(self.volume.shape))).all())
        self.hover = (tuple(int(v) for v in zyx), float(self.volume.array[tuple(zyx)])) \
            if inside else None
        self.status.setText(self._status_text())

    # -- window ------------------------------------------------------------------------------
    def set_window(self, level: float, width: float) -> None:
        """Show values ``level ± width / 2`` from black to white."""
        self._apply_window(Window(float(level), max(float(width), 1e-6)), None)

    def set_window_preset(self, name: str) -> None:
        """Apply a window preset by name (``lung``, ``mediastinum``, ``bone``, ``soil``,
        ``full``)."""
        self._apply_window(preset_window(name, self.value_offset, self.data_range), name)

    def _apply_window(self, window: Window, preset: str | None) -> None:
        self.window, self.preset = window, preset
        for pane in self.panes.values():
            pane.set_levels(window.levels)
        self.window_bar.show_window(window, preset)
        self.windowChanged.emit(window.level, window.width)

    def _window_dragged(self, view: str, dx: float, dy_up: float, finished: bool) -> None:
        if self.volume is None:
            return
        if self._drag_start is None:
            self._drag_start = self.window
        pane = self.panes[view]
        span = self.data_range[1] - self.data_range[0]
        window = dragged_window(self._drag_start, dx, dy_up, span,
                                min(pane.width(), pane.height()))
        self._apply_window(window, None)
        if finished:
            self._drag_start = None

    # -- overlays ----------------------------------------------------------------------------
    def set_labels(self, labels: np.ndarray | Volume,
                   colours: dict[int, tuple[int, ...]] | None = None,
                   opacity: float = 0.4) -> None:
        """Overlay an integer label map (the volume's grid or a coarser one over the same box);
        ``colours`` maps labels to RGB(A) 0–255, others take the default palette."""
        self._require_volume()
        self.clear_labels()
        array = labels.array if isinstance(labels, Volume) else labels
        self.labels = LabelOverlay(self.volume, array, self._boxes(), self.geometries, colours,
                                   opacity)
        self._follow(self.labels)

    def clear_labels(self) -> None:
        if self.labels is not None:
            self.labels.remove()
            self.labels = None

    def set_heatmap(self, heat: np.ndarray, title: str = "grad-CAM", colormap: str = "inferno",
                    opacity: float = 0.6, levels: tuple[float, float] = (0.0, 1.0)) -> None:
        """Overlay a float map (its own grid over the volume's box) with a colour bar titled
        ``title``; alpha rises with the value up to ``opacity``."""
        self._require_volume()
        self.clear_heatmap()
        self.heat = HeatOverlay(self.volume, heat, self._boxes(), self.geometries, colormap,
                                opacity, levels)
        self.colour_bar = colour_bar(colormap, self.heat.levels, title)
        self.colour_bar_view.addItem(self.colour_bar)
        self.colour_bar_view.show()
        self._follow(self.heat)

    def clear_heatmap(self) -> None:
        if self.heat is not None:
            self.heat.remove()
            self.heat = None
        self.colour_bar_view.clear()
        self.colour_bar = None
        self.colour_bar_view.hide()

    def _require_volume(self) -> None:
        if self.volume is None:
            raise InputError("open a volume before adding an overlay")

    def _boxes(self) -> dict[str, pg.ViewBox]:
        return {view: pane.view_box for view, pane in self.panes.items()}

    def _follow(self, overlay, force: bool = True) -> None:
        for view, geo in self.geometries.items():
            overlay.follow(view, self.position[geo.normal_axis], force)

    # -- hooks for other overlays (boxes) ----------------------------------------------------
    def view_box(self, view: str) -> pg.ViewBox:
        """The pyqtgraph ViewBox of ``view``; its scene coordinates are world mm (see
        :meth:`index_to_view`)."""
        return self.panes[view].view_box

    def image_item(self, view: str) -> pg.ImageItem:
        """The image item of ``view``: its item coordinates are (column, row) voxel indices
        of the shown slice, voxel centres at +0.5 (see :attr:`SliceGeometry.col_axis`)."""
        return self.panes[view].image

    def index_to_view(self, view: str, zyx: tuple[float, float, float]) -> tuple[float, float]:
        """ViewBox coordinates ``(u, v)`` (mm) of the (fractional) voxel index ``zyx``."""
        return self.geometries[view].scene_of(zyx)

    def view_to_index(self, view: str, u: float, v: float) -> np.ndarray:
        """Fractional voxel index ``(z, y, x)`` at ViewBox ``(u, v)`` on the current slice."""
        geo = self.geometries[view]
        zyx = np.asarray(self.position, dtype=np.float64)
        zyx[geo.row_axis], zyx[geo.col_axis] = geo.index_of(u, v)
        return zyx

    # -- layout ------------------------------------------------------------------------------
    def set_layout(self, name: str, main_view: str | None = None) -> None:
        """Arrange the views: ``main+2`` (``main_view`` large), ``row`` or ``grid``."""
        if name not in LAYOUTS:
            raise InputError(f"unknown layout {name!r}; valid names: {', '.join(LAYOUTS)}")
        self.layout_name, self.main_view = name, main_view or self.main_view
        widgets = [*self.panes.values()] + ([self.extra_widget] if self.extra_widget else [])
        for widget in widgets:
            self._grid.removeWidget(widget)
        for k in range(3):
            self._grid.setRowStretch(k, 0)
            self._grid.setColumnStretch(k, 0)
        if name == "main+2":
            small = [v for v in VIEWS if v != self.main_view]
            self._grid.addWidget(self.panes[self.main_view], 0, 0, 2, 1)
            for row, view in enumerate(small):
                self._grid.addWidget(self.panes[view], row, 1)
            self._stretch(rows=(1, 1), columns=(2, 1))
        elif name == "row":
            for column, view in enumerate(VIEWS):
                self._grid.addWidget(self.panes[view], 0, column)
            self._stretch(rows=(1,), columns=(1, 1, 1))
        else:
            self._grid.addWidget(self.panes["axial"], 0, 0)
            self._grid.addWidget(self.panes["sagittal"], 0, 1)
            self._grid.addWidget(self.panes["coronal"], 1, 1)
            if self.extra_widget is not None:
                self._grid.addWidget(self.extra_widget, 1, 0)
            self._stretch(rows=(1, 1), columns=(1, 1))
        if self.extra_widget is not None:
            self.extra_widget.setVisible(name == "grid")
        self.layout_combo.setCurrentIndex(self.layout_combo.findData(name))

    def _stretch(self, rows: tuple[int, ...], columns: tuple[int, ...]) -> None:
        for k, s in enumerate(rows):
            self._grid.setRowStretch(k, s)
        for k, s in enumerate(columns):
            self._grid.setColumnStretch(k, s)

    def set_extra_widget(self, widget: QWidget | None) -> None:
        """A widget for the fourth cell of the ``grid`` layout (e.g. the 3-D view)."""
        if self.extra_widget is not None:
            self._grid.removeWidget(self.extra_widget)
        self.extra_widget = widget
        self.set_layout(self.layout_name)

    def reset_zoom(self) -> None:
        for pane in self.panes.values():
            pane.reset_zoom()

    # -- drawing -----------------------------------------------------------------------------
    def _redraw(self) -> None:
        volume = self.volume
        for view, geo in self.geometries.items():
            pane = self.panes[view]
            index = self.position[geo.normal_axis]
            if self._shown.get(view) != index:
                pane.show_slice(geo.slice(volume.array, index), self.window.levels)
                self._shown[view] = index
            for overlay in (self.labels, self.heat):
                if overlay is not None:
                    overlay.follow(view, index)
            pane.set_crosshair(*geo.scene_of(self.position))
            pane.set_corner_text(self._corner_text(view, geo, index))
        self.status.setText(self._status_text())

    def _corner_text(self, view: str, geo: SliceGeometry, index: int) -> str:
        normal = VIEW_WORLD_AXES[view][2]
        mm = float(self.position_mm[normal])
        letter = AXIS_LETTERS[normal][1 if mm >= 0 else 0]
        return f"{view.capitalize()}  {index + 1}/{geo.n_slices}\n{letter} {abs(mm):.1f} mm"

    def _reading(self, value: float) -> str:
        if self.volume.modality != "CT":
            return f"{value:g}"
        hu = value - self.value_offset
        return f"{value:g} HU" if not self.value_offset else f"{value:g} ({hu:g} HU)"

    def _status_text(self) -> str:
        z, y, x = self.position
        reading = self._reading(float(self.volume.array[z, y, x]))
        world = ", ".join(f"{v:.1f}" for v in self.position_mm)
        text = f"crosshair: voxel x {x}, y {y}, z {z}  ·  LPS ({world}) mm  ·  {reading}"
        if self.hover is not None:
            (hz, hy, hx), value = self.hover
            text += f"     mouse: x {hx}, y {hy}, z {hz}  ·  {self._reading(value)}"
        if self.geometries["axial"].oblique:
            text += "     (oblique grid shown unresampled)"
        return text
