"""The Training tab: Train fills the live curves and hands the workspace a model; Stop cancels."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.images import ImageConfig
from engines.cdc.synthetic import write_sample_file
from engines.cdc.training import TrainConfig

TINY_IMAGE = ImageConfig(input_size=64, scaling="limited")


@pytest.fixture(scope="module")
def training_file(tmp_path_factory):
    """Twelve events with truth: enough for a 10-event minimum after the split."""
    return write_sample_file(tmp_path_factory.mktemp("cdc_train") / "train.h5", 12, 0.3, seed=3)


@pytest.fixture
def opened(qtbot, workspace, training_file):
    with qtbot.waitSignal(workspace.fileOpened, timeout=20000):
        workspace.open_path(training_file)
    return workspace


def test_training_draws_live_curves_and_yields_a_model(qtbot, opened):
    ws = opened
    ws.train_model()
    assert ws.tabs.currentWidget() is ws.training
    ws.training.set_configs(TINY_IMAGE, TrainConfig(encoder="efficientnet-b0", epochs=2,
                                                    batch_size=4, pos_weight=5.0))
    with qtbot.waitSignal(ws.trainingFinished, timeout=120000) as blocker:
        ws.training.train_button.click()
        assert not ws.training.train_button.isEnabled() and ws.training.stop_button.isEnabled()
    segmenter = blocker.args[0]
    assert ws.model is segmenter and segmenter.image_config == TINY_IMAGE
    curves = ws.training.curves
    steps, losses = curves.curves["loss"].getData()
    assert steps.tolist() == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(losses))  # 10 events / 4
    epochs, aucs = curves.curves["val_auc"].getData()
    assert epochs.tolist() == [1, 2] and np.all((aucs >= 0) & (aucs <= 1))
    assert curves.curves["train_loss"].getData()[0].tolist() == [3, 6]
    assert segmenter.metrics["val"]["auc"] == pytest.approx(aucs.max(), abs=1e-6)
    assert f"best epoch {segmenter.training['best_epoch']}" in ws.training.status.text()
    for plot in curves.plots:   # an AUC of 0.04 reads 0.04
        assert not plot.getAxis("left").autoSIPrefix
    qtbot.waitUntil(lambda: ws.training.train_button.isEnabled())


def test_stop_cancels_training_and_keeps_the_model(qtbot, opened, tiny_model):
    ws = opened
    ws.set_model(tiny_model[0])
    ws.training.set_configs(TINY_IMAGE, TrainConfig(encoder="efficientnet-b0", epochs=1000,
                                                    batch_size=4))
    ws.training.train_button.click()
    qtbot.waitUntil(lambda: ws.training.curves.curves["loss"].getData()[0] is not None
                    and len(ws.training.curves.curves["loss"].getData()[0]) > 0, timeout=60000)
    ws.training.stop_button.click()
    qtbot.waitUntil(lambda: ws.training.train_button.isEnabled(), timeout=30000)
    assert ws.model is tiny_model[0] and "train" not in ws.tasks
    assert ws.training.status.text() == "Training stopped."
