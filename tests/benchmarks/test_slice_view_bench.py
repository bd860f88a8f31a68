"""Slice-view benchmarks (``make bench``): they print tables and assert nothing about speed.

Frame time = the GUI-thread time from a slice change (or window change) to the views painted
(``set_position`` / ``set_window`` plus a synchronous repaint of each pane), median over 30
changes on a 300×512×512 int16 CT (0.7×0.7×1.0 mm), offscreen Qt; with a label overlay on and
off. Also the one-off cost of :meth:`SliceViews.set_volume` and the worker-side preparation of
the 3-D view (downsampling, label surfaces).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from engines.core.progress import drive
from engines.imaging.surfaces import label_surfaces
from engines.imaging.volume import Volume
from engines.imaging.volume_rendering import downsample_for_rendering
from tests.benchmarks import print_table

SHAPE = (300, 512, 512)
CHANGES = 30


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1500, SHAPE, dtype=np.int16)
    labels = np.zeros(SHAPE, np.uint8)
    labels[100:200, 150:350, 100:250] = 1
    labels[120:180, 200:300, 300:420] = 2
    volume = Volume(array, spacing_xyz=(0.7, 0.7, 1.0), modality="CT")
    return volume, volume.with_array(labels)


def _paint(views) -> None:
    for pane in views.panes.values():
        pane.viewport().repaint()


def _median_ms(action, changes: int = CHANGES) -> float:
    times = []
    for k in range(changes):
        start = time.perf_counter()
        action(k)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def test_slice_view_frame_time(qtbot, big):
    from widgets.imaging.slice_view import SliceViews

    volume, labels = big
    views = SliceViews(layout="row")
    qtbot.addWidget(views)
    views.resize(1500, 560)
    views.show()
    qtbot.waitExposed(views)
    start = time.perf_counter()
    views.set_volume(volume, window="lung")
    set_volume_ms = 1e3 * (time.perf_counter() - start)
    QApplication.processEvents()
    centre = np.asarray(SHAPE) // 2

    def stepper(axis):
        def action(k):
            position = centre.copy()
            position[axis] += k + 1
            views.set_position(position)
            _paint(views)
        return action

    def crosshair(k):
        views.set_position(centre + (k + 1) * np.array([1, 3, 5]))
        _paint(views)

    def window(k):
        views.set_window(-600 + 10 * k, 1500 - 20 * k)
        _paint(views)

    rows = []
    for overlay in ("none", "labels"):
        if overlay == "labels":
            start = time.perf_counter()
            views.set_labels(labels)
            rows.append(["set_labels (one-off)", overlay, 1e3 * (time.perf_counter() - start)])
        for name, action in (("axial slice step", stepper(0)), ("coronal slice step", stepper(1)),
                             ("sagittal slice step", stepper(2)),
                             ("crosshair move (3 views)", crosshair),
                             ("window/level change", window)):
            views.set_position(centre)
            _paint(views)
            rows.append([name, overlay, _median_ms(action)])
    rows.insert(0, ["set_volume (one-off)", "none", set_volume_ms])
    print_table(f"Slice views, {SHAPE[0]}×{SHAPE[1]}×{SHAPE[2]} int16, offscreen Qt, "
                f"median of {CHANGES} changes (GUI thread, to painted)",
                ["action", "overlay", "ms"], rows)


def test_volume_view_preparation_time(big):
    volume, labels = big
    rows = []
    for budget in (1 << 24, 1 << 22):
        start = time.perf_counter()
        result = drive(downsample_for_rendering(volume, budget))
        rows.append([f"downsample (budget {budget:,})", "×".join(map(str, result.volume.shape)),
                     time.perf_counter() - start])
    start = time.perf_counter()
    surfaces = drive(label_surfaces(labels))
    triangles = sum(len(s.faces) for s in surfaces)
    rows.append(["label surfaces (2 boxes)", f"{triangles:,} triangles",
                 time.perf_counter() - start])
    print_table("3-D view preparation in the worker (CPU, numpy / scikit-image)",
                ["step", "result", "s"], rows)
