"""A workspace's 3-D cell: a :class:`widgets.imaging.volume_view.VolumeView` made only when the
3-D view is switched on, so that without a display (tests, headless runs) no OpenGL context is
ever asked for and the rest of the workspace works as usual.

Workspaces subclass it for what they draw in the scene (the soil core's surfaces and crop box,
the nodule candidates' spheres); the pane itself holds the view, the volume rendering with its
transfer-function preset, the crosshair and the on / off state.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from engines.imaging.volume import Volume

OFF_TEXT = ("3-D view off (toolbar ▸ 3-D view, Ctrl+3). It renders with OpenGL: on a desktop "
            "in the window, elsewhere offscreen (EGL / OSMesa).")


class ThreeDPane(QWidget):
    """Holds the 3-D view, or a line saying why there is none.

    Parameters
    ----------
    host
        The workspace's task host (passed to the :class:`VolumeView`).
    enabled
        Make the view at once (True where :meth:`display_available`).
    preset
        The transfer function of the volume rendering (:mod:`engines.imaging.volume_rendering`).
    """

    surfacesShown = Signal()

    def __init__(self, host, enabled: bool, preset: str = "ct_soft_tissue",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.preset = preset
        self.view = None  # VolumeView once switched on
        self.volume: Volume | None = None
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
            self.view_made()
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

    @property
    def showing(self) -> bool:
        """Whether the view is on (and so may be drawn into)."""
        return self.enabled and self.view is not None

    def set_volume(self, volume: Volume) -> None:
        """Render ``volume`` (when on; kept for when the view is switched on)."""
        self.volume = volume
        self.volume_changed()
        if self.showing:
            self.view.set_volume(volume, preset=self.preset)

    def view_made(self) -> None:
        """Hook for subclasses: the view was just made (before any volume is set in it)."""

    def volume_changed(self) -> None:
        """Hook for subclasses: forget what was drawn for the previous volume."""

    def set_position(self, zyx) -> None:
        if self.showing:
            self.view.set_position(zyx)

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.shutdown()
