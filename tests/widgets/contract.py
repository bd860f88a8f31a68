"""The contract every workspace keeps, as a test base class (in the style of
segmentation_models_pytorch's ``tests/models/base.py``): a workspace's test module subclasses
:class:`WorkspaceContract` and says how to reach its parts; the tests here then check, in the
real main window, that it

* opens its sample data on first launch,
* analyzes it when Analyze is clicked and draws the result,
* shows an error dialog for a bad file and keeps working,
* closes with a task running and leaves no thread behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from app.settings import Settings


class WorkspaceContract:
    """Subclass as ``TestXyzContract(WorkspaceContract)`` and fill in the hooks."""

    #: registry name of the workspace under test
    name = ""
    #: the workspace signal emitted (on the GUI thread) when Analyze has drawn its result
    analysis_signal = "analysisFinished"
    timeout_ms = 120_000

    # -- hooks ---------------------------------------------------------------------------------
    def prepare(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Make the workspace's sample data and model small (monkeypatch engine constants)."""

    def sample_opened(self, ws) -> bool:
        """Whether the sample data is open (polled)."""
        raise NotImplementedError

    def ready_to_analyze(self, ws) -> bool:
        """Whether Analyze can run (sample open, model loaded)."""
        return self.sample_opened(ws) and ws.has_model()

    def check_drawn(self, ws, result: Any) -> None:
        """Assert that the analysis ``result`` is drawn in the workspace."""
        raise NotImplementedError

    def bad_file(self, tmp_path: Path) -> Path:
        """A file the workspace must refuse with an error naming it."""
        raise NotImplementedError

    def start_long_task(self, ws) -> str:
        """Start a task that runs for a while (training, say) for the close test; return the
        start of its title in the task list."""
        raise NotImplementedError

    # -- fixture -------------------------------------------------------------------------------
    @pytest.fixture
    def window(self, qtbot, tmp_path, monkeypatch):
        monkeypatch.setattr("engines.core.samples.sample_data_dir",
                            lambda workspace: tmp_path / "samples" / workspace)
        self.prepare(monkeypatch, tmp_path)
        settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, start_workspace=self.name)
        qtbot.addWidget(window)
        window.resize(1500, 950)
        window.show()
        yield window
        window.close()

    # -- the contract -------------------------------------------------------------------------
    def test_opens_its_sample_and_analyzes_it(self, qtbot, window):
        ws = window.current
        assert ws.name == self.name and window.windowTitle().endswith(ws.title)
        qtbot.waitUntil(lambda: self.ready_to_analyze(ws), timeout=self.timeout_ms)
        with qtbot.waitSignal(getattr(ws, self.analysis_signal),
                              timeout=self.timeout_ms) as blocker:
            window.analyze_action.trigger()
        self.check_drawn(ws, blocker.args[0])
        assert window.error_dialog is None

    def test_a_bad_file_shows_an_error_and_the_workspace_keeps_working(self, qtbot, window,
                                                                        tmp_path):
        ws = window.current
        qtbot.waitUntil(lambda: self.sample_opened(ws), timeout=self.timeout_ms)
        bad = self.bad_file(tmp_path)
        window.open_path(bad)
        qtbot.waitUntil(lambda: window.error_dialog is not None, timeout=30_000)
        assert bad.name in window.error_dialog.text()
        assert window.error_dialog.text().count("\n") <= 2  # a sentence, not a traceback
        window.error_dialog.close()
        assert self.sample_opened(ws)  # what was open is still open
        qtbot.waitUntil(lambda: self.ready_to_analyze(ws), timeout=self.timeout_ms)
        with qtbot.waitSignal(getattr(ws, self.analysis_signal), timeout=self.timeout_ms):
            window.analyze_action.trigger()

    def test_closing_with_a_task_running_stops_it(self, qtbot, window, monkeypatch):
        ws = window.current
        qtbot.waitUntil(lambda: self.ready_to_analyze(ws), timeout=self.timeout_ms)
        title = self.start_long_task(ws)
        qtbot.waitUntil(lambda: any(h.title.startswith(title) and h.fraction > 0
                                    for h in window.runner.running), timeout=60_000)
        handles = list(window.runner.running)
        monkeypatch.setattr(window, "confirm_close", lambda unsaved: True)
        window.close()
        assert not window.runner.running
        assert all(h.state in ("cancelled", "done") for h in handles)
        # the suite-wide no_leaked_threads fixture checks that no worker thread is left
