"""The 3-D view: pictures checked pixel by pixel against world positions.

These render with OpenGL: offscreen (EGL / OSMesa / Xvfb) under Qt's ``offscreen`` platform,
or in the embedded QVTK widget with ``QT_QPA_PLATFORM=xcb xvfb-run -a pytest ...``. Without a
working OpenGL they skip, saying why (a probe renders a sphere in a subprocess first, so a
broken driver cannot take the test run down).
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

import numpy as np
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from engines.imaging.volume import Volume
from tests.engines.imaging.phantoms import MARKER, NODULE, chest_phantom

PROBE = """
from vtkmodules.vtkFiltersSources import vtkSphereSource
from vtkmodules.vtkRenderingCore import (vtkActor, vtkPolyDataMapper, vtkRenderer,
    vtkRenderWindow, vtkWindowToImageFilter)
import vtkmodules.vtkRenderingOpenGL2
from vtkmodules.util.numpy_support import vtk_to_numpy
window = vtkRenderWindow(); window.SetOffScreenRendering(1); window.SetSize(64, 64)
renderer = vtkRenderer(); window.AddRenderer(renderer)
source = vtkSphereSource(); mapper = vtkPolyDataMapper()
mapper.SetInputConnection(source.GetOutputPort())
actor = vtkActor(); actor.SetMapper(mapper); renderer.AddActor(actor); window.Render()
grab = vtkWindowToImageFilter(); grab.SetInput(window); grab.Update()
print("rendered", vtk_to_numpy(grab.GetOutput().GetPointData().GetScalars()).max())
"""


@cache
def _opengl_problem() -> str | None:
    try:
        result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                                timeout=120)
    except subprocess.TimeoutExpired:
        return "a VTK offscreen render did not finish in 120 s"
    if result.returncode != 0 or "rendered" not in result.stdout \
            or result.stdout.split()[-1] == "0":
        display = os.environ.get("DISPLAY") or "unset"
        return (f"no working OpenGL for VTK (DISPLAY={display}; no EGL/OSMesa offscreen "
                f"context): {result.stderr.strip().splitlines()[-1:] or result.returncode}")
    return None


@pytest.fixture
def view(qtbot):
    problem = _opengl_problem()
    if problem:
        pytest.skip(problem)
    from widgets.imaging.volume_view import VolumeView

    widget = VolumeView()
    qtbot.addWidget(widget)
    widget.set_decorations_visible(cursor=False, orientation_cube=False)  # colours compared
    widget.resize(560, 360)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


@pytest.fixture
def chest():
    return chest_phantom(shape_zyx=(24, 40, 52), spacing_xyz=(3.0, 3.0, 5.0),
                         direction=np.diag([1.0, -1.0, -1.0]))


def _pixels_of(picture: np.ndarray, colour, tolerance: float = 60.0) -> np.ndarray:
    """(row, column) of the pixels within ``tolerance`` of ``colour`` (RGB)."""
    distance = np.linalg.norm(picture.astype(float) - np.asarray(colour, float), axis=2)
    return np.argwhere(distance < tolerance)


def _centroid_xy(pixels: np.ndarray) -> np.ndarray:
    return pixels.mean(axis=0)[::-1]  # (x, y) from (row, column)


def test_importing_the_view_does_not_import_vtk():
    code = ("import sys, widgets.imaging.volume_view, widgets.imaging.slice_view\n"
            "print([m for m in sys.modules if m.startswith(('vtk', 'vtkmodules'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.getcwd()).stdout
    assert out.strip() == "[]"


def test_volume_rendering_is_not_blank_and_labels_land_on_their_voxels(view, chest):
    from widgets.imaging.vtk_render_area import EMBEDDING_PLATFORMS

    # embedded in Qt under a windowing platform (xcb), offscreen frames otherwise
    assert view.area.embedded == (QGuiApplication.platformName() in EMBEDDING_PLATFORMS)
    ct, labels = chest
    view.set_volume(ct, preset="ct_soft_tissue")
    picture = view.snapshot()
    background = view.snapshot()[2, 2].astype(float)
    covered = np.linalg.norm(picture.astype(float) - background, axis=2) > 40
    assert covered.mean() > 0.1, "the body should cover part of the picture"
    assert "GPU" in view.info.text() or "CPU" in view.info.text()

    view.set_volume_visible(False)
    view.compute_label_surfaces(labels, names={NODULE: "nodule", MARKER: "marker"},
                                colours={MARKER: (255, 0, 255)})
    for label in view.label_names:
        view.set_label_visible(label, label == MARKER)
    picture = view.snapshot()
    magenta = _pixels_of(picture, (255, 0, 255), tolerance=160)
    assert len(magenta) > 20
    marker = ct.voxel_to_world(np.argwhere(labels.array == MARKER).mean(axis=0))
    expected = np.asarray(view.scene.display_point(marker))
    assert np.linalg.norm(_centroid_xy(magenta) - expected) < 4.0
    # seen from the front, the patient's left (+x) is on the screen's right, superior up
    height, width, _ = picture.shape
    assert expected[0] > width / 2 and expected[1] < height / 2
    # the legend lists the surfaces; unticking hides the marker
    assert view.controls.legend.count() == len(view.label_names)
    view.set_label_visible(MARKER, False)
    assert len(_pixels_of(view.snapshot(), (255, 0, 255), tolerance=160)) == 0


def test_spheres_at_world_positions_meet_the_volume_they_mark(view, chest):
    ct, labels = chest
    bright = np.full(ct.shape, -1000, np.int16)
    blob = np.argwhere(labels.array == MARKER)
    bright[tuple(blob.T)] = 2000  # only the marker renders with the bone preset
    view.set_volume(ct.with_array(bright), preset="ct_bone")
    volume_pixels = np.argwhere(view.snapshot().max(axis=2) > 120)
    assert len(volume_pixels) > 10
    view.set_volume_visible(False)
    centre = ct.voxel_to_world(blob.mean(axis=0))
    view.set_spheres([centre], [5.0], [(0, 255, 0)])
    green = _pixels_of(view.snapshot(), (0, 255, 0), tolerance=160)
    assert len(green) > 10
    # the direction matrix flips y and z: both land on the same screen spot anyway
    assert np.linalg.norm(_centroid_xy(green) - _centroid_xy(volume_pixels)) < 4.0
    # magnified twice: the opaque sphere covers about 4 × the pixels, twice as far from the
    # middle of the view (a surface, rasterised the same by every OpenGL; how finely a ray
    # caster samples a small volume depends on the renderer)
    view.set_volume(ct.with_array(np.full(ct.shape, -1000, np.int16)), preset="ct_bone")
    view.set_volume_visible(True)
    view.reset_camera("anterior")  # framing the (now empty) volume, as before
    picture = view.snapshot()
    green = _pixels_of(picture, (0, 255, 0), tolerance=160)
    middle = np.asarray(picture.shape[1::-1], float) / 2
    view.reset_camera("anterior", zoom=2.0)
    zoomed = _pixels_of(view.snapshot(), (0, 255, 0), tolerance=160)
    assert 3.0 * len(green) < len(zoomed) < 5.0 * len(green)
    offset, zoomed_offset = _centroid_xy(green) - middle, _centroid_xy(zoomed) - middle
    assert np.linalg.norm(zoomed_offset - 2 * offset) < 4.0


def test_clipping_hides_what_lies_outside_the_box(view, chest):
    ct, labels = chest
    view.set_volume(ct)
    view.set_volume_visible(False)
    view.compute_label_surfaces(labels, colours={NODULE: (0, 255, 255)})
    for label in view.label_names:
        view.set_label_visible(label, label == NODULE)
    assert len(_pixels_of(view.snapshot(), (0, 255, 255), 160)) > 10
    nodule_x = int(np.argwhere(labels.array == NODULE)[:, 2].mean())
    nz, ny, nx = ct.shape
    view.set_clip_range((0, 0, 0), (nz - 1, ny - 1, nodule_x - 8))  # keep the right side only
    assert view.controls.clip.isChecked()
    assert len(_pixels_of(view.snapshot(), (0, 255, 255), 160)) == 0
    view.clear_clip()
    assert len(_pixels_of(view.snapshot(), (0, 255, 255), 160)) > 10


def test_box_outline_and_crosshair_cursor(view, chest):
    ct, _ = chest
    view.set_volume(ct)
    view.set_volume_visible(False)
    view.set_box_outline((4, 8, 10), (10, 20, 30), colour=(255, 255, 0))
    picture = view.snapshot()
    yellow = _pixels_of(picture, (255, 255, 0), tolerance=90)
    assert len(yellow) > 50
    corner = ct.voxel_to_world(np.array([4, 8, 10]) - 0.5)
    nearest = np.min(np.linalg.norm(yellow[:, ::-1] - view.scene.display_point(corner), axis=1))
    assert nearest < 3.0
    view.set_position((5, 6, 7))
    loops = view.scene.cursor_points().reshape(3, 4, 3)
    assert np.allclose(loops[0][:, 2], ct.voxel_to_world((5, 6, 7))[2])  # the axial plane
    assert np.allclose(loops[2][:, 0], ct.voxel_to_world((5, 6, 7))[0])  # the sagittal one


def test_large_volumes_are_downsampled_within_the_budget(qtbot, chest):
    problem = _opengl_problem()
    if problem:
        pytest.skip(problem)
    from widgets.imaging.volume_view import VolumeView

    small = VolumeView(voxel_budget=4000, embedded=False)
    qtbot.addWidget(small)
    small.resize(300, 200)
    ct, _ = chest
    small.set_volume(ct)
    assert small.render_volume.downsampled
    assert np.prod(small.render_volume.volume.shape) <= 4000
    assert "block means" in small.info.text()
    small.shutdown()


def test_a_host_runs_the_preparation_off_the_gui_thread(qtbot, host, chest):
    problem = _opengl_problem()
    if problem:
        pytest.skip(problem)
    from widgets.imaging.volume_view import VolumeView

    threaded = VolumeView(host=host, embedded=False)
    qtbot.addWidget(threaded)
    threaded.resize(300, 200)
    ct, labels = chest
    with qtbot.waitSignal(threaded.volumeShown, timeout=30000):
        threaded.set_volume(ct, preset="ct_lung")
    with qtbot.waitSignal(threaded.surfacesShown, timeout=30000):
        threaded.compute_label_surfaces(labels)
    assert sorted(threaded.label_names) == sorted(set(np.unique(labels.array)) - {0})
    assert not host.errors
    threaded.shutdown()


def test_mismatched_labels_and_markers_without_a_volume_are_refused(view):
    from engines.core.errors import InputError

    with pytest.raises(InputError, match="open a volume"):
        view.set_box_outline((0, 0, 0), (1, 1, 1))
    view.set_volume(Volume(np.zeros((4, 5, 6), np.int16), modality="CT"))
    with pytest.raises(InputError, match="do not match"):
        view.compute_label_surfaces(np.zeros((4, 5, 7), np.uint8))
    QApplication.processEvents()


def test_the_cursor_follows_the_slice_views(view, qtbot, chest):
    from tests.widgets.imaging.conftest import click, widget_point
    from widgets.imaging.slice_view import SliceViews

    ct, _ = chest
    views = SliceViews()
    qtbot.addWidget(views)
    views.resize(700, 300)
    views.show()
    qtbot.waitExposed(views)
    views.set_volume(ct)
    view.set_volume(ct)
    views.positionChanged.connect(view.set_position)
    qtbot.wait(100)  # layouts settle (the click point depends on them); the throttle window ends
    axial = views.panes["axial"]
    target = (views.position[0], 7, 9)
    click(axial, widget_point(axial, *views.index_to_view("axial", target)))
    assert views.position == target
    qtbot.waitUntil(lambda: view.position == target, timeout=2000)
    loops = view.scene.cursor_points().reshape(3, 4, 3)
    world = ct.voxel_to_world(target)
    assert np.allclose(loops[1][:, 1], world[1])  # the coronal plane at the picked y
    assert np.allclose(loops[2][:, 0], world[0])  # the sagittal plane at the picked x
