"""Training, evaluation and live acquisition runs of the spectrum workspace.

A mixin of :class:`widgets.spectrum.workspace.SpectrumWorkspace` (it uses its panels, ``host``
and signals): each run is an engine generator wrapped by :func:`recording`, so the curves are
redrawn from every report at the task runner's ≤ 20 Hz, and Stop cancels at the next yield.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.spectrum.peers import PEER_METHODS
from widgets.common.dialogs import save_path
from widgets.common.export import CSV_FILTER, export_csv
from widgets.common.tasks import recording
from widgets.spectrum.results_panel import verdict_text

CURRENT_SPECTRUM = "Shown spectrum"


def live_headline(classes: list[str], metrics: dict[str, Any]) -> tuple[str, str]:
    """Call and detail lines for a live update (``probabilities``, ``decided``, ...)."""
    probabilities = metrics["probabilities"]
    top = int(np.argmax(probabilities))
    if metrics.get("decided") is not None:
        headline = f"{metrics['decided']} — decided at {metrics['decision_time_s']:.2f} s"
    elif metrics.get("in_library") is False:
        headline = f"closest: {classes[top]} — not in the library, no decision"
    else:
        headline = f"{classes[top]} — {probabilities[top]:.1%} (no decision yet)"
    detail = (f"Live acquisition: {metrics['live_time_s']:.2f} s, "
              f"{metrics['total_counts']:,.0f} counts")
    return headline, detail


class RunsMixin:
    """Start/stop of the long runs; results are drawn and announced by signal."""

    def _connect_runs(self) -> None:
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))
        self.evaluation.runRequested.connect(lambda: self._guard(self.start_evaluation,
                                                                 "Evaluate"))
        self.evaluation.stopRequested.connect(lambda: self._cancel("evaluate"))
        self.evaluation.exportRequested.connect(self._export_evaluation_dialog)
        self.live_panel.startRequested.connect(lambda: self._guard(self.start_live, "Live"))
        self.live_panel.stopRequested.connect(lambda: self._cancel("live"))
        self.live_panel.reference_combo.currentIndexChanged.connect(self._reference_chosen)

    def _start(self, name: str, title: str, task, history: list, on_progress, on_result,
               set_running, busy: str) -> None:
        def finished(state: str) -> None:
            set_running(False)
            if state == "cancelled":
                self.host.log(f"{title}: stopped")

        self._run_once(name, title, recording(task, history, drop=("spectrum",)),
                       on_result=on_result, on_progress=on_progress, on_finished=finished,
                       busy=busy)
        set_running(True)

    def _require_library(self, what: str):
        if self.library is None:
            raise InputError(f"{what} needs a reference library; use File ▸ Open sample data "
                             "or open a dataset folder (one sub-folder of spectra per class)")
        return self.library

    # -- training --------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train a model on the reference library with the Training tab's settings."""
        from engines.spectrum.training import train

        library = self._require_library("Training")
        config = self.training.config(self.preprocess, self.host.device_preference())
        history: list[dict[str, Any]] = []
        self.training.curves.reset()

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(classifier) -> None:
            classifier.training["data"] = self.library_name
            self.training.curves.update_history(history)
            self.set_model(classifier, unsaved=True)
            metrics = classifier.metrics
            self.training.status.setText(
                f"Trained: validation accuracy {metrics['val_accuracy']:.3f} at "
                f"{metrics['val_counts']:,} counts ({classifier.training['stop_reason']}). "
                "Model ▸ Save model as… keeps it.")
            self.trainingFinished.emit(classifier)

        self._start("train", "Training", train(library, config), history, progressed, trained,
                    self.training.set_running, "a training is already running; stop it first")

    # -- evaluation ------------------------------------------------------------------------------
    def start_evaluation(self) -> None:
        """Accuracy per count level of the model and its peers on the reference library."""
        from engines.spectrum.evaluation import evaluate

        classifier = self.require_model()
        library = self._require_library("Evaluation")
        config = self.evaluation.config(PEER_METHODS)
        history: list[dict[str, Any]] = []
        self.evaluation.reset()
        self.evaluation.status.setText(f"Evaluating on {self.library_name} "
                                       f"({len(library.files)} files)…")

        def progressed(report: Progress) -> None:
            self.evaluation.update_history(history)
            self.evaluation.status.setText(report.message)

        def evaluated(result) -> None:
            self.evaluation.set_result(result)
            text = (f"{self.library_name}: {result.draws_per_class} draws per class and level at "
                    f"{result.count_rate_cps:,.0f} counts/s. The ML bound is the best any "
                    "classifier can do on these draws.")
            if result.fallback_counts:
                text += (f" As it calls, the model uses the ML peer below "
                         f"{result.fallback_counts:,} counts, where its network trails it.")
            self.evaluation.status.setText(text)
            self.evaluationFinished.emit(result)

        self._start("evaluate", "Evaluation", evaluate(classifier, library, config), history,
                    progressed, evaluated, self.evaluation.set_running,
                    "an evaluation is already running; stop it first")

    def export_evaluation(self, path: Path) -> Path:
        header, rows = self.evaluation.table()
        return export_csv(path, header, rows)

    def _export_evaluation_dialog(self) -> None:
        path = save_path(self, "Export evaluation", "evaluation.csv", CSV_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_evaluation(path)}"),
                        "Export evaluation")

    # -- live acquisition ------------------------------------------------------------------------
    def _refresh_live_references(self) -> None:
        labels = [CURRENT_SPECTRUM]
        if self.library is not None:
            labels += list(self.library.classes)
        self.live_panel.set_references(labels)

    def live_reference(self):
        """The spectrum the simulated detector looks at (shown spectrum or a library class)."""
        index = self.live_panel.reference_combo.currentIndex()
        if index <= 0:
            spectrum = self.current_spectrum
            if spectrum is None:
                raise InputError("no spectrum is shown; open one or choose a library class")
            if not spectrum.metadata.get("calibrated", True):
                raise InputError(f"{spectrum.name}: has no energy calibration, so it cannot be "
                                 "placed on the model's energy grid")
            return spectrum
        library = self._require_library("Live acquisition")
        rows = [i for i, label in enumerate(library.labels) if label == index - 1]
        return self.entries[rows[0]]

    def _reference_chosen(self, _index: int) -> None:
        try:
            rate = self.live_reference().count_rate
        except InputError:
            return
        if rate:
            self.live_panel.rate_spin.setValue(rate)

    def start_live(self) -> None:
        """Simulate a live measurement of the chosen sample and watch the call firm up."""
        from engines.spectrum.live import acquire

        classifier = self.require_model()
        reference = self.live_reference()
        config = self.live_panel.config()
        history: list[dict[str, Any]] = []
        name = reference.source.name if reference.source else reference.name
        classes = list(classifier.classes)
        edges = classifier.grid.edges
        self.live_panel.start(config)
        self.plot.clear_cam()
        self.right_tabs.setCurrentWidget(self.live_panel)

        def progressed(report: Progress) -> None:
            self.live_panel.update_history(classes, history)
            metrics = report.metrics
            if "spectrum" in metrics:
                self.plot.set_spectrum(edges, metrics["spectrum"],
                                       f"Live: {name} — {metrics['live_time_s']:.2f} s, "
                                       f"{metrics['total_counts']:,.0f} counts")
                self.results.show_probabilities(classes, metrics["probabilities"],
                                                *live_headline(classes, metrics))
                self.results.show_verdict(metrics.get("in_library"), verdict_text(
                    metrics.get("in_library"), classes[int(np.argmax(metrics["probabilities"]))],
                    None if metrics.get("in_library") is None else
                    {"p_fit": metrics["p_fit"], "p_network": metrics["p_network"]}))

        def acquired(result) -> None:
            self.live_panel.update_history(classes, history)
            self.plot.set_spectrum(edges, result.final_counts,
                                   f"Live: {name} — {result.times_s[-1]:.2f} s, "
                                   f"{result.total_counts[-1]:,.0f} counts")
            self.liveFinished.emit(result)

        self._start("live", f"Live acquisition of {name}", acquire(classifier, reference, config),
                    history, progressed, acquired, self.live_panel.set_running,
                    "an acquisition is already running; stop it first")
