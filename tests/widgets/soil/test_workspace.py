"""The soil workspace on a tiny core set: the core list, Analyze with and without a model, the
drawn profile, tables and overlays, the linked profile and slice views, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.widgets.soil.conftest import N_CORES, analyze


def test_opening_a_core_set_lists_its_cores_and_shows_the_first(workspace, core_set):
    ws = workspace
    assert list(ws.paths) == sorted(p.name for p in core_set.iterdir() if p.is_dir())
    assert ws.core_list.count() == N_CORES and ws.checked_cores() == list(ws.paths)
    assert ws.current == "core01_forest" and ws.volume.shape == (48, 64, 64)
    assert ws.slice_views.volume is ws.volume
    assert ws.profile.curves == {} and ws.results.porosity.rowCount() == 0
    assert not ws.three_d.enabled  # no display here: the 3-D view stays off, nothing fails
    assert "3-D view off" in ws.three_d.message.text()


def test_analyze_without_a_model_draws_porosity_profile_tables_and_bands(qtbot, workspace):
    ws = workspace
    view = analyze(qtbot, ws)
    a = view.analysis
    assert view.prediction is None and view.heat_volume is None
    rows = ws.results.porosity.rowCount()
    assert rows == a.config.n_objects == 6
    for r, (name, value) in enumerate(a.porosity.items()):
        assert ws.results.cell_text(ws.results.porosity, r, 0) == name
        assert float(ws.results.cell_text(ws.results.porosity, r, 2)) == pytest.approx(value,
                                                                                       abs=5e-5)
        assert ws.results.cell_text(ws.results.porosity, r, 3) == ""  # no model, no RMSE
    # the profile: one curve per object but object1 (pore everywhere), depth in mm
    assert set(ws.profile.curves) == {"object2", "object3", "object4", "object5", "object6"}
    x, y = ws.profile.curves["object4"].getData()
    np.testing.assert_allclose(x, a.profile.depth_mm)
    np.testing.assert_allclose(y, a.profile.porosity["object4"])
    assert ws.profile.plot.getAxis("bottom").labelText.startswith("Depth")
    assert ws.profile.plot.getAxis("bottom").labelUnits == "mm"
    # pore metrics were asked for (the workspace's default)
    assert ws.results.metrics.rowCount() == 4 + a.config.psd_bins
    assert ws.results.cell_text(ws.results.metrics, 2, 1) == \
        f"{a.pore_metrics.connected_porosity:.4f}"
    # the band overlay and its legend: every label named, object1 and the matrix unticked
    assert ws.slice_views.labels is not None and ws.legend.count() == 7
    checked = [ws.legend.item(i).checkState() == Qt.CheckState.Checked
               for i in range(7)]
    assert checked == [False, True, True, False, True, True, True]
    assert ws.crop_outline.items["axial"].getData()[0].size == 5
    assert ws.compare.rows[0][0] == "core01_forest"


def test_analyze_with_the_model_draws_prediction_rmse_and_grad_cam(qtbot, workspace,
                                                                   demo_model):
    ws = workspace
    ws.set_model(demo_model)  # no analysis yet: nothing runs on its own
    assert "analyze" not in ws.tasks
    view = analyze(qtbot, ws)
    assert view.prediction is not None and view.prediction.target == demo_model.target
    assert "predicted" in ws.profile.curves
    _x, y = ws.profile.curves["predicted"].getData()
    np.testing.assert_allclose(y, view.prediction.predicted)
    rmse = ws.results.cell_text(ws.results.porosity, demo_model.target - 1, 3)
    assert float(rmse) == pytest.approx(view.prediction.rmse, abs=5e-5)
    assert view.heat_volume.shape == ws.volume.shape
    crop = view.analysis.crop
    outside = np.ones(ws.volume.shape, bool)
    outside[crop.slices] = False
    assert not view.heat_volume[outside].any() and view.heat_volume.max() == pytest.approx(1)
    ws.toolbar.overlay_actions["gradcam"].trigger()
    assert ws.slice_views.heat is not None and ws.slice_views.labels is None
    assert ws.slice_views.colour_bar is not None  # every colour overlay has its scale
    assert "grad-CAM" in ws.slice_views.colour_bar.getAxis("right").labelText
    ws.toolbar.overlay_actions["none"].trigger()
    assert ws.slice_views.heat is None and ws.slice_views.labels is None


def test_profile_and_slice_views_follow_each_other(qtbot, workspace):
    ws = workspace
    view = analyze(qtbot, ws)
    profile = view.analysis.profile
    ws.profile.click_depth(float(profile.depth_mm[10]) + 0.01)
    assert ws.slice_views.position[0] == int(profile.slice_index[10])
    qtbot.waitUntil(lambda: ws.profile.marker.isVisible()
                    and ws.profile.marker.value() == pytest.approx(profile.depth_mm[10]))
    assert ws.profile.reading(10).startswith(f"depth {profile.depth_mm[10]:.2f} mm")


def test_legend_rows_hide_bands_and_the_slider_sets_the_opacity(qtbot, workspace):
    ws = workspace
    analyze(qtbot, ws)
    item = ws.legend.item(1)  # object2, the air-filled pores
    assert ws.slice_views.labels.lut[2, 3] > 0
    item.setCheckState(Qt.CheckState.Unchecked)
    assert ws.slice_views.labels.lut[2, 3] == 0 and ws.shown_labels == {3, 5, 6, 7}
    ws.toolbar.opacity.setValue(80)  # redrawn once the slider rests
    qtbot.waitUntil(lambda: ws.slice_views.labels.opacity == pytest.approx(0.8), timeout=3000)
    assert ws.slice_views.labels.lut[2, 3] == 0  # the hidden band stays hidden


def test_another_core_shows_its_own_results(qtbot, workspace):
    ws = workspace
    analyze(qtbot, ws)
    with qtbot.waitSignal(ws.coreShown, timeout=30000):
        ws.core_list.setCurrentRow(1)
    assert ws.current == "core02_grassland" and ws.profile.curves == {}
    second = analyze(qtbot, ws)
    assert second.name == "core02_grassland" and len(ws.compare.rows) == 2
    with qtbot.waitSignal(ws.coreShown, timeout=30000):
        ws.core_list.setCurrentRow(0)  # analysed: shown at once from its result
    assert ws.results.porosity.rowCount() == 6 and "object4" in ws.profile.curves


def test_a_bad_file_is_reported_and_the_core_list_is_kept(qtbot, workspace, tmp_path):
    ws = workspace
    bad = tmp_path / "broken.nii"
    bad.write_bytes(b"not a nifti file at all" * 4)
    ws.open_path(bad)
    qtbot.waitUntil(lambda: bool(ws.host.errors), timeout=20000)
    assert "broken.nii" in str(ws.host.errors[0][0])
    assert len(ws.paths) == N_CORES and ws.current == "core01_forest"


def test_analyze_needs_a_core(qtbot, host):
    from engines.core.errors import InputError
    from widgets.soil.workspace import SoilWorkspace

    ws = SoilWorkspace(host)
    qtbot.addWidget(ws)
    with pytest.raises(InputError, match="needs a core"):
        ws.analyze()


def test_a_segmented_stack_reports_its_porosity_without_bands(qtbot, workspace, tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    stack = (rng.random((12, 20, 24)) > 0.3).astype(np.uint8)  # 0 = pore: about 30 %
    path = tmp_path / "rock.tif"
    tifffile.imwrite(path, stack)
    ws = workspace
    with qtbot.waitSignal(ws.coreShown, timeout=30000):
        ws.open_path(path)
    ws.settings.set_value(ws.settings.value(segmented=True, crop=None, pore_metrics=False))
    view = analyze(qtbot, ws)
    assert view.labels is None and ws.slice_views.labels is None
    assert ws.results.cell_text(ws.results.porosity, 0, 0) == "segmented"
    assert float(ws.results.cell_text(ws.results.porosity, 0, 2)) == pytest.approx(
        np.mean(stack == 0), abs=5e-5)
    assert list(ws.profile.curves) == ["segmented"]


def test_the_profile_marker_follows_the_last_of_quick_slice_moves(qtbot, workspace):
    ws = workspace
    view = analyze(qtbot, ws)
    profile = view.analysis.profile
    ws.slice_views.set_position((30, 32, 32))
    ws.go_to_slice(12)  # within the 50 ms throttle: delivered when it ends
    qtbot.waitUntil(lambda: ws.profile.marker.value() == pytest.approx(profile.depth_mm[12]),
                    timeout=3000)
