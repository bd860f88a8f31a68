"""Analyze with a tiny trained model: browser columns (with p_T), curves (U-Net, U-Net + fit
and peer), the fitted circle, the threshold slider driving the event's purity/retention and
the outcome colours, the U-Net / U-Net + fit switch; the Model menu."""

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
    assert "not run" in ws.curves.legend.getLabel(ws.curves.peer_curve).text
    ws.toolbar.peer.setChecked(True)
    assert "next Analyze" in ws.curves.legend.getLabel(ws.curves.peer_curve).text
    ws.show_event(3)
    with qtbot.waitSignal(ws.analysisFinished, timeout=60000) as blocker:
        ws.analyze()
    analysis = blocker.args[0]
    assert analysis is ws.analysis and analysis.has_truth
    assert len(analysis.unet.cells) == N_EVENTS == len(analysis.fits)
    assert ws.index == 3  # the shown event stays
    threshold = ws.threshold.threshold
    assert ws.use_fit and threshold == pytest.approx(analysis.fitted.threshold, abs=1e-3)
    purity, retention = analysis.fitted.cells.per_event(threshold)
    pt = analysis.pt_mev()
    for row in range(N_EVENTS):
        event = int(ws.browser.model.order[row])
        assert ws.browser.cell_text(row, 4) == f"{purity[event]:.3f}"
        assert ws.browser.cell_text(row, 5) == f"{retention[event]:.3f}"
        assert ws.browser.cell_text(row, 6) == ("" if np.isnan(pt[event]) else
                                                f"{pt[event]:.1f}")
    # the threshold panel shows the same figures for the shown event
    assert ws.threshold.purity_label.text() == f"Purity {purity[3]:.3f}"
    assert ws.threshold.retention_label.text() == f"Retention {retention[3]:.3f}"
    for curve in (ws.curves.model_curve, ws.curves.fit_curve, ws.curves.peer_curve):
        x, y = curve.getData()
        assert len(x) > 10 and np.all((y >= 0) & (y <= 1))
    assert "GBDT peer, 2-fold" in ws.curves.legend.getLabel(ws.curves.peer_curve).text
    points = ws.curves.point.data
    overall = analysis.fitted.cells.overall(threshold)
    assert (points["x"][0], points["y"][0]) == pytest.approx((overall[1], overall[0]))
    assert "AUC" in ws.curves.figures.text() and "GBDT peer" in ws.curves.figures.text()
    # the fitted circle is drawn when a track was found, and its momentum is in the title
    fit = analysis.fits[3]
    x, _y = ws.display.track_item.getData()
    title = ws.display.plot_item.titleLabel.text
    if fit.found:
        assert len(x) > 100 and f"{fit.pt_mev:.1f} MeV/c" in title
    else:
        assert x is None or len(x) == 0
        assert "no track found" in title
    # the U-Net alone: its own scores and threshold, no circle
    ws.threshold.use_fit.setChecked(False)
    assert not ws.use_fit
    assert ws.threshold.threshold == pytest.approx(analysis.unet.threshold, abs=1e-3)
    purity, _ = analysis.unet.cells.per_event(ws.threshold.threshold)
    assert ws.threshold.purity_label.text() in (f"Purity {purity[3]:.3f}", "Purity –")
    x, _y = ws.display.track_item.getData()
    assert x is None or len(x) == 0


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
    assert ws.threshold.threshold == pytest.approx(ws.analysis.fitted.threshold, abs=1e-3)


def test_model_menu_load_info_and_save(qtbot, workspace, tiny_model, tmp_path):
    ws = workspace
    with qtbot.waitSignal(ws.modelChanged, timeout=30000):
        ws.load_model(tiny_model[1])
    assert ws.has_model() and "light U-Net" in ws.model_info()
    assert "Threshold" in ws.model_info() and "reduced 71×71" in ws.model_info()
    assert "Expects" in ws.model_info()
    assert "Press Analyze" in ws.threshold.detail_label.text()
    ws.save_model(tmp_path / "copy")
    qtbot.waitUntil(lambda: (tmp_path / "copy.safetensors").is_file()
                    and (tmp_path / "copy.json").is_file(), timeout=20000)
