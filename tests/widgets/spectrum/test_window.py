"""The real main window opens on the spectrum workspace with the sample library; bad files give
a dialog naming them; a loaded model analyzes via the window's Analyze action."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings

import app.main_window as main_window_module
from app.main_window import MainWindow
from app.settings import Settings
from widgets.spectrum.results_panel import NO_MODEL


@pytest.fixture
def window(qtbot, tmp_path, sample_folder, monkeypatch):
    # no demo model here, whether or not one is bundled: the "no model" path is under test
    monkeypatch.setattr("engines.core.model.demo_model_path", lambda name: None)
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings, start_workspace="spectrum")
    qtbot.addWidget(window)
    yield window
    window.close()


def test_sample_data_no_model_bad_files_then_a_model_analyzes(qtbot, window, tmp_path,
                                                              tiny_model):
    ws = window.current
    assert ws.name == "spectrum" and main_window_module.WORKSPACES[0].name == "spectrum"
    qtbot.waitUntil(lambda: ws.library is not None, timeout=30000)
    assert ws.library.n_classes == 12 and len(ws.entries) == 24
    assert ws.current == 0 and ws.plot.counts.sum() == pytest.approx(ws.library.spectra[0].sum())
    assert ws.results.call_label.text() == NO_MODEL
    assert not window.save_model_action.isEnabled()
    ws.analyze()  # no model: a message, not a failure
    assert ws.results.call_label.text() == NO_MODEL
    assert window.error_dialog is None
    sample_entries = [label for label, _ in ws.sample_datasets()]
    assert len(sample_entries) == 3 and "12 substances" in sample_entries[0]

    broken = tmp_path / "broken.spe"
    broken.write_bytes(b"$SPEC_ID:\nrun 7\n$DATA:\n0 16383\n12\n13\n")  # truncated
    window.open_path(broken)
    qtbot.waitUntil(lambda: window.error_dialog is not None, timeout=10000)
    assert "broken.spe" in window.error_dialog.text()
    window.error_dialog.close()
    garbage = tmp_path / "noise.csv"
    garbage.write_bytes(bytes(range(256)) * 8)
    window.error_dialog = None
    window.open_path(garbage)
    qtbot.waitUntil(lambda: window.error_dialog is not None, timeout=10000)
    assert "noise.csv" in window.error_dialog.text()
    window.error_dialog.close()
    assert len(ws.entries) == 24  # nothing half-opened

    with qtbot.waitSignal(ws.modelChanged, timeout=20000):
        window._with_current("load_model", tiny_model[1])
    assert ws.has_model() and window.model_info_action.isEnabled()
    assert "small_cnn" in ws.model_info()
    with qtbot.waitSignal(ws.analysisFinished, timeout=20000) as blocker:
        window.analyze_action.trigger()
    analysis = blocker.args[0]
    assert analysis.predicted in ws.library.classes
    assert ws.results.call_label.text().startswith(analysis.predicted)
    assert np.sum(ws.results.bars.values) == pytest.approx(1.0, abs=1e-6)
    assert window.statusBar().currentMessage().startswith(ws.entries[0].name)
