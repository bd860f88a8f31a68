"""The CDC workspace: browse COMET drift-chamber events, see what the U-Net keeps, tune the cut.

Layout: a toolbar; the "Events" tab with the threshold, display window and event list (left),
the end-view event display with the hover readout (centre) and the model's view of the event
(right); "Purity–retention" and "Training" tabs. File reading, sample generation, model loading,
Analyze, training and exports run through ``host.run_task``; per-event drawing reuses the
geometry drawn once and recolours the hit cells with numpy. Analyze, models, training and
exports live in :class:`widgets.cdc.runs.RunsMixin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from engines.cdc.analysis import FileAnalysis, OpenedFile, iter_open_events
from engines.cdc.display import CellView, HitWindow, cell_view, model_images
from engines.cdc.events import Event
from engines.cdc.model import CdcSegmenter
from engines.cdc.outcomes import event_figures
from engines.cdc.peer import PeerConfig
from engines.core.errors import InputError
from widgets.cdc.curves_panel import CurvesPanel
from widgets.cdc.event_browser import EventBrowser
from widgets.cdc.event_display import EventDisplay
from widgets.cdc.model_view import ModelView
from widgets.cdc.runs import NO_MODEL, RunsMixin
from widgets.cdc.threshold_panel import ThresholdPanel
from widgets.cdc.toolbar import CdcToolbar
from widgets.cdc.training_panel import TrainingPanel
from widgets.common.workspace import TaskHost, Workspace

HOVER_HINT = "Move the mouse over a cell (or a pixel of the model view) for its hits."


class CdcWorkspace(RunsMixin, Workspace):
    """COMET CDC hit filtering (Kaneko et al.): event display, model view, threshold, event
    browser, purity–retention curves and training. Signals are emitted on the GUI thread."""

    name = "cdc"
    file_filter = "CDC events (*.h5 *.hdf5 *.root);;All files (*)"
    model_type = CdcSegmenter
    no_model_text = NO_MODEL

    fileOpened = Signal(object)  # OpenedFile
    eventShown = Signal(int)  # event index in the file
    analysisFinished = Signal(object)  # FileAnalysis
    trainingFinished = Signal(object)  # CdcSegmenter
    predictionsExported = Signal(object)  # Path

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(host, parent)
        self.opened: OpenedFile | None = None
        self.analysis: FileAnalysis | None = None
        self.index = -1
        self.shown_event: Event | None = None
        self.cells: CellView | None = None
        self.hit_window = HitWindow()
        self.use_fit = True  # scores: U-Net + track fit (False: the U-Net's alone)
        self.peer_config = PeerConfig()  # the GBDT peer of "Compare with GBDT peer"

        self.toolbar = CdcToolbar(self, self._describe_event)
        self.display = EventDisplay()
        self.model_view = ModelView()
        self.browser = EventBrowser()
        self.threshold = ThresholdPanel()
        self.curves = CurvesPanel()
        self.training = TrainingPanel()
        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hover_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.hover_label.setWordWrap(True)
        self._build_layout()
        self._connect()
        self.threshold.show_figures(None, NO_MODEL)
        self._analysis_changed()

    # -- layout and wiring -----------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.threshold)
        left_layout.addWidget(self.browser, 1)
        hover = QScrollArea()
        hover.setWidget(self.hover_label)
        hover.setWidgetResizable(True)
        hover.setMinimumHeight(96)
        hover.setMaximumHeight(130)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.display)
        centre.addWidget(hover)
        centre.setStretchFactor(0, 1)
        self.events_page = self._lay_out(
            self.toolbar, "Events", (left, centre, self.model_view), (390, 680, 290),
            [(self.curves, "Purity–retention"), (self.training, "Training")])
        self.training_page = self.training

    def _connect(self) -> None:
        bar = self.toolbar
        bar.navigator.positionChanged.connect(self.show_event)
        bar.navigator.findRequested.connect(self.find_event)
        bar.modes.triggered.connect(lambda action: self.display.set_mode(action.data()))
        self.addActions(bar.shortcut_actions)
        self.browser.eventSelected.connect(self.show_event)
        self.display.hovered.connect(self.hover_label.setText)
        self.model_view.cellHovered.connect(self.display.hover_cell)
        self.model_view.formatChosen.connect(lambda _f: self._draw_model_view())
        self.threshold.thresholdChanged.connect(self._threshold_changed)
        self.threshold.thresholdSettled.connect(self._threshold_settled)
        self.threshold.windowChanged.connect(self.set_window)
        self.threshold.fitToggled.connect(self.set_use_fit)
        self._connect_runs()

    # -- sample data and files -------------------------------------------------------------------
    def open_sample_path(self, path: Path, dataset) -> None:
        """A sample file opens like any file, but is not a recent file."""
        self._run(f"Opening {path.name}", iter_open_events(path), on_result=self.set_opened)

    def open_path(self, path: Path) -> None:
        """Open our HDF5 events/predictions or an ICEDUST ROOT file (read in a task)."""
        path = Path(path)

        def opened(result: OpenedFile) -> None:
            self.set_opened(result)
            self.pathOpened.emit(str(path))

        self._run(f"Opening {path.name}", iter_open_events(path), on_result=opened)

    def set_opened(self, opened: OpenedFile) -> None:
        """Show an opened file: its event list, stored scores (if any) and its first event."""
        self.opened = opened
        self.analysis = opened.analysis
        table = opened.table
        name = opened.path.name if opened.path else "events"
        truth = int(np.count_nonzero(table.has_truth))
        summary = (f"{name}: {len(table):,} events, mean occupancy "
                   f"{100 * float(np.mean(table.occupancy)):.1f} %, "
                   f"{'truth in all events' if truth == len(table) else f'truth in {truth}'}"
                   f"{', stored scores' if opened.analysis else ''}.")
        self.browser.set_table(table, summary)
        if opened.scales is not None:
            self.display.set_file_scales(opened.scales, opened.trigger_counters)
            self.threshold.set_ranges(opened.scales.time_bounds_ns,
                                      opened.scales.log10_charge_bounds,
                                      opened.scales.trigger_times)
        if self.analysis is not None:
            scores = self.analysis.scores(self.use_fit)
            self.threshold.set_model_threshold(scores.threshold)
            self.threshold.set_threshold(scores.threshold)
        elif self.model is not None:
            self.threshold.set_threshold(self._model_threshold())
        self._analysis_changed()
        self.host.log(summary)
        self.index = -1
        self.show_event(0)
        self.fileOpened.emit(opened)

    # -- browsing --------------------------------------------------------------------------------
    @property
    def n_events(self) -> int:
        return 0 if self.opened is None else len(self.opened.table)

    def show_event(self, index: int) -> None:
        """Show event ``index`` of the open file (clamped to the file)."""
        if self.opened is None or self.n_events == 0:
            return
        index = min(max(int(index), 0), self.n_events - 1)
        self.index = index
        event = self.opened.events[index]
        if self.analysis is not None and event.score is None:
            event = event.with_score(self.analysis.scores(self.use_fit).hit_scores[index])
        self.shown_event = event
        self._refresh_view()
        self._draw_model_view()
        self.browser.select(index)
        self.toolbar.navigator.set_count(self.n_events, index)
        self.eventShown.emit(index)

    def step(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) event in file order."""
        self.toolbar.navigator.step(delta)

    def _describe_event(self, index: int) -> str:
        return f"event {int(self.opened.table.event_number[index])}" if self.opened else ""

    def find_event(self, text: str) -> None:
        """Go to the event whose number is ``text`` (the navigator's find box)."""
        try:
            index = self.browser.find_event(text)
        except InputError as error:
            self.toolbar.navigator.show_find_error(str(error))
            self.statusChanged.emit(str(error))
            return
        self.show_event(index)

    def _scores_of(self, index: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.analysis is None:
            return None, None
        cells, scores, _signal = self.analysis.scores(self.use_fit).cells.of_event(index)
        return cells, scores

    def _model_threshold(self) -> float:
        """The loaded model's cut for the chosen scores."""
        if self.use_fit:
            return self.model.fit_config().threshold
        return self.model.threshold

    def set_use_fit(self, use_fit: bool) -> None:
        """Score with the U-Net + track fit (True) or the U-Net alone; the cut moves to the
        chosen scores' own threshold."""
        self.use_fit = bool(use_fit)
        if self.threshold.use_fit.isChecked() != self.use_fit:
            self.threshold.use_fit.setChecked(self.use_fit)
            return  # the checkbox's signal calls back
        if self.analysis is not None:
            scores = self.analysis.scores(self.use_fit)
            self.threshold.set_model_threshold(scores.threshold)
            self.threshold.set_threshold(scores.threshold)
        elif self.model is not None:
            self.threshold.set_model_threshold(self._model_threshold())
            self.threshold.set_threshold(self._model_threshold())
        self._analysis_changed()
        self.show_event(self.index)

    def _selection(self) -> tuple[Any, Any]:
        if self.model is None:
            return None, None
        return self.model.image_config, self.model.density

    def _refresh_view(self) -> None:
        """Recompute the shown event's cells (after a new event or window) and redraw it."""
        event = self.shown_event
        if event is None:
            return
        cells, scores = self._scores_of(self.index)
        config, density = self._selection()
        self.cells = cell_view(event, cells, scores, self.hit_window, config, density)
        n_cells = int(np.count_nonzero(self.cells.hit))
        truth = f", {event.n_signal_hits} signal hits" if event.has_truth else ", no truth"
        title = (f"Event {event.event_number} — {event.n_hits:,} hits in {n_cells:,} cells, "
                 f"occupancy {100 * event.occupancy:.1f} %{truth}")
        fit = self._fit_of(self.index)
        if fit is not None and fit.found:
            title += (f"<br>fitted track: p<sub>T</sub> = {fit.pt_mev:.1f} MeV/c "
                      f"(R = {fit.radius_cm:.1f} cm, {fit.n_cells} cells)")
            self.display.set_track(fit.centre_cm, fit.radius_cm,
                                   f"fitted track, p_T {fit.pt_mev:.1f} MeV/c")
        else:
            if fit is not None:
                title += "<br>no track found"
            self.display.set_track(None)
        self.display.set_event(event, self.cells, title)
        self.threshold.show_window_count(int(np.count_nonzero(self.cells.hits_in_window)),
                                         event.n_hits)
        self._show_event_figures()

    def _fit_of(self, index: int):
        if self.analysis is None or not self.analysis.fits or not self.use_fit:
            return None
        return self.analysis.fits[index]

    def _show_event_figures(self) -> None:
        if self.cells is None or self.shown_event is None:
            return
        figures = event_figures(self.cells, self.threshold.threshold, self.shown_event.has_truth)
        message = "" if figures.has_scores else (
            NO_MODEL if self.model is None else "Press Analyze (Ctrl+Enter) to score the "
                                                    "events of this file.")
        self.threshold.show_figures(figures, message)

    def _draw_model_view(self) -> None:
        if self.shown_event is None:
            return
        cells, scores = self._scores_of(self.index)
        config, density = self._selection()
        images = model_images(self.shown_event, self.model_view.image_format, config, density, cells,
                              scores)
        if self.model is not None:
            ic = self.model.image_config
            text = f"{self.model.encoder}, {ic.scaling} scaling, {ic.hit_selection} hit"
        else:
            text = "no model: linear scaling, first hit"
        self.model_view.set_images(images, text, scores is not None)

    # -- threshold and window --------------------------------------------------------------------
    def set_window(self, window: HitWindow) -> None:
        """Show only the hits inside ``window`` (display filter)."""
        self.hit_window = window
        self._refresh_view()

    def _threshold_changed(self, threshold: float) -> None:
        self.display.set_threshold(threshold)
        self._show_event_figures()
        analysis = self.analysis
        if analysis is None:
            self.threshold.show_file_figures(None, None)
            self.curves.set_operating_point(threshold, None, None)
            return
        scored = analysis.scores(self.use_fit).cells
        purity, retention = scored.per_event(threshold)
        self.browser.set_figures(purity if analysis.has_truth else None,
                                 retention if analysis.has_truth else None, analysis.pt_mev())
        if analysis.has_truth:
            overall = scored.overall(threshold)
            self.threshold.show_file_figures(*overall)
            self.curves.set_operating_point(threshold, *overall)

    def _threshold_settled(self, threshold: float) -> None:
        if self.analysis is not None and self.analysis.has_truth:
            purity, retention = self.analysis.scores(self.use_fit).cells.per_event(threshold)
            self.browser.set_figures(purity, retention, self.analysis.pt_mev(), resort=True)

    def _analysis_changed(self) -> None:
        """Redraw everything that depends on the file's scores."""
        analysis = self.analysis
        self.toolbar.export_predictions.setEnabled(analysis is not None)
        self.toolbar.export_table.setEnabled(self.opened is not None)
        if analysis is None:
            self.curves.set_curves(None, None, message="No scores for this file yet: press "
                                   "Analyze (Ctrl+Enter).")
            self.browser.set_figures(None, None)
        else:
            message = "" if analysis.has_truth else (
                "The file has no truth: purity and retention cannot be measured.")
            self.curves.set_curves(analysis.unet.curve, analysis.peer_curve, analysis.unet.name,
                                   message, analysis.fitted.curve if analysis.fitted else None,
                                   self.toolbar.peer.isChecked())
        self._threshold_changed(self.threshold.threshold)
        self._threshold_settled(self.threshold.threshold)
