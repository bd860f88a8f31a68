"""The large image view: pyramid drawing, levels, hover read-out, centring, clicks, scale bar."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from engines.core.errors import InputError
from tests.widgets.imaging.image_view_mouse import click, screen_point
from widgets.imaging.image_view import ImageView
from widgets.imaging.scale_bar import format_length_um, nice_length

HEIGHT, WIDTH = 3000, 4000


@pytest.fixture
def view(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 200, (HEIGHT, WIDTH), dtype=np.uint8)


def _screen_colour(view, x: float, y: float) -> tuple[int, int, int]:
    point = screen_point(view, x, y)
    colour = view.grab().toImage().pixelColor(point.x(), point.y())
    return colour.red(), colour.green(), colour.blue()


def test_whole_image_fits_and_a_coarse_level_is_drawn(view, image):
    view.set_image(image)
    rect = view.view.viewRect()
    assert rect.contains(QPointF(0, 0)) and rect.contains(QPointF(WIDTH - 1, HEIGHT - 1))
    level, y0, y1, x0, x1 = view.image_item.crop
    assert level >= 2                        # ~5 image px per screen px: 4x-averaged pixels
    assert (y1 - y0) * (x1 - x0) < 800 * 600 * 2
    assert view.image_item.image_item.image.shape == (y1 - y0, x1 - x0)
    view.centre_on(2000, 1500, zoom=1.0)
    level, y0, y1, x0, x1 = view.image_item.crop
    assert level == 0 and (y1 - y0) * (x1 - x0) <= 800 * 600 * 2.5
    np.testing.assert_array_equal(view.image_item.image_item.image, image[y0:y1, x0:x1])


def test_centre_on_sets_the_centre_and_zoom(view, image):
    view.set_image(image)
    view.centre_on(1234, 567, zoom=2.0)
    centre = view.view.viewRect().center()
    assert centre.x() == pytest.approx(1234, abs=1) and centre.y() == pytest.approx(567, abs=1)
    assert view.zoom == pytest.approx(2.0, rel=0.02)
    view.centre_on(100, 100)                 # keeps the zoom
    assert view.zoom == pytest.approx(2.0, rel=0.02)


def test_hover_read_out_gives_pixel_micrometres_value_and_class(view, image, qtbot):
    view.set_image(image, pixel_size_um=0.2)
    text = view.hover_text(10.7, 20.2)
    assert text.startswith("x 10, y 20 px (2.10, 4.10 µm)")     # pixel centre
    assert f"value {image[20, 10]}" in text
    assert view.hover_text(-1, 5) == "" and view.hover_text(WIDTH, 5) == ""
    labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    labels[:, 2000:] = 1
    objects = np.zeros((HEIGHT, WIDTH), dtype=np.int32)
    objects[100:200, 2100:2300] = 17
    view.set_classes(["ferrite", "martensite"], [(128, 128, 128), (230, 30, 30)])
    view.set_labels(labels, objects)
    assert view.hover_text(2150, 150).endswith("· martensite · object 17")
    assert view.hover_text(50, 150).endswith("· ferrite")
    with qtbot.waitSignal(view.hovered, timeout=1000) as blocker:
        view.hover_at(5, 6)
    assert blocker.args[0].startswith("x 5, y 6 px")


def test_hover_follows_the_mouse(view, image, qtbot):
    from PySide6.QtCore import QEvent

    from tests.widgets.imaging.image_view_mouse import NONE, send

    view.set_image(image)
    view.centre_on(300, 200, zoom=4.0)
    with qtbot.waitSignal(view.hovered, timeout=2000) as blocker:
        send(view, QEvent.Type.MouseMove, screen_point(view, 301.5, 202.5), button=NONE,
             buttons=NONE)
    assert blocker.args[0].startswith("x 301, y 202 px")


def test_rgb_and_16_bit_images(view):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    view.set_image(rgb)
    assert view.levels is None
    assert f"RGB {rgb[3, 4, 0]}, {rgb[3, 4, 1]}, {rgb[3, 4, 2]}" in view.hover_text(4, 3)
    deep = rng.normal(30000, 2000, (HEIGHT, WIDTH)).astype(np.uint16)
    view.set_image(deep)
    low, high = view.levels
    full_low, full_high = np.percentile(deep, [0.5, 99.5])
    assert low == pytest.approx(full_low, rel=0.01) and high == pytest.approx(full_high, rel=0.01)
    np.testing.assert_allclose(view.image_item.image_item.levels, view.levels)
    view.set_levels(0, 65535)
    assert tuple(view.image_item.image_item.levels) == (0, 65535)
    with pytest.raises(InputError):
        view.set_image(np.zeros((10, 10, 2), dtype=np.uint8))


def test_left_click_on_the_image_emits_object_clicked(view, image, qtbot):
    view.set_image(image)
    view.centre_on(500, 400, zoom=2.0)
    with qtbot.waitSignal(view.objectClicked, timeout=1000) as blocker:
        click(view, 520.0, 410.0)
    x, y = blocker.args
    assert x == pytest.approx(520, abs=1.0) and y == pytest.approx(410, abs=1.0)


def test_nice_scale_lengths():
    assert [nice_length(v) for v in (1.0, 1.9, 2.0, 4.99, 7.3, 99.0, 0.031)] == \
        [1.0, 1.0, 2.0, 2.0, 5.0, 50.0, 0.02]
    assert [format_length_um(v) for v in (0.5, 20.0, 2000.0)] == ["500 nm", "20 µm", "2 mm"]


def test_scale_bar_length_follows_the_zoom(view, image):
    view.set_image(image)
    assert not view.scale_bar.isVisible()        # no pixel size, no bar
    view.set_pixel_size(0.5)
    view.centre_on(2000, 1500, zoom=1.0)         # 0.5 µm per screen px: 160 px = 80 µm
    bar = view.scale_bar
    assert bar.isVisible() and bar.text == "50 µm"
    assert bar.bar_px == pytest.approx(100, rel=0.02)
    view.centre_on(2000, 1500, zoom=0.25)        # 2 µm per screen px: 320 µm -> 200 µm
    assert bar.text == "200 µm" and bar.bar_px == pytest.approx(100, rel=0.02)
    # drawn inside the view, in screen space
    inside = view.mapFromScene(bar.sceneBoundingRect()).boundingRect()
    assert view.viewport().rect().contains(inside)
    assert bar.size().width() >= bar.bar_px
