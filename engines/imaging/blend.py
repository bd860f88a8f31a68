"""Seamless stitching of overlapping tile predictions, streamed band by band.

Each tile's prediction ``(C, h, w)`` (class probabilities or scores) is weighted by a window
that tapers towards the tile's inner edges, and the image's result is the weighted average

    P(y, x) = Σ_t w_t(y, x) · p_t(y, x) / Σ_t w_t(y, x)

over the tiles ``t`` covering the pixel, so the normalised weights sum to 1 everywhere (a
constant prediction stitches to that constant: no seams). Along an edge that lies on the image
border the window does not taper (it stays at its peak from the centre outwards), so border
pixels, which fewer tiles cover, keep full weight; the windows never reach zero inside a tile.

:class:`Stitcher` takes tiles in raster order and keeps only the rows the current tile row can
touch: a running weighted sum of ``(C, window_h, W)`` plus a weight sum ``(window_h, W)``,
O(C × window_h × W) memory instead of O(C × H × W). When the last tile of a tile row has been
added, the rows above the next tile row can no longer change; they come back as a
:class:`FinishedBand` (argmax label rows, the largest blended score, and optionally all class
scores), and the buffer moves down. :class:`SlidingWindowConfig` holds the settings.

Typical use (the model runs on batches of crops, on a GPU when there is one)::

    config = SlidingWindowConfig(window=512, stride=384)
    grid = config.grid(image.shape)
    stitcher = config.stitcher(grid, n_classes)
    for tiles, crops in grid.batches(image, config.batch_size):   # (B, h, w[, C]) crops
        scores = model(crops)                                       # (B, C, h, w) numpy
        for tile, score in zip(tiles, scores):
            for band in stitcher.add(tile, score):
                labels[band.y0:band.y1] = band.labels               # or show it at once
    stitcher.finish()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engines.core.errors import InputError
from engines.imaging.tiling import Tile, TileGrid

BLENDS = ("hann", "gaussian")
GAUSSIAN_SIGMA = 0.125  # of the window length (nnU-Net / MONAI's sliding-window default)


def blend_profile(n: int, kind: str = "hann", flat_start: bool = False,
                  flat_end: bool = False) -> np.ndarray:
    """1-D blending weights over ``n`` pixels, sampled at pixel centres (never exactly zero).

    ``"hann"``: ``sin²(π (i + ½) / n)``; ``"gaussian"``: ``exp(-½ ((i + ½ - n/2) / (σ n))²)`` with
    σ = 0.125. ``flat_start`` / ``flat_end`` hold the peak value from the centre to that end
    (for edges on the image border). Returns (n,) float64 with maximum 1.
    """
    if kind not in BLENDS:
        raise ValueError(f"unknown blend {kind!r}; choose one of {', '.join(BLENDS)}")
    centre = np.arange(n, dtype=np.float64) + 0.5
    if kind == "hann":
        profile = np.sin(np.pi * centre / n) ** 2
    else:
        profile = np.exp(-0.5 * ((centre - n / 2) / (GAUSSIAN_SIGMA * n)) ** 2)
    peak = int(np.argmax(profile))
    if flat_start:
        profile[:peak] = profile[peak]
    if flat_end:
        profile[peak:] = profile[peak]
    return profile / profile.max()


def blend_weights(h: int, w: int, kind: str = "hann",
                  touches: tuple[bool, bool, bool, bool] = (False, False, False, False)
                  ) -> np.ndarray:
    """(h, w) float32 window: the outer product of two :func:`blend_profile` s.

    ``touches = (top, bottom, left, right)``: which tile edges lie on the image border.
    """
    top, bottom, left, right = touches
    rows = blend_profile(h, kind, top, bottom)
    cols = blend_profile(w, kind, left, right)
    return np.outer(rows, cols).astype(np.float32)


@dataclass
class SlidingWindowConfig:
    """Sliding-window inference settings (forms are built from the field metadata)."""

    window: int = field(default=512, metadata={
        "label": "Window", "unit": "px", "range": (16, 4096),
        "help": "Side of the square crops given to the model (the paper used 1000 px)"})
    stride: int = field(default=384, metadata={
        "label": "Stride", "unit": "px", "range": (1, 4096),
        "help": "Step between crops; smaller than the window so that tiles overlap and blend"})
    blend: str = field(default="hann", metadata={
        "label": "Blending", "choices": BLENDS,
        "help": "Weight window for averaging overlapping tiles (never zero on image borders)"})
    batch_size: int = field(default=8, metadata={
        "label": "Batch size", "range": (1, 256), "help": "Crops per model call"})

    def __post_init__(self) -> None:
        if self.blend not in BLENDS:
            raise InputError(f"unknown blending {self.blend!r}; choose one of "
                             f"{', '.join(BLENDS)}")
        if not 16 <= self.window <= 4096:
            raise InputError(f"window must be within 16…4096 px, got {self.window}")
        if not 1 <= self.stride <= self.window:
            raise InputError(f"stride must be within 1…window ({self.window}) px, got "
                             f"{self.stride}")
        if not 1 <= self.batch_size <= 256:
            raise InputError(f"batch size must be within 1…256, got {self.batch_size}")

    def grid(self, shape: tuple[int, ...]) -> TileGrid:
        """The tile grid over an image of ``shape`` (H, W[, C])."""
        return TileGrid(tuple(shape)[:2], self.window, self.stride)

    def stitcher(self, grid: TileGrid, n_classes: int, keep_scores: bool = False) -> Stitcher:
        return Stitcher(grid, n_classes, self.blend, keep_scores)


@dataclass(frozen=True)
class FinishedBand:
    """Image rows ``[y0, y1)`` that no later tile can change.

    Attributes
    ----------
    y0, y1 : int
        First and one-past-last image row.
    labels : (y1 - y0, W) uint8 (int32 for more than 256 classes)
        Argmax class of the blended scores.
    max_score : (y1 - y0, W) float32
        The largest blended class score (the class probability when the predictions are
        probabilities).
    scores : (C, y1 - y0, W) float32 or None
        All blended class scores, when the stitcher keeps them.
    """

    y0: int
    y1: int
    labels: np.ndarray
    max_score: np.ndarray
    scores: np.ndarray | None = None


class Stitcher:
    """Blend tile predictions into finished horizontal bands, tiles in raster order.

    Parameters
    ----------
    grid : TileGrid
        The tiles the predictions belong to.
    n_classes : int
        C, the number of prediction channels.
    blend : {"hann", "gaussian"}
        Window shape (:func:`blend_weights`).
    keep_scores : bool
        Also return every class's blended score per band (``FinishedBand.scores``).

    Notes
    -----
    Tiles must come row by row (each tile row complete before the next starts); within a row
    any order is accepted. Memory: ``buffer_nbytes`` = 4 × (C + 1) × window_h × W for the
    sums, plus one (C, window_h, window_w) scratch tile.
    """

    def __init__(self, grid: TileGrid, n_classes: int, blend: str = "hann",
                 keep_scores: bool = False) -> None:
        if blend not in BLENDS:
            raise ValueError(f"unknown blend {blend!r}; choose one of {', '.join(BLENDS)}")
        if int(n_classes) < 1:
            raise ValueError(f"n_classes must be at least 1, got {n_classes}")
        self.grid = grid
        self.n_classes = int(n_classes)
        self.blend = blend
        self.keep_scores = bool(keep_scores)
        h, w = grid.tile_size
        width = grid.shape[1]
        self._sum = np.zeros((self.n_classes, h, width), dtype=np.float32)
        self._weight = np.zeros((h, width), dtype=np.float32)
        self._scratch = np.empty((self.n_classes, h, w), dtype=np.float32)
        self._windows: dict[tuple[bool, bool, bool, bool], np.ndarray] = {}
        self._row = 0
        self._added = np.zeros(grid.n_cols, dtype=bool)
        self.label_dtype = np.uint8 if self.n_classes <= 256 else np.int32

    @property
    def buffer_nbytes(self) -> int:
        """Bytes held by the accumulators (independent of the image height)."""
        return self._sum.nbytes + self._weight.nbytes + self._scratch.nbytes

    @property
    def done(self) -> bool:
        """True once every tile has been added."""
        return self._row >= self.grid.n_rows

    @property
    def next_row(self) -> int:
        """The tile row being filled (``grid.n_rows`` when done)."""
        return self._row

    def _window(self, tile: Tile) -> np.ndarray:
        height, width = self.grid.shape
        key = (tile.y0 == 0, tile.y0 + tile.h == height, tile.x0 == 0, tile.x0 + tile.w == width)
        if key not in self._windows:
            self._windows[key] = blend_weights(tile.h, tile.w, self.blend, key)
        return self._windows[key]

    def _check(self, tile: Tile, prediction: np.ndarray) -> np.ndarray:
        grid = self.grid
        if not (0 <= tile.row < grid.n_rows and 0 <= tile.col < grid.n_cols) or \
                grid.tile(tile.row, tile.col) != tile:
            raise ValueError(f"tile {tile} is not a tile of this grid")
        if self.done or tile.row < self._row or self._added[tile.col] and tile.row == self._row:
            raise ValueError(f"tile (row {tile.row}, col {tile.col}) was already stitched")
        if tile.row > self._row:
            missing = int(np.count_nonzero(~self._added))
            raise ValueError(f"tile (row {tile.row}, col {tile.col}) is out of raster order: "
                             f"tile row {self._row} still misses {missing} tiles")
        expected = (self.n_classes, tile.h, tile.w)
        padded = (self.n_classes, *grid.window)
        if prediction.shape not in (expected, padded):
            raise ValueError(f"prediction of shape {prediction.shape} for tile {tile.bounds}; "
                             f"expected {expected}" + (f" or {padded}" if grid.padded else ""))
        return prediction[:, :tile.h, :tile.w]

    def add(self, tile: Tile, prediction: np.ndarray) -> list[FinishedBand]:
        """Add one tile's prediction; returns the bands it finished (none or one).

        Parameters
        ----------
        tile : Tile
            A tile of ``grid``, in raster order.
        prediction : (C, h, w) or (C, window_h, window_w) array-like
            Scores for the tile (the padded window's valid top-left part is used).
        """
        scores = self._check(tile, np.asarray(prediction))
        window = self._window(tile)
        columns = slice(tile.x0, tile.x0 + tile.w)
        np.multiply(scores, window, out=self._scratch, casting="unsafe")
        self._sum[:, :, columns] += self._scratch
        self._weight[:, columns] += window
        self._added[tile.col] = True
        if not self._added.all():
            return []
        return [self._finish_row()]

    def _finish_row(self) -> FinishedBand:
        grid = self.grid
        y0 = int(grid.ys[self._row])
        y1 = grid.band_end(self._row)
        n = y1 - y0
        total, weight = self._sum[:, :n], self._weight[:n]
        # argmax class by class: np.argmax(axis=0) would copy the whole (C, n, W) block
        best = total[0].copy()
        labels = np.zeros((n, total.shape[2]), dtype=self.label_dtype)
        for cls in range(1, self.n_classes):
            better = total[cls] > best          # ties keep the lower class, as argmax does
            labels[better] = cls
            np.maximum(best, total[cls], out=best)
        max_score = np.divide(best, weight, out=best)
        scores = total / weight if self.keep_scores else None
        band = FinishedBand(y0, y1, labels, max_score, scores)
        self._row += 1
        self._added[:] = False
        if not self.done:
            keep = self._weight.shape[0] - n
            for cls in range(self.n_classes):   # per class: no temporary copy of the block
                self._sum[cls, :keep] = self._sum[cls, n:]
            self._sum[:, keep:] = 0.0
            self._weight[:keep] = self._weight[n:]
            self._weight[keep:] = 0.0
        return band

    def finish(self) -> list[FinishedBand]:
        """Check that every tile was added. Bands are returned by :meth:`add` as soon as they
        are final, so nothing is left to return; raises ``ValueError`` when tiles are missing."""
        if not self.done:
            missing = (self.grid.n_rows - self._row) * self.grid.n_cols \
                - int(np.count_nonzero(self._added))
            raise ValueError(f"{missing} of {len(self.grid)} tiles were never added")
        return []


@dataclass(frozen=True)
class Stitched:
    """A whole stitched image: ``labels`` (H, W), ``max_score`` (H, W) and, when kept,
    ``scores`` (C, H, W)."""

    labels: np.ndarray
    max_score: np.ndarray
    scores: np.ndarray | None


def stitch(grid: TileGrid, predictions: Iterable[tuple[Tile, np.ndarray]], n_classes: int,
           blend: str = "hann", keep_scores: bool = True) -> Stitched:
    """Stitch ``(tile, prediction)`` pairs in raster order into whole-image arrays.

    Holds the whole result, O(C × H × W) with ``keep_scores``; for large images feed a
    :class:`Stitcher` and write its bands out instead.
    """
    stitcher = Stitcher(grid, n_classes, blend, keep_scores)
    height, width = grid.shape
    labels = np.zeros((height, width), dtype=stitcher.label_dtype)
    max_score = np.zeros((height, width), dtype=np.float32)
    scores = np.zeros((n_classes, height, width), dtype=np.float32) if keep_scores else None
    for tile, prediction in predictions:
        for band in stitcher.add(tile, prediction):
            labels[band.y0:band.y1] = band.labels
            max_score[band.y0:band.y1] = band.max_score
            if scores is not None:
                scores[:, band.y0:band.y1] = band.scores
    stitcher.finish()
    return Stitched(labels, max_score, scores)
