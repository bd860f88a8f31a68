"""The label overlay of the image view: colours, legend show/hide, opacity, outlines, bands."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.image_display import NO_CLASS, OUTLINE
from tests.widgets.imaging.image_view_mouse import click_screen, screen_point
from widgets.imaging.image_view import ImageView

HEIGHT, WIDTH = 3000, 4000
NAMES = ["ferrite", "martensite", "tempered martensite", "bainite", "pearlite"]
COLOURS = [(128, 128, 128), (230, 30, 30), (30, 200, 30), (30, 60, 230), (240, 220, 0)]


@pytest.fixture
def view(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(np.zeros((HEIGHT, WIDTH), dtype=np.uint8))     # black: overlay shows pure
    view.set_classes(NAMES, COLOURS)
    return view


def _colour(view, x: float, y: float) -> tuple[int, int, int]:
    point = screen_point(view, x, y)
    colour = view.grab().toImage().pixelColor(point.x(), point.y())
    return colour.red(), colour.green(), colour.blue()


def _close(a, b, tolerance=3) -> bool:
    return all(abs(int(u) - int(v)) <= tolerance for u, v in zip(a, b, strict=True))


def _stripes() -> np.ndarray:
    labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for cls in range(5):
        labels[:, cls * 800:(cls + 1) * 800] = cls
    return labels


def test_fill_colours_and_legend_toggle_change_the_drawn_pixels(view, qtbot):
    view.set_labels(_stripes())
    view.set_overlay_opacity(1.0)
    view.centre_on(1200, 1500, zoom=0.5)
    assert _close(_colour(view, 1200, 1500), COLOURS[1])
    assert _close(_colour(view, 1800, 1500), COLOURS[2])
    # click martensite's check box in the legend
    row = view.mapFromScene(view.legend.mapToScene(view.legend.row_centre(1)))
    with qtbot.waitSignal(view.legend.classToggled, timeout=1000) as blocker:
        click_screen(view, row)
    assert blocker.args == [1, False]
    assert not view.legend.visible[1] and view.overlay.lut()[1, 3] == 0
    assert _close(_colour(view, 1200, 1500), (0, 0, 0))         # hidden: the image shows
    assert _close(_colour(view, 1800, 1500), COLOURS[2])        # others unchanged
    view.set_class_visible(1, True)                              # programmatic, legend follows
    assert view.legend.visible[1]
    assert _close(_colour(view, 1200, 1500), COLOURS[1])


def test_opacity_blends_fills_with_the_image(view):
    view.set_labels(_stripes())
    view.set_overlay_opacity(0.5)
    view.centre_on(1200, 1500, zoom=0.5)
    assert _close(_colour(view, 1200, 1500), tuple(c // 2 for c in COLOURS[1]), tolerance=4)
    view.set_overlay_opacity(0.0)
    assert _close(_colour(view, 1200, 1500), (0, 0, 0))


def test_outline_mode_draws_object_boundaries_in_their_class_colour(view):
    labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    objects = np.zeros((HEIGHT, WIDTH), dtype=np.int32)
    labels[1000:1040, 2000:2060] = 3
    objects[1000:1040, 2000:2060] = 7
    view.set_labels(labels, objects)
    view.set_overlay_mode("outline")
    view.set_overlay_opacity(0.5)       # outlines drawn at min(1, 2 x opacity) = opaque
    view.set_class_visible(0, False)
    view.centre_on(2030, 1020, zoom=4.0)
    assert _close(_colour(view, 2000.5, 1020.5), COLOURS[3])     # left edge of the object
    assert _close(_colour(view, 2030.5, 1020.5), (0, 0, 0))      # inside: no fill
    assert _close(_colour(view, 1990.5, 1020.5), (0, 0, 0))      # matrix hidden
    view.set_overlay_mode("both")
    inside = _colour(view, 2030.5, 1020.5)
    assert _close(inside, tuple(c // 2 for c in COLOURS[3]), tolerance=4)
    with pytest.raises(ValueError):
        view.set_overlay_mode("hatched")


def test_bands_fill_in_and_only_visible_bands_redraw(view):
    view.centre_on(2000, 1500, zoom=1.0)
    calls = []
    view.update_labels_band(0, np.full((10, WIDTH), 4, dtype=np.uint8))    # starts the overlay
    overlay = view.overlay
    assert overlay.classes.shape == (HEIGHT, WIDTH)
    assert np.all(overlay.classes[:10] == 4) and np.all(overlay.classes[10:] == NO_CLASS)
    fetch = overlay._fetch

    def counting(level, rows, cols):
        calls.append((level, rows, cols))
        return fetch(level, rows, cols)

    overlay._fetch = counting
    view.set_overlay_opacity(1.0)
    band = np.full((384, WIDTH), 2, dtype=np.uint8)
    band[:, :1900] = 1
    view.update_labels_band(1400, band)
    assert len(calls) == 1
    level, rows, cols = calls[0]
    # only the on-screen crop is recoloured, not the whole 12 MP image
    assert (rows.stop - rows.start) * (cols.stop - cols.start) <= 800 * 600 * 2.5
    assert _close(_colour(view, 2000, 1500), COLOURS[2])
    assert _close(_colour(view, 1850, 1500), COLOURS[1])
    assert _close(_colour(view, 2000, 1300), (0, 0, 0))          # not stitched yet
    view.update_labels_band(2600, np.full((384, WIDTH), 3, dtype=np.uint8))  # off screen
    assert len(calls) == 1 and np.all(overlay.classes[2600:2984] == 3)
    with pytest.raises(ValueError):
        view.update_labels_band(2900, np.zeros((200, WIDTH), dtype=np.uint8))
    with pytest.raises(ValueError):
        view.update_labels_band(0, np.zeros((5, WIDTH - 1), dtype=np.uint8))


def test_codes_for_a_zoomed_out_view_come_from_strided_labels(view):
    labels = _stripes()
    view.set_labels(labels)
    view.fit()
    level, y0, y1, x0, x1 = view.overlay.crop
    assert level >= 2
    step = 1 << level
    shown = view.overlay.image_item.image
    np.testing.assert_array_equal(shown, labels[::step, ::step][y0:y1, x0:x1])
    view.set_overlay_mode("outline")
    shown = view.overlay.image_item.image
    assert np.any(shown >= OUTLINE)                               # stripe boundaries


def test_label_image_must_match_the_image(view):
    with pytest.raises(InputError, match="does not match"):
        view.set_labels(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(InputError):
        view.set_labels(np.zeros((HEIGHT, WIDTH), dtype=np.float32))
    with pytest.raises(InputError, match="differ"):
        view.set_labels(np.zeros((HEIGHT, WIDTH), dtype=np.uint8), np.zeros((5, 5), np.int32))
