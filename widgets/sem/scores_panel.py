"""Scores against ground truth, as in the paper's Tables 4–6: the four pixel scores, object
accuracy (max-vote beside the crop-and-classify peer), per-class IU / accuracy / object recall
and precision, and the object confusion matrices as heat maps.

The panel draws an :class:`engines.sem.evaluation.EvaluationResult` (``to_json()``): either of
the analysed image (with the reviewer's corrections) or of a data-set split evaluated by the
"Evaluate" button, which also scores the peer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.core.metrics import row_normalise
from widgets.common.buttons import RunButtons
from widgets.common.heatmap import HeatmapView

SPLITS = ("test", "val", "train", "all")
SUMMARY_ROWS = (("pixel_accuracy", "Pixel accuracy"), ("mean_accuracy", "Mean accuracy"),
                ("mean_iu", "Mean IU"), ("fw_iu", "Frequency-weighted IU"),
                ("object_accuracy", "Object accuracy"),
                ("object_accuracy_segmented", "Object accuracy, segmented objects"),
                ("objects", "Objects"))
CLASS_COLUMNS = ("Class", "IU", "Accuracy", "Objects", "Recall", "Precision", "Peer recall",
                 "Peer precision")
NO_SCORES = ("No scores yet. Analyze an image that has a label (the sample data does) to score "
             "it with your corrections, or evaluate a split of the open data set with the peer.")


class ScoresPanel(QWidget):
    """Emits :attr:`evaluateRequested` (split name) / :attr:`stopRequested`."""

    evaluateRequested = Signal(str)
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.split_combo = QComboBox()
        self.split_combo.addItems(SPLITS)
        self.split_combo.setToolTip("Images of the open data set to evaluate on")
        self.run_buttons = RunButtons("Evaluate data set", self._evaluate, self.stopRequested)
        self.evaluate_button = self.run_buttons.start
        self.source = QLabel(NO_SCORES)
        self.source.setWordWrap(True)
        self.summary = _table(("Score", "Max-vote FCN", "Crop-CNN peer"))
        self.per_class = _table(CLASS_COLUMNS)
        self.confusion = HeatmapView("Object confusion, max-vote FCN", "Predicted class",
                                     "True class")
        self.peer_confusion = HeatmapView("Object confusion, crop-and-classify peer",
                                          "Predicted class", "True class")
        for view in (self.confusion, self.peer_confusion):
            view.colorbar.setLabel("right", "Share of the true class's objects")
        self.data: dict[str, Any] | None = None

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Split:"))
        controls.addWidget(self.split_combo)
        controls.addLayout(self.run_buttons.row())
        controls.addStretch(1)
        self.summary.setMinimumHeight(245)
        self.per_class.setMinimumHeight(245)
        grid = QGridLayout()
        grid.addWidget(self.summary, 0, 0)
        grid.addWidget(self.per_class, 0, 1)
        grid.addWidget(self.confusion, 1, 0)
        grid.addWidget(self.peer_confusion, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.source)
        layout.addLayout(grid, 1)
        self.show_scores(None)

    def _evaluate(self) -> None:
        self.evaluateRequested.emit(self.split_combo.currentText())

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)

    def show_scores(self, data: dict[str, Any] | None, source: str = "") -> None:
        """Draw ``EvaluationResult.to_json()`` (None: clear), ``source`` saying of what."""
        self.data = data
        self.source.setText(source if data is not None else NO_SCORES)
        if data is None:
            self.summary.setRowCount(0)
            self.per_class.setRowCount(0)
            self.confusion.setVisible(False)
            self.peer_confusion.setVisible(False)
            return
        self.confusion.setVisible(True)
        peer = data.get("peer")
        self.summary.setRowCount(len(SUMMARY_ROWS))
        for row, (key, text) in enumerate(SUMMARY_ROWS):
            peer_value = peer["object_accuracy"] if peer and key == "object_accuracy" else None
            _fill_row(self.summary, row, (text, _score(data[key]), _score(peer_value)))
        names = list(data["classes"])
        self.per_class.setRowCount(len(names))
        for row, name in enumerate(names):
            c = data["per_class"][name]
            if row == 0:  # the matrix: no object's class, so no object recall / precision
                object_cells = ("–", "–", "–", "–")
            else:
                object_cells = (_score(c["object_recall"]), _score(c["object_precision"]),
                                *(("", "") if not peer else (
                                    _score(peer["object_recall"][row]),
                                    _score(peer["object_precision"][row]))))
            _fill_row(self.per_class, row, (name, _score(c["iu"]), _score(c["accuracy"]),
                                            str(c["objects"]), *object_cells))
        self.per_class.setColumnHidden(6, not peer)
        self.per_class.setColumnHidden(7, not peer)
        short = [_short(n) for n in names]
        # no object's truth is the matrix: its row is left out; its column counts the objects
        # not segmented
        self.confusion.set_matrix(_shares(data["object_confusion"]), short[1:], short)
        self.peer_confusion.setVisible(bool(peer))
        if peer:
            self.peer_confusion.set_matrix(_shares(peer["object_confusion"]), short[1:], short)


def _shares(confusion: list[list[int]]) -> np.ndarray:
    """Rows 1… (the second-phase classes) as shares of the true class's objects (NaN: a class
    without objects)."""
    counts = np.asarray(confusion, dtype=np.float64)[1:]
    shares = row_normalise(counts)
    shares[counts.sum(axis=1) == 0] = np.nan
    return shares


def _short(name: str) -> str:
    """A tick label: no parenthesis, leading words as initials ("ferrite (matrix)" → ferrite,
    "tempered martensite" → "t. martensite")."""
    words = name.split(" (")[0].split()
    return " ".join([f"{w[0]}." for w in words[:-1]] + words[-1:])


def _score(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return "–" if not np.isfinite(value) else f"{100 * value:.2f} %"


def _table(headers: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill_row(table: QTableWidget, row: int, cells: tuple[str, ...]) -> None:
    for column, text in enumerate(cells):
        item = QTableWidgetItem(text)
        if column:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, column, item)
