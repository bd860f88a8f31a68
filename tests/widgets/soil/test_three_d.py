"""The 3-D view of the soil workspace: made only when switched on, it shows the core, the crop
box and the pore and stone surfaces, or grad-CAM's hot region with that overlay. Renders with
OpenGL (offscreen here); skips, saying why, where there is none."""

from __future__ import annotations

import pytest

from tests.widgets.imaging.test_volume_view import _opengl_problem
from tests.widgets.soil.conftest import analyze


@pytest.fixture
def three_d(qtbot, workspace):
    problem = _opengl_problem()
    if problem:
        pytest.skip(problem)
    ws = workspace
    assert ws.three_d.view is None  # nothing asked of OpenGL until switched on
    ws.toolbar.three_d.setChecked(True)
    qtbot.waitUntil(lambda: ws.three_d.view.render_volume is not None, timeout=30000)
    return ws


def test_switching_on_shows_the_core_then_its_surfaces_and_crop(qtbot, three_d, demo_model):
    ws = three_d
    view3d = ws.three_d.view
    assert view3d.isVisible() and not ws.three_d.message.isVisible()
    assert view3d.volume is ws.volume and view3d.preset == "soil_bands"
    with qtbot.waitSignal(ws.three_d.surfacesShown, timeout=60000):
        analysis = analyze(qtbot, ws).analysis
    names = [view3d.controls.legend.item(i).text() for i in range(view3d.controls.legend.count())]
    shown = [n.split()[0] for n in names]  # a band without voxels in the crop has no surface
    assert shown[0] == "object2" and set(shown) <= {"object2", "object5", "object6"}
    assert "crop" in view3d.scene.boxes and set(view3d.scene.surfaces) <= {2, 5, 6}
    assert analysis.crop.n_voxels > 0
    ws.set_model(demo_model)  # re-analysed with grad-CAM
    qtbot.waitUntil(lambda: ws.views[ws.current].heat_volume is not None, timeout=60000)
    ws.toolbar.overlay_actions["gradcam"].trigger()  # the bands' surfaces may still be coming
    qtbot.waitUntil(lambda: view3d.controls.legend.count() == 1 and view3d.controls.legend.item(
        0).text().startswith("grad-CAM ≥ 50%"), timeout=60000)
    qtbot.waitUntil(lambda: not any(h.title.startswith("3-D") for h in ws.host.runner.running),
                    timeout=60000)
    assert view3d.controls.legend.item(0).text().startswith("grad-CAM")  # not replaced
    assert set(view3d.scene.surfaces) == {1}
    ws.toolbar.three_d.setChecked(False)
    assert not view3d.isVisible() and ws.three_d.message.isVisible()
