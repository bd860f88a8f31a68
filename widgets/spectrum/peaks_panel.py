"""Peaks and net areas of the shown spectrum, linked to the plot, and its energy calibration
with a re-fit from identified lines (the classical, explainable peer of the CNN and its CAM).

The workspace runs :func:`engines.spectrum.peaks.find_peaks` and hands the peaks here; a row
click emits :attr:`PeaksPanel.peakSelected` (the plot zooms to it) and a click on a fitted peak
in the plot selects its row. Rows whose "Use" box is ticked (by default: strong, identified
full-energy peaks) feed the calibration re-fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.spectrum.peaks import Peak, PeakConfig
from engines.spectrum.spectrum import Calibration, Spectrum
from widgets.common.config_form import ConfigForm

COLUMNS = ["Use", "Energy (keV)", "FWHM (keV)", "Net area", "Signif.", "Line", "CAM"]
USE_MIN_SIGNIFICANCE = 8.0  # identified peaks at least this significant are ticked by default

#: How the window names the reader that read a file (``metadata["reader"]``).
READER_NAMES = {"lablens": "LabLens", "sandiaspecutils": "SpecUtils", "": ""}


def calibration_text(calibration: Calibration) -> str:
    """``E(ch) = c0 + c1·ch [+ c2·ch²] keV`` with enough digits for 16k channels."""
    c = calibration.coefficients
    text = f"E(ch) = {c[0]:.4f} + {c[1]:.7f}·ch"
    if len(c) > 2 and c[2] != 0.0:
        text += f" {'+' if c[2] >= 0 else '−'} {abs(c[2]):.4g}·ch²"
    return text + " keV"


class PeaksPanel(QWidget):
    """Find peaks, the peak table, and the energy calibration of the shown spectrum."""

    findRequested = Signal()
    peakSelected = Signal(int)
    refitRequested = Signal()
    applyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peaks: list[Peak] = []
        self.form = ConfigForm(PeakConfig(), ["fwhm_1332_kev", "threshold"])
        self.find_button = QPushButton("Find peaks")
        self.find_button.setToolTip("Search and fit the peaks of the shown spectrum")
        self.find_button.clicked.connect(self.findRequested)
        self.summary = QLabel("Peak search runs on the spectrum shown in the plot.")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.calibration_label = QLabel("")
        self.calibration_label.setWordWrap(True)
        self.calibration_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refit_button = QPushButton("Re-fit from ticked lines")
        self.refit_button.setToolTip("Linear (2 lines) or quadratic (3+) calibration through the "
                                     "ticked peaks' channels and their lines' energies")
        self.refit_button.clicked.connect(self.refitRequested)
        self.apply_button = QPushButton("Apply as a new spectrum")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.applyRequested)
        self.refit_label = QLabel("")
        self.refit_label.setWordWrap(True)
        calibration_box = QGroupBox("Energy calibration")
        box = QVBoxLayout(calibration_box)
        box.addWidget(self.calibration_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refit_button)
        buttons.addWidget(self.apply_button)
        box.addLayout(buttons)
        box.addWidget(self.refit_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.form)
        layout.addWidget(self.find_button)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(calibration_box)

    def config(self) -> PeakConfig:
        return self.form.value()

    # -- the table ------------------------------------------------------------------------------
    def set_peaks(self, peaks: Sequence[Peak], evidence: np.ndarray | None = None,
                  name: str = "") -> None:
        """List fitted peaks (by energy); ``evidence`` (P,) is the CAM at each peak."""
        self.peaks = list(peaks)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.peaks))
        for row, peak in enumerate(self.peaks):
            use = QTableWidgetItem()
            use.setFlags(use.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = (bool(peak.matches) and peak.significance >= USE_MIN_SIGNIFICANCE
                      and not peak.line.endswith((" SE", " DE")))
            use.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            cam = "" if evidence is None or not np.isfinite(evidence[row]) else (
                f"{evidence[row]:+.2f}")
            cells = [use, f"{peak.centroid_kev:.2f} ± {peak.centroid_err:.2f}",
                     f"{peak.fwhm_kev:.2f}", f"{peak.area:,.0f} ± {peak.area_err:,.0f}",
                     f"{peak.significance:.1f}", peak.line or "—", cam]
            for column, cell in enumerate(cells):
                item = cell if isinstance(cell, QTableWidgetItem) else QTableWidgetItem(cell)
                if 1 <= column <= 4 or column == 6:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if column == 5 and len(peak.matches) > 1:
                    item.setToolTip("Also: " + ", ".join(
                        f"{m['line']} ({m['delta_kev']:+.2f} keV)" for m in peak.matches[1:]))
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        identified = sum(1 for p in self.peaks if p.matches)
        self.summary.setText(f"{name}: {len(self.peaks)} peaks, {identified} identified "
                             "(click a row or a peak in the plot)" if name else
                             f"{len(self.peaks)} peaks, {identified} identified")

    def clear(self, text: str = "Peak search runs on the spectrum shown in the plot.") -> None:
        self.peaks = []
        self.table.setRowCount(0)
        self.summary.setText(text)
        self.refit_label.setText("")
        self.apply_button.setEnabled(False)

    def select(self, index: int) -> None:
        """Select row ``index`` (as a click on the plot does)."""
        if 0 <= index < self.table.rowCount():
            self.table.selectRow(index)
            self.table.scrollToItem(self.table.item(index, 1))

    def ticked(self) -> list[int]:
        """Rows ticked for the calibration re-fit that have an identified line."""
        return [row for row in range(self.table.rowCount())
                if self.table.item(row, 0).checkState() == Qt.CheckState.Checked
                and self.peaks[row].matches]

    def set_ticked(self, rows: Sequence[int]) -> None:
        wanted = set(rows)
        for row in range(self.table.rowCount()):
            self.table.item(row, 0).setCheckState(
                Qt.CheckState.Checked if row in wanted else Qt.CheckState.Unchecked)

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.peakSelected.emit(rows[0].row())

    # -- calibration ----------------------------------------------------------------------------
    def show_calibration(self, spectrum: Spectrum | None, refittable: bool) -> None:
        """The shown spectrum's calibration, its source and the reader that read the file."""
        self.apply_button.setEnabled(False)
        self.refit_label.setText("")
        self.refit_button.setEnabled(refittable)
        if spectrum is None:
            self.calibration_label.setText("")
            return
        meta = spectrum.metadata
        if not meta.get("calibrated", True):
            text = "No energy calibration in the file (energy = channel number)."
        else:
            text = calibration_text(spectrum.calibration)
            if meta.get("calibration_source"):
                text += f"  <i>({meta['calibration_source']})</i>"
        reader = READER_NAMES.get(meta.get("reader") or ("lablens" if meta.get("format") else ""),
                                  meta.get("reader", ""))
        if reader:
            text += f"<br>Read by {reader} ({meta.get('format', '?')})"
        if not refittable:
            text += ("<br>Re-fitting applies to a file's own spectrum; this is the model-grid "
                     "view of an analysis.")
        self.calibration_label.setText(text)

    def show_refit(self, calibration: Calibration, residuals: np.ndarray,
                   lines: Sequence[str]) -> None:
        worst = float(np.max(np.abs(residuals))) if residuals.size else 0.0
        details = ", ".join(f"{line} {r:+.2f}" for line, r in zip(lines, residuals, strict=True))
        self.refit_label.setText(f"Re-fit from {len(lines)} lines: "
                                 f"{calibration_text(calibration)}; residuals (keV): {details} "
                                 f"(largest {worst:.2f})")
        self.apply_button.setEnabled(True)
