"""A class-label overlay (fills and/or outlines) that fills in band by band.

The overlay keeps one ``(H, W)`` uint8 class image (and optionally an object-id image for
outlines) and never builds a whole-image RGBA picture: it draws through
:class:`~widgets.imaging.pyramid_item.PyramidImageItem`, whose crop of the visible part is
turned into colour-table codes (:func:`engines.imaging.image_display.overlay_codes`) and shown
as an indexed image. Colours, per-class visibility, opacity and the fill/outline mode are the
256-entry colour table alone, so changing them recolours without touching the label data;
:meth:`LabelOverlay.update_band` writes rows and redraws only if they are on screen.

Zoomed out, the overlay shows every ``2^k``-th label (strided views, no copies), at the same
pyramid level as the image; outlines are computed at that level, so they stay one screen
pixel wide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engines.core.errors import InputError
from engines.imaging.image_display import (
    MAX_CLASSES,
    NO_CLASS,
    OUTLINE,
    class_codes,
    overlay_codes,
)
from widgets.imaging.pyramid_item import PyramidImageItem

MODES = ("fill", "outline", "both")
Colour = tuple[int, int, int]


class LabelOverlay(PyramidImageItem):
    """Class-coloured fills / outlines of a label image over a :class:`PyramidImageItem` image.

    Opacity: fills are drawn with alpha ``opacity``; outlines (modes ``"outline"`` and
    ``"both"``) with ``min(1, 2 × opacity)``, so they stay visible over faint fills.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(10)
        self.classes: np.ndarray | None = None
        self.objects: np.ndarray | None = None
        self.colours: list[Colour] = []
        self.visible: list[bool] = []
        self.mode = "fill"
        self.overlay_opacity = 0.5
        self.n_levels = 1

    # -- colour table ----------------------------------------------------------------------------
    def set_colours(self, colours: Sequence[Colour]) -> None:
        """One (r, g, b) colour (0–255) per class index; all classes shown."""
        if len(colours) > MAX_CLASSES:
            raise InputError(f"at most {MAX_CLASSES} classes can be shown, got {len(colours)}")
        self.colours = [tuple(int(v) for v in c[:3]) for c in colours]
        self.visible = [True] * len(self.colours)
        self._update_lut()

    def set_class_visible(self, index: int, visible: bool) -> None:
        self.visible[index] = bool(visible)
        self._update_lut()

    def set_mode(self, mode: str) -> None:
        """``"fill"``, ``"outline"`` or ``"both"``."""
        if mode not in MODES:
            raise ValueError(f"unknown overlay mode {mode!r}; choose one of {', '.join(MODES)}")
        refetch = (mode == "fill") != (self.mode == "fill")
        self.mode = mode
        self._update_lut()
        if refetch:      # fills need no outline codes
            self.invalidate()

    def set_opacity(self, opacity: float) -> None:
        """Overlay opacity, 0 (invisible) … 1."""
        self.overlay_opacity = float(min(max(opacity, 0.0), 1.0))
        self._update_lut()

    def lut(self) -> np.ndarray:
        """(256, 4) uint8 RGBA colour table: code ``c`` = class ``c`` fill, ``c + OUTLINE`` its
        outline, ``NO_CLASS`` (and anything unknown) transparent."""
        table = np.zeros((256, 4), dtype=np.uint8)
        fill = self.overlay_opacity if self.mode != "outline" else 0.0
        line = fill if self.mode == "fill" else min(1.0, 2.0 * self.overlay_opacity)
        for index, colour in enumerate(self.colours):
            if index == NO_CLASS or not self.visible[index]:
                continue
            table[index] = (*colour, round(255 * fill))
            table[index + OUTLINE] = (*colour, round(255 * line))
        return table

    def _update_lut(self) -> None:
        self.set_display(levels=None, lut=self.lut())

    # -- label data ------------------------------------------------------------------------------
    def set_labels(self, classes: np.ndarray | None, objects: np.ndarray | None = None,
                   shape: tuple[int, int] | None = None, n_levels: int = 1) -> None:
        """Show ``classes`` ((H, W) ints; a private uint8 copy is kept, values outside 0…126
        are unlabelled) or, when None, an all-unlabelled image of ``shape`` to fill by bands.
        ``objects`` ((H, W) ints, kept by reference) gives object outlines."""
        if classes is None:
            if shape is None:
                raise ValueError("set_labels(None) needs the image shape")
            codes = np.full(shape, NO_CLASS, dtype=np.uint8)
        else:
            classes = np.asarray(classes)
            if classes.ndim != 2 or classes.dtype.kind not in "iub":
                raise InputError(f"a label image must be 2-D integers, got {classes.dtype} "
                                 f"{classes.shape}")
            codes = class_codes(classes)
            if codes is classes:
                codes = codes.copy()
        if objects is not None and np.shape(objects) != codes.shape:
            raise InputError(f"object image {np.shape(objects)} and label image {codes.shape} "
                             "differ in size")
        self.classes, self.objects = codes, objects
        self.n_levels = max(1, int(n_levels))
        shapes = [codes[::1 << k, ::1 << k].shape for k in range(self.n_levels)]
        self._update_lut()
        self.set_levels_data(codes.shape, shapes, self._fetch_codes)

    def update_band(self, y0: int, rows: np.ndarray) -> None:
        """Overwrite label rows ``[y0, y0 + len(rows))`` and redraw them if visible."""
        if self.classes is None:
            raise ValueError("no label image: call set_labels first")
        rows = np.asarray(rows)
        height, width = self.classes.shape
        if rows.ndim != 2 or rows.shape[1] != width or not 0 <= y0 <= height - rows.shape[0]:
            raise ValueError(f"label rows {rows.shape} at y0 = {y0} do not fit the "
                             f"{height} × {width} label image")
        self.classes[y0:y0 + rows.shape[0]] = class_codes(rows)
        # outlines of the rows just above and below can change too
        self.invalidate_rows(y0 - 1, y0 + rows.shape[0] + 1)

    def class_at(self, row: int, col: int) -> int:
        """Class index at pixel (row, col); -1 when unlabelled or no labels."""
        if self.classes is None:
            return -1
        value = int(self.classes[row, col])
        return -1 if value == NO_CLASS else value

    def object_at(self, row: int, col: int) -> int | None:
        return None if self.objects is None else int(self.objects[row, col])

    def _fetch_codes(self, level: int, rows: slice, cols: slice) -> np.ndarray:
        """Codes for a crop of level ``level``, with a 1-px halo so outlines at the crop's
        edges are right."""
        step = 1 << level
        classes = self.classes[::step, ::step]
        if self.mode == "fill":
            return classes[rows, cols]
        height, width = classes.shape
        top, bottom = max(rows.start - 1, 0), min(rows.stop + 1, height)
        left, right = max(cols.start - 1, 0), min(cols.stop + 1, width)
        objects = None if self.objects is None else \
            self.objects[::step, ::step][top:bottom, left:right]
        codes = overlay_codes(classes[top:bottom, left:right], objects)
        return codes[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
