"""The shell with a minimal workspace: menus, task dock, errors, recent files, clean close."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

import app.main_window as main_window_module
from app.main_window import MainWindow
from app.settings import Settings
from app.workspaces import WorkspaceSpec
from engines.core.errors import InputError
from engines.core.progress import Progress
from widgets.common.workspace import Workspace


class EchoWorkspace(Workspace):
    """Opens text files, 'analyzes' by counting lines in a worker thread."""

    name = "echo"
    title = "Echo"
    file_filter = "Text (*.txt)"

    def __init__(self, host, parent=None):
        super().__init__(host, parent)
        self.path: Path | None = None
        self.result = None

    def open_path(self, path: Path) -> None:
        if path.suffix != ".txt":
            raise InputError.for_file(path, "not a text file")
        self.path = path
        self.pathOpened.emit(str(path))

    def analyze(self) -> None:
        lines = self.path.read_text().splitlines()

        def count():
            for i in range(len(lines)):
                time.sleep(0.002)
                yield Progress((i + 1) / len(lines), f"line {i + 1}")
            return len(lines)

        self.host.run_task("count lines", count(), on_result=self._done)

    def _done(self, n: int) -> None:
        self.result = n


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    spec = WorkspaceSpec("echo", "Echo", "tests.app.test_main_window:EchoWorkspace")
    monkeypatch.setattr(main_window_module, "WORKSPACES", (spec,))
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    yield window
    window.close()


def test_open_analyze_and_task_dock(qtbot, window, tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("\n".join("x" * 10 for _ in range(50)))
    window.open_path(text)
    workspace = window.current
    assert workspace.path == text
    assert window.settings.recent_files("echo") == [str(text)]
    window.analyze_action.trigger()
    row = window.task_dock.rows[-1]
    with qtbot.waitSignal(row.handle.ended, timeout=10000):
        pass
    assert workspace.result == 50
    assert row.bar.value() == 1000
    assert "finished" in row.status.text()


def test_bad_file_shows_dialog_and_keeps_running(qtbot, window, tmp_path):
    window.open_path(tmp_path / "image.png")
    assert window.error_dialog is not None
    assert "image.png: not a text file" in window.error_dialog.text()
    assert "image.png" in window.log_panel.view.toPlainText()
    window.error_dialog.close()
    assert window.current.path is None


def test_cancel_button_stops_task(qtbot, window, tmp_path):
    text = tmp_path / "long.txt"
    text.write_text("\n".join("x" for _ in range(5000)))
    window.open_path(text)
    window.analyze_action.trigger()
    row = window.task_dock.rows[-1]
    qtbot.waitUntil(lambda: row.handle.fraction > 0, timeout=5000)
    row.cancel_button.click()
    with qtbot.waitSignal(row.handle.ended, timeout=5000):
        pass
    assert row.handle.state == "cancelled"
    assert window.current.result is None


def test_close_waits_for_running_tasks(qtbot, window, tmp_path):
    text = tmp_path / "long.txt"
    text.write_text("\n".join("x" for _ in range(5000)))
    window.open_path(text)
    window.analyze_action.trigger()
    window.close()
    assert not window.runner.running


def test_unsaved_work_asks_before_closing(qtbot, window, monkeypatch):
    workspace = window.current
    asked: list[list[str]] = []
    monkeypatch.setattr(workspace, "has_unsaved_changes", lambda: True)
    monkeypatch.setattr(window, "confirm_close", lambda unsaved: asked.append(unsaved) or False)
    window.show()
    window.close()
    assert asked == [["Echo"]] and window.isVisible()  # "Cancel": still open
    monkeypatch.setattr(window, "confirm_close", lambda unsaved: asked.append(unsaved) or True)
    window.close()
    assert len(asked) == 2 and not window.isVisible()


def test_a_trained_model_is_unsaved_until_saved(qtbot, window, tmp_path):
    class Saved:
        def save(self, path, half=False):
            return Path(path)

        def describe(self):
            return "a model"

    workspace = window.current
    model = Saved()
    workspace.set_model(model, unsaved=True)
    assert workspace.has_unsaved_changes() and window.unsaved_workspaces() == ["Echo"]
    assert workspace.model_info() == "a model"
    workspace.save_model(tmp_path / "m")
    qtbot.waitUntil(lambda: not workspace.has_unsaved_changes(), timeout=5000)
    workspace.set_model(model)  # a loaded model is saved work
    assert not workspace.has_unsaved_changes()
