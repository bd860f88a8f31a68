"""Exports read back from disk (profile and table CSV, plot PNG) and a short training run from
the Training tab with live curves."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from engines.core.errors import InputError
from engines.soil.training import TrainConfig
from tests.widgets.soil.conftest import analyze


def _read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_exports_need_an_analysis_then_hold_its_numbers(qtbot, workspace, demo_model, tmp_path):
    ws = workspace
    with pytest.raises(InputError, match="Analyze"):
        ws.export_profile(tmp_path / "none.csv")
    ws.set_model(demo_model)
    view = analyze(qtbot, ws)
    profile = view.analysis.profile
    rows = _read_csv(ws.export_profile(tmp_path / "profile.csv"))
    assert len(rows) == len(profile)
    assert float(rows[3]["depth_mm"]) == pytest.approx(profile.depth_mm[3], abs=1e-4)
    assert float(rows[3]["object4"]) == pytest.approx(profile.porosity["object4"][3], abs=1e-6)
    assert float(rows[3]["surrogate_object4"]) == pytest.approx(
        view.prediction.predicted[3], abs=1e-6)
    table = _read_csv(ws.export_tables(tmp_path / "tables.csv"))
    porosity = {r["name"]: r for r in table if r["table"] == "porosity"}
    assert float(porosity["object2"]["value"]) == pytest.approx(
        view.analysis.porosity["object2"], abs=1e-6)
    assert float(porosity["object4"]["model_rmse"]) == pytest.approx(view.prediction.rmse,
                                                                     abs=1e-6)
    assert any(r["name"] == "specific surface area" and r["unit"] == "mm²/mm³" for r in table)
    image = QImage(str(ws.export_plot(tmp_path / "profile.png")))
    assert image.width() == 1600 and image.height() > 100
    ws.tabs.setCurrentWidget(ws.compare)
    compare = _read_csv(ws.export_tables(tmp_path / "compare.csv"))
    assert compare[0]["core"] == "core01_forest"
    assert float(compare[0]["object4"]) == pytest.approx(view.analysis.porosity["object4"])


def test_training_on_the_ticked_cores_sets_an_unsaved_model(qtbot, workspace):
    ws = workspace
    analyze(qtbot, ws)  # this core's analysis is reused; the other ticked one is analysed
    ws.core_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert ws.checked_cores() == ["core01_forest", "core02_grassland"]
    ws.train_model()
    assert ws.tabs.currentWidget() is ws.training
    ws.training.set_config(TrainConfig(arch="vgg_light", input_size=32, epochs=2,
                                       batch_size=16))
    with qtbot.waitSignal(ws.trainingFinished, timeout=120000) as blocker:
        ws.training.train_button.click()
    model = blocker.args[0]
    assert ws.model is model and ws.has_unsaved_changes()
    assert model.metadata()["training"]["cores"] == ["core01_forest", "core02_grassland"]
    assert "held-out RMSE" in ws.training.status.text()
    _x, y = ws.training.curves.curves["val_rmse"].getData()
    assert len(y) == 2
    assert ws.training.train_button.isEnabled() and not ws.training.stop_button.isEnabled()
    # the new model re-analyses the shown core: its prediction follows
    qtbot.waitUntil(lambda: "analyze" not in ws.tasks and
                    ws.views[ws.current].prediction is not None, timeout=60000)


def test_training_needs_ticked_cores(workspace):
    ws = workspace
    for row in range(ws.core_list.count()):
        ws.core_list.item(row).setCheckState(Qt.CheckState.Unchecked)
    with pytest.raises(InputError, match="tick"):
        ws.start_training()


def test_the_model_matrix_of_a_models_folder_on_the_ticked_cores(qtbot, workspace, demo_model,
                                                                 tmp_path):
    ws = workspace
    folder = tmp_path / "models"
    with pytest.raises(InputError, match="models"):
        ws.set_models_folder(folder)
    demo_model.save(folder / "demo_a")
    demo_model.save(folder / "demo_b")
    ws.set_models_folder(folder)
    ws.set_model(demo_model)
    with qtbot.waitSignal(ws.matrixFinished, timeout=120000) as blocker:
        ws.matrix_panel.run_buttons.start.click()
    matrix = blocker.args[0]
    assert matrix.models == ["current", "demo_a", "demo_b"] and len(matrix.cores) == 3
    assert np.isfinite(matrix.rmse).all()
    np.testing.assert_allclose(matrix.rmse[1], matrix.rmse[0], atol=1e-3)  # the same weights
    np.testing.assert_allclose(ws.matrix_panel.heatmap.matrix, matrix.rmse)
    panel = ws.matrix_panel
    assert panel.selection.rowCount() == len(matrix.selection) + bool(matrix.uncovered)
    ws.tabs.setCurrentWidget(panel)
    rows = _read_csv(ws.export_tables(tmp_path / "matrix.csv"))
    assert [r["model"] for r in rows] == matrix.models
    assert float(rows[2][matrix.cores[1]]) == pytest.approx(matrix.rmse[2, 1], abs=1e-6)
    assert panel.run_buttons.start.isEnabled()


def test_transfer_learning_retrains_the_head_of_the_current_model(qtbot, workspace, demo_model):
    from engines.soil.transfer import TransferConfig

    ws = workspace
    with pytest.raises(Exception, match="model"):
        ws.start_transfer()  # no model yet
    ws.set_model(demo_model)
    ws.core_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    ws.training.transfer_form.set_value(TransferConfig(target=5, epochs=2, batch_size=16))
    with qtbot.waitSignal(ws.trainingFinished, timeout=120000) as blocker:
        ws.training.transfer_button.click()
    model = blocker.args[0]
    assert model.target == 5 and model.arch == demo_model.arch
    assert model.training["source_target"] == demo_model.target
    assert ws.training.status.text().startswith("dense head of object4 → object5")
    _x, y = ws.training.curves.curves["val_rmse"].getData()
    assert len(y) == 2 and ws.training.transfer_button.isEnabled()
    qtbot.waitUntil(lambda: "analyze" not in ws.tasks, timeout=60000)
