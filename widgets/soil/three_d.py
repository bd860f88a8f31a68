"""The soil workspace's 3-D cell: a :class:`widgets.imaging.volume_view.VolumeView` made only when
the 3-D view is switched on, so that without a display (tests, headless runs) no OpenGL context
is ever asked for and the rest of the workspace works as usual.

With an analysis it shows the core's volume rendering with the ``soil_bands`` transfer function,
the surfaces of the pores and stones (object bands, coloured as in the slice overlay, each
togglable) or, with the grad-CAM overlay, the region where the network looked, and the crop
box.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from engines.imaging.volume import Volume
from engines.soil.core_view import HOT_FRACTION, CoreView, only_objects
from widgets.soil.palette import SURFACE_OBJECTS, label_colours

HOT_COLOUR = (255, 200, 40)  # the top of the inferno colour map of the slice overlay
OFF_TEXT = ("3-D view off (toolbar ▸ 3-D view, Ctrl+3). It renders with OpenGL: on a desktop "
            "in the window, elsewhere offscreen (EGL / OSMesa).")


class ThreeDPane(QWidget):
    """Holds the 3-D view, or a line saying why there is none."""

    surfacesShown = Signal()

    def __init__(self, host, enabled: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.view = None  # VolumeView once switched on
        self.volume: Volume | None = None
        self._shown: tuple | None = None  # (analysis shown, "bands" | "gradcam")
        self.message = QLabel(OFF_TEXT)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # the grid cell is small: the rendering, clipping and surface controls open on demand
        self.controls_button = QToolButton()
        self.controls_button.setText("3-D controls ▸")
        self.controls_button.setCheckable(True)
        self.controls_button.setToolTip("Transfer function, surfaces on/off, clip box, camera")
        self.controls_button.toggled.connect(self._show_controls)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self._layout.addWidget(self.controls_button, 0, Qt.AlignmentFlag.AlignRight)
        self._layout.addWidget(self.message)
        self.enabled = False
        self.controls_button.setVisible(False)
        if enabled:
            self.set_enabled(True, None)

    @staticmethod
    def display_available() -> bool:
        """Whether Qt draws into native windows (then VTK embeds; the 3-D view starts on)."""
        from widgets.imaging.vtk_render_area import can_embed

        return can_embed()

    def set_enabled(self, on: bool, volume: Volume | None) -> None:
        """Switch the 3-D view on (making it the first time) or off."""
        self.enabled = bool(on)
        if on and self.view is None:
            from widgets.imaging.volume_view import VolumeView

            self.view = VolumeView(self.host)
            self.view.surfacesShown.connect(self.surfacesShown)
            self.view.controls.setVisible(self.controls_button.isChecked())
            self._layout.addWidget(self.view, 1)
        if self.view is not None:
            self.view.setVisible(self.enabled)
        self.controls_button.setVisible(self.enabled)
        self.message.setVisible(not self.enabled)
        volume = volume if volume is not None else self.volume
        if on and volume is not None and self.view.volume is not volume:
            self.set_volume(volume)

    def _show_controls(self, on: bool) -> None:
        self.controls_button.setText("3-D controls ◂" if on else "3-D controls ▸")
        if self.view is not None:
            self.view.controls.setVisible(on)

    def set_volume(self, volume: Volume) -> None:
        self.volume, self._shown = volume, None
        if self.enabled and self.view is not None:
            self.view.set_volume(volume, preset="soil_bands")

    def show_analysis(self, view: CoreView, overlay: str = "bands") -> None:
        """The crop box and, as the slice views' ``overlay``, the surfaces of the pores and
        stones or the region where grad-CAM reaches half its display maximum."""
        if not self.enabled or self.view is None or view.labels is None:
            return
        key = (id(view), overlay if overlay == "gradcam" and view.heat_volume is not None
               else "bands")
        if key == self._shown:
            return
        self._shown = key
        if self.volume is not view.volume:
            self.set_volume(view.volume)
        crop = view.analysis.crop
        self.view.set_box_outline(crop.start_zyx, crop.size_zyx, name="crop")
        if key[1] == "gradcam":
            self.view.compute_label_surfaces(
                view.heat_region(), {1: f"grad-CAM ≥ {HOT_FRACTION:.0%} of its scale"},
                {1: HOT_COLOUR})
            return
        n = view.analysis.config.n_objects
        keep = [k for k in SURFACE_OBJECTS if k <= n]
        colours = label_colours(view.label_names, n)
        self.view.compute_label_surfaces(only_objects(view.labels, keep),
                                         {k: view.label_names[k] for k in keep},
                                         {k: colours[k] for k in keep})

    def set_position(self, zyx) -> None:
        if self.enabled and self.view is not None:
            self.view.set_position(zyx)

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.shutdown()
