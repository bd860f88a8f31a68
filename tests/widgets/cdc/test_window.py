"""The real main window switches to the CDC workspace: sample events are written and opened in
a task, no model is said plainly, and the Model menu's actions follow the workspace."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from app.settings import Settings
from app.workspaces import workspace_spec
from widgets.cdc.runs import NO_MODEL


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    # no demo model here, whether or not one is bundled: the "no model" path is under test
    monkeypatch.setattr("engines.core.model.demo_model_path", lambda name: None)
    monkeypatch.setattr("engines.cdc.samples.EVENTS", 4)
    monkeypatch.setattr("engines.core.samples.sample_data_dir", lambda name: tmp_path / name)
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings, start_workspace="spectrum")
    qtbot.addWidget(window)
    yield window
    window.close()


def test_switching_to_cdc_opens_sample_events(qtbot, window, tmp_path, tiny_model):
    assert workspace_spec("cdc").title == "CDC events (COMET)"
    ws = window.switch_workspace("cdc")
    assert window.current is ws and window.switcher.currentData() == "cdc"
    qtbot.waitUntil(lambda: ws.opened is not None, timeout=30000)
    assert (tmp_path / "cdc" / "cdc_occupancy40.h5").is_file() and ws.n_events == 4
    assert ws.index == 0 and len(ws.display.hits_item.data) > 500
    assert NO_MODEL in ws.threshold.detail_label.text()
    assert not window.save_model_action.isEnabled()
    window.analyze_action.trigger()  # no model: a message, not an error dialog
    assert window.error_dialog is None and NO_MODEL in ws.threshold.detail_label.text()
    entries = [label for label, _ in ws.sample_datasets()]
    assert [e.split(",")[1].split("(")[0].strip() for e in entries] == [
        "20 % occupancy", "40 % occupancy", "60 % occupancy"]
    with qtbot.waitSignal(ws.fileOpened, timeout=30000):
        ws.sample_datasets()[2][1]()
    assert (tmp_path / "cdc" / "cdc_occupancy60.h5").is_file()
    assert ws.opened.table.occupancy.mean() > 0.45
    with qtbot.waitSignal(ws.modelChanged, timeout=30000):
        window._with_current("load_model", tiny_model[1])
    assert window.save_model_action.isEnabled() and window.model_info_action.isEnabled()
    with qtbot.waitSignal(ws.analysisFinished, timeout=30000):
        window.analyze_action.trigger()
    assert ws.browser.cell_text(0, 4) != ""
