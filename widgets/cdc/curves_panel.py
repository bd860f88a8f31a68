"""Purity–retention curves over the whole file (cell level): the U-Net, the U-Net + track fit
and the GBDT peer, with the paper's target region (both above 0.9) and the operating point at
the cut. The peer's legend entry says whether it ran and, if not, how to run it."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from engines.cdc.metrics import TARGET, CurveSummary

MODEL_PEN = pg.mkPen((0, 114, 178), width=2.5)
FIT_PEN = pg.mkPen((0, 158, 115), width=2.5)
PEER_PEN = pg.mkPen((230, 159, 0), width=2.5, style=pg.QtCore.Qt.PenStyle.DashLine)
POINT_BRUSH = pg.mkBrush(213, 94, 0)


def _points(summary: CurveSummary | None) -> tuple[np.ndarray, np.ndarray]:
    if summary is None or not summary.curve:
        return np.zeros(0), np.zeros(0)
    return (np.array([p["retention"] for p in summary.curve]),
            np.array([p["purity"] for p in summary.curve]))


def _figures(name: str, summary: CurveSummary | None) -> str:
    if summary is None or math.isnan(summary.auc):
        return ""
    return (f"<b>{name}</b>: AUC {summary.auc:.4f}; purity {summary.purity_at_retention:.3f} at "
            f"retention ≥ {TARGET}; retention {summary.retention_at_purity:.3f} at purity ≥ "
            f"{TARGET} ({summary.n_positive:,} signal of {summary.n_total:,} hit cells)")


class CurvesPanel(QWidget):
    """The purity–retention plot and its figures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        plot = self.plot
        plot.setLabel("bottom", "Retention  TP / (TP + FN)")
        plot.setLabel("left", "Purity  TP / (TP + FP)")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setXRange(0, 1.0, padding=0.02)
        plot.setYRange(0, 1.0, padding=0.02)
        self.target = QGraphicsRectItem(QRectF(TARGET, TARGET, 1 - TARGET, 1 - TARGET))
        self.target.setBrush(pg.mkBrush(240, 228, 66, 90))
        self.target.setPen(pg.mkPen(200, 180, 0, width=1))
        self.target.setZValue(-10)
        plot.addItem(self.target)
        self.legend = plot.addLegend(offset=(10, -10), labelTextSize="10pt",
                                     brush=pg.mkBrush(255, 255, 255, 220))
        self.model_curve = plot.plot(pen=MODEL_PEN, name="U-Net")
        self.fit_curve = plot.plot(pen=FIT_PEN, name="U-Net + track fit")
        self.peer_curve = plot.plot(pen=PEER_PEN, name="GBDT peer (2-fold cross-fit)")
        self.point = pg.ScatterPlotItem(size=13, brush=POINT_BRUSH, pen=pg.mkPen("k", width=1))
        plot.addItem(self.point)
        self.legend.addItem(self.point, "operating point at the threshold")
        self.legend.addItem(pg.BarGraphItem(x=[0], height=[0], width=0, brush=self.target.brush(),
                                            pen=self.target.pen()),
                            f"target: purity and retention > {TARGET}")
        self.point_label = pg.TextItem("", color=(150, 50, 0), anchor=(1.05, 1.1))
        plot.addItem(self.point_label)
        self.zoom = QCheckBox("Zoom to the target region")
        self.zoom.toggled.connect(self._zoom)
        self.figures = QLabel("Press Analyze (Ctrl+Enter) on a file with truth to draw the "
                              "curves; tick “Compare with GBDT peer” in the toolbar for the "
                              "peer.")
        self.figures.setWordWrap(True)
        self.model_summary: CurveSummary | None = None
        self.fit_summary: CurveSummary | None = None
        self.peer_summary: CurveSummary | None = None
        row = QHBoxLayout()
        row.addWidget(self.zoom)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(row)
        layout.addWidget(self.figures)

    @property
    def plot(self) -> pg.PlotItem:
        return self.plot_widget.getPlotItem()

    def set_curves(self, model: CurveSummary | None, peer: CurveSummary | None,
                   model_name: str = "U-Net", message: str = "",
                   fitted: CurveSummary | None = None, peer_ticked: bool = False) -> None:
        """Draw the cell-level curves (None clears one); ``peer_ticked`` says whether the
        peer will run at the next Analyze (for its legend entry)."""
        self.model_summary, self.fit_summary, self.peer_summary = model, fitted, peer
        self.model_curve.setData(*_points(model))
        self.fit_curve.setData(*_points(fitted))
        self.peer_curve.setData(*_points(peer))
        self.legend.getLabel(self.model_curve).setText(
            model_name if model is None else f"{model_name} (AUC {model.auc:.3f})")
        self.legend.getLabel(self.fit_curve).setText(
            "U-Net + track fit" + ("" if fitted is None else f" (AUC {fitted.auc:.3f})"))
        self.set_peer_state(peer_ticked)
        lines = [t for t in (_figures(model_name, model), _figures("U-Net + track fit", fitted),
                             _figures("GBDT peer", peer), message) if t]
        self.figures.setText("<br>".join(lines) if lines else message)

    def set_peer_state(self, ticked: bool) -> None:
        """The peer's legend entry: its AUC when it ran, else when it will run."""
        peer = self.peer_summary
        if peer is not None:
            text = f"GBDT peer, 2-fold cross-fit (AUC {peer.auc:.3f})"
        elif ticked:
            text = "GBDT peer: runs at the next Analyze"
        else:
            text = "GBDT peer: not run (tick “Compare with GBDT peer”, then Analyze)"
        self.legend.getLabel(self.peer_curve).setText(text)

    def set_operating_point(self, threshold: float, purity: float | None,
                            retention: float | None) -> None:
        """Mark the whole-file purity and retention at ``threshold`` (None hides it)."""
        if purity is None or retention is None or math.isnan(purity) or math.isnan(retention):
            self.point.setData(x=[], y=[])
            self.point_label.setText("")
            return
        self.point.setData(x=[retention], y=[purity])
        self.point_label.setText(f"threshold {threshold:.3f}: purity {purity:.3f}, "
                                 f"retention {retention:.3f}")
        self.point_label.setPos(retention, purity)

    def _zoom(self, zoomed: bool) -> None:
        low = 0.8 if zoomed else 0.0
        self.plot.setXRange(low, 1.0, padding=0.01)
        self.plot.setYRange(low, 1.0, padding=0.01)
