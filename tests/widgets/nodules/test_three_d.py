"""The 3-D view of the nodules workspace: every shown candidate a sphere at its world centre
with its diameter, coloured as its boxes; missed true nodules magenta in the truth colours.
The spheres are computed and kept without OpenGL; the render test skips, saying why, where
there is none."""

from __future__ import annotations

import numpy as np
import pytest

from engines.nodules.candidates import item_geometry
from tests.widgets.imaging.test_volume_view import _opengl_problem
from widgets.nodules.box_layer import PENS, STATIC_PENS
from widgets.nodules.three_d import MIN_RADIUS_MM, ZOOM, candidate_spheres, legend_entries


def _rgb(pen_key: str, pens=PENS) -> tuple[int, int, int]:
    colour = pens[pen_key].color()
    return colour.red(), colour.green(), colour.blue()


def test_each_candidate_is_a_sphere_at_its_centre_coloured_as_its_box(reviewing):
    ws = reviewing
    volume = ws.opened.scan.volume
    assert not ws.three_d.enabled  # no display here: the pane keeps the spheres, draws none
    items = ws.shown_items()
    centres, radii, colours = ws.three_d.spheres
    assert len(centres) == len(items) > 0
    for item, centre, radius, colour in zip(items, centres, radii, colours, strict=True):
        xyz, diameter = item_geometry(item, volume)
        np.testing.assert_allclose(centre, xyz)
        assert radius == pytest.approx(max(diameter / 2, MIN_RADIUS_MM))
        assert tuple(colour[:3]) == _rgb("proposed")
    # the candidates sit on the true nodules (truth_detections): each centre lies inside one
    d2 = ((centres[:, None] - ws.opened.nodules.xyz_mm[None]) ** 2).sum(axis=-1)
    assert np.all(d2.min(axis=1) < ws.opened.nodules.radius_squared()[d2.argmin(axis=1)])

    first = items[0]
    ws.panel.set_current(first.id)
    reject = next(k for k in ws.panel.keymap.keys if k.text == "Reject")
    ws.panel.trigger(reject)
    _, _, colours = ws.three_d.spheres
    assert tuple(colours[0][:3]) == _rgb("rejected")  # follows the review at once
    # the legend lists each colour shown with its count
    legend = ws.three_d.legend.text()
    assert "rejected 1" in legend and f"proposed {len(items) - 1}" in legend
    assert legend.count("●") == 2 and f"rgb{_rgb('rejected')}" in legend


def test_truth_colours_and_missed_nodules(reviewing):
    ws = reviewing
    reject = next(k for k in ws.panel.keymap.keys if k.text == "Reject")
    for item in list(ws.document):
        ws.panel.set_current(item.id)
        ws.panel.trigger(reject)  # nothing found any more: every nodule is missed
    ws.toolbar.colour_combo.setCurrentIndex(1)
    ws.toolbar.colour_combo.activated.emit(1)
    centres, radii, colours = ws.three_d.spheres
    nodules = ws.opened.nodules
    n_items = len(ws.shown_items())
    assert len(centres) == n_items + len(nodules)
    np.testing.assert_allclose(centres[n_items:], nodules.xyz_mm)
    np.testing.assert_allclose(radii[n_items:], np.maximum(nodules.diameter_mm / 2,
                                                           MIN_RADIUS_MM))
    assert ("missed nodule", _rgb("missed", STATIC_PENS), len(nodules)) in legend_entries(
        ["missed"] * len(nodules))
    assert f"missed nodule {len(nodules)}" in ws.three_d.legend.text()
    assert all(tuple(c[:3]) == _rgb("missed", STATIC_PENS) for c in colours[n_items:])
    ws.toolbar.colour_combo.setCurrentIndex(0)
    ws.toolbar.colour_combo.activated.emit(0)
    assert len(ws.three_d.spheres[0]) == n_items  # by review state: no truth spheres


def test_candidate_spheres_skips_items_without_a_box(reviewing):
    ws = reviewing
    items = ws.shown_items()
    centres, _, _, keys = candidate_spheres(items[:1], ws.opened.scan.volume)
    assert keys == ["proposed"]
    assert centres.shape == (1, 3)
    assert candidate_spheres([], ws.opened.scan.volume)[0].shape == (0, 3)


def test_switching_on_renders_the_lungs_and_the_spheres(qtbot, reviewing):
    problem = _opengl_problem()
    if problem:
        pytest.skip(problem)
    ws = reviewing
    assert ws.three_d.view is None  # nothing asked of OpenGL until switched on
    ws.toolbar.three_d.setChecked(True)
    qtbot.waitUntil(lambda: ws.three_d.view.render_volume is not None, timeout=30000)
    assert ws.views.layout_name == "grid" and ws.three_d.isVisible()
    scene = ws.three_d.view.scene
    assert scene.spheres is not None
    glyphs = scene.spheres.GetMapper().GetInput()
    assert glyphs.GetNumberOfPoints() == len(ws.shown_items())
    picture = ws.three_d.view.snapshot()
    assert picture.ndim == 3 and picture.std() > 0
    # the lungs fill the cell (magnified view) and the legend under it names the colours
    assert scene.renderer.GetActiveCamera().GetViewAngle() == pytest.approx(30.0 / ZOOM)
    assert ws.three_d.legend.isVisible() and "proposed" in ws.three_d.legend.text()
    ws.toolbar.three_d.setChecked(False)
    assert ws.views.layout_name == "main+2" and not ws.three_d.view.isVisible()
