"""The main window: workspace switcher, menus, task and log docks, device in the status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
)
from superqt.utils import FunctionWorker

from app.log_panel import LogPanel
from app.settings import Settings
from app.task_dock import TaskDock
from app.task_runner import TaskHandle, TaskRunner
from app.workspaces import WORKSPACES, WorkspaceSpec
from engines.core.device import DEVICE_CHOICES
from engines.core.errors import LabLensError
from engines.core.progress import Progress
from widgets.common import dialogs
from widgets.common.workspace import Workspace

log = logging.getLogger("lablens")

MODEL_FILTER = "LabLens models (*.safetensors *.json)"


def _detect_device(preference: str) -> str:
    from engines.core.device import describe_device, pick_device

    try:
        return describe_device(pick_device(preference))
    except LabLensError as exc:
        return f"unavailable ({exc})"


class MainWindow(QMainWindow):
    """Hosts the workspaces and implements their :class:`TaskHost`."""

    def __init__(self, settings: Settings | None = None, start_workspace: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("LabLens")
        self.settings = settings or Settings()
        self.runner = TaskRunner(self)
        self.runner.taskFailed.connect(lambda handle, exc: self.report_error(exc, handle.title))
        self.workspaces: dict[str, Workspace] = {}
        self.error_dialog: QMessageBox | None = None

        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.task_dock = TaskDock(self.runner, self)
        self.log_panel = LogPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.task_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_panel)
        self.device_label = QLabel("Device: detecting…")
        self.statusBar().addPermanentWidget(self.device_label)

        self._build_toolbar()
        self._build_menus()
        geometry, state = self.settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1500, 950)
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.task_dock], [270], Qt.Orientation.Horizontal)
            self.resizeDocks([self.log_panel], [120], Qt.Orientation.Vertical)
        self._refresh_device_label()
        first = start_workspace or self.settings.last_workspace or WORKSPACES[0].name
        names = [spec.name for spec in WORKSPACES]
        self.switch_workspace(first if first in names else names[0])

    # -- TaskHost ------------------------------------------------------------------------
    def run_task(self, title: str, task: Generator[Progress, None, Any],
                 on_progress: Callable[[Progress], None] | None = None,
                 on_result: Callable[[Any], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_finished: Callable[[str], None] | None = None) -> TaskHandle:
        log.info("started: %s", title)
        handle = self.runner.start(title, task, on_progress, on_result, on_error, on_finished)
        handle.ended.connect(lambda state: log.info("%s: %s", title, state))
        return handle

    def device_preference(self) -> str:
        return self.settings.device

    def report_error(self, error: BaseException, context: str = "") -> None:
        """Show ``error`` in a non-blocking dialog and the log; never re-raises."""
        expected = isinstance(error, LabLensError | OSError)
        text = str(error) if expected else f"Unexpected {type(error).__name__}: {error}"
        log.error("%s%s", f"{context}: " if context else "", text)
        if not expected:
            log.error("details are in the terminal; please report this as a bug")
        dialog = QMessageBox(QMessageBox.Icon.Warning, "LabLens", text, QMessageBox.StandardButton.Ok, self)
        if context:
            dialog.setInformativeText(context)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.error_dialog = dialog

    def log(self, message: str) -> None:
        log.info(message)

    # -- workspaces -----------------------------------------------------------------------
    @property
    def current(self) -> Workspace | None:
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, Workspace) else None

    def switch_workspace(self, name: str) -> Workspace:
        spec = next(s for s in WORKSPACES if s.name == name)
        workspace = self.workspaces.get(name)
        if workspace is None:
            workspace = self._create_workspace(spec)
        self.stack.setCurrentWidget(workspace)
        index = self.switcher.findData(name)
        if self.switcher.currentIndex() != index:
            self.switcher.setCurrentIndex(index)
        self.settings.last_workspace = name
        self.setWindowTitle(f"LabLens — {spec.title}")
        self._update_model_actions()
        return workspace

    def _create_workspace(self, spec: WorkspaceSpec) -> Workspace:
        workspace: Workspace = spec.load_class()(self)
        self.workspaces[spec.name] = workspace
        self.stack.addWidget(workspace)
        workspace.pathOpened.connect(lambda path, ws=spec.name: self.settings.add_recent_file(ws, path))
        workspace.statusChanged.connect(lambda text: self.statusBar().showMessage(text, 10000))
        workspace.modelChanged.connect(self._update_model_actions)
        self._guarded(workspace.activate, f"Opening the {spec.title} workspace")
        return workspace

    def _guarded(self, action: Callable[[], Any], context: str) -> None:
        try:
            action()
        except Exception as exc:  # a bad file or model must never take the window down
            self.report_error(exc, context)

    # -- toolbar and menus -------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", objectName="mainToolbar", movable=False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Workspace: "))
        self.switcher = QComboBox()
        for spec in WORKSPACES:
            self.switcher.addItem(spec.title, spec.name)
        self.switcher.currentIndexChanged.connect(
            lambda i: self.switch_workspace(self.switcher.itemData(i)))
        bar.addWidget(self.switcher)
        bar.addSeparator()
        self.analyze_action = QAction("Analyze", self, shortcut=QKeySequence("Ctrl+Return"),
                                      toolTip="Run the workspace's analysis (Ctrl+Enter)")
        self.analyze_action.triggered.connect(
            lambda: self.current and self._guarded(self.current.analyze, "Analyze"))
        bar.addAction(self.analyze_action)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("&Open…", QKeySequence.StandardKey.Open, self._open_dialog)
        self.open_folder_action = file_menu.addAction("Open &folder…", QKeySequence("Ctrl+Shift+O"),
                                                      self._open_folder_dialog)
        self.sample_menu = file_menu.addMenu("Open &sample data")
        self.sample_menu.aboutToShow.connect(self._fill_sample_menu)
        self.recent_menu = file_menu.addMenu("&Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)

        model_menu = self.menuBar().addMenu("&Model")
        model_menu.addAction("&Load model…", self._load_model_dialog)
        self.train_action = model_menu.addAction("&Train…", lambda: self._with_current("train_model"))
        self.save_model_action = model_menu.addAction("&Save model as…", self._save_model_dialog)
        self.model_info_action = model_menu.addAction("Model &info", self._show_model_info)

        settings_menu = self.menuBar().addMenu("&Settings")
        device_menu = settings_menu.addMenu("Compute &device")
        group = QActionGroup(self)
        for choice in DEVICE_CHOICES:
            action = device_menu.addAction(choice, lambda c=choice: self._set_device(c))
            action.setCheckable(True)
            action.setChecked(choice == self.settings.device)
            group.addAction(action)

        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.task_dock.toggleViewAction())
        view_menu.addAction(self.log_panel.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&About LabLens", self._about)

    def _with_current(self, method: str, *args: Any) -> None:
        if self.current is not None:
            self._guarded(lambda: getattr(self.current, method)(*args), method.replace("_", " "))

    def _open_dialog(self) -> None:
        if self.current is None:
            return
        path = dialogs.open_path(self, "Open", self.current.file_filter,
                                 kind=f"open/{self.current.name}")
        if path:
            self.open_path(path)

    def _open_folder_dialog(self) -> None:
        if self.current is None:
            return
        path = dialogs.open_folder(self, "Open folder", kind=f"open/{self.current.name}")
        if path:
            self.open_path(path)

    def open_path(self, path: Path) -> None:
        self._with_current("open_path", path)

    def _fill_sample_menu(self) -> None:
        self.sample_menu.clear()
        for label, callback in self.current.sample_datasets() if self.current else []:
            self.sample_menu.addAction(label, lambda cb=callback: self._guarded(cb, "Open sample data"))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        name = self.current.name if self.current else ""
        recent = self.settings.recent_files(name)
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(Path(p)))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", lambda: self.settings.clear_recent_files(name))
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _load_model_dialog(self) -> None:
        path = dialogs.open_path(self, "Load model", MODEL_FILTER, kind="model")
        if path:
            self._with_current("load_model", path)

    def _save_model_dialog(self) -> None:
        if self.current is None:
            return
        path = dialogs.save_path(self, "Save model", f"{self.current.name}_model.safetensors",
                                 MODEL_FILTER, kind="model")
        if path:
            self._with_current("save_model", path)

    def _show_model_info(self) -> None:
        if self.current is not None:
            QMessageBox.information(self, "Model info", self.current.model_info())

    def _update_model_actions(self) -> None:
        has_model = bool(self.current and self.current.has_model())
        self.save_model_action.setEnabled(has_model)
        self.model_info_action.setEnabled(has_model)
        self.open_folder_action.setEnabled(bool(self.current and self.current.opens_folders))

    def _set_device(self, choice: str) -> None:
        self.settings.device = choice
        log.info("compute device preference: %s (used by the next task)", choice)
        self._refresh_device_label()

    def _refresh_device_label(self) -> None:
        self.device_label.setText("Device: detecting…")
        worker = FunctionWorker(_detect_device, self.settings.device)
        worker.returned.connect(lambda text: self.device_label.setText(f"Device: {text}"))
        worker.start()

    def confirm_close(self, unsaved: list[str]) -> bool:
        """Ask whether to close although ``unsaved`` workspaces have unsaved work."""
        answer = QMessageBox.question(
            self, "Close LabLens",
            f"Unsaved work in {', '.join(unsaved)} (e.g. a trained model not saved yet). "
            "Close anyway?",
            QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Close

    def _about(self) -> None:
        names = ", ".join(spec.title for spec in WORKSPACES)
        QMessageBox.about(self, "About LabLens",
                          f"<b>LabLens</b><br>Analysis workbench for published lab methods.<br>"
                          f"Workspaces: {names}.")

    def unsaved_workspaces(self) -> list[str]:
        """Titles of the workspaces whose work would be lost by closing now."""
        return [ws.title for ws in self.workspaces.values() if ws.has_unsaved_changes()]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        unsaved = self.unsaved_workspaces()
        if unsaved and not self.confirm_close(unsaved):
            event.ignore()
            return
        if not self.runner.shutdown():
            log.warning("some tasks did not stop in time")
        for workspace in self.workspaces.values():
            workspace.shutdown()
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.log_panel.detach()
        super().closeEvent(event)
