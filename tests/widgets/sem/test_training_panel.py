"""The Training tab: the forms build the engine's configs, a short run draws its curves and
becomes the workspace's (unsaved) model."""

from __future__ import annotations

import pytest

from engines.core.errors import InputError
from engines.sem.preprocessing import Preprocessing
from engines.sem.training import TrainConfig


def test_the_forms_round_trip_the_configs(workspace):
    panel = workspace.training
    preprocessing = Preprocessing(scale=0.25)
    config = TrainConfig(arch="unet-resnet34", window=96, batch_size=3, steps=17, seed=4)
    panel.set_configs(preprocessing, config)
    read_pre, read = panel.configs("cpu")
    assert read_pre == preprocessing
    assert read == TrainConfig(arch="unet-resnet34", window=96, batch_size=3, steps=17, seed=4,
                               device="cpu")
    assert panel.preset_combo.count() == 2


def test_a_short_run_draws_its_curves_and_becomes_the_model(qtbot, workspace):
    ws = workspace
    ws.training.set_configs(Preprocessing(scale=0.5),
                            TrainConfig(window=64, batch_size=2, steps=4, validations=2))
    ws.training.start_combo.setCurrentIndex(ws.training.start_combo.findData("random"))
    ws.train_model()
    assert ws.tabs.currentWidget() is ws.training
    with qtbot.waitSignal(ws.trainingFinished, timeout=180000) as blocker:
        ws.training.train_button.click()
        assert not ws.training.train_button.isEnabled()
    segmenter = blocker.args[0]
    assert ws.model is segmenter and ws.has_unsaved_changes()
    assert segmenter.training["steps"] == 4
    loss_x, _ = ws.training.curves.curves["loss"].getData()
    iu_x, iu = ws.training.curves.curves["val_mean_iu"].getData()
    assert len(loss_x) == 4 and len(iu_x) == 2 and 0 <= iu.min() <= iu.max() <= 1
    assert ws.training.train_button.isEnabled() and "Trained" in ws.training.status.text()


def test_training_outside_a_data_set_says_what_is_missing(qtbot, host, tmp_path, dataset):
    import shutil

    from widgets.sem.workspace import SemWorkspace

    image = shutil.copy(sorted((dataset / "images").iterdir())[0], tmp_path / "alone.tif")
    ws = SemWorkspace(host)
    qtbot.addWidget(ws)
    with qtbot.waitSignal(ws.micrographOpened, timeout=20000):
        ws.open_path(image)
    assert ws.opened.dataset is None and not ws.opened.has_truth
    with pytest.raises(InputError, match="alone.tif is not in a data-set folder"):
        ws.start_training()
