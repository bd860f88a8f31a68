"""The contract between the shell (app/) and a workspace widget.

A workspace is the Widget half of Slicer's Widget/Logic split: it draws what its engine returns
and starts engine generators through the :class:`TaskHost` the shell hands it. The shell knows
workspaces only through this class, so ``widgets`` never imports ``app``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from engines.core.progress import Progress


class TaskHost(Protocol):
    """What the shell offers a workspace (implemented by the main window)."""

    def run_task(
        self,
        title: str,
        task: Generator[Progress, None, Any],
        on_progress: Callable[[Progress], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finished: Callable[[str], None] | None = None,
    ) -> Any:
        """Run an engine generator off the GUI thread; returns a handle with ``cancel()``."""

    def device_preference(self) -> str:
        """``"auto"``, ``"cuda"`` or ``"cpu"`` as chosen in the settings."""

    def report_error(self, error: BaseException, context: str = "") -> None:
        """Show an error dialog and log it; the app keeps running."""

    def log(self, message: str) -> None:
        """Append a line to the log panel."""


class Workspace(QWidget):
    """Base class of every workspace widget.

    Subclasses set ``name`` (the same as their ``engines/<name>`` package) and ``title``, and
    implement the methods below; the shell wires them to the File and Model menus and to the
    Analyze action.
    """

    name: str = ""
    title: str = ""
    #: filter string for the Open dialog, e.g. ``"Spectra (*.csv *.spe)"``
    file_filter: str = "All files (*)"
    #: whether File > Open may choose a folder
    opens_folders: bool = False

    pathOpened = Signal(str)  # a file or folder was opened successfully (for recent files)
    statusChanged = Signal(str)  # short status for the status bar
    modelChanged = Signal()  # a model was loaded, trained or cleared

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host

    # -- for subclasses ------------------------------------------------------------------
    def _lay_out(self, toolbar: QWidget, page_title: str, panes: Sequence[QWidget],
                 sizes: Sequence[int], other_tabs: Sequence[tuple[QWidget, str]]) -> QSplitter:
        """The common frame: the toolbar above ``self.tabs``, whose first page holds ``panes``
        side by side (the middle one takes extra width), then ``other_tabs``; returns that page."""
        page = QSplitter()
        for pane in panes:
            page.addWidget(pane)
        page.setStretchFactor(1, 1)
        page.setSizes(list(sizes))
        self.tabs = QTabWidget()
        self.tabs.addTab(page, page_title)
        for widget, title in other_tabs:
            self.tabs.addTab(widget, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(toolbar)
        layout.addWidget(self.tabs, 1)
        return page

    def _guard(self, action: Callable[[], Any], context: str) -> None:
        """Run a GUI action; an exception goes to the host's error dialog, not up the stack."""
        try:
            action()
        except Exception as exc:  # shown to the user; the workspace stays usable
            self.host.report_error(exc, context)

    def _run(self, title: str, task: Generator[Progress, None, Any],
             on_result: Callable[[Any], None] | None = None, **callbacks: Any) -> Any:
        """``host.run_task`` with errors routed to the host's dialog."""
        return self.host.run_task(title, task, on_result=on_result,
                                  on_error=lambda exc: self.host.report_error(exc, title),
                                  **callbacks)

    # -- called by the shell -------------------------------------------------------------
    def activate(self) -> None:
        """Called when the workspace is first shown: load sample data and the demo model."""

    def open_path(self, path: Path) -> None:
        """Open a file or folder; raise ``engines.core.errors.InputError`` when it is unusable."""
        raise TypeError(f"{type(self).__name__} opens no files")

    def sample_datasets(self) -> list[tuple[str, Callable[[], None]]]:
        """Entries of File > Open sample data: ``(label, callback)``."""
        return []

    def analyze(self) -> None:
        """Run the workspace's main analysis on what is open."""

    def load_model(self, path: Path) -> None:
        """Load a model file (safetensors + JSON)."""

    def save_model(self, path: Path) -> None:
        """Save the current model."""

    def train_model(self) -> None:
        """Show the training controls / start training."""

    def model_info(self) -> str:
        """Human-readable description of the current model."""
        return "No model loaded."

    def has_model(self) -> bool:
        return False

    def shutdown(self) -> None:
        """Called before the window closes (tasks are cancelled by the shell)."""
