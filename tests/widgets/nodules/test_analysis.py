"""Analyze, the FROC tab and the training tab of the nodules workspace with a tiny SSD:
progress and Cancel off the GUI thread, boxes drawn, the FROC of the model and the peer on a
log axis with the CPM, training curves."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.froc import OPERATING_POINTS
from engines.nodules.detectors import DetectorConfig
from engines.nodules.preprocess import PreprocessConfig
from engines.nodules.training import TrainConfig
from tests.widgets.nodules.conftest import tiny_detector
from widgets.nodules.runs import NO_MODEL


@pytest.fixture
def with_model(workspace):
    workspace.set_model(tiny_detector())
    return workspace


def test_without_a_model_analyze_says_so(qtbot, workspace, host):
    messages = []
    workspace.statusChanged.connect(messages.append)
    workspace.analyze()
    assert messages == [NO_MODEL] and "analyze" not in workspace.tasks and not host.errors


def test_analyze_runs_in_a_task_and_draws_the_slice_boxes(qtbot, with_model, host):
    ws = with_model
    assert ws.toolbar.threshold == pytest.approx(ws.model.threshold)
    with qtbot.waitSignal(ws.analysisFinished, timeout=60000) as blocker:
        ws.analyze()
        assert "analyze" in ws.tasks  # returned at once; the work is in the runner's thread
    detections = blocker.args[0]
    assert not host.errors and ws.detections is detections
    shown = detections.slices.above(max(detections.slice_threshold, ws.toolbar.threshold))
    z = int(shown.z[0])
    ws.views.set_position((z, *ws.views.position[1:]))
    ws.boxes.refresh()
    inert = ws.boxes.static["axial"]
    assert inert.states.count("slice") == int((shown.z == z).sum())
    assert ws.document is not None and len(ws.document) == len(detections.candidates)


def test_analyze_can_be_cancelled(qtbot, with_model):
    ws = with_model
    ws.analyze()
    handle = ws.tasks["analyze"]
    handle.cancel()
    qtbot.waitUntil(lambda: "analyze" not in ws.tasks, timeout=30000)
    assert handle.state == "cancelled" and ws.detections is None


def test_evaluation_draws_the_froc_of_the_model_and_the_peer(qtbot, with_model, host):
    ws = with_model
    with qtbot.waitSignal(ws.evaluationFinished, timeout=120000) as blocker:
        ws.froc.run_buttons.start.click()
    model, peer = blocker.args[0]
    assert not host.errors and ws.tabs.currentWidget() is ws.froc
    assert ws.froc.plot.ctrl.logXCheck.isChecked()  # log x axis
    x, y = ws.froc.points["model"].getData()
    assert np.allclose(x, np.log10(OPERATING_POINTS)) and np.allclose(y,
                                                                    model.curve.sensitivities)
    assert len(ws.froc.curves["peer"].getData()[0]) > 0
    cpm_row = len(OPERATING_POINTS)
    assert ws.froc.table.item(cpm_row, 1).text() == f"{model.cpm:.3f}"
    assert ws.froc.table.item(cpm_row, 2).text() == f"{peer.cpm:.3f}"
    assert "precision" in ws.froc.summary.text() and "recall (sensitivity)" in \
        ws.froc.summary.text()


def test_training_draws_curves_and_sets_the_model(qtbot, workspace, host):
    ws = workspace
    ws.training.set_configs(DetectorConfig(arch="ssdlite_mobilenet_v3_small", min_box_mm=8.0),
                            PreprocessConfig(pixel_mm=3.0),
                            TrainConfig(steps=4, batch_size=2, crop_px=64, val_every=2))
    with qtbot.waitSignal(ws.trainingFinished, timeout=180000) as blocker:
        ws.training.train_button.click()
    assert not host.errors and ws.model is blocker.args[0] and ws.has_unsaved_changes()
    x, _ = ws.training.curves.curves["val_ap"].getData()
    assert len(x) == 2
    assert "Trained" in ws.training.status.text()


def test_a_loaded_model_shows_its_recorded_training_curves(qtbot, workspace, host, tmp_path):
    """Model ▸ Load shows the validation curves stored in the sidecar; a model trained here
    keeps the live curves of its run."""
    ws = workspace
    model = tiny_detector()
    history = [{"step": s, "train_loss": 5.0 - s / 100, "val_ap": s / 1000,
                "val_recall": s / 1200, "val_precision": s / 900} for s in (100, 200, 300)]
    model.training = {"history": history, "steps_run": 300, "best_step": 300,
                      "train_scans": 24, "val_scans": 6, "data": "/tmp/some/train_set"}
    model.metrics = {"validation": {"recall": 0.9, "precision": 0.25, "cpm": 0.5}}
    path = model.save(tmp_path / "recorded")
    with qtbot.waitSignal(ws.modelChanged, timeout=60000):
        ws.load_model(path)
    assert not host.errors
    x, y = ws.training.curves.curves["val_ap"].getData()
    np.testing.assert_allclose(x, [100, 200, 300])
    np.testing.assert_allclose(y, [0.1, 0.2, 0.3])
    text = ws.training.status.text()
    assert "Recorded training" in text and "300 steps" in text and "train_set" in text
    assert "recall 0.900" in text and "precision 0.250" in text
    ws.set_model(tiny_detector(), unsaved=True)  # trained here: the curves are left alone
    assert len(ws.training.curves.curves["val_ap"].getData()[0]) == 3


def test_a_preset_fills_the_forms_and_is_named_when_set_in_code(workspace):
    from widgets.nodules.training_panel import PRESETS

    panel = workspace.training
    names = list(PRESETS)
    panel.preset_combo.setCurrentText(names[2])
    assert panel.configs("cpu")[0] == PRESETS[names[2]][0]
    panel.set_configs(*PRESETS[names[1]])
    assert panel.preset_combo.currentText() == names[1]
    detector, preprocess, train = panel.configs("cpu")
    assert (detector, preprocess) == PRESETS[names[1]][:2] and train.steps == 60
