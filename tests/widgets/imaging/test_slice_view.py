"""Linked slice views: crosshair, stepping, orientation and aspect."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QLabel

from engines.core.errors import InputError
from tests.engines.imaging.phantoms import MARKER, chest_phantom
from tests.widgets.imaging.conftest import SPACING, click, drag, wheel, widget_point


def _shown(views, view):
    return views.panes[view].image.image


def test_click_in_axial_moves_coronal_and_sagittal(views, qtbot, chest):
    ct = chest[0]
    axial = views.panes["axial"]
    z = views.position[0]
    u, v = views.index_to_view("axial", (z, 10, 50))
    with qtbot.waitSignal(views.positionChanged, timeout=1000) as signal:
        click(axial, widget_point(axial, u, v))
    assert views.position == (z, 10, 50)
    assert signal.args == [(z, 10, 50)]
    coronal, sagittal = views.geometries["coronal"], views.geometries["sagittal"]
    assert np.array_equal(_shown(views, "coronal"), coronal.slice(ct.array, 10))
    assert np.array_equal(_shown(views, "sagittal"), sagittal.slice(ct.array, 50))
    # the crosshair lines of the other views sit on the new voxel
    assert views.panes["coronal"].v_line.value() == pytest.approx(u)
    assert views.panes["sagittal"].v_line.value() == pytest.approx(v)
    assert np.allclose(views.position_mm, ct.voxel_to_world((z, 10, 50)))


def test_dragging_moves_the_crosshair_along(views, qtbot):
    coronal = views.panes["coronal"]
    start = widget_point(coronal, *views.index_to_view("coronal", (5, 0, 10)))
    end = widget_point(coronal, *views.index_to_view("coronal", (15, 0, 40)))
    y = views.position[1]
    drag(coronal, start, end)
    assert views.position == (15, y, 40)
    assert np.array_equal(_shown(views, "axial"),
                          views.geometries["axial"].slice(views.volume.array, 15))


def test_wheel_and_keys_step_through_slices(views, qtbot):
    axial = views.panes["axial"]
    z = views.position[0]
    centre = axial.viewport().rect().center()
    wheel(axial, centre, 1)
    assert views.position[0] == z + 1
    wheel(axial, centre, -2)
    assert views.position[0] == z - 1
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key.Key_PageUp)
    qtbot.keyClick(axial, Qt.Key.Key_Up)
    assert views.position[0] == z + 1
    qtbot.keyClick(axial, Qt.Key.Key_PageDown)
    assert views.position[0] == z
    qtbot.keyClick(axial, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert views.position[0] == views.volume.shape[0] - 1  # clipped at the last slice
    assert "Axial  20/20" in views.panes["axial"].corner.textItem.toPlainText()
    # sagittal steps along x
    x = views.position[2]
    wheel(views.panes["sagittal"], views.panes["sagittal"].viewport().rect().center(), 1)
    assert views.position[2] == x + 1


def test_ctrl_wheel_zooms_instead_of_stepping(views):
    axial = views.panes["axial"]
    before = axial.view_box.viewRange()
    position = views.position
    wheel(axial, axial.viewport().rect().center(), 2, Qt.KeyboardModifier.ControlModifier)
    assert views.position == position
    assert axial.view_box.viewRange()[0][1] - axial.view_box.viewRange()[0][0] \
        < before[0][1] - before[0][0]


def test_position_signal_is_throttled_and_ends_on_the_last_position(views, qtbot):
    seen = []
    views.positionChanged.connect(seen.append)
    qtbot.wait(80)  # leave the throttle window of set_volume
    seen.clear()
    for k in range(10):
        views.set_position((k, 20, 30))
    qtbot.waitUntil(lambda: seen and seen[-1] == (9, 20, 30), timeout=1000)
    qtbot.wait(80)
    assert len(seen) <= 3 and seen[0] == (0, 20, 30)


def test_coronal_and_sagittal_keep_the_true_aspect(views, chest):
    nz, ny, nx = chest[0].shape
    QApplication.processEvents()
    coronal = views.panes["coronal"].scene_extent()
    assert coronal.height() == pytest.approx(nz * SPACING[2])
    assert coronal.width() == pytest.approx(nx * SPACING[0])
    sagittal = views.panes["sagittal"].scene_extent()
    assert sagittal.height() == pytest.approx(nz * SPACING[2])
    assert sagittal.width() == pytest.approx(ny * SPACING[1])
    for pane in views.panes.values():
        px, py = pane.view_box.viewPixelSize()
        assert px == pytest.approx(py, rel=1e-3)  # one mm is as long across as down


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([1.0, -1.0, -1.0]),
                                       np.diag([-1.0, 1.0, 1.0])])
def test_orientation_letters_and_anatomy_on_the_right_side(qtbot, views, direction):
    ct, labels = chest_phantom(shape_zyx=(20, 48, 64), spacing_xyz=SPACING, direction=direction)
    marker = np.argwhere(labels.array == MARKER).mean(axis=0)
    views.set_volume(ct, position=marker)
    QApplication.processEvents()
    expected = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"),
                "sagittal": ("A", "P", "S", "I")}
    # the marker is in the patient's left, anterior, superior corner
    on_screen = {"axial": ("right", "top"), "coronal": ("right", "top"),
                 "sagittal": ("left", "top")}
    for view, pane in views.panes.items():
        letters = {edge: item.textItem.toPlainText() for edge, item in pane.letters.items()}
        assert (letters["left"], letters["right"], letters["top"], letters["bottom"]) \
            == expected[view]
        left, right = (pane.mapFromScene(pane.letters[e].sceneBoundingRect().center())
                       for e in ("left", "right"))
        assert left.x() < pane.width() / 4 and right.x() > 3 * pane.width() / 4
        point = widget_point(pane, *views.index_to_view(view, marker))
        rect = pane.viewport().rect()
        horizontal, vertical = on_screen[view]
        assert (point.x() > rect.center().x()) == (horizontal == "right"), view
        assert point.y() < rect.center().y(), view


def test_corner_and_status_read_outs(views, chest):
    views.set_position((12, 20, 30))
    corner = views.panes["axial"].corner.textItem.toPlainText()
    z_mm = chest[0].voxel_to_world((12, 20, 30))[2]
    assert corner.startswith("Axial  13/20")
    assert f"{'S' if z_mm >= 0 else 'I'} {abs(z_mm):.1f} mm" in corner
    value = chest[0].array[12, 20, 30]
    assert f"{value:g} HU" in views.status.text() and "x 30, y 20, z 12" in views.status.text()
    shifted = chest[0].with_array(chest[0].array + 2048)
    views.set_volume(shifted, window="soil", value_offset=2048, position=(12, 20, 30))
    assert f"{value + 2048:g} ({value:g} HU)" in views.status.text()
    assert views.window.level == 3048.0


def test_layouts_and_the_extra_widget(views):
    views.set_layout("main+2", main_view="coronal")
    QApplication.processEvents()
    widths = {v: p.width() for v, p in views.panes.items()}
    assert widths["coronal"] > 1.5 * widths["axial"]
    extra = QLabel("3-D")
    views.set_extra_widget(extra)
    assert not extra.isVisible()
    views.set_layout("grid")
    QApplication.processEvents()
    assert extra.isVisible()
    assert views._grid.getItemPosition(views._grid.indexOf(extra))[:2] == (1, 0)
    views.set_layout("row")
    QApplication.processEvents()
    assert not extra.isVisible()
    assert len({p.width() // 10 for p in views.panes.values()}) == 1
    with pytest.raises(InputError, match="valid names"):
        views.set_layout("quad")


def test_box_overlay_hooks_map_voxels_to_view_coordinates(views):
    box = views.view_box("axial")
    assert box is views.panes["axial"].view_box
    u, v = views.index_to_view("axial", (views.position[0], 12.5, 40.25))
    assert np.allclose(views.view_to_index("axial", u, v), (views.position[0], 12.5, 40.25))
    # image item coordinates are (column, row) of the slice: voxel centres at +0.5
    item = views.image_item("axial")
    centre = item.mapToView(QPointF(40.5, 12.5))
    assert (centre.x(), centre.y()) == pytest.approx(
        views.index_to_view("axial", (views.position[0], 12, 40)))


def test_the_voxel_under_the_mouse_is_read_out(views, qtbot, chest):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    sagittal = views.panes["sagittal"]
    target = (4, 30, views.position[2])
    point = QPointF(widget_point(sagittal, *views.index_to_view("sagittal", target)))
    event = QMouseEvent(QEvent.Type.MouseMove, point, sagittal.viewport().mapToGlobal(point),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(sagittal.viewport(), event)
    qtbot.waitUntil(lambda: views.hover is not None, timeout=1000)
    assert views.hover == (target, float(chest[0].array[target]))
    assert f"mouse: x {target[2]}, y 30, z 4" in views.status.text()
