"""The large 2-D image view of the imaging workspaces (micrographs of 8000 × 7000 px and more).

Layers, bottom to top, all in image pixel coordinates (x = column, y = row, y down; pixel
``(row, col)`` covers ``[col, col + 1) × [row, row + 1)``):

1. the image (grey or RGB, 8/16-bit or float), drawn from a pyramid at the zoom's resolution
   (:class:`~widgets.imaging.pyramid_item.PyramidImageItem`); 16-bit and float images get
   levels from robust percentiles of a subsample (:meth:`ImageView.auto_levels`);
2. a class-label overlay with fills and/or object outlines, per-class show/hide and opacity,
   updatable band by band as tiles are stitched (:meth:`ImageView.update_labels_band`);
3. boxes (:class:`~widgets.imaging.box_overlay.BoxOverlay`, ``view.boxes``);

and, in screen space, a class legend with check boxes (top right) and a scale bar when the
pixel size is known (bottom left). Hovering emits :attr:`ImageView.hovered` with a read-out
(pixel, µm, value, class, object); a left click on the image (not on a box) emits
:attr:`ImageView.objectClicked`; :meth:`ImageView.centre_on` links a table row to the view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from engines.core.errors import InputError
from engines.imaging.image_display import build_pyramid, pyramid_shapes, robust_levels
from widgets.imaging.box_overlay import BoxOverlay
from widgets.imaging.label_overlay import LabelOverlay
from widgets.imaging.legend import ClassLegend
from widgets.imaging.pyramid_item import PyramidImageItem
from widgets.imaging.scale_bar import ScaleBar, image_px_per_screen_px

BACKGROUND = (48, 48, 48)
HOVER_RATE_HZ = 20


class ImageViewBox(pg.ViewBox):
    """A ViewBox that reports left clicks (in view coordinates) that no item took."""

    clicked = Signal(float, float)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(point.x(), point.y())
            return
        super().mouseClickEvent(ev)


class ImageView(pg.GraphicsView):
    """Pan/zoom view of one large image with label overlay, boxes, legend and scale bar."""

    hovered = Signal(str)                  # read-out under the cursor ("" outside the image)
    objectClicked = Signal(float, float)   # x, y (image px) of a left click on the image

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.view = ImageViewBox(lockAspect=True, invertY=True)
        self.view.setMouseEnabled(True, True)
        self.setCentralItem(self.view)
        self.image_item = PyramidImageItem()
        self.overlay = LabelOverlay()
        self.boxes = BoxOverlay()
        self.frame = QGraphicsRectItem()
        pen = QPen(QColor(150, 150, 150), 1)
        pen.setCosmetic(True)
        self.frame.setPen(pen)
        self.frame.setZValue(5)
        for item in (self.image_item, self.frame, self.overlay, self.boxes):
            self.view.addItem(item)
        self.legend = ClassLegend()
        self.legend.setParentItem(self.view)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-8, 8))
        self.scale_bar = ScaleBar()
        self.scale_bar.attach(self.view)
        self.image: np.ndarray | None = None
        self.pixel_size_um: float | None = None
        self.levels: tuple[float, float] | None = None
        self.class_names: list[str] = []
        self._hover_shown = False
        self.legend.classToggled.connect(self._legend_toggled)
        self.view.clicked.connect(self._clicked)
        # the range signal comes at once; sigTransformChanged waits for the next paint
        self.view.sigRangeChanged.connect(self._view_changed)
        self.view.sigResized.connect(self._view_changed)
        self._mouse = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=HOVER_RATE_HZ,
                                     slot=self._mouse_moved)

    # -- image -----------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, pixel_size_um: float | None = None,
                  pyramid: Sequence[np.ndarray] | None = None,
                  levels: tuple[float, float] | None = None) -> None:
        """Show ``image`` ((H, W) grey or (H, W, 3|4) colour; uint8, uint16 or float).

        Parameters
        ----------
        pixel_size_um : float, optional
            µm per pixel, for the scale bar and the µm read-out.
        pyramid : list of arrays, optional
            ``build_pyramid(image)`` computed beforehand (e.g. in the loading task); built here
            otherwise (about 0.1–0.2 s for 56 MP).
        levels : (lo, hi), optional
            Display levels; default: none for uint8, robust percentiles otherwise.
        """
        image = np.asarray(image)
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)) \
                or image.dtype.kind not in "uif" or min(image.shape[:2]) < 1:
            raise InputError(f"cannot show an image of shape {image.shape} and dtype "
                             f"{image.dtype}: expected (H, W) grey or (H, W, 3) colour numbers")
        levels_list = list(pyramid) if pyramid is not None else build_pyramid(image)
        if levels_list[0].shape != image.shape:
            raise InputError("the pyramid's first level is not the image")
        old_shape = None if self.image is None else self.image.shape[:2]
        self.image = image
        self.levels = None
        self.image_item.set_arrays(levels_list)
        if levels is not None:
            self.set_levels(*levels)
        elif image.dtype != np.uint8:
            self.auto_levels()
        else:
            self.image_item.set_display(levels=None)
        height, width = image.shape[:2]
        self.frame.setRect(QRectF(0, 0, width, height))
        self.boxes.set_bounds((0.0, 0.0, float(width), float(height)))
        if old_shape is not None and old_shape != (height, width):
            self.clear_labels()
        self.set_pixel_size(pixel_size_um)
        if old_shape != (height, width):
            self.fit()

    def set_levels(self, low: float, high: float) -> None:
        """Black and white display levels (image units)."""
        self.levels = (float(low), float(high))
        self.image_item.set_display(levels=self.levels)

    def auto_levels(self, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
        """Levels from the ``low``/``high`` percentiles of a ~1 MP subsample; returns them."""
        if self.image is None:
            raise ValueError("no image")
        self.set_levels(*robust_levels(self.image, low, high))
        return self.levels

    def set_pixel_size(self, pixel_size_um: float | None) -> None:
        """µm per pixel (None: unknown; no scale bar, no µm read-out)."""
        valid = pixel_size_um is not None and math.isfinite(pixel_size_um) and pixel_size_um > 0
        self.pixel_size_um = float(pixel_size_um) if valid else None
        self.scale_bar.set_pixel_size(self.pixel_size_um)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self.image is None else tuple(self.image.shape[:2])

    # -- labels ----------------------------------------------------------------------------------
    def set_classes(self, names: Sequence[str], colours: Sequence[tuple[int, int, int]]) -> None:
        """Class names and (r, g, b) colours, by class index; the legend lists them."""
        if len(names) != len(colours):
            raise ValueError(f"{len(names)} class names but {len(colours)} colours")
        self.class_names = [str(n) for n in names]
        self.overlay.set_colours(colours)
        self.legend.set_classes(self.class_names, colours)

    def set_labels(self, labels: np.ndarray | None, objects: np.ndarray | None = None) -> None:
        """Class index per pixel ((H, W), the image's size), or None for an empty overlay to
        fill with :meth:`update_labels_band`; ``objects`` (object ids) draws object outlines."""
        shape = self.image_shape
        if labels is not None and shape is not None and np.shape(labels) != shape:
            raise InputError(f"label image {np.shape(labels)} does not match the image {shape}")
        if labels is None and shape is None:
            raise ValueError("set an image before an empty label overlay")
        base = shape if shape is not None else np.shape(labels)
        self.overlay.set_labels(labels, objects, shape=base,
                                n_levels=len(pyramid_shapes(base)))
        self._view_changed()

    def update_labels_band(self, y0: int, labels_rows: np.ndarray) -> None:
        """Write label rows ``[y0, y0 + n)`` (``labels_rows``: (n, W)); only what is on screen
        is redrawn. Starts an empty overlay when there is none yet."""
        if self.overlay.classes is None:
            self.set_labels(None)
        self.overlay.update_band(int(y0), labels_rows)

    def clear_labels(self) -> None:
        self.overlay.classes = self.overlay.objects = None
        self.overlay.clear()

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay.set_opacity(opacity)

    def set_overlay_mode(self, mode: str) -> None:
        """``"fill"``, ``"outline"`` or ``"both"``."""
        self.overlay.set_mode(mode)

    def set_class_visible(self, index: int, visible: bool) -> None:
        """Show or hide class ``index`` in the overlay (the legend's check box follows)."""
        self.overlay.set_class_visible(index, visible)
        self.legend.set_class_visible(index, visible)

    def _legend_toggled(self, index: int, visible: bool) -> None:
        self.overlay.set_class_visible(index, visible)

    # -- view ------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return 1.0 / image_px_per_screen_px(self.view)

    def fit(self) -> None:
        """Show the whole image."""
        if self.image is not None:
            height, width = self.image.shape[:2]
            self.view.setRange(QRectF(0, 0, width, height), padding=0.02)

    def centre_on(self, x: float, y: float, zoom: float | None = None) -> None:
        """Centre the view on image point (x, y); ``zoom`` in screen px per image px (None:
        keep the current zoom)."""
        zoom = self.zoom if zoom is None else float(zoom)
        width, height = self.view.width() / zoom, self.view.height() / zoom
        self.view.setRange(QRectF(x - width / 2, y - height / 2, width, height), padding=0)

    def _view_changed(self, *args) -> None:
        rect = self.view.viewRect()
        pixel = image_px_per_screen_px(self.view)
        self.image_item.show_view(rect, pixel)
        self.overlay.show_view(rect, pixel)

    # -- hover and clicks ------------------------------------------------------------------------
    def hover_text(self, x: float, y: float) -> str:
        """Read-out at image point (x, y): pixel, µm, value(s), class, object; "" outside."""
        shape = self.image_shape or (None if self.overlay.classes is None
                                     else self.overlay.classes.shape)
        if shape is None or not (0 <= x < shape[1] and 0 <= y < shape[0]):
            return ""
        col, row = int(x), int(y)
        parts = [f"x {col}, y {row} px"]
        if self.pixel_size_um is not None:
            size = self.pixel_size_um
            parts[0] += f" ({(col + 0.5) * size:.2f}, {(row + 0.5) * size:.2f} µm)"
        if self.image is not None:
            value = self.image[row, col]
            if np.ndim(value) == 0:
                parts.append(f"value {_number(value)}")
            else:
                parts.append(("RGB " if len(value) == 3 else "RGBA ")
                             + ", ".join(_number(v) for v in value))
        cls = self.overlay.class_at(row, col)
        if self.overlay.classes is not None:
            name = "unlabelled" if cls < 0 else (
                self.class_names[cls] if cls < len(self.class_names) else f"class {cls}")
            parts.append(name)
        obj = self.overlay.object_at(row, col)
        if obj:
            parts.append(f"object {obj}")
        return " · ".join(parts)

    def hover_at(self, x: float, y: float) -> str:
        """Emit (and return) :attr:`hovered` for image point (x, y)."""
        text = self.hover_text(x, y)
        if text or self._hover_shown:
            self.hovered.emit(text)
        self._hover_shown = bool(text)
        return text

    def _mouse_moved(self, args) -> None:
        position = args[0]
        if not self.view.sceneBoundingRect().contains(position):
            self.hover_at(-1.0, -1.0)
            return
        point = self.view.mapSceneToView(position)
        self.hover_at(point.x(), point.y())

    def _clicked(self, x: float, y: float) -> None:
        shape = self.image_shape
        if shape is not None and 0 <= x < shape[1] and 0 <= y < shape[0]:
            self.objectClicked.emit(x, y)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(int(value))
