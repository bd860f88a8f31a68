"""The spectrum (PGNAA) workspace: open gamma spectra, classify them, see why, train, evaluate,
and watch a simulated live acquisition decide.

Layout: a toolbar; the "Spectrum" tab with the reference library and element lines (left), the
spectrum plot with the CAM, discard regions and fitted peaks (centre) and the result (with the
open-set verdict), the peaks and the live acquisition (right); "Training" and "Evaluation"
tabs. All file reading, sample generation, model loading
and engine work runs through ``host.run_task``. Long runs (training, evaluation, live
acquisition) live in :class:`widgets.spectrum.runs.RunsMixin`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from engines.core.errors import InputError
from engines.spectrum.analysis import analyze_spectra, prediction_table
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.library import SpectrumLibrary, iter_load_library
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.readers import FILE_FILTER, SUPPORTED_SUFFIXES, iter_read_spectra
from engines.spectrum.spectrum import Spectrum
from widgets.common.dialogs import save_path
from widgets.common.export import CSV_FILTER, PLOT_FILTER, export_csv, export_plot
from widgets.common.workspace import TaskHost, Workspace
from widgets.spectrum.element_lines import ElementLinesPanel, ElementMarkers
from widgets.spectrum.evaluation_panel import EvaluationPanel
from widgets.spectrum.library_panel import LibraryPanel
from widgets.spectrum.live_panel import LivePanel
from widgets.spectrum.peaks_panel import PeaksPanel
from widgets.spectrum.results_panel import NO_MODEL, ResultsPanel
from widgets.spectrum.runs import RunsMixin
from widgets.spectrum.spectrum_plot import SpectrumPlot
from widgets.spectrum.toolbar import SpectrumToolbar
from widgets.spectrum.training_panel import TrainingPanel

SAMPLE_LIBRARIES = {"materials12": "Materials: 12 substances (paper Exp. I)",
                    "aluminium4": "Aluminium alloys: 4 classes (Exp. II/IIIa)",
                    "copper5": "Copper alloys: 5 classes (Exp. IIIb)"}
MEASUREMENTS_PER_CLASS = 2  # what iter_sample_library writes by default


def _describe(spectrum: Spectrum) -> str:
    name = spectrum.source.name if spectrum.source else spectrum.name
    live = f", {spectrum.live_time_s:,.0f} s live" if spectrum.live_time_s else ""
    return f"{name} — {spectrum.total_counts:,.0f} counts{live}"


class SpectrumWorkspace(RunsMixin, Workspace):
    """Gamma-spectrum classification (Cheng et al., PGNAA) with CAM, training, evaluation and
    live acquisition. Signals are emitted on the GUI thread when the work is drawn."""

    name = "spectrum"
    file_filter = FILE_FILTER
    opens_folders = True
    model_type = SpectrumClassifier
    no_model_text = NO_MODEL

    libraryLoaded = Signal(object)  # SpectrumLibrary
    spectrumShown = Signal(int)  # entry index
    analysisFinished = Signal(object)  # SpectrumAnalysis of the shown spectrum
    trainingFinished = Signal(object)  # SpectrumClassifier
    evaluationFinished = Signal(object)  # EvaluationResult
    liveFinished = Signal(object)  # LiveResult
    peaksFound = Signal(object)  # PeakReport of the shown spectrum

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(host, parent)
        self.library: SpectrumLibrary | None = None
        self.library_name = ""
        self.library_entries = 0  # entries[:library_entries] are the library's files
        self.entries: list[Spectrum] = []
        self.current = -1
        self.preprocess = PreprocessConfig()
        self.predictions: list = []

        self.toolbar = SpectrumToolbar(self, self._entry_name)
        self.plot = SpectrumPlot()
        self.markers = ElementMarkers(self.plot.plot_item)
        self.elements = ElementLinesPanel(self.markers)
        self.library_panel = LibraryPanel()
        self.results = ResultsPanel()
        self.peaks_panel = PeaksPanel()
        self.peak_report = None
        self.displayed: Spectrum | None = None  # what the plot shows, in its own calibration
        self.displayed_is_entry = False  # a file's own spectrum (not the model-grid view)
        self._refit = None  # (calibration, line names) of the last re-fit
        self.live_panel = LivePanel()
        self.training = TrainingPanel()
        self.evaluation = EvaluationPanel()
        self.title_label = QLabel("")
        self.title_label.setWordWrap(True)
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title_label.setStyleSheet("font-weight: 600;")
        self.hover_label = QLabel("Move the mouse over the spectrum for energy, channel and counts.")
        self.hover_label.setWordWrap(True)
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build_layout()
        self._connect()
        self.plot.set_preprocess(self.preprocess)
        self.plot.set_log_y(True)
        self.training.show_discard(self.preprocess)

    # -- layout and wiring -----------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QTabWidget()
        left.addTab(self.library_panel, "Library")
        left.addTab(self.elements, "Elements")
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.title_label)
        centre_layout.addWidget(self.plot, 1)
        centre_layout.addWidget(self.hover_label)
        self.right_tabs = QTabWidget()
        self.right_tabs.addTab(self.results, "Result")
        self.right_tabs.addTab(self.peaks_panel, "Peaks")
        self.right_tabs.addTab(self.live_panel, "Live")
        self.right_tabs.setTabToolTip(2, "Live acquisition")
        self.spectrum_page = self._lay_out(
            self.toolbar, "Spectrum", (left, centre, self.right_tabs), (265, 810, 320),
            [(self.training, "Training"), (self.evaluation, "Evaluation")])
        self.training_page = self.training

    def _connect(self) -> None:
        bar = self.toolbar
        bar.analyze_all.triggered.connect(lambda: self._guard(self.analyze_all, "Analyze all"))
        bar.navigator.positionChanged.connect(self.show_entry)
        bar.log_y.toggled.connect(self.plot.set_log_y)
        bar.cam.toggled.connect(self.plot.set_cam_visible)
        bar.zoom_kept.triggered.connect(self.plot.show_kept_range)
        bar.export_predictions.triggered.connect(self._export_predictions_dialog)
        bar.export_plot.triggered.connect(self._export_plot_dialog)
        self.addActions(bar.shortcut_actions)
        self.plot.hovered.connect(self.hover_label.setText)
        self.plot.titleChanged.connect(self._show_title)
        self.plot.peakClicked.connect(self.peaks_panel.select)
        self.peaks_panel.peakSelected.connect(self.plot.highlight_peak)
        self.peaks_panel.findRequested.connect(lambda: self._guard(self.find_peaks, "Peaks"))
        self.peaks_panel.refitRequested.connect(
            lambda: self._guard(self.refit_calibration, "Calibration"))
        self.peaks_panel.applyRequested.connect(
            lambda: self._guard(self.apply_calibration, "Calibration"))
        self.plot.discardChanged.connect(self._discard_dragged)
        self.library_panel.entrySelected.connect(self.show_entry)
        self.training.discardEdited.connect(
            lambda text: self._guard(lambda: self.set_discard_text(text), "Discard ranges"))
        self._connect_runs()

    # -- sample data and libraries ---------------------------------------------------------------
    def activate(self) -> None:
        super().activate()
        if self.model is None:
            self.results.show_message(NO_MODEL)

    def open_sample_path(self, path: Path, dataset) -> None:
        """A sample library becomes the reference library (not a recent file)."""
        self._load_library(path, dataset.name)

    def _load_library(self, folder: Path, name: str, user_opened: bool = False) -> None:
        def loaded(library: SpectrumLibrary) -> None:
            self.set_library(library, name)
            if user_opened:
                self.pathOpened.emit(str(folder))

        self._run(f"Loading library {name}", iter_load_library(folder), on_result=loaded)

    def set_library(self, library: SpectrumLibrary, name: str) -> None:
        """Use ``library`` as the reference library and list its files (opened files stay)."""
        opened = self.entries[self.library_entries:]
        self.library, self.library_name = library, name
        self.entries = [Spectrum(library.spectra[i], library.grid.calibration,
                                 live_time_s=(None if live != live else float(live)),
                                 name=path.name, source=path,
                                 metadata={"calibration_source": "rebinned onto the library's "
                                                                 "energy grid"})
                        for i, (path, live) in enumerate(zip(library.files, library.live_times,
                                                             strict=True))]
        self.library_entries = len(self.entries)
        self.library_panel.set_library(library, name)
        for spectrum in opened:
            self.entries.append(spectrum)
            self.library_panel.add_opened(len(self.entries) - 1, spectrum)
        self._refresh_live_references()
        self.show_entry(0)
        self.plot.show_kept_range()
        self.host.log(f"reference library {name}: {library.n_classes} classes, "
                      f"{len(library.files)} files")
        self.libraryLoaded.emit(library)

    # -- opening files ---------------------------------------------------------------------------
    def open_path(self, path: Path) -> None:
        """Open a spectrum file (shown and listed), a dataset folder (``DIR/<class>/<files>``,
        the reference library) or a folder of spectrum files (each opened; unreadable ones are
        reported and skipped)."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                           and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if files and not any(p.is_dir() and not p.name.startswith(".")
                                 for p in path.iterdir()):
                self._run(f"Opening {path.name}", iter_read_spectra(files, skip_bad=True),
                          on_result=self._files_opened)
            else:
                self._load_library(path, path.name, user_opened=True)
            return
        self._run(f"Opening {path.name}", iter_read_spectra([path]),
                  on_result=self._files_opened)

    def _files_opened(self, result: tuple[list[Spectrum], list[InputError]]) -> None:
        spectra, errors = result
        if errors:
            self.host.report_error(InputError("; ".join(str(e) for e in errors)),
                                   f"{len(errors)} file(s) could not be opened")
        if not spectra:
            return
        for spectrum in spectra:
            self.entries.append(spectrum)
            self.library_panel.add_opened(len(self.entries) - 1, spectrum)
            if spectrum.source is not None:
                self.pathOpened.emit(str(spectrum.source))
        self._refresh_live_references()
        self.show_entry(len(self.entries) - 1)

    # -- browsing --------------------------------------------------------------------------------
    @property
    def current_spectrum(self) -> Spectrum | None:
        return self.entries[self.current] if 0 <= self.current < len(self.entries) else None

    def show_entry(self, index: int) -> None:
        """Show opened spectrum ``index`` (library files first, then opened files)."""
        if not 0 <= index < len(self.entries):
            return
        self.current = index
        spectrum = self.entries[index]
        self.plot.set_spectrum(spectrum.edges, spectrum.counts, _describe(spectrum),
                               calibrated=spectrum.metadata.get("calibrated", True))
        self.plot.clear_cam()
        self._set_displayed(spectrum, True)
        self.results.set_count_rate(spectrum.count_rate)
        self.results.show_message("Press Analyze (Ctrl+Enter) to classify this spectrum"
                                  if self.model is not None else NO_MODEL)
        self.library_panel.select(index)
        self.toolbar.navigator.set_count(len(self.entries), index)
        self.spectrumShown.emit(index)

    def step(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) opened spectrum."""
        self.toolbar.navigator.step(delta)

    def _entry_name(self, index: int) -> str:
        spectrum = self.entries[index]
        return spectrum.source.name if spectrum.source else spectrum.name

    # -- discard ranges (bound to the plot's regions) --------------------------------------------
    def set_preprocess(self, config: PreprocessConfig) -> None:
        """Use ``config`` for the next training and draw its discard ranges."""
        config.keep_mask(self.plot.grid.n_channels)  # raises if nothing would be kept
        self.preprocess = config
        self.plot.set_preprocess(config)
        self.training.show_discard(config)

    def set_discard_text(self, text: str) -> None:
        from engines.spectrum.options import parse_ranges

        self.set_preprocess(dataclasses.replace(self.preprocess, discard=parse_ranges(text)))

    def _discard_dragged(self, config: PreprocessConfig) -> None:
        self.preprocess = config
        self.training.show_discard(config)

    # -- analysis --------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Classify the shown spectrum (as recorded or as the chosen short measurement)."""
        if self.model is None:
            self.results.show_message(NO_MODEL)
            self.statusChanged.emit(NO_MODEL)
            return
        spectrum = self.current_spectrum
        if spectrum is None:
            raise InputError("no spectrum is open; use File ▸ Open… or Open sample data")
        self._analyze([spectrum], [self.current])

    def analyze_all(self) -> None:
        """Classify every opened spectrum (adds them all to the predictions)."""
        if self.model is None:
            self.results.show_message(NO_MODEL)
            return
        if not self.entries:
            raise InputError("no spectrum is open; use File ▸ Open… or Open sample data")
        self._analyze(list(self.entries), list(range(len(self.entries))))

    def _analyze(self, spectra: list[Spectrum], indices: list[int]) -> None:
        classifier = self.model
        task = analyze_spectra(classifier, spectra, self.results.short_counts(),
                               self.results.seed())
        title = f"Analyze {spectra[0].name}" if len(spectra) == 1 else f"Analyze {len(spectra)}"
        self._run(title, task, on_result=lambda out: self._analyzed(out, indices, classifier))

    def _analyzed(self, analyses: list, indices: list[int], classifier) -> None:
        if classifier is not self.model:
            return  # the model changed while this ran
        for analysis in analyses:
            self.predictions.append(analysis)
            self.results.add_prediction(analysis)
        shown = [a for a, i in zip(analyses, indices, strict=True) if i == self.current]
        if shown:
            analysis = shown[-1]
            live = ("" if analysis.live_time_s is None
                    else f", {analysis.live_time_s:,.{0 if analysis.live_time_s >= 100 else 2}f} s live")
            title = (f"{analysis.name} — {analysis.mode}, {analysis.total_counts:,.0f} "
                     f"counts{live}")
            self.plot.set_spectrum(analysis.edges_kev, analysis.counts, title)
            self.plot.set_cam(analysis.edges_kev, analysis.cam, analysis.evidence_label)
            self._set_displayed(Spectrum(analysis.counts, classifier.grid.calibration,
                                         analysis.live_time_s, name=analysis.name,
                                         metadata={"calibration_source": "the model's grid"}),
                                False)
            self.results.show_analysis(analysis)
            self.right_tabs.setCurrentWidget(self.results)
            self.statusChanged.emit(f"{analysis.name}: {analysis.verdict} "
                                    f"({analysis.confidence:.1%})")
            self.analysisFinished.emit(analysis)

    # -- peaks and calibration -------------------------------------------------------------------
    def _show_title(self, title: str) -> None:
        self.title_label.setText(title)
        self.title_label.setToolTip(title)

    def _set_displayed(self, spectrum: Spectrum | None, is_entry: bool) -> None:
        self.displayed, self.displayed_is_entry = spectrum, is_entry
        self.peak_report = None
        self.peaks_panel.clear()
        self.peaks_panel.show_calibration(spectrum, is_entry)

    def find_peaks(self) -> None:
        """Search and fit the peaks of the spectrum shown in the plot."""
        from engines.spectrum.peaks import iter_peak_report

        spectrum = self.displayed
        if spectrum is None:
            raise InputError("no spectrum is shown; open one first")
        evidence = self.plot.cam if self.plot.has_cam else None
        config = self.peaks_panel.config()
        self.right_tabs.setCurrentWidget(self.peaks_panel)

        def found(report) -> None:
            if self.displayed is not spectrum:
                return  # another spectrum is shown now
            self.peak_report = report
            self.plot.set_peaks(report.curves, [p.centroid_kev for p in report.peaks],
                                [p.fwhm_kev for p in report.peaks])
            self.peaks_panel.set_peaks(report.peaks, report.evidence, spectrum.name)
            self.peaksFound.emit(report)

        self._run(f"Peaks of {spectrum.name}", iter_peak_report(spectrum, config, evidence),
                  on_result=found)

    def refit_calibration(self) -> None:
        """Re-fit the shown file's calibration from the ticked, identified peaks."""
        from engines.spectrum.peaks import refit_calibration

        if not self.displayed_is_entry or self.peak_report is None:
            raise InputError("find the peaks of a file's own spectrum first")
        rows = self.peaks_panel.ticked()
        peaks = [self.peak_report.peaks[r] for r in rows]
        calibration, residuals = refit_calibration(
            [p.channel for p in peaks], [p.matches[0]["energy_kev"] for p in peaks])
        self._refit = (calibration, [p.line for p in peaks])
        self.peaks_panel.show_refit(calibration, residuals, [p.line for p in peaks])

    def apply_calibration(self) -> None:
        """Open the shown file again with the re-fitted calibration (a new entry)."""
        from engines.spectrum.peaks import with_calibration

        refit = self._refit
        if refit is None or self.displayed is None:
            raise InputError("re-fit the calibration first")
        spectrum = with_calibration(self.displayed, *refit)
        self._refit = None
        self._files_opened(([spectrum], []))

    # -- models ----------------------------------------------------------------------------------
    def model_changed(self, classifier: SpectrumClassifier) -> None:
        """Use ``classifier`` for Analyze, evaluation and live acquisition."""
        self.predictions.clear()
        self.results.clear_predictions()
        self.plot.set_preprocess(PreprocessConfig.from_json(classifier.preprocess.to_json()),
                                 classifier.grid)
        self.preprocess = self.plot.preprocess
        self.training.show_discard(self.preprocess)
        self.results.set_model_text(f"Model: {classifier.arch}, {classifier.n_classes} classes "
                                    "(Model ▸ Model info)")
        self.show_entry(self.current)
        self.plot.show_kept_range()
        self.host.log(f"spectrum model: {classifier.arch}, classes {', '.join(classifier.classes)}")

    # -- exports ---------------------------------------------------------------------------------
    def export_predictions(self, path: Path) -> Path:
        header, rows = prediction_table(self.predictions)
        return export_csv(path, header, rows)

    def current_plot(self):
        """The pyqtgraph item the current tab exports."""
        page = self.tabs.currentWidget()
        if page is self.training:
            return self.training.curves.ci
        if page is self.evaluation:
            return self.evaluation.accuracy.getPlotItem()
        return self.plot.plot_item

    def export_plot(self, path: Path) -> Path:
        return export_plot(self.current_plot(), path)

    def _export_predictions_dialog(self) -> None:
        path = save_path(self, "Export predictions", "predictions.csv", CSV_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_predictions(path)}"),
                        "Export predictions")

    def _export_plot_dialog(self) -> None:
        path = save_path(self, "Export plot", "spectrum.png", PLOT_FILTER)
        if path:
            self._guard(lambda: self.host.log(f"wrote {self.export_plot(path)}"), "Export plot")
