"""The model-transfer matrix (the paper's section 3.3): the RMSE of every model (rows) on every
ticked core (columns) as a heat map with a colour bar, and beside it the greedy selection of
models that fit the most cores below the threshold (the paper's Table 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engines.soil.matrix import THRESHOLD, TransferMatrix
from widgets.common.buttons import RunButtons
from widgets.common.heatmap import HeatmapView
from widgets.soil.results_panel import fill_table, make_table

COLOUR_BAR_AXIS_PX = 64
SELECTION_HEADER = ("Step", "Model", "Cores fitted", "Mean RMSE", "Cores")


class MatrixPanel(QWidget):
    """Emits :attr:`folderRequested`, :attr:`computeRequested` and :attr:`stopRequested`."""

    folderRequested = Signal()
    computeRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.matrix: TransferMatrix | None = None
        self.folder_button = QPushButton("Models folder…")
        self.folder_button.clicked.connect(self.folderRequested)
        self.folder_label = QLabel("no folder: the current model only")
        self.with_current = QCheckBox("and the current model")
        self.with_current.setChecked(True)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.001, 1.0)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.005)
        self.threshold.setValue(THRESHOLD)
        self.threshold.setToolTip("a model fits a core when its RMSE on the core's slices is "
                                  "below this (the paper: 0.04)")
        self.run_buttons = RunButtons("Compute matrix", self.computeRequested,
                                      self.stopRequested)
        self.heatmap = HeatmapView("RMSE of the porosity per slice", "core", "model",
                                   colormap="viridis", levels=(0.0, 0.1))
        self.selection = make_table(SELECTION_HEADER, stretch=len(SELECTION_HEADER) - 1)
        self.status = QLabel("Applies every model of a folder (one per core, as the paper "
                             "trains them) to every ticked core of the core list.")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        for widget in (self.folder_button, self.folder_label, self.with_current):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(QLabel("Fits below RMSE"))
        top.addWidget(self.threshold)
        top.addLayout(self.run_buttons.row())
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("<b>Greedy selection</b> (Table 2): the model fitting the most "
                                "remaining cores, then the next…"))
        column.addWidget(self.selection, 1)
        split = QSplitter()
        split.addWidget(self.heatmap)
        split.addWidget(side)
        split.setSizes([820, 560])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    def set_folder(self, folder: Path, n_models: int) -> None:
        self.folder = Path(folder)
        self.folder_label.setText(f"{self.folder.name}: {n_models} model(s)")

    def set_matrix(self, matrix: TransferMatrix) -> None:
        """Draw ``matrix``: the heat map scaled 0 … its largest finite RMSE, the selection."""
        self.matrix = matrix
        finite = matrix.rmse[np.isfinite(matrix.rmse)]
        top = float(finite.max()) if finite.size else 1.0
        self.heatmap.colorbar.setLevels((0.0, max(top, matrix.threshold)))
        axis = self.heatmap.colorbar.getAxis("right")
        axis.enableAutoSIPrefix(False)  # 0.04, never "40 (x0.001)"
        axis.setLabel("RMSE of the porosity")
        axis.setWidth(COLOUR_BAR_AXIS_PX)  # room for the ticks and the rotated title
        self.heatmap.set_matrix(matrix.rmse, matrix.models, matrix.cores, fmt="{:.3f}")
        rows = [(str(i), s.model, str(s.count), f"{np.mean(s.rmse):.4f}", ", ".join(s.cores))
                for i, s in enumerate(matrix.selection, 1)]
        if matrix.uncovered:
            rows.append(("–", "no model fits", str(len(matrix.uncovered)), "",
                         ", ".join(matrix.uncovered)))
        fill_table(self.selection, rows)
        self.selection.resizeRowsToContents()  # every core a model fits, wrapped
        self.status.setText(f"{len(matrix.models)} model(s) × {len(matrix.cores)} core(s); "
                            f"{len(matrix.selection)} model(s) cover "
                            f"{len(matrix.cores) - len(matrix.uncovered)} core(s) below RMSE "
                            f"{matrix.threshold:g}.")

    def table(self) -> tuple[list[str], list[list]]:
        """The matrix as CSV rows: ``model, target, <core>…``."""
        m = self.matrix
        header = ["model", "target_object", *m.cores]
        rows = [[name, target, *(f"{v:.6f}" for v in row)]
                for name, target, row in zip(m.models, m.targets, m.rmse, strict=True)]
        return header, rows

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
