"""Slice views: window presets and right-drag window/level, label and heat-map overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from engines.core.errors import InputError
from tests.widgets.imaging.conftest import drag


def _levels(views):
    return {view: tuple(pane.image.levels) for view, pane in views.panes.items()}


def test_presets_from_the_menu_and_by_call(views, qtbot):
    assert set(_levels(views).values()) == {(-1350.0, 150.0)}  # lung: −600 / 1500
    bar = views.window_bar
    with qtbot.waitSignal(views.windowChanged) as signal:
        bar.combo.activated.emit(bar.combo.findData("bone"))
    assert signal.args == [400.0, 1800.0]
    assert set(_levels(views).values()) == {(-500.0, 1300.0)}
    views.set_window_preset("mediastinum")
    assert bar.level_box.value() == 40.0 and bar.width_box.value() == 400.0
    views.set_window(100.0, 50.0)
    assert bar.preset == "custom" and views.preset is None
    assert set(_levels(views).values()) == {(75.0, 125.0)}
    views.set_window_preset("full")
    low, high = views.data_range
    assert views.window.level == pytest.approx((low + high) / 2)
    assert low < -900 and high > 600  # air to the spine and marker (robust min/max)


def test_typed_level_and_width_apply(views):
    bar = views.window_bar
    bar.level_box.setValue(-500.0)
    bar.width_box.setValue(1000.0)
    bar.width_box.editingFinished.emit()
    assert (views.window.level, views.window.width) == (-500.0, 1000.0)


def test_right_drag_changes_width_horizontally_and_level_vertically(views):
    views.set_window_preset("mediastinum")
    pane = views.panes["axial"]
    span = views.data_range[1] - views.data_range[0]
    gain = span / min(pane.width(), pane.height())
    centre = pane.viewport().rect().center()
    drag(pane, centre, centre + QPoint(100, 0), Qt.MouseButton.RightButton)
    assert views.window.width == pytest.approx(400.0 + 100 * gain, rel=0.02)
    assert views.window.level == pytest.approx(40.0, abs=1e-6)
    drag(pane, centre, centre + QPoint(0, -50), Qt.MouseButton.RightButton)
    assert views.window.level == pytest.approx(40.0 + 50 * gain, rel=0.02)
    low, high = views.window.levels
    assert set(_levels(views).values()) == {(low, high)}
    assert views.window_bar.preset == "custom"


def _alpha_mask(views, view):
    return views.labels.items[view].image[..., 3] > 0


def test_label_overlay_follows_the_slice(views, chest):
    labels = chest[1]
    views.set_labels(labels, colours={1: (0, 0, 255)}, opacity=0.5)
    axial = views.geometries["axial"]
    for z in (views.position[0], 3):
        views.set_position((z, 20, 30))
        plane = axial.slice(labels.array, z)
        assert np.array_equal(_alpha_mask(views, "axial"), plane != 0)
        lung = views.labels.items["axial"].image[plane == 1]
        assert (lung == (0, 0, 255, 128)).all()
    sagittal = views.geometries["sagittal"]
    views.set_position((10, 20, 45))
    assert np.array_equal(_alpha_mask(views, "sagittal"), sagittal.slice(labels.array, 45) != 0)
    views.set_labels(labels)  # replacing leaves one overlay item per view
    children = views.view_box("axial").childGroup.childItems()
    assert sum(isinstance(i, type(views.labels.items["axial"])) for i in children) == 2


def _title_inside(widget, axis) -> bool:
    if not axis.label.isVisible():
        return False
    title = widget.mapFromScene(axis.label.sceneBoundingRect()).boundingRect()
    return widget.rect().contains(title.adjusted(3, 3, -3, -3))


def test_coarse_heat_map_follows_the_slice_with_a_titled_colour_bar(views, qtbot):
    nz, ny, nx = views.volume.shape
    heat = np.random.default_rng(0).random((nz // 2, ny // 4, nx // 4)).astype(np.float32)
    views.set_heatmap(heat, title="grad-CAM (class 1)", opacity=0.5)
    for z in (0, 7, nz - 1):
        views.set_position((z, 20, 30))
        assert np.array_equal(views.heat.items["axial"].image, heat[z // 2])
    item = views.heat.items["coronal"]
    assert item.mapRectToView(item.boundingRect()).height() == pytest.approx(nz * 2.5)
    assert views.colour_bar_view.isVisible()
    axis = views.colour_bar.getAxis("right")
    qtbot.waitUntil(lambda: _title_inside(views.colour_bar_view, axis), timeout=2000)
    assert axis.labelText == "grad-CAM (class 1)"
    assert views.heat.lut[0, 3] == 0 and views.heat.lut[-1, 3] == 128
    views.clear_heatmap()
    assert views.heat is None and not views.colour_bar_view.isVisible()


def test_new_volume_drops_overlays_and_bad_overlays_are_refused(views, chest):
    views.set_labels(chest[1])
    views.set_heatmap(np.zeros((2, 2, 2), np.float32))
    views.set_volume(chest[0])
    QApplication.processEvents()
    assert views.labels is None and views.heat is None
    with pytest.raises(InputError, match="integer"):
        views.set_labels(chest[0].array.astype(np.float32))
    with pytest.raises(InputError, match="non-negative"):
        views.set_labels(np.full(chest[0].shape, -1, np.int16))
    with pytest.raises(InputError, match="3-D"):
        views.set_heatmap(np.zeros((4, 4), np.float32))


def test_overlays_need_a_volume(qtbot):
    from widgets.imaging.slice_view import SliceViews

    empty = SliceViews()
    qtbot.addWidget(empty)
    with pytest.raises(InputError, match="open a volume"):
        empty.set_labels(np.zeros((2, 2, 2), np.uint8))
    empty.set_position((1, 1, 1))  # nothing to move: no error
    assert empty.position == (0, 0, 0)
