"""Analyze, the review, scores, evaluation, training and exports of the sem workspace.

A mixin of :class:`widgets.sem.workspace.SemWorkspace` (it uses its panels, ``host``, state and
signals). Every long step is an engine generator run by ``host.run_task``: the GUI thread only
draws what they return, and Cancel in the task list (or Stop) ends the work at its next yield.
Analyze streams: on each (throttled) progress report the rows the stitcher has finished are
copied into the overlay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from engines.sem.viewing import item_class
from widgets.common.dialogs import save_path
from widgets.common.export import PLOT_FILTER, export_plot
from widgets.common.tasks import blocking, recording

NO_MODEL = "No model loaded — train one or load a model (Model ▸ Train… or Load model…)."
TABLE_FILTER = "CSV table (*.csv);;JSON (*.json)"
PNG_FILTER = "PNG image (*.png)"


class RunsMixin:
    """Start/stop of Analyze, evaluation and training; the review's wiring; exports."""

    def _connect_runs(self) -> None:
        bar = self.toolbar
        bar.export_objects.triggered.connect(self._export_objects_dialog)
        bar.export_labels.triggered.connect(self._export_labels_dialog)
        bar.export_view.triggered.connect(self._export_view_dialog)
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))
        self.scores.evaluateRequested.connect(
            lambda split: self._guard(lambda: self.evaluate(split), "Evaluate"))
        self.scores.stopRequested.connect(lambda: self._cancel("evaluate"))
        self.tabs.currentChanged.connect(lambda _index: self._rescore_if_shown())
        self.item_of_object: dict[int, int] = {}
        self._scores_stale = False

    def _require_image(self, what: str):
        if self.opened is None:
            raise InputError(f"{what} needs a micrograph; use File ▸ Open… or sample data")
        return self.opened

    # -- analyze ---------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Segment the open image tile by tile (drawn as the rows finish), max-vote its
        objects, open their review and score them when the image has truth."""
        if self.model is None:
            self.statusChanged.emit(NO_MODEL)
            return
        from engines.sem.analysis import AnalysisJob
        from engines.sem.viewing import iter_review_analysis

        opened = self._require_image("Analyze")
        if "analyze" in self.tasks:
            raise InputError("Analyze is already running; cancel it in the task list first")
        segmenter = self.model
        job = AnalysisJob(segmenter, opened.micrograph, opened.mask)
        self.reviewed = self.object_map = None
        self.set_review(None)
        self.scores.show_scores(None)
        self.job, self.drawn_rows = job, 0
        self._show_classes()
        if self.toolbar.layer == "pixels":
            self.show_layer("pixels")
        else:
            self.toolbar.set_layer("pixels")

        def progressed(_report: Progress) -> None:
            rows = job.rows_done
            if job is self.job and rows > self.drawn_rows:
                if self.toolbar.layer == "pixels":
                    self._draw_rows(self.drawn_rows, rows)
                self.drawn_rows = rows
                self.rowsDrawn.emit(rows)

        def analyzed(reviewed) -> None:
            if job is not self.job or opened is not self.opened:
                return  # another image or run took over
            progressed(None)
            self.job = None
            self.set_reviewed(reviewed)

        def finished(state: str) -> None:
            if job is self.job and state != "done":
                self.job = None
                self.statusChanged.emit(f"Analyze {state}: {self.drawn_rows} of "
                                        f"{opened.shape[0]} rows segmented")

        self._run_once("analyze", f"Analyze {opened.path.name}",
                       iter_review_analysis(job, opened), on_result=analyzed,
                       on_progress=progressed, on_finished=finished)

    def set_reviewed(self, reviewed) -> None:
        """Show a :class:`~engines.sem.viewing.ReviewedAnalysis` of the open image."""
        result = reviewed.result
        self.reviewed, self.object_map = reviewed, reviewed.object_map
        self.set_review(reviewed.review)
        self._show_objects()
        self._show_scores(reviewed.scores)
        self.statusChanged.emit(
            f"{self.opened.path.name}: {result.n_objects} objects ({result.object_source}) in "
            f"{result.seconds:.1f} s, {result.megapixels_per_second:.2f} MP/s")
        self.analysisFinished.emit(reviewed)

    def _show_objects(self) -> None:
        if self.toolbar.layer == "objects":
            self.show_layer("objects")
        else:
            self.toolbar.set_layer("objects")

    # -- review ----------------------------------------------------------------------------------
    def set_review(self, restore) -> None:
        """Review the document of ``restore`` (a RestoreResult; None closes the review)."""
        panel = self.review_panel
        if panel.document is not None and self._review_changed in panel.document.observers:
            panel.document.observers.remove(self._review_changed)
        document = None if restore is None else restore.document
        if document is not None:
            self._set_review_panel(document.class_names)
            panel = self.review_panel
            document.observers.append(self._review_changed)
            self.item_of_object = {item.mask_id: item.id for item in document}
        else:
            self.item_of_object = {}
        self.table.set_document(document)
        panel.set_document(document, "" if restore is None else restore.message,
                           restore is not None and restore.warning is not None)
        if restore is not None:
            if restore.message:
                self.host.log(restore.message)
            panel.go(1)  # the least confident object first
            self.reviewOpened.emit(restore)

    def _review_changed(self, ids: frozenset[int]) -> None:
        """Recolour the objects whose items changed (undo and redo included)."""
        document, object_map = self.review_panel.document, self.object_map
        if document is None or object_map is None:
            return
        changes = {item.mask_id: item_class(item) for item in map(document.get, ids)
                   if item is not None and item.mask_id is not None}
        spans = object_map.set_classes(changes)
        if self.toolbar.layer == "objects":
            for y0, y1 in spans:
                self.view.update_labels_band(y0, object_map.image[y0:y1])
        self._scores_stale = bool(spans) or self._scores_stale
        self._rescore_if_shown()

    def _restore_saved_review(self) -> None:
        """Reopen the autosaved review of the image just opened (objects from its mask)."""
        from engines.sem.viewing import iter_restore_review

        opened, classes = self.opened, self.class_table()
        if opened is None or opened.mask is None or classes is None:
            return

        def restored(found) -> None:
            if found is None or opened is not self.opened or self.job is not None \
                    or self.reviewed is not None:
                return
            restore, self.object_map = found
            self.set_review(restore)
            self._show_objects()

        self._run(f"Restoring the review of {opened.path.name}",
                  iter_restore_review(opened, classes.names), on_result=restored)

    # -- scores ----------------------------------------------------------------------------------
    def _show_scores(self, scores: dict[str, Any] | None) -> None:
        self._scores_stale = False
        source = "" if scores is None else (
            f"This image ({self.opened.path.name}), max-vote classes as reviewed: "
            f"{scores['objects']} objects with a truth class. The peer is scored by "
            "“Evaluate data set”.")
        self.scores.show_scores(scores, source)
        self.scoresShown.emit(scores)

    def _rescore_if_shown(self) -> None:
        """Score the reviewed classes again when the Scores tab is shown and they changed."""
        from engines.sem.viewing import scores_of

        reviewed, opened = self.reviewed, self.opened
        if not self._scores_stale or reviewed is None or opened is None or \
                self.tabs.currentWidget() is not self.scores or not opened.has_truth:
            return
        self._scores_stale = False
        classes = self.object_map.classes.copy()

        def scored(scores) -> None:
            if reviewed is self.reviewed:
                self._show_scores(scores)

        self._run("Scoring the reviewed objects",
                  blocking("scoring", scores_of, reviewed.result, opened, classes),
                  on_result=scored)

    def evaluate(self, split: str) -> None:
        """Evaluate the model (and its peer) on ``split`` of the open data set in a task."""
        from engines.sem.evaluation import iter_evaluate

        segmenter = self.require_model()
        opened = self._require_image("Evaluate")
        if opened.dataset is None:
            raise InputError(f"{opened.path.name} is not in a data-set folder (images/, "
                             "labels/, masks/): nothing to evaluate on")
        dataset = opened.dataset

        def evaluated(result) -> None:
            data = result.to_json()
            peer = "" if data["peer"] is not None else " The model carries no peer."
            self.scores.show_scores(data, f"Data set {dataset.root.name}, {split} split: "
                                          f"{len(data['images'])} images, {data['objects']} "
                                          f"objects.{peer}")
            self.scoresShown.emit(data)
            self.evaluationFinished.emit(data)

        self._run_once("evaluate", f"Evaluating on {dataset.root.name} ({split})",
                       iter_evaluate(segmenter, dataset, split,
                                     self.toolbar.crop_bottom.value()),
                       on_result=evaluated,
                       on_finished=lambda _state: self.scores.set_running(False),
                       busy="an evaluation is already running; stop it first")
        self.scores.set_running(True)

    # -- models ----------------------------------------------------------------------------------
    def model_changed(self, segmenter) -> None:
        """Use ``segmenter`` for Analyze; its classes name the overlay and the review keys."""
        self._show_classes()
        self.host.log(f"sem model: {segmenter.arch}, {segmenter.n_classes} classes")
        self.statusChanged.emit("Model loaded: press Analyze (Ctrl+Enter) to segment the image")

    # -- training --------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train a segmenter on the open data set with the Training tab's settings."""
        from engines.sem.training import train_segmenter

        opened = self._require_image("Training")
        if opened.dataset is None:
            raise InputError(f"{opened.path.name} is not in a data-set folder: training needs "
                             "labelled images (images/, labels/, train.txt / val.txt)")
        preprocessing, config = self.training.configs(self.host.device_preference())
        init = None if self.training.start == "random" else "demo"
        dataset = opened.dataset
        history: list[dict[str, Any]] = []
        self.training.curves.reset()

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(segmenter) -> None:
            segmenter.training["data"] = str(dataset.root)
            self.training.curves.update_history(history)
            self.set_model(segmenter, unsaved=True)
            val = segmenter.metrics["val"]
            self.training.status.setText(
                f"Trained: best step {segmenter.training['best_step']} of "
                f"{segmenter.training['steps']}, validation mean IU {val['mean_iu']:.4f}, "
                f"object accuracy {val['object_accuracy']:.4f}. Analyze uses it; Model ▸ Save "
                "model as… keeps it.")
            self.trainingFinished.emit(segmenter)

        def finished(state: str) -> None:
            self.training.set_running(False)
            if state == "cancelled":
                self.training.status.setText("Training stopped.")

        self._run_once("train", f"Training on {dataset.root.name}",
                       recording(train_segmenter(dataset, config, preprocessing, init), history),
                       on_result=trained, on_progress=progressed, on_finished=finished,
                       busy="a training is already running; stop it first")
        self.training.set_running(True)

    # -- exports ---------------------------------------------------------------------------------
    def export_objects(self, path: Path) -> Path:
        """The reviewed object table: CSV, or JSON for a ``.json`` name."""
        from engines.core.review_export import export_review_csv, export_review_json

        document = self.review_panel.document
        if document is None:
            raise ModelError("no objects yet: press Analyze (Ctrl+Enter) first")
        path = Path(path)
        write = export_review_json if path.suffix.lower() == ".json" else export_review_csv
        return self._exported(write(document, path))

    def export_object_map(self, path: Path) -> Path:
        """The reviewed max-vote object map as a palette PNG of class indices."""
        from engines.sem.writers import write_label_png

        if self.object_map is None:
            raise ModelError("no object map yet: press Analyze (Ctrl+Enter) first")
        colours = self.class_table().colours
        return self._exported(write_label_png(path, self.object_map.image, colours))

    def export_view(self, path: Path) -> Path:
        """The image view (or the plot of the current tab) as PNG or SVG."""
        page = self.tabs.currentWidget()
        item = self.training.curves.ci if page is self.training else (
            self.scores.confusion.ci if page is self.scores else self.view.view)
        return self._exported(export_plot(item, path))

    def _exported(self, path: Path) -> Path:
        self.host.log(f"wrote {path}")
        self.exported.emit(path)
        return path

    def _stem(self) -> str:
        return "sem" if self.opened is None else self.opened.path.stem

    def _export_objects_dialog(self) -> None:
        path = save_path(self, "Export objects", f"{self._stem()}_objects.csv", TABLE_FILTER)
        if path:
            self._guard(lambda: self.export_objects(path), "Export objects")

    def _export_labels_dialog(self) -> None:
        path = save_path(self, "Export object map", f"{self._stem()}_objects.png", PNG_FILTER)
        if path:
            self._guard(lambda: self.export_object_map(path), "Export object map")

    def _export_view_dialog(self) -> None:
        path = save_path(self, "Export view", f"{self._stem()}_view.png", PLOT_FILTER)
        if path:
            self._guard(lambda: self.export_view(path), "Export view")
