"""Sliding-window geometry over a large 2-D image (pure geometry, like QuPath's ``Tiler``).

A :class:`TileGrid` lays windows of ``window = (h, w)`` pixels over an image of ``shape = (H, W)``
with a step of ``stride = (sy, sx)``. Along each axis the starts are ``0, s, 2s, …`` and, when
the last window would stick out, one more window *shifted inside* so that it ends exactly on
the border (no junk padding). Only when the image is smaller than the window along an axis is
there a single window there, and its crop is padded by reflection (:func:`crop_window`); the
tile's ``(h, w)`` is then the valid region, at the top-left of the padded crop.

Tiles come in raster order (row by row, left to right); every tile of one *tile row* shares
``y0``. That is the order :class:`engines.imaging.blend.Stitcher` needs to finish horizontal
bands early. Pixel ``(y, x)`` is row ``y``, column ``x``; all sizes are in pixels.

Example: a 7000 × 8000 micrograph, window 1000, stride 100 gives 61 × 71 = 4331 crops, as in
the paper (Azimi et al., §4.3.4).

Training-crop sampling with a stride per class and rotation augmentation are in
:mod:`engines.imaging.sampling`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engines.core.errors import InputError

Size = int | tuple[int, int]


def as_pair(value: Size, name: str) -> tuple[int, int]:
    """``value`` as ``(vertical, horizontal)`` positive ints (an int means both)."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2:
        raise InputError(f"{name} must be one number or two (height, width), got {value!r}")
    try:
        ints = tuple(int(v) for v in pair)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be whole numbers of pixels, got {value!r}") from None
    if ints != tuple(pair) or min(ints) < 1:
        raise InputError(f"{name} must be whole numbers of pixels >= 1, got {value!r}")
    return ints


def axis_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Window starts along one axis: ``0, stride, 2·stride, …`` with the last window shifted
    inside so that it ends at ``length``; ``[0]`` when ``length <= window``.

    Returns
    -------
    (n,) int64 ndarray
        Increasing start positions, px.
    """
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    last = length - window
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


def crop_window(image: np.ndarray, y0: int, x0: int, window: tuple[int, int]) -> np.ndarray:
    """The ``window = (h, w)`` crop of ``image`` at ``(y0, x0)``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Grey or channels-last image.
    y0, x0 : int
        Top-left corner, px; the crop must start inside the image.
    window : (h, w)
        Crop size, px. Where the image ends before the window does (only for images smaller than
        the window), the crop is padded by reflection at the bottom / right.

    Returns
    -------
    (h, w) or (h, w, C) ndarray
        A view of ``image`` when no padding is needed, else a padded copy.
    """
    h, w = window
    part = image[y0:y0 + h, x0:x0 + w]
    pad_y, pad_x = h - part.shape[0], w - part.shape[1]
    if pad_y == 0 and pad_x == 0:
        return part
    widths = [(0, pad_y), (0, pad_x)] + [(0, 0)] * (image.ndim - 2)
    # "symmetric" repeats the edge pixel, so even a 1-px image pads to a constant
    mode = "reflect" if min(part.shape[:2]) > 1 else "symmetric"
    return np.pad(part, widths, mode=mode)


@dataclass(frozen=True)
class Tile:
    """One window position: the image region ``[y0, y0 + h) × [x0, x0 + w)``, px.

    ``h, w`` equal the grid's window except for images smaller than the window, where they are
    the valid region (top-left of the padded crop). ``row, col`` index the tile in its grid.
    """

    y0: int
    x0: int
    h: int
    w: int
    row: int
    col: int

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """``(y0, x0, h, w)``."""
        return self.y0, self.x0, self.h, self.w

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices of the image region."""
        return slice(self.y0, self.y0 + self.h), slice(self.x0, self.x0 + self.w)


@dataclass(frozen=True)
class TileGrid:
    """The window/stride grid over an image of ``shape = (H, W)``.

    Parameters
    ----------
    shape : (H, W)
        Image size, px (extra trailing dimensions such as colour channels are ignored).
    window : int or (h, w)
        Window (model input) size, px.
    stride : int or (sy, sx)
        Step between windows, px; at most the window, so that every pixel is covered.
    """

    shape: tuple[int, int]
    window: Size
    stride: Size
    ys: np.ndarray = field(init=False, repr=False)
    xs: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shape = as_pair(tuple(self.shape)[:2], "image shape")
        window = as_pair(self.window, "window")
        stride = as_pair(self.stride, "stride")
        if stride[0] > window[0] or stride[1] > window[1]:
            raise InputError(f"stride {stride} is larger than the window {window}: pixels "
                             "between windows would never be covered")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "ys", axis_starts(shape[0], window[0], stride[0]))
        object.__setattr__(self, "xs", axis_starts(shape[1], window[1], stride[1]))

    @property
    def n_rows(self) -> int:
        return len(self.ys)

    @property
    def n_cols(self) -> int:
        return len(self.xs)

    def __len__(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def tile_size(self) -> tuple[int, int]:
        """``(h, w)`` of every tile's image region: the window, or the image where smaller."""
        return min(self.window[0], self.shape[0]), min(self.window[1], self.shape[1])

    @property
    def padded(self) -> bool:
        """True when the image is smaller than the window (crops are padded by reflection)."""
        return self.tile_size != self.window

    def tile(self, row: int, col: int) -> Tile:
        """The tile at grid position ``(row, col)``."""
        h, w = self.tile_size
        return Tile(int(self.ys[row]), int(self.xs[col]), h, w, row, col)

    def __iter__(self) -> Iterator[Tile]:
        """Tiles in raster order (rows top to bottom, each left to right)."""
        for row in range(self.n_rows):
            for col in range(self.n_cols):
                yield self.tile(row, col)

    def band_end(self, row: int) -> int:
        """First image row that a later tile row can still touch once tile row ``row`` is done
        (the next row's ``y0``; ``H`` after the last row)."""
        return int(self.ys[row + 1]) if row + 1 < self.n_rows else self.shape[0]

    def _check_image(self, image: np.ndarray) -> None:
        if tuple(image.shape[:2]) != self.shape:
            raise InputError(f"image of shape {tuple(image.shape[:2])} does not match the tile "
                             f"grid's {self.shape}")

    def crop(self, image: np.ndarray, tile: Tile) -> np.ndarray:
        """The model input for ``tile``: ``(window_h, window_w[, C])`` (see :func:`crop_window`)."""
        self._check_image(image)
        return crop_window(image, tile.y0, tile.x0, self.window)

    def batches(self, image: np.ndarray, batch_size: int
                ) -> Iterator[tuple[list[Tile], np.ndarray]]:
        """Tiles and their crops in raster order, ``batch_size`` at a time.

        Yields
        ------
        tiles : list of Tile
        crops : (B, window_h, window_w[, C]) ndarray
            A fresh contiguous array per batch (``B <= batch_size``; the last may be short).
        """
        self._check_image(image)
        if int(batch_size) < 1:
            raise InputError(f"batch size must be at least 1, got {batch_size}")
        batch: list[Tile] = []
        for tile in self:
            batch.append(tile)
            if len(batch) == batch_size:
                yield batch, np.stack([self.crop(image, t) for t in batch])
                batch = []
        if batch:
            yield batch, np.stack([self.crop(image, t) for t in batch])


def iter_tiles(shape: tuple[int, ...], window: Size, stride: Size) -> Iterator[Tile]:
    """Tiles of :class:`TileGrid` ``(shape, window, stride)`` in raster order."""
    return iter(TileGrid(tuple(shape), window, stride))
