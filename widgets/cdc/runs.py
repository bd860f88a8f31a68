"""Analyze, models, training and exports of the CDC workspace.

A mixin of :class:`widgets.cdc.workspace.CdcWorkspace` (it uses its panels, ``host``, state and
signals). Every long step is an engine generator run by ``host.run_task``: the GUI thread only
draws the results, and Cancel in the task dock (or Stop) ends the work at its next yield.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.cdc.training import train_segmenter
from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from widgets.common.dialogs import save_path
from widgets.common.export import CSV_FILTER, PLOT_FILTER, export_csv, export_plot
from widgets.common.tasks import blocking, recording

NO_MODEL = "No model loaded — train one or load a model (Model ▸ Train… or Load model…)."
HDF5_FILTER = "HDF5 predictions (*.h5 *.hdf5)"


class RunsMixin:
    """Start/stop of Analyze and training, model handling and exports."""

    def _connect_runs(self) -> None:
        bar = self.toolbar
        bar.export_table.triggered.connect(self._export_table_dialog)
        bar.export_predictions.triggered.connect(self._export_predictions_dialog)
        bar.export_plot.triggered.connect(self._export_plot_dialog)
        bar.peer.toggled.connect(self._peer_toggled)
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))

    def _require_file(self, what: str):
        if self.opened is None:
            raise InputError(f"{what} needs an event file; use File ▸ Open… or sample data")
        return self.opened

    # -- analyze ---------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Score every event of the open file (and the GBDT peer when ticked) in a task."""
        if self.model is None:
            self.threshold.show_figures(None, NO_MODEL)
            self.statusChanged.emit(NO_MODEL)
            return
        from engines.cdc.analysis import iter_analyze

        opened = self._require_file("Analyze")
        segmenter = self.model
        with_peer = self.toolbar.peer.isChecked()
        name = opened.path.name if opened.path else "events"

        def analyzed(analysis) -> None:
            if opened is not self.opened or segmenter is not self.model:
                return  # the file or the model changed while this ran
            self.set_analysis(analysis)
            peer = ("" if analysis.peer_unavailable is None else
                    f"; no GBDT peer: {analysis.peer_unavailable}")
            self.statusChanged.emit(f"{name}: {len(opened.table):,} events scored{peer}")

        self._run_once("analyze", f"Analyze {name}",
                       iter_analyze(segmenter, opened.events, with_peer,
                                    peer_config=self.peer_config),
                       on_result=analyzed,
                       busy="Analyze is already running; cancel it in the task list first")

    def set_analysis(self, analysis) -> None:
        """Use ``analysis`` (a :class:`FileAnalysis` of the open file) for every view."""
        self.analysis = analysis
        scores = analysis.scores(self.use_fit)
        self.threshold.set_model_threshold(scores.threshold)
        self.threshold.set_threshold(scores.threshold)
        self._analysis_changed()
        self.show_event(self.index)
        self.analysisFinished.emit(analysis)

    def _peer_toggled(self, ticked: bool) -> None:
        self.curves.set_peer_state(ticked)
        if ticked:
            message = ("GBDT peer: it is fitted and scored at the next Analyze (Ctrl+Enter)"
                       if self.analysis is None or self.analysis.peer_curve is None else
                       "GBDT peer: its curve is shown; Analyze runs it again")
        else:
            message = "GBDT peer: off for the next Analyze"
        self.statusChanged.emit(message)

    # -- models ----------------------------------------------------------------------------------
    def model_changed(self, segmenter) -> None:
        """Use ``segmenter`` for Analyze; scores of a previous model are dropped."""
        if self.analysis is not None and self.analysis.from_model:
            self.analysis = None
        self.threshold.set_model_threshold(self._model_threshold())
        self.threshold.set_threshold(self._model_threshold())
        self._analysis_changed()
        self.show_event(self.index)
        self.host.log(f"CDC model: {segmenter.encoder}, threshold {segmenter.threshold:.3f}")
        self.statusChanged.emit("Model loaded: press Analyze (Ctrl+Enter) to score the file")

    # -- training --------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train a U-Net on the open file's events with the Training tab's settings."""
        opened = self._require_file("Training")
        if not bool(opened.table.has_truth.all()):
            raise InputError("training needs events with truth (is_signal); this file has none")
        image, config = self.training.configs(self.host.device_preference())
        history: list[dict[str, Any]] = []
        self.training.curves.reset()
        name = opened.path.name if opened.path else "events"

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(result) -> None:
            segmenter = result.segmenter
            segmenter.training["data"] = name
            self.training.curves.update_history(history)
            self.set_model(segmenter, unsaved=True)
            val = segmenter.metrics.get("val", {})
            self.training.status.setText(
                f"Trained: best epoch {result.best_epoch}, validation AUC {val.get('auc', 0):.4f}"
                f", threshold {segmenter.threshold:.3f}. Analyze scores the file; Model ▸ Save "
                "model as… keeps the model.")
            self.trainingFinished.emit(segmenter)

        def finished(state: str) -> None:
            self.training.set_running(False)
            if state == "cancelled":
                self.training.status.setText("Training stopped.")

        self._run_once("train", f"Training on {name}",
                       recording(train_segmenter(opened.events, image, config), history),
                       on_result=trained, on_progress=progressed, on_finished=finished,
                       busy="a training is already running; stop it first")
        self.training.set_running(True)

    # -- exports ---------------------------------------------------------------------------------
    def export_table(self, path: Path) -> Path:
        """The event list (with purity/retention at the cut when scored) as CSV."""
        opened = self._require_file("Export")
        analysis = self.analysis
        threshold = self.threshold.threshold
        if analysis is not None and analysis.has_truth:
            header, rows = opened.table.rows(
                *analysis.scores(self.use_fit).cells.per_event(threshold), threshold,
                analysis.pt_mev())
        else:
            header, rows = opened.table.rows()
        return export_csv(path, header, rows)

    def export_predictions(self, path: Path):
        """Write every hit with its score (our HDF5 predictions format) in a task; emits
        :attr:`predictionsExported` with the path when written."""
        from engines.cdc.analysis import write_analysis

        opened = self._require_file("Export")
        if self.analysis is None:
            raise ModelError("no predictions yet: press Analyze (Ctrl+Enter) first")
        path = Path(path)
        scorer = self.model if self.analysis.from_model else None

        def written(result: Path) -> None:
            self.host.log(f"wrote {result}")
            self.predictionsExported.emit(result)

        return self._run(f"Writing {path.name}",
                         blocking(f"writing {path.name}", write_analysis, path, opened.events,
                                  self.analysis, scorer, opened.path, self.use_fit),
                         on_result=written)

    def current_plot(self):
        """The pyqtgraph item the current tab exports."""
        page = self.tabs.currentWidget()
        if page is self.curves:
            return self.curves.plot
        if page is self.training:
            return self.training.curves.ci
        return self.display.plot_item

    def export_plot(self, path: Path) -> Path:
        return export_plot(self.current_plot(), path)

    def _export_table_dialog(self) -> None:
        path = save_path(self, "Export event table", "cdc_events.csv", CSV_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_table(path)}"),
                        "Export event table")

    def _export_predictions_dialog(self) -> None:
        path = save_path(self, "Export predictions", "cdc_predictions.h5", HDF5_FILTER)
        if path:
            self._guard(lambda: self.export_predictions(path), "Export predictions")

    def _export_plot_dialog(self) -> None:
        path = save_path(self, "Export plot", "cdc_event.png", PLOT_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_plot(path)}"), "Export plot")
