"""Analyze, models, training and exports of the CDC workspace.

A mixin of :class:`widgets.cdc.workspace.CdcWorkspace` (it uses its panels, ``host``, state and
signals). Every long step is an engine generator run by ``host.run_task``: the GUI thread only
draws the results, and Cancel in the task dock (or Stop) ends the work at its next yield.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from widgets.cdc.tasks import load_segmenter, train
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
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))

    def _cancel(self, name: str) -> None:
        handle = self.tasks.get(name)
        if handle is not None:
            handle.cancel()

    def _require_file(self, what: str):
        if self.opened is None:
            raise InputError(f"{what} needs an event file; use File ▸ Open… or sample data")
        return self.opened

    # -- analyze ---------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Score every event of the open file (and the GBDT peer when ticked) in a task."""
        if self.segmenter is None:
            self.threshold.show_figures(None, NO_MODEL)
            self.statusChanged.emit(NO_MODEL)
            return
        from engines.cdc.analysis import iter_analyze

        opened = self._require_file("Analyze")
        if "analyze" in self.tasks:
            raise InputError("Analyze is already running; cancel it in the task list first")
        segmenter = self.segmenter
        with_peer = self.toolbar.peer.isChecked()
        name = opened.path.name if opened.path else "events"

        def analyzed(analysis) -> None:
            if opened is not self.opened or segmenter is not self.segmenter:
                return  # the file or the model changed while this ran
            self.set_analysis(analysis)
            self.statusChanged.emit(f"{name}: {len(opened.table):,} events scored")

        self.tasks["analyze"] = self._run(
            f"Analyze {name}",
            iter_analyze(segmenter, opened.events, with_peer, peer_config=self.peer_config),
            on_result=analyzed, on_finished=lambda _state: self.tasks.pop("analyze", None))

    def set_analysis(self, analysis) -> None:
        """Use ``analysis`` (a :class:`FileAnalysis` of the open file) for every view."""
        self.analysis = analysis
        self.threshold.set_model_threshold(analysis.threshold)
        self._analysis_changed()
        self.show_event(self.index)
        self.analysisFinished.emit(analysis)

    # -- models ----------------------------------------------------------------------------------
    def load_model(self, path: Path) -> None:
        path = Path(path)
        self._run(f"Loading model {path.name}",
                  blocking(f"loading {path.name}", load_segmenter, path,
                           self.host.device_preference()),
                  on_result=self.set_segmenter)

    def set_segmenter(self, segmenter) -> None:
        """Use ``segmenter`` for Analyze; scores of a previous model are dropped."""
        self.segmenter = segmenter
        if self.analysis is not None and self.analysis.scorer.startswith("U-Net"):
            self.analysis = None
        self.threshold.set_model_threshold(segmenter.threshold)
        self.threshold.set_threshold(segmenter.threshold)
        self._analysis_changed()
        self.show_event(self.index)
        self.host.log(f"CDC model: {segmenter.encoder}, threshold {segmenter.threshold:.3f}")
        self.statusChanged.emit("Model loaded: press Analyze (Ctrl+Enter) to score the file")
        self.modelChanged.emit()

    def save_model(self, path: Path) -> None:
        if self.segmenter is None:
            raise InputError("no model to save; train or load one first")
        path = Path(path)
        self._run(f"Saving model {path.name}",
                  blocking(f"saving {path.name}", self.segmenter.save, path),
                  on_result=lambda saved: self.host.log(f"saved model to {saved}"))

    def train_model(self) -> None:
        """Show the training tab (Train starts it)."""
        self.tabs.setCurrentWidget(self.training)

    def has_model(self) -> bool:
        return self.segmenter is not None

    def model_info(self) -> str:
        seg = self.segmenter
        if seg is None:
            return NO_MODEL
        config = seg.image_config
        lines = [f"U-Net with {seg.encoder} encoder (segmentation_models_pytorch)",
                 f"Image: {config.format} {config.grid_shape[0]}×{config.grid_shape[1]} resized "
                 f"to {config.input_size} px, {config.scaling} scaling, {config.bits} bits, "
                 f"{config.hit_selection} hit selection, {config.channels} channels",
                 f"Threshold: {seg.threshold:.4f}"]
        val = seg.metrics.get("val") if isinstance(seg.metrics, dict) else None
        if isinstance(val, dict) and "auc" in val:
            lines.append(f"Validation: AUC {val['auc']:.4f}, purity "
                         f"{val.get('purity_at_retention_0.9', float('nan')):.4f} at retention "
                         "0.9")
        training = seg.training if isinstance(seg.training, dict) else {}
        if "events" in training:
            lines.append(f"Trained on {training['events']} events"
                         f" ({training.get('data', 'this session')}), best epoch "
                         f"{training.get('best_epoch', '?')}")
        return "\n".join(lines)

    # -- training --------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train a U-Net on the open file's events with the Training tab's settings."""
        opened = self._require_file("Training")
        if not bool(opened.table.has_truth.all()):
            raise InputError("training needs events with truth (is_signal); this file has none")
        if "train" in self.tasks:
            raise InputError("a training is already running; stop it first")
        image, config = self.training.configs(self.host.device_preference())
        history: list[dict[str, Any]] = []
        self.training.curves.reset()
        self.training.set_running(True)
        name = opened.path.name if opened.path else "events"

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(result) -> None:
            segmenter = result.segmenter
            segmenter.training["data"] = name
            self.training.curves.update_history(history)
            self.set_segmenter(segmenter)
            val = segmenter.metrics.get("val", {})
            self.training.status.setText(
                f"Trained: best epoch {result.best_epoch}, validation AUC {val.get('auc', 0):.4f}"
                f", threshold {segmenter.threshold:.3f}. Analyze scores the file; Model ▸ Save "
                "model as… keeps the model.")
            self.trainingFinished.emit(segmenter)

        def finished(state: str) -> None:
            self.tasks.pop("train", None)
            self.training.set_running(False)
            if state == "cancelled":
                self.training.status.setText("Training stopped.")

        self.tasks["train"] = self._run(
            f"Training on {name}", recording(train(opened.events, image, config), history),
            on_result=trained, on_progress=progressed, on_finished=finished)

    # -- exports ---------------------------------------------------------------------------------
    def export_table(self, path: Path) -> Path:
        """The event list (with purity/retention at the cut when scored) as CSV."""
        opened = self._require_file("Export")
        analysis = self.analysis
        threshold = self.threshold.threshold
        if analysis is not None and analysis.has_truth:
            header, rows = opened.table.rows(*analysis.model.per_event(threshold), threshold)
        else:
            header, rows = opened.table.rows()
        return export_csv(path, header, rows)

    def export_predictions(self, path: Path):
        """Write every hit with its score (our HDF5 predictions format) in a task; emits
        :attr:`predictionsExported` with the path when written."""
        from engines.cdc.hdf5_io import write_predictions

        opened = self._require_file("Export")
        if self.analysis is None:
            raise ModelError("no predictions yet: press Analyze (Ctrl+Enter) first")
        path = Path(path)
        metadata = {"threshold": self.analysis.threshold, "scorer": self.analysis.scorer,
                    "source": str(opened.path) if opened.path else ""}
        if self.segmenter is not None:
            metadata.update(encoder=self.segmenter.encoder,
                            image_config=self.segmenter.image_config.to_json())

        def written(result: Path) -> None:
            self.host.log(f"wrote {result}")
            self.predictionsExported.emit(result)

        return self._run(f"Writing {path.name}",
                         blocking(f"writing {path.name}", write_predictions, path,
                                  opened.events, self.analysis.hit_scores, metadata),
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

    def _save_dialog(self, title: str, default: str, filter_text: str) -> Path | None:
        path, chosen = QFileDialog.getSaveFileName(self, title, default, filter_text)
        if not path:
            return None
        if not Path(path).suffix:
            path += ".svg" if "svg" in chosen.lower() and "png" not in chosen.lower() else \
                Path(default).suffix
        return Path(path)

    def _export_table_dialog(self) -> None:
        path = self._save_dialog("Export event table", "cdc_events.csv", CSV_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_table(path)}"),
                        "Export event table")

    def _export_predictions_dialog(self) -> None:
        path = self._save_dialog("Export predictions", "cdc_predictions.h5", HDF5_FILTER)
        if path:
            self._guard(lambda: self.export_predictions(path), "Export predictions")

    def _export_plot_dialog(self) -> None:
        path = self._save_dialog("Export plot", "cdc_event.png", PLOT_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_plot(path)}"), "Export plot")
