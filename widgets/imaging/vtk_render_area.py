"""Where the 3-D view's VTK window lives: embedded in Qt, or rendered offscreen into a label.

On a windowing platform (X11, Windows, macOS) VTK draws into a
``QVTKRenderWindowInteractor`` with the trackball-camera style (left-drag rotates, wheel or
right-drag zooms, middle-drag pans). Where Qt has no native windows (the ``offscreen``
platform of tests and headless runs, Wayland without XWayland), VTK renders offscreen
(EGL, OSMesa or a hidden X window) and each frame is shown as a picture, with left-drag
rotating and the wheel zooming.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget
from vtkmodules.vtkRenderingCore import vtkRenderWindow

#: Qt platforms whose windows VTK can draw into
EMBEDDING_PLATFORMS = ("xcb", "windows", "cocoa")
ROTATE_DEGREES_PER_PX = 0.4
ZOOM_PER_NOTCH = 1.1


def can_embed() -> bool:
    """Whether VTK can draw into a Qt widget on this platform."""
    return QGuiApplication.platformName() in EMBEDDING_PLATFORMS


class EmbeddedArea:
    """A ``QVTKRenderWindowInteractor`` (the normal case on a desktop)."""

    embedded = True

    def __init__(self, parent: QWidget) -> None:
        from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

        self.widget = QVTKRenderWindowInteractor(parent)
        self.render_window: vtkRenderWindow = self.widget.GetRenderWindow()
        self.widget.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.widget.Initialize()

    def render(self) -> None:
        self.render_window.Render()

    def close(self) -> None:
        self.widget.Finalize()


class OffscreenArea:
    """A label showing frames that VTK renders offscreen; left-drag rotates, wheel zooms."""

    embedded = False

    def __init__(self, parent: QWidget) -> None:
        self.widget = _PictureLabel(self, parent)
        self.render_window = vtkRenderWindow()
        self.render_window.SetOffScreenRendering(1)
        self.render_window.SetSize(max(self.widget.width(), 64), max(self.widget.height(), 64))
        self.scene = None  # set by the owner, for snapshots
        self.on_changed = self.render  # the owner may coalesce renders

    def render(self) -> None:
        ratio = self.widget.devicePixelRatioF()
        size = (max(int(self.widget.width() * ratio), 64), max(int(self.widget.height() * ratio),
                                                              64))
        if tuple(self.render_window.GetSize()) != size:
            self.render_window.SetSize(*size)
        self.render_window.Render()
        if self.scene is not None:
            self.widget.show_picture(self.scene.snapshot(), ratio)

    def close(self) -> None:
        self.render_window.Finalize()

    # -- interaction ---------------------------------------------------------------------------
    def rotate(self, dx: float, dy: float) -> None:
        renderer = self.render_window.GetRenderers().GetFirstRenderer()
        camera = renderer.GetActiveCamera()
        camera.Azimuth(-dx * ROTATE_DEGREES_PER_PX)
        camera.Elevation(dy * ROTATE_DEGREES_PER_PX)
        camera.OrthogonalizeViewUp()
        renderer.ResetCameraClippingRange()
        self.on_changed()

    def zoom(self, notches: float) -> None:
        renderer = self.render_window.GetRenderers().GetFirstRenderer()
        renderer.GetActiveCamera().Dolly(ZOOM_PER_NOTCH ** notches)
        renderer.ResetCameraClippingRange()
        self.on_changed()


class _PictureLabel(QLabel):
    def __init__(self, area: OffscreenArea, parent: QWidget) -> None:
        super().__init__(parent)
        self.area = area
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._last: QPointF | None = None

    def show_picture(self, rgb: np.ndarray, ratio: float) -> None:
        height, width, _ = rgb.shape
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)

    def mousePressEvent(self, ev) -> None:  # noqa: N802 (Qt)
        self._last = ev.position()

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802 (Qt)
        if self._last is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            moved = ev.position() - self._last
            self._last = ev.position()
            self.area.rotate(moved.x(), moved.y())

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802 (Qt)
        self._last = None

    def wheelEvent(self, ev) -> None:  # noqa: N802 (Qt)
        self.area.zoom(ev.angleDelta().y() / 120.0)

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(ev)
        if self.area.scene is not None:
            self.area.on_changed()
