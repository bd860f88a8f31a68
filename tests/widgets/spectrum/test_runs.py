"""Training, evaluation and live acquisition from the workspace: curves fill, results arrive."""

from __future__ import annotations

import numpy as np
import pytest

from engines.spectrum.evaluation import EvaluateConfig
from engines.spectrum.live import LiveConfig
from engines.spectrum.training import TrainConfig
from tests.widgets.spectrum.conftest import TINY_TRAINING


def test_training_updates_the_curves_and_yields_a_model(qtbot, workspace):
    ws = workspace
    ws.train_model()
    assert ws.tabs.currentWidget() is ws.training
    ws.training.set_config(TrainConfig(**TINY_TRAINING, steps=6))
    old = ws.model
    with qtbot.waitSignal(ws.trainingFinished, timeout=60000) as blocker:
        ws.training.train_button.click()
        assert not ws.training.train_button.isEnabled() and ws.training.stop_button.isEnabled()
    classifier = blocker.args[0]
    assert ws.model is classifier and classifier is not old
    assert classifier.classes == ws.library.classes and classifier.arch == "small_cnn"
    steps, losses = ws.training.curves.curves["loss"].getData()
    assert steps.tolist() == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(losses))
    val_steps, val_acc = ws.training.curves.curves["val_accuracy"].getData()
    assert val_steps.tolist() == [2, 4, 6] and np.all((val_acc >= 0) & (val_acc <= 1))
    assert "Trained: validation accuracy" in ws.training.status.text()
    qtbot.waitUntil(lambda: ws.training.train_button.isEnabled())


def test_stop_cancels_training(qtbot, workspace):
    ws = workspace
    ws.training.set_config(TrainConfig(**TINY_TRAINING, steps=100_000))
    old = ws.model
    ws.training.train_button.click()
    qtbot.waitUntil(lambda: ws.training.curves.curves["loss"].getData()[0] is not None
                    and len(ws.training.curves.curves["loss"].getData()[0]) > 0, timeout=30000)
    ws.training.stop_button.click()
    qtbot.waitUntil(lambda: ws.training.train_button.isEnabled(), timeout=20000)
    assert ws.model is old and "train" not in ws.tasks


def test_evaluation_fills_the_curves_and_the_confusion_heatmap(qtbot, workspace, tmp_path):
    ws = workspace
    ws.evaluation.set_config(EvaluateConfig(counts=(1000, 20_000), draws_per_class=3))
    with qtbot.waitSignal(ws.evaluationFinished, timeout=60000) as blocker:
        ws.evaluation.run_button.click()
    result = blocker.args[0]
    assert [level.counts for level in result.levels] == [1000, 20_000]
    for method, curve in ws.evaluation.accuracy.curves.items():
        if not np.isfinite(result.curve(method)[1]).any():  # not run (the hybrid: no fallback)
            assert not curve.isVisible(), method
            continue
        times, accuracy = curve.getData()
        assert len(times) == 2, method
        assert np.all((accuracy >= 0) & (accuracy <= 1))
        np.testing.assert_allclose(accuracy, result.curve(method)[1])
    assert ws.evaluation.accuracy.curves["ml"].getData()[1][-1] > 0.9  # the physical bound
    matrix = ws.evaluation.heatmap.matrix
    assert matrix.shape == (12, 12) and np.allclose(matrix.sum(axis=1), 1.0)
    ws.evaluation.method_combo.setCurrentIndex(1)  # ML bound
    level = result.levels[ws.evaluation.level_combo.currentIndex()]
    ml = level.peer_confusion["ml"]
    np.testing.assert_allclose(ws.evaluation.heatmap.matrix, ml / ml.sum(axis=1, keepdims=True))
    path = ws.export_evaluation(tmp_path / "evaluation.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("counts,live_time_s,n,cnn_accuracy,ml_accuracy")
    assert len(lines) == 3 and lines[1].startswith("1000,")


def test_live_acquisition_ends_with_a_decision_marker(qtbot, workspace, bayes):
    ws = workspace
    ws.set_model(bayes)
    ws.live_panel.reference_combo.setCurrentText("Cu")
    assert ws.live_panel.rate_spin.value() == pytest.approx(ws.library.count_rate(5), rel=1e-3)
    ws.live_panel.set_config(LiveConfig(rate_cps=2000.0, update_interval_s=0.05,
                                        max_live_time_s=2.0, threshold=0.99, realtime=False))
    with qtbot.waitSignal(ws.liveFinished, timeout=60000) as blocker:
        ws.live_panel.start_button.click()
    result = blocker.args[0]
    assert result.decided_name == "Cu" and result.decision_time_s is not None
    plot = ws.live_panel.plot
    assert plot.decision_shown and plot.decision_line.value() == result.decision_time_s
    assert "decision: Cu" in plot.decision_line.label.format
    times, cu = plot.curves[5].getData()
    assert times.tolist() == pytest.approx(result.times_s.tolist())
    assert cu[-1] == pytest.approx(result.probabilities[-1, 5])
    assert ws.plot.counts.sum() == pytest.approx(result.total_counts[-1])
    assert "decided <b>Cu</b>" in ws.live_panel.readout.text()
    assert ws.results.call_label.text().startswith("Cu — decided at")
