"""Analyze, evaluation, models, training and exports of the nodules workspace.

A mixin of :class:`widgets.nodules.workspace.NodulesWorkspace` (it uses its panels, ``host``,
state and signals). Every long step is an engine generator run by ``host.run_task``: the GUI
thread only draws the results, and Cancel in the task dock (or Stop) ends the work at its next
yield.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from widgets.common.dialogs import save_path
from widgets.common.export import PLOT_FILTER, export_plot
from widgets.common.tasks import recording

NO_MODEL = "No model loaded — train one or load a model (Model ▸ Train… or Load model…)."
CSV_FILTER = "CSV table (*.csv)"
REVIEW_FILTER = "CSV table (*.csv);;JSON (*.json)"
BOOTSTRAP = 500  # CPM interval samples in the GUI's evaluation


class RunsMixin:
    """Start/stop of Analyze, evaluation and training, model handling and exports."""

    def _connect_runs(self) -> None:
        bar = self.toolbar
        bar.export_submission.triggered.connect(lambda: self._export_dialog(
            "Export LUNA16 submission", "submission.csv", CSV_FILTER, self.export_submission))
        bar.export_annotations.triggered.connect(lambda: self._export_dialog(
            "Export reviewed annotations", "annotations.csv", CSV_FILTER,
            self.export_annotations))
        bar.export_review.triggered.connect(lambda: self._export_dialog(
            "Export review", "review.csv", REVIEW_FILTER, self.export_review))
        bar.export_report.triggered.connect(lambda: self._export_dialog(
            "Export report", "nodules_report.png", PLOT_FILTER, self.export_report))
        self.froc.evaluateRequested.connect(lambda: self._guard(self.evaluate, "Evaluate"))
        self.froc.stopRequested.connect(lambda: self._cancel("evaluate"))
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))

    def _require_scan(self, what: str):
        if self.opened is None:
            raise InputError(f"{what} needs a scan; use File ▸ Open… or sample data")
        return self.opened

    def _require_dataset(self, what: str):
        opened = self._require_scan(what)
        if opened.dataset is None or not opened.has_truth:
            raise InputError(f"{what} needs a dataset folder with annotations.csv (LUNA16 "
                             "layout); the open scan has none")
        return opened.dataset

    # -- analyze ---------------------------------------------------------------------------
    def analyze(self) -> None:
        """Detect nodules in the open scan (every slice, then linked to 3-D) in a task."""
        if self.model is None:
            self.statusChanged.emit(NO_MODEL)
            return
        from engines.nodules.detect import detect_config_for, iter_detect

        opened = self._require_scan("Analyze")
        model = self.model
        name = opened.scan.seriesuid

        def analyzed(detections) -> None:
            if opened is not self.opened or model is not self.model:
                return  # the scan or the model changed while this ran
            self.set_detections(detections)

        self._run_once("analyze", f"Analyze {name[-24:]}",
                       iter_detect(model, opened.scan, detect_config_for(model)),
                       on_result=analyzed,
                       busy="Analyze is already running; cancel it in the task list first")

    def set_detections(self, detections) -> None:
        """Show ``detections`` of the open scan: the 2-D boxes, and the review of its
        candidates (restored from the autosave when there is one)."""
        from engines.nodules.candidates import open_review_document

        self.detections = detections
        if self.document is None or not len(self.document):
            result = open_review_document(detections, self.opened.path, threshold=0.0)
            self.toolbar.set_threshold(detections.threshold)
            self.set_review(result.document, result.message, result.warning is not None)
        else:
            self._refresh_boxes()
        self._show_slice_boxes()
        shown = detections.slices.above(detections.slice_threshold)
        above = len(detections.above())
        text = (f"{detections.seriesuid[-24:]}: {above} candidates at probability ≥ "
                f"{detections.threshold:.2f} ({len(detections.candidates)} in all), "
                f"{len(shown)} slice boxes")
        if not detections.lungs.found:
            text += " (no lungs found: nothing masked)"
        self.statusChanged.emit(text)
        self.host.log(text)
        self.analysisFinished.emit(detections)

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> None:
        """FROC / CPM of the model (and the peer when ticked) on every scan of the dataset."""
        from engines.nodules.evaluation import iter_compare

        dataset = self._require_dataset("Evaluation")
        model = self.require_model()
        with_peer = self.froc.peer_check.isChecked()

        def evaluated(result) -> None:
            self.froc.show_results(*result)
            self.evaluationFinished.emit(result)

        def finished(state: str) -> None:
            self.froc.set_running(False)
            if state == "cancelled":
                self.froc.summary.setText("Evaluation stopped.")

        self._run_once("evaluate", f"Evaluating on {dataset.root.name}",
                       iter_compare(model, dataset, bootstrap=BOOTSTRAP, with_peer=with_peer),
                       on_result=evaluated, on_finished=finished,
                       busy="an evaluation is already running; stop it first")
        self.froc.set_running(True)
        self.tabs.setCurrentWidget(self.froc)

    # -- models ----------------------------------------------------------------------------
    def model_changed(self, model) -> None:
        """Use ``model`` for Analyze; the threshold slider goes to its candidate threshold."""
        self.toolbar.set_threshold(model.threshold)
        self.host.log(f"nodule model: {model.arch}, slice threshold {model.slice_threshold:.2f}"
                      f", candidate threshold {model.threshold:.2f}")
        self.statusChanged.emit("Model loaded: press Analyze (Ctrl+Enter) to find nodules")
        if not self._model_unsaved:  # loaded from a file: its recorded training curves
            self.training.show_record(model)

    # -- training --------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train an SSD on the open dataset with the Training tab's settings."""
        from engines.nodules.training import train_detector

        dataset = self._require_dataset("Training")
        detector, preprocess, config = self.training.configs(self.host.device_preference())
        history: list[dict[str, Any]] = []
        self.training.curves.reset()

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(result) -> None:
            model = result.model
            model.training["data"] = dataset.root.name
            self.training.curves.update_history(history)
            self.set_model(model, unsaved=True)
            v = model.metrics.get("validation", {})
            self.training.status.setText(
                f"Trained: best step {model.training['best_step']}; on the validation scans "
                f"per-slice recall {v.get('recall', 0):.3f}, precision "
                f"{v.get('precision', 0):.3f}, CPM {v.get('cpm', 0):.3f}. Analyze uses it; "
                "Model ▸ Save model as… keeps it.")
            self.trainingFinished.emit(model)

        def finished(state: str) -> None:
            self.training.set_running(False)
            if state == "cancelled":
                self.training.status.setText("Training stopped.")

        self._run_once("train", f"Training on {dataset.root.name}",
                       recording(train_detector(dataset, config, detector, preprocess),
                                 history),
                       on_result=trained, on_progress=progressed, on_finished=finished,
                       busy="a training is already running; stop it first")
        self.training.set_running(True)

    # -- exports ---------------------------------------------------------------------------
    def _require_review(self, what: str):
        if self.document is None:
            raise ModelError(f"{what}: nothing to export yet; press Analyze (Ctrl+Enter) or "
                             "draw a nodule (D)")
        return self.document

    def export_submission(self, path: Path) -> Path:
        """LUNA16 submission CSV of every candidate not rejected (with diameter_mm)."""
        from engines.nodules.candidates import export_submission, submission

        document = self._require_review("Submission")
        scan = self.opened.scan
        return export_submission(path, submission(list(document), scan.volume, scan.seriesuid))

    def export_annotations(self, path: Path) -> Path:
        """The accepted nodules as LUNA16 ``annotations.csv``."""
        from engines.nodules.candidates import export_annotations

        document = self._require_review("Annotations")
        scan = self.opened.scan
        return export_annotations(path, list(document), scan.volume, scan.seriesuid)

    def export_review(self, path: Path) -> Path:
        """Every item with its state, box and note: CSV, or JSON for a .json name."""
        from engines.core.review_export import export_review_csv, export_review_json

        document = self._require_review("Review")
        writer = export_review_json if Path(path).suffix.lower() == ".json" else \
            export_review_csv
        return writer(document, path)

    def current_plot(self):
        """The pyqtgraph item the current tab exports (None on the scan tab)."""
        page = self.tabs.currentWidget()
        if page is self.froc:
            return self.froc.plot
        if page is self.training:
            return self.training.curves.ci
        return None

    def export_report(self, path: Path) -> Path:
        """The scan tab (views with boxes, table and review) as a PNG, or the current tab's
        plot as PNG/SVG."""
        from PySide6.QtCore import QBuffer, QIODevice

        from engines.core.files import atomic_write_bytes

        plot = self.current_plot()
        if plot is not None:
            return export_plot(plot, path)
        path = Path(path)
        if path.suffix.lower() != ".png":
            raise InputError(f"{path.name}: the scan report is a .png image")
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.scan_page.grab().save(buffer, "PNG")
        atomic_write_bytes(path, bytes(buffer.data()))
        return path

    def _export_dialog(self, title: str, default: str, file_filter: str, export) -> None:
        path = save_path(self, title, default, file_filter)
        if path:
            self._guard(lambda: self.host.log(f"wrote {export(path)}"), title)
