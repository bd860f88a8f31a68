"""The 3-D view of a :class:`Volume`: volume rendering, label surfaces, clipping, markers and
the slice views' crosshair, in world (LPS) mm.

VTK is imported when the first :class:`VolumeView` is made, never on importing this module.
The volume is downsampled above ``voxel_budget`` voxels (see
:mod:`engines.imaging.volume_rendering`) and label surfaces are extracted
(:mod:`engines.imaging.surfaces`) through the host's task runner, off the GUI thread; without
a host (scripts, tests) they run inline. The VTK objects are then made on the GUI thread from
the finished arrays, the volume's without a copy. Renders are coalesced to at most one per
50 ms, so a linked crosshair drag costs one frame per 50 ms at most.

Backends: see :mod:`widgets.imaging.vtk_render_area` (embedded QVTK widget on desktops,
offscreen frames where Qt has no native windows).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt.utils import QSignalThrottler

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.imaging.surfaces import Surface, SurfaceConfig, label_surfaces
from engines.imaging.views import (
    AXIS_LETTERS,
    VIEWS,
    closest_array_axes,
    label_colour,
    volume_geometry,
)
from engines.imaging.volume import Volume
from engines.imaging.volume_rendering import (
    RENDER_VOXEL_BUDGET,
    RenderVolume,
    box_corners,
    clip_planes,
    downsample_for_rendering,
    slice_plane_corners,
    transfer_function,
)
from widgets.common.workspace import TaskHost
from widgets.imaging.slice_pane import VIEW_COLOURS
from widgets.imaging.volume_controls import VolumeControls

RENDER_INTERVAL_MS = 50
SPHERE_COLOUR = (255, 60, 60)
BOX_COLOUR = (235, 235, 235)  # apart from the crosshair planes' red, green and yellow


class VolumeView(QWidget):
    """Volume rendering with label surfaces, clip box, spheres, box outlines and a cursor.

    Parameters
    ----------
    host
        The workspace's task host (``run_task``, ``report_error``); None runs tasks inline.
    voxel_budget
        Largest volume rendered at full resolution (voxels).
    embedded
        Force the embedded (True) or offscreen (False) backend; None picks by platform.
    """

    volumeShown = Signal()  # the (downsampled) volume is in the scene
    surfacesShown = Signal()

    def __init__(self, host: TaskHost | None = None, parent: QWidget | None = None,
                 voxel_budget: int = RENDER_VOXEL_BUDGET, embedded: bool | None = None) -> None:
        super().__init__(parent)
        from widgets.imaging.vtk_render_area import EmbeddedArea, OffscreenArea, can_embed
        from widgets.imaging.vtk_scene import VtkScene

        self.host = host
        self.voxel_budget = int(voxel_budget)
        embedded = can_embed() if embedded is None else embedded
        self.area = EmbeddedArea(self) if embedded else OffscreenArea(self)
        self.scene = VtkScene(self.area.render_window)
        if not embedded:
            self.area.scene = self.scene
            self.area.on_changed = self.request_render
        self.controls = VolumeControls()
        self.info = QLabel("no volume")
        self.info.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.area.widget, 1)
        left.addWidget(self.info)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left, 1)
        layout.addWidget(self.controls)

        self.volume: Volume | None = None
        self.render_volume: RenderVolume | None = None
        self.preset = "ct_soft_tissue"
        self.value_offset = 0.0
        self.position: tuple[int, int, int] | None = None
        self.label_names: dict[int, str] = {}
        self.label_colours: dict[int, tuple[int, ...]] = {}
        self._generation = 0
        self._surface_requests = 0
        self._closed = False
        self._throttle = QSignalThrottler(parent=self)
        self._throttle.setTimeout(RENDER_INTERVAL_MS)
        self._throttle.triggered.connect(self.render_now)
        self.controls.presetChosen.connect(self.set_preset)
        self.controls.volumeToggled.connect(self.set_volume_visible)
        self.controls.labelToggled.connect(self.set_label_visible)
        self.controls.clipChanged.connect(self._clip_changed)
        self.controls.sideChosen.connect(self.reset_camera)

    # -- volume ------------------------------------------------------------------------------
    def set_volume(self, volume: Volume, preset: str = "ct_soft_tissue",
                   value_offset: float = 0.0) -> None:
        """Render ``volume`` with transfer-function ``preset`` (HU; data stored as
        ``HU + value_offset``). Downsampling runs as a task; :attr:`volumeShown` follows."""
        tf = transfer_function(preset)
        self.volume, self.preset, self.value_offset = volume, preset, float(value_offset)
        self.position = None
        self.scene.set_box("box", None)
        self.controls.set_axes(volume.shape, _axis_names(volume))
        self.controls.set_preset(preset)
        self.controls.clip.setChecked(False)
        self._generation += 1
        generation = self._generation

        def shown(render_volume: RenderVolume) -> None:
            if generation != self._generation:
                return  # a newer volume was set meanwhile
            self.render_volume = render_volume
            self.scene.set_volume(render_volume, tf.shifted(self.value_offset))
            self.reset_camera("anterior")
            self.set_position(np.asarray(volume.shape) // 2)
            self._describe()
            self.volumeShown.emit()

        self._run("3-D view: preparing the volume",
                  downsample_for_rendering(volume, self.voxel_budget), shown)

    def set_preset(self, name: str) -> None:
        """Switch the transfer function (``ct_soft_tissue``, ``ct_lung``, ``ct_bone``,
        ``soil_bands``)."""
        tf = transfer_function(name)
        self.preset = name
        self.controls.set_preset(name)
        self.scene.set_transfer_function(tf.shifted(self.value_offset))
        self.request_render()

    def set_volume_visible(self, visible: bool) -> None:
        self.scene.set_volume_visible(visible)
        self.controls.show_volume.blockSignals(True)
        self.controls.show_volume.setChecked(bool(visible))
        self.controls.show_volume.blockSignals(False)
        self.request_render()

    # -- label surfaces ----------------------------------------------------------------------
    def compute_label_surfaces(self, labels: np.ndarray | Volume,
                               names: dict[int, str] | None = None,
                               colours: dict[int, tuple[int, ...]] | None = None,
                               opacities: dict[int, float] | None = None,
                               config: SurfaceConfig | None = None) -> None:
        """Extract one surface per label of ``labels`` (the volume's grid) as a task, then show
        them as :meth:`set_label_surfaces` does (:attr:`surfacesShown`)."""
        labels = self._on_grid(labels)
        self._surface_requests += 1
        generation, request = self._generation, self._surface_requests

        def extracted(surfaces: list[Surface]) -> None:
            # only the latest request of the current volume: an earlier extraction that
            # finishes later must not replace it
            if generation == self._generation and request == self._surface_requests:
                self.set_label_surfaces(surfaces, names, colours, opacities)

        self._run("3-D view: label surfaces", label_surfaces(labels, config=config), extracted)

    def set_label_surfaces(self, surfaces: list[Surface], names: dict[int, str] | None = None,
                           colours: dict[int, tuple[int, ...]] | None = None,
                           opacities: dict[int, float] | None = None) -> None:
        """Show ``surfaces`` (from :func:`engines.imaging.surfaces.label_surfaces`), one
        toggleable actor each; default colours match the slice views' label overlay, and
        ``opacities`` (default 1) let an enclosing label (lungs) show what is inside."""
        self.label_names = {s.label: (names or {}).get(s.label, f"label {s.label}")
                            for s in surfaces}
        self.label_colours = {s.label: tuple((colours or {}).get(s.label,
                                                                 label_colour(s.label)))
                              for s in surfaces}
        self.scene.set_surfaces(surfaces, self.label_colours)
        for label, opacity in (opacities or {}).items():
            self.set_label_opacity(label, opacity)
        self.controls.set_legend([(s.label, self.label_names[s.label],
                                   self.label_colours[s.label]) for s in surfaces])
        self.request_render()
        self.surfacesShown.emit()

    def set_label_opacity(self, label: int, opacity: float) -> None:
        self.scene.set_surface_opacity(int(label), float(np.clip(opacity, 0.0, 1.0)))
        self.request_render()

    def set_label_visible(self, label: int, visible: bool) -> None:
        self.scene.set_surface_visible(int(label), visible)
        self.controls.set_label_checked(label, visible)
        self.request_render()

    # -- clipping and markers ----------------------------------------------------------------
    def set_clip_range(self, low_zyx: tuple[int, int, int], high_zyx: tuple[int, int, int]
                       ) -> None:
        """Show only voxels ``low..high`` (inclusive indices) of the volume and surfaces."""
        volume = self._require_volume()
        self.controls.set_clip_values(low_zyx, high_zyx)
        self.scene.set_clip_planes(clip_planes(volume, low_zyx, high_zyx))
        self.request_render()

    def clear_clip(self) -> None:
        self.controls.clip.setChecked(False)
        self.scene.set_clip_planes(None)
        self.request_render()

    def _clip_changed(self, clip) -> None:
        if self.volume is None:
            return
        self.scene.set_clip_planes(None if clip is None else clip_planes(self.volume, *clip))
        self.request_render()

    def set_spheres(self, centres_xyz_mm, radii_mm, colours=None) -> None:
        """Spheres at world (LPS) ``centres_xyz_mm`` (n, 3) with ``radii_mm`` (n,) or one
        radius, coloured RGB(A) 0–255 (n, 3|4) or one colour (default red)."""
        centres = np.asarray(centres_xyz_mm, dtype=np.float64).reshape(-1, 3)
        radii = np.broadcast_to(np.asarray(radii_mm, dtype=np.float64), (len(centres),))
        colour = np.asarray(SPHERE_COLOUR if colours is None else colours, dtype=np.float64)
        colour = np.broadcast_to(colour if colour.ndim == 2 else colour[None], (len(centres),
                                                                              colour.shape[-1]))
        self.scene.set_spheres(centres, radii, np.clip(colour, 0, 255))
        self.request_render()

    def set_box_outline(self, start_zyx, size_zyx, colour=BOX_COLOUR, name: str = "box"
                        ) -> None:
        """Outline of the voxel box ``[start, start + size)`` (e.g. the soil crop), by name."""
        self.scene.set_box(name, box_corners(self._require_volume(), start_zyx, size_zyx),
                           colour)
        self.request_render()

    def clear_box_outline(self, name: str = "box") -> None:
        self.scene.set_box(name, None)
        self.request_render()

    def set_position(self, zyx) -> None:
        """Move the crosshair's three slice-plane outlines to voxel ``zyx``."""
        if self.volume is None:
            return
        upper = np.asarray(self.volume.shape) - 1
        position = tuple(int(v) for v in np.clip(np.round(np.asarray(zyx, float)), 0, upper))
        if position == self.position:
            return
        self.position = position
        by_axis = {volume_geometry(self.volume, view).normal_axis: VIEW_COLOURS[view]
                   for view in VIEWS}
        self.scene.set_cursor(slice_plane_corners(self.volume, position),
                              [by_axis[axis] for axis in range(3)])
        self.request_render()

    def set_decorations_visible(self, cursor: bool = True, orientation_cube: bool = True
                                ) -> None:
        """Show or hide the crosshair's slice-plane outlines and the orientation cube."""
        self.scene.set_decorations_visible(cursor, orientation_cube)
        self.request_render()

    # -- camera, rendering, pictures ---------------------------------------------------------
    def reset_camera(self, side: str = "anterior", zoom: float = 1.0) -> None:
        """Look at the whole scene from ``side`` (anterior, posterior, left, right, superior,
        inferior), magnified by ``zoom``."""
        self.scene.reset_camera(side, zoom)
        self.request_render()

    def request_render(self) -> None:
        """Render soon (coalesced: at most one frame per 50 ms)."""
        self._throttle.throttle()

    def render_now(self) -> None:
        """Render at once (on the GUI thread, as OpenGL needs: milliseconds on a GPU, about a
        second per frame with Mesa's software renderer)."""
        if self._closed:
            return
        self.area.render()
        if self.render_volume is not None:
            self._describe()

    def snapshot(self) -> np.ndarray:
        """The current picture (height, width, 3) uint8, rendered now."""
        self.render_now()
        return self.scene.snapshot()

    def grab_picture(self) -> QPixmap:
        """The whole widget as a picture, the 3-D scene read back from OpenGL
        (``QWidget.grab`` cannot see into an embedded OpenGL window)."""
        pixmap = self.grab()
        rgb = self.snapshot()
        height, width, _ = rgb.shape
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
        target = QRectF(self.area.widget.geometry())
        painter = QPainter(pixmap)
        painter.drawImage(target, image)
        painter.end()
        return pixmap

    def shutdown(self) -> None:
        """Release the OpenGL context (call before the widget goes)."""
        self._throttle.cancel()
        if not self._closed:
            self._closed = True
            self.area.close()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.shutdown()
        super().closeEvent(event)

    # -- helpers -----------------------------------------------------------------------------
    def _require_volume(self) -> Volume:
        if self.volume is None:
            raise InputError("open a volume before adding markers or clipping")
        return self.volume

    def _on_grid(self, labels: np.ndarray | Volume) -> Volume:
        volume = self._require_volume()
        array = labels.array if isinstance(labels, Volume) else np.asarray(labels)
        if array.shape != volume.shape:
            raise InputError(f"labels of shape {array.shape} do not match the volume's "
                             f"{volume.shape}")
        return volume.with_array(array)

    def _run(self, title: str, task: Generator[Progress, None, Any], on_result) -> None:
        if self.host is None:
            on_result(drive(task))
            return
        self.host.run_task(title, task, on_result=on_result,
                           on_error=lambda exc: self.host.report_error(exc, title))

    def _describe(self) -> None:
        shown = self.render_volume
        text = f"{'×'.join(map(str, shown.volume.shape[::-1]))} voxels (x×y×z)"
        if shown.downsampled:
            blocks = "×".join(map(str, shown.factors_zyx[::-1]))
            text += (f", block means {blocks} of {'×'.join(map(str, shown.source_shape[::-1]))}"
                     f" (budget {self.voxel_budget:,} voxels)")
        mode = self.scene.render_mode()
        self.info.setText(f"Rendering {text}{' · ' + mode if mode else ''}")


def _axis_names(volume: Volume) -> list[str]:
    """Clip-slider names of the array axes z, y, x with the world letters they run between."""
    axes, signs = closest_array_axes(volume.direction)
    names = []
    for array_axis in range(3):
        world = axes.index(array_axis)
        low, high = AXIS_LETTERS[world][::signs[world]]
        names.append(f"{'zyx'[array_axis]} {low}→{high}")
    return names
