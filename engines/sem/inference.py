"""Tiled inference over a whole micrograph, stitched without seams, in bounded memory.

The image is prepared once at the model's scale (:func:`engines.sem.preprocessing.prepare_image`,
8-bit), cut into overlapping windows (:class:`engines.imaging.tiling.TileGrid`), run through the
network in batches (:class:`engines.core.inference.Predictor`: GPU batches, bf16 and
channels_last on CUDA) as class probabilities, and blended into finished bands of rows
(:class:`engines.imaging.blend.Stitcher`, Hann weights). Each band's argmax labels are brought
back to the image's own size and handed on at once — written into the label image and given to
the band consumers (vote counting, confusion matrices) — so nothing of size C × H × W ever
exists: an 8000 × 7000 image needs the 8-bit image, its 8-bit labels and one band of blended
scores.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import numpy as np

from engines.core.progress import Progress
from engines.imaging.blend import SlidingWindowConfig
from engines.sem.preprocessing import RowMap, network_input, prepare_image

BandConsumer = Callable[[int, int, np.ndarray], None]
"""``consumer(y0, y1, labels_rows)``: rows ``[y0, y1)`` of the stitched labels ((y1 - y0, W)
uint8), called once per finished band, top to bottom."""


def predictor_for(net, in_channels: int, batch_size: int):
    """A :class:`~engines.core.inference.Predictor` giving class probabilities (B, C, h, w)."""
    from engines.core.inference import Predictor

    return Predictor(net, batch_size, output=lambda logits: logits.float().softmax(1),
                     prepare=lambda batch: network_input(batch, in_channels))


def iter_segment_prepared(net, n_classes: int, in_channels: int, prepared: np.ndarray,
                          window: SlidingWindowConfig, consumers: Sequence[BandConsumer]
                          ) -> Generator[Progress, None, int]:
    """Segment an image already at the model's scale (:func:`prepare_image` output): every
    finished band of labels at that scale goes to ``consumers``; yields Progress per batch of
    tiles (``tiles_done``, ``tiles``), returns the number of tiles."""
    grid = window.grid(prepared.shape)
    stitcher = window.stitcher(grid, n_classes)
    predictor = predictor_for(net, in_channels, window.batch_size)
    done = 0
    for tiles, crops in grid.batches(prepared, window.batch_size):
        scores = predictor(crops)
        for tile, score in zip(tiles, scores, strict=True):
            for band in stitcher.add(tile, score):
                for consume in consumers:
                    consume(band.y0, band.y1, band.labels)
        done += len(tiles)
        yield Progress(done / len(grid), f"tile {done}/{len(grid)}", tiles_done=done,
                       tiles=len(grid))
    stitcher.finish()
    return len(grid)


def iter_segment(segmenter, image: np.ndarray, window: SlidingWindowConfig | None = None,
                 consumers: Sequence[BandConsumer] = (), out: np.ndarray | None = None
                 ) -> Generator[Progress, None, np.ndarray]:
    """Segment ``image`` tile by tile; yields Progress after every batch of tiles.

    Parameters
    ----------
    segmenter
        A :class:`~engines.sem.segmenter.SemSegmenter`.
    image : (H, W) or (H, W, 3) ndarray
        The micrograph (a memory map is read tile by tile).
    window
        Sliding-window settings at the model's scale (default: the segmenter's).
    consumers
        Called with each finished band of full-size labels.
    out : (H, W) uint8, optional
        Where to write the labels (a caller may show rows ``[0, rows_done)`` while it runs).

    Progress metrics: ``tiles_done``, ``tiles``, ``rows_done`` (rows of ``out`` final so far).

    Returns
    -------
    (H, W) uint8 stitched class labels (``out`` when given).
    """
    window = window or segmenter.sliding_window()
    height, width = image.shape[:2]
    labels = np.zeros((height, width), np.uint8) if out is None else out
    yield Progress(0.0, "preparing the image")
    prepared = prepare_image(image, segmenter.preprocessing)
    rows, cols = RowMap(height, prepared.shape[0]), RowMap(width, prepared.shape[1]).source
    state = {"rows_done": 0}

    def full_size(b0: int, b1: int, band: np.ndarray) -> None:
        y0, y1 = rows.rows_of(b0, b1)
        if y1 <= y0:
            return
        part = band[rows.source[y0:y1] - b0][:, cols]
        labels[y0:y1] = part
        state["rows_done"] = y1
        for consume in consumers:
            consume(y0, y1, part)

    task = iter_segment_prepared(segmenter.net, segmenter.n_classes,
                                 segmenter.preprocessing.in_channels, prepared, window,
                                 [full_size])
    for report in task:
        yield Progress(report.fraction, report.message, rows_done=state["rows_done"],
                       **report.metrics)
    return labels
