"""Analyze with a tiny trained model: browser columns, curves (model and peer), the threshold
slider driving the event's purity/retention and the outcome colours; the Model menu."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.outcomes import FALSE_POSITIVE, MISSED, TRUE_POSITIVE
from tests.widgets.cdc.conftest import N_EVENTS
from widgets.cdc.runs import NO_MODEL


def test_without_a_model_analyze_says_so(workspace, host):
    ws = workspace
    assert not ws.has_model() and ws.model_info() == NO_MODEL
    ws.analyze()
    assert "no model loaded" in ws.threshold.detail_label.text().lower()
    assert not host.errors and "analyze" not in ws.tasks


def test_analyze_fills_the_browser_and_the_curves(qtbot, workspace, tiny_model):
    ws = workspace
    ws.set_model(tiny_model[0])
    ws.toolbar.peer.setChecked(True)
    ws.show_event(3)
    with qtbot.waitSignal(ws.analysisFinished, timeout=60000) as blocker:
        ws.analyze()
    analysis = blocker.args[0]
    assert analysis is ws.analysis and analysis.has_truth and len(analysis.model) == N_EVENTS
    assert ws.index == 3  # the shown event stays
    threshold = ws.threshold.threshold
    assert threshold == pytest.approx(tiny_model[0].threshold, abs=1e-3)
    purity, retention = analysis.model.per_event(threshold)
    for row in range(N_EVENTS):
        event = int(ws.browser.model.order[row])
        assert ws.browser.cell_text(row, 4) == f"{purity[event]:.3f}"
        assert ws.browser.cell_text(row, 5) == f"{retention[event]:.3f}"
    # the threshold panel shows the same figures for the shown event
    assert ws.threshold.purity_label.text() == f"Purity {purity[3]:.3f}"
    assert ws.threshold.retention_label.text() == f"Retention {retention[3]:.3f}"
    x, y = ws.curves.model_curve.getData()
    assert len(x) > 10 and np.all((y >= 0) & (y <= 1))
    peer_x, _ = ws.curves.peer_curve.getData()
    assert len(peer_x) > 10 and analysis.peer_curve is not None
    points = ws.curves.point.data
    overall = analysis.model.overall(threshold)
    assert (points["x"][0], points["y"][0]) == pytest.approx((overall[1], overall[0]))
    assert "AUC" in ws.curves.figures.text() and "GBDT peer" in ws.curves.figures.text()


def test_threshold_slider_drives_figures_and_outcome_colours(qtbot, analyzed):
    ws = analyzed
    ws.toolbar.mode_actions["outcome"].trigger()
    ws.threshold.slider.setValue(0)  # keep everything
    assert ws.threshold.threshold == 0.0
    assert ws.threshold.retention_label.text() == "Retention 1.000"
    codes = ws.display.codes[ws.cells.hit]
    assert set(np.unique(codes)) <= {TRUE_POSITIVE, FALSE_POSITIVE}
    colours_all = {b.color().getRgb() for b in ws.display.hits_item.data["brush"]}
    legend = [item[1].text for item in ws.display.legend.items]
    n_signal = int(np.count_nonzero(ws.cells.hit & ws.cells.signal))
    assert f"true positive ({n_signal} cells)" in legend and "missed (0 cells)" in legend
    ws.threshold.slider.setValue(1000)  # keep nothing
    assert ws.threshold.retention_label.text() == "Retention 0.000"
    assert ws.threshold.purity_label.text() == "Purity –"
    assert np.count_nonzero(ws.display.codes == MISSED) == n_signal
    assert {b.color().getRgb() for b in ws.display.hits_item.data["brush"]} != colours_all
    assert f"missed ({n_signal} cells)" in [item[1].text for item in ws.display.legend.items]
    # the browser follows (blank purity: nothing kept anywhere)
    assert all(ws.browser.cell_text(r, 5) == "0.000" for r in range(N_EVENTS))
    ws.threshold.reset_button.click()
    assert ws.threshold.threshold == pytest.approx(ws.analysis.threshold, abs=1e-3)


def test_model_menu_load_info_and_save(qtbot, workspace, tiny_model, tmp_path):
    ws = workspace
    with qtbot.waitSignal(ws.modelChanged, timeout=30000):
        ws.load_model(tiny_model[1])
    assert ws.has_model() and "efficientnet-b0" in ws.model_info()
    assert "Threshold" in ws.model_info() and "64 px" in ws.model_info()
    assert "Press Analyze" in ws.threshold.detail_label.text()
    ws.save_model(tmp_path / "copy")
    qtbot.waitUntil(lambda: (tmp_path / "copy.safetensors").is_file()
                    and (tmp_path / "copy.json").is_file(), timeout=20000)
