"""Tiling and image-view benchmarks (``make bench``): they print tables and assert nothing
about speed.

Tables: (1) streamed blending of random tile "predictions" over a 7000 × 8000 micrograph (5
classes, window 512, stride 384): throughput in MP/s and peak memory (tracemalloc peak of the
stitching, the stitcher's buffers, and what a whole-image (C, H, W) accumulator would need);
tile cropping in batches; (2) the image view on a 7000 × 8000 uint8 image, offscreen: pyramid
build time, then frame times (``QWidget.grab()``, median and max over 20 frames) at several
zoom levels, for pans inside the drawn margin (repaint only), pans by a whole view width
(a new crop each frame) and a wheel-like zoom sweep across all pyramid levels, without and with a label overlay (outlines), beside a plain
``pg.ImageItem(autoDownsample=True)`` holding the whole image.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest

from engines.imaging.blend import Stitcher
from engines.imaging.image_display import build_pyramid
from engines.imaging.tiling import TileGrid
from tests.benchmarks import print_table

HEIGHT, WIDTH = 7000, 8000
N_CLASSES, WINDOW, STRIDE = 5, 512, 384
ZOOMS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
FRAMES = 20


def _prediction_pool(n: int = 8) -> list[np.ndarray]:
    """A few random (C, h, w) softmax-like predictions, reused so that generating random
    numbers is not what is timed."""
    rng = np.random.default_rng(0)
    pool = []
    for _ in range(n):
        logits = rng.normal(0, 1, (N_CLASSES, WINDOW, WINDOW)).astype(np.float32)
        exp = np.exp(logits)
        pool.append(exp / exp.sum(axis=0))
    return pool


def _stitch(grid: TileGrid, pool: list[np.ndarray], blend: str) -> tuple[int, int]:
    stitcher = Stitcher(grid, N_CLASSES, blend)
    rows = 0
    for i, tile in enumerate(grid):
        for band in stitcher.add(tile, pool[i % len(pool)]):
            rows += band.y1 - band.y0
    stitcher.finish()
    return rows, stitcher.buffer_nbytes


def test_blend_throughput_and_peak_memory():
    grid = TileGrid((HEIGHT, WIDTH), WINDOW, STRIDE)
    pool = _prediction_pool()
    megapixels = HEIGHT * WIDTH / 1e6
    rows = []
    for blend in ("hann", "gaussian"):
        tracemalloc.start()      # this run also warms up (first-touch page faults)
        _stitch(grid, pool, blend)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        covered, buffer_bytes = _stitch(grid, pool, blend)
        seconds = time.perf_counter() - start
        assert covered == HEIGHT
        rows.append([blend, len(grid), seconds, megapixels / seconds,
                     len(grid) / seconds, buffer_bytes / 2**20, peak / 2**20])
    whole = N_CLASSES * HEIGHT * WIDTH * 4 / 2**20
    print_table(f"Streamed blending, {HEIGHT} x {WIDTH} px, {N_CLASSES} classes, window "
                f"{WINDOW}, stride {STRIDE} (CPU, numpy, 1 thread of {os.cpu_count()}); a "
                f"whole-image float32 (C, H, W) sum would take {whole:.0f} MiB",
                ["blend", "tiles", "s", "MP/s", "tiles/s", "buffers MiB", "peak MiB"], rows)


def test_tile_crop_rate():
    image = np.random.default_rng(1).integers(0, 255, (HEIGHT, WIDTH), dtype=np.uint8)
    grid = TileGrid(image.shape, WINDOW, STRIDE)
    start = time.perf_counter()
    n = sum(len(tiles) for tiles, _ in grid.batches(image, 16))
    seconds = time.perf_counter() - start
    print_table("Tile crops in batches of 16 (uint8, 512 x 512)", ["tiles", "s", "tiles/s"],
                [[n, seconds, n / seconds]])


# -- the image view ------------------------------------------------------------------------------
def _frame_times(view, app, zoom: float, jump: bool) -> list[float]:
    """Seconds per frame: set the range, then grab the widget (paint included)."""
    view.centre_on(WIDTH / 2, HEIGHT / 2, zoom)
    app.processEvents()
    view.grab()
    step = (view.view.width() / zoom) if jump else 20.0 / zoom
    times = []
    for i in range(FRAMES):
        x = WIDTH / 2 + ((i % 4) - 1.5) * step
        start = time.perf_counter()
        view.centre_on(x, HEIGHT / 2, zoom)
        view.grab()
        times.append(time.perf_counter() - start)
    return times


def _zoom_sweep_times(view, app) -> list[float]:
    """Seconds per frame while zooming from 0.1 to 4 screen px per image px in steps of 15 %
    (like turning the wheel), centred on the image; every level of the pyramid is crossed."""
    view.centre_on(WIDTH / 2, HEIGHT / 2, 0.1)
    app.processEvents()
    view.grab()
    times = []
    zoom = 0.1
    while zoom < 4.0:
        zoom *= 1.15
        start = time.perf_counter()
        view.centre_on(WIDTH / 2, HEIGHT / 2, zoom)
        view.grab()
        times.append(time.perf_counter() - start)
    return times


def _plain_item_times(app, image: np.ndarray) -> list[list]:
    import pyqtgraph as pg
    from PySide6.QtCore import QRectF

    widget = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True, invertY=True)
    widget.setCentralItem(box)
    widget.resize(1200, 800)
    widget.show()
    item = pg.ImageItem(image, axisOrder="row-major", autoDownsample=True, levels=(0, 255))
    box.addItem(item)
    rows = []
    for zoom in ZOOMS:
        times = []
        for i in range(FRAMES // 2):
            width, height = 1200 / zoom, 800 / zoom
            x = WIDTH / 2 + ((i % 4) - 1.5) * 20 / zoom
            start = time.perf_counter()
            box.setRange(QRectF(x - width / 2, HEIGHT / 2 - height / 2, width, height),
                         padding=0)
            app.processEvents()
            widget.grab()
            times.append(time.perf_counter() - start)
        rows.append(["plain ImageItem", "none", zoom, 1e3 * np.median(times),
                     1e3 * max(times)])
    widget.close()
    return rows


@pytest.fixture(scope="module")
def app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def test_image_view_frame_times(app):
    from widgets.imaging.image_view import ImageView

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (HEIGHT, WIDTH), dtype=np.uint8)
    labels = ((np.arange(HEIGHT)[:, None] // 300 + np.arange(WIDTH)[None, :] // 400)
              % N_CLASSES).astype(np.uint8)
    start = time.perf_counter()
    pyramid = build_pyramid(image)
    pyramid_s = time.perf_counter() - start
    view = ImageView()
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    start = time.perf_counter()
    view.set_image(image, pixel_size_um=0.1, pyramid=pyramid)
    set_image_s = time.perf_counter() - start
    view.set_classes([f"class {i}" for i in range(N_CLASSES)],
                     [(200, 50, 50), (50, 200, 50), (50, 50, 200), (220, 200, 0), (0, 200, 200)])
    rows = []
    for overlay in ("none", "outline"):
        if overlay != "none":
            start = time.perf_counter()
            view.set_labels(labels)
            set_labels_s = time.perf_counter() - start
            view.set_overlay_mode(overlay)
        for zoom in ZOOMS:
            for jump in (False, True):
                times = _frame_times(view, app, zoom, jump)
                rows.append(["ImageView", overlay, zoom, "new crop" if jump else "repaint",
                             1e3 * np.median(times), 1e3 * max(times)])
        times = _zoom_sweep_times(view, app)
        rows.append(["ImageView", overlay, "0.1-4", f"zoom x1.15 ({len(times)} frames)",
                     1e3 * np.median(times), 1e3 * max(times)])
    view.close()
    plain = _plain_item_times(app, image)
    print_table(f"Image view, {HEIGHT} x {WIDTH} uint8, 1200 x 800 px widget, offscreen "
                f"(pyramid build {pyramid_s * 1e3:.0f} ms, set_image {set_image_s * 1e3:.0f} ms,"
                f" set_labels {set_labels_s * 1e3:.0f} ms)",
                ["view", "overlay", "zoom", "pan", "median ms", "max ms"], rows)
    print_table("Plain pg.ImageItem(autoDownsample=True) with the whole image, small pans",
                ["view", "overlay", "zoom", "median ms", "max ms"], plain)
