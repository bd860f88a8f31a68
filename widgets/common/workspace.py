"""The contract between the shell (app/) and a workspace widget.

A workspace is the Widget half of Slicer's Widget/Logic split: it draws what its engine returns
and starts engine generators through the :class:`TaskHost` the shell hands it. The shell knows
workspaces only through this class, so ``widgets`` never imports ``app``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from widgets.common.tasks import blocking

if TYPE_CHECKING:
    from engines.core.samples import SampleDataset


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

    Subclasses set ``name`` (the same as their ``engines/<name>`` package), ``title`` and
    ``model_type`` (their engine's model bundle, see :class:`engines.core.model.Model`), and
    implement :meth:`open_path`, :meth:`analyze` and :meth:`model_changed`. This class owns what
    every workspace does alike: the one-run-at-a-time task bookkeeping, loading / saving /
    describing models, the demo model and the first sample on first launch, the sample-data
    menu, and whether there is unsaved work.
    """

    name: str = ""
    title: str = ""
    #: filter string for the Open dialog, e.g. ``"Spectra (*.csv *.spe)"``
    file_filter: str = "All files (*)"
    #: whether File > Open may choose a folder
    opens_folders: bool = False
    #: the engine's model class (``load``/``save``/``metadata``/``describe``), or None
    model_type: type | None = None
    no_model_text = "No model loaded — train one or load a model (Model ▸ Train… or Load model…)."

    pathOpened = Signal(str)  # a file or folder was opened successfully (for recent files)
    statusChanged = Signal(str)  # short status for the status bar
    modelChanged = Signal()  # a model was loaded, trained or cleared

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.model: Any = None
        self.tasks: dict[str, Any] = {}  # key -> handle of the runs that go one at a time
        self.training_page: QWidget | None = None  # the tab Model ▸ Train… shows
        self._model_unsaved = False

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

    def _run_once(self, key: str, title: str, task: Generator[Progress, None, Any],
                  on_result: Callable[[Any], None] | None = None,
                  on_finished: Callable[[str], None] | None = None, busy: str | None = None,
                  **callbacks: Any) -> Any:
        """:meth:`_run` for a run of which only one may go at a time (training, Analyze, ...):
        kept in :attr:`tasks` under ``key`` until it ends.

        Raises
        ------
        InputError
            ``busy`` (or a default text) when a run under ``key`` is still going; the new task
            is closed unstarted.
        """
        if key in self.tasks:
            task.close()
            raise InputError(busy or f"{title}: already running; stop it first")

        def finished(state: str) -> None:
            self.tasks.pop(key, None)
            if on_finished is not None:
                on_finished(state)

        self.tasks[key] = self._run(title, task, on_result=on_result, on_finished=finished,
                                    **callbacks)
        return self.tasks[key]

    def _cancel(self, key: str) -> None:
        """Ask the run under ``key`` to stop at its next yield (nothing when none runs)."""
        handle = self.tasks.get(key)
        if handle is not None:
            handle.cancel()

    def require_model(self) -> Any:
        if self.model is None:
            raise ModelError(self.no_model_text)
        return self.model

    # -- models ----------------------------------------------------------------------------
    def load_model(self, path: Path) -> None:
        """Load a model file in a task; :meth:`set_model` when it is read."""
        from engines.core.model import load_model

        path = Path(path)
        self._run(f"Loading model {path.name}",
                  blocking(f"loading {path.name}", load_model, self.model_type, path, self.name,
                           self.host.device_preference()),
                  on_result=self.set_model)

    def set_model(self, model: Any, unsaved: bool = False) -> None:
        """Use ``model`` from now on (``unsaved``: trained here and not written yet)."""
        self.model = model
        self._model_unsaved = unsaved
        self.model_changed(model)
        self.modelChanged.emit()

    def model_changed(self, model: Any) -> None:
        """Hook: redraw what depends on the model (called by :meth:`set_model`)."""

    def save_model(self, path: Path) -> None:
        """Write the current model (safetensors + JSON) in a task."""
        model = self.model
        if model is None:
            raise InputError("no model to save; train or load one first")
        path = Path(path)

        def saved(weights: Path) -> None:
            if model is self.model:
                self._model_unsaved = False
            self.host.log(f"saved model to {weights}")

        self._run(f"Saving model {path.name}", blocking(f"saving {path.name}", model.save, path),
                  on_result=saved)

    def has_model(self) -> bool:
        return self.model is not None

    def model_info(self) -> str:
        """Human-readable description of the current model."""
        return self.model.describe() if self.model is not None else self.no_model_text

    def train_model(self) -> None:
        """Show the training controls (their Train button starts a run)."""
        if self.training_page is not None:
            self.tabs.setCurrentWidget(self.training_page)

    def has_unsaved_changes(self) -> bool:
        """Whether closing now would lose work (a trained model not saved yet, by default)."""
        return self._model_unsaved

    # -- sample data -----------------------------------------------------------------------
    def sample_datasets(self) -> list[tuple[str, Callable[[], None]]]:
        """Entries of File > Open sample data: ``(label, callback)``."""
        from engines.core.samples import sample_datasets

        return [(d.label, lambda d=d: self.open_sample(d)) for d in sample_datasets(self.name)]

    def open_sample(self, dataset: SampleDataset) -> None:
        """Open a sample dataset, writing it first when it is missing (one task per dataset)."""
        from engines.core.samples import iter_prepare_sample

        key = f"sample:{dataset.name}"
        if key not in self.tasks:
            self._run_once(key, f"Preparing sample data ({dataset.name})",
                           iter_prepare_sample(self.name, dataset),
                           on_result=lambda path: self.open_sample_path(path, dataset))

    def open_sample_path(self, path: Path, dataset: SampleDataset) -> None:
        """Open a prepared sample dataset (default: like any opened path)."""
        self.open_path(path)

    # -- called by the shell -------------------------------------------------------------
    def activate(self) -> None:
        """Called when the workspace is first shown: open the default sample dataset and load
        the bundled demo model (or say that there is none)."""
        from engines.core.model import demo_model_path
        from engines.core.samples import default_sample

        dataset = default_sample(self.name)
        if dataset is not None:
            self.open_sample(dataset)
        demo = demo_model_path(self.name) if self.model_type is not None else None
        if demo is not None:
            self.load_model(demo)
        elif self.model_type is not None:
            self.statusChanged.emit(self.no_model_text)

    def open_path(self, path: Path) -> None:
        """Open a file or folder; raise ``engines.core.errors.InputError`` when it is unusable."""
        raise TypeError(f"{type(self).__name__} opens no files")

    def analyze(self) -> None:
        """Run the workspace's main analysis on what is open."""

    def shutdown(self) -> None:
        """Called before the window closes (tasks are cancelled by the shell)."""
