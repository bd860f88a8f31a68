"""Overlays on the three slice views: a label map and a heat map, each following the slice.

An overlay is a 3-D array that covers the same box as the volume, on the volume's grid or a
coarser one (a grad-CAM map); each view shows the overlay slice that contains the volume's
current slice, as an image item placed in the view's world-mm scene by its own grid geometry.
Per slice change only that 2-D slice is converted (a LUT lookup), never the whole array.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform

from engines.core.errors import InputError
from engines.imaging.views import SliceGeometry, grid_geometry, label_lut, overlay_grid
from engines.imaging.volume import Volume

LABEL_Z = 10
HEAT_Z = 20
COLOUR_BAR_AXIS_PX = 62  # tick labels and the rotated title


class GridOverlay(ABC):
    """One overlay array drawn in several views; subclasses turn a 2-D slice into an image."""

    z_value = LABEL_Z

    def __init__(self, volume: Volume, array: np.ndarray, views: dict[str, pg.ViewBox],
                 volume_geometries: dict[str, SliceGeometry]) -> None:
        array = np.asarray(array)
        if array.ndim != 3:
            raise InputError(f"an overlay needs a 3-D array, got shape {array.shape}")
        self.array = array
        spacing, origin = overlay_grid(volume, array.shape)
        self.geometries = {view: grid_geometry(view, array.shape, spacing, origin,
                                               volume.direction) for view in views}
        self._volume_geometries = volume_geometries
        self.items: dict[str, pg.ImageItem] = {}
        self._shown: dict[str, int | None] = {}
        for view, box in views.items():
            item = pg.ImageItem(axisOrder="row-major")
            sx, sy, tx, ty = self.geometries[view].image_transform()
            item.setTransform(QTransform(sx, 0.0, 0.0, sy, tx, ty))
            item.setZValue(self.z_value)
            box.addItem(item, ignoreBounds=True)
            self.items[view] = item
            self._shown[view] = -1
        self.visible = True

    @abstractmethod
    def image(self, plane: np.ndarray) -> np.ndarray:
        """The image to draw for one 2-D overlay slice."""

    def follow(self, view: str, volume_index: int, force: bool = False) -> None:
        """Show the overlay slice containing the volume's slice ``volume_index`` of ``view``."""
        geo = self.geometries[view]
        index = geo.slice_at(self._volume_geometries[view].normal_mm(volume_index))
        if index == self._shown[view] and not force:
            return
        self._shown[view] = index
        item = self.items[view]
        if index is None:
            item.clear()
            return
        self.draw(item, self.image(geo.slice(self.array, index)))

    def draw(self, item: pg.ImageItem, image: np.ndarray) -> None:
        item.setImage(image, autoLevels=False)

    def set_visible(self, visible: bool) -> None:
        self.visible = bool(visible)
        for item in self.items.values():
            item.setVisible(self.visible)

    def remove(self) -> None:
        for item in self.items.values():
            if item.getViewBox() is not None:
                item.getViewBox().removeItem(item)
        self.items.clear()


class LabelOverlay(GridOverlay):
    """Integer labels ≥ 0 drawn through an RGBA colour table (label 0 transparent)."""

    z_value = LABEL_Z

    def __init__(self, volume: Volume, labels: np.ndarray, views: dict[str, pg.ViewBox],
                 volume_geometries: dict[str, SliceGeometry],
                 colours: dict[int, tuple[int, ...]] | None = None, opacity: float = 0.4) -> None:
        labels = np.asarray(labels)
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
            raise InputError(f"a label map needs integer voxels, got {labels.dtype}")
        if labels.size and int(labels.min()) < 0:
            raise InputError("a label map needs non-negative labels")
        self.colours = dict(colours or {})
        self.opacity = float(opacity)
        self.max_label = int(labels.max()) if labels.size else 0
        self.lut = label_lut(self.max_label, self.colours, self.opacity)
        super().__init__(volume, labels, views, volume_geometries)

    def image(self, plane: np.ndarray) -> np.ndarray:
        return self.lut[plane]

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self.lut = label_lut(self.max_label, self.colours, self.opacity)
        for view in self.items:
            self._shown[view] = -1


class HeatOverlay(GridOverlay):
    """A float map (e.g. grad-CAM in [0, 1]) through a colormap whose alpha rises with the value,
    so that low values leave the CT visible; ``opacity`` scales the alpha."""

    z_value = HEAT_Z

    def __init__(self, volume: Volume, heat: np.ndarray, views: dict[str, pg.ViewBox],
                 volume_geometries: dict[str, SliceGeometry], colormap: str = "inferno",
                 opacity: float = 0.6, levels: tuple[float, float] = (0.0, 1.0)) -> None:
        heat = np.asarray(heat)
        if not np.issubdtype(heat.dtype, np.number) or np.iscomplexobj(heat):
            raise InputError(f"a heat map needs real numbers, got {heat.dtype}")
        self.colormap = pg.colormap.get(colormap)
        self.levels = (float(levels[0]), float(levels[1]))
        self.opacity = float(opacity)
        self.lut = heat_lut(self.colormap, self.opacity)
        super().__init__(volume, heat, views, volume_geometries)

    def image(self, plane: np.ndarray) -> np.ndarray:
        return plane

    def draw(self, item: pg.ImageItem, image: np.ndarray) -> None:
        item.setImage(image, autoLevels=False, levels=self.levels, lut=self.lut)


def heat_lut(colormap: pg.ColorMap, opacity: float, size: int = 256) -> np.ndarray:
    """RGBA table ``(size, 4)`` uint8 of ``colormap`` with alpha rising linearly from 0 to
    ``opacity``."""
    lut = colormap.getLookupTable(nPts=size, alpha=True, mode=pg.ColorMap.BYTE).copy()
    lut[:, 3] = np.round(np.linspace(0.0, 255.0 * float(np.clip(opacity, 0, 1)), size))
    return lut


def colour_bar(colormap: str, levels: tuple[float, float], title: str) -> pg.ColorBarItem:
    """A vertical, non-interactive colour bar whose axis carries ``title``."""
    bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(colormap),
                          interactive=False, width=14, colorMapMenu=False)
    axis = bar.getAxis("right")  # the tick axis; ColorBarItem's own label goes to the left
    axis.enableAutoSIPrefix(False)
    axis.setLabel(title)
    axis.setWidth(COLOUR_BAR_AXIS_PX)
    return bar
