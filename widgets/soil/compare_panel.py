"""Compare cores: the porosity profiles of every analysed core for one object overlaid, and the
whole-crop porosity of every object and core as a table (exported as CSV)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from engines.imaging.views import label_colour
from engines.soil.core_view import CoreView
from widgets.soil.results_panel import fill_table, make_table


class ComparePanel(QWidget):
    """:meth:`set_views` redraws from the analysed cores (name → CoreView)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.object_combo = QComboBox()
        self.object_combo.currentTextChanged.connect(lambda _t: self._draw_profiles())
        self.widget = pg.PlotWidget()
        self.plot = self.widget.getPlotItem()
        self.plot.setLabel("bottom", "Depth along the core axis", units="mm")
        self.plot.setLabel("left", "Porosity per slice")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.table = make_table(("Core",))
        self.note = QLabel("Analyze cores (Cores tab) to compare them here.")
        self.note.setWordWrap(True)
        self.views: dict[str, CoreView] = {}
        self.header: list[str] = ["core"]
        self.rows: list[list] = []
        top = QHBoxLayout()
        top.addWidget(QLabel("Object"))
        top.addWidget(self.object_combo)
        top.addWidget(self.note, 1)
        plot_side = QWidget()
        column = QVBoxLayout(plot_side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addWidget(self.widget, 1)
        split = QSplitter()
        split.addWidget(plot_side)
        split.addWidget(self.table)
        split.setSizes([820, 580])
        QVBoxLayout(self).addWidget(split)

    def set_views(self, views: Mapping[str, CoreView]) -> None:
        self.views = {n: v for n, v in views.items()}
        names: list[str] = []
        for view in self.views.values():
            names += [n for n in view.analysis.porosity if n not in names]
        current = self.object_combo.currentText()
        self.object_combo.blockSignals(True)
        self.object_combo.clear()
        self.object_combo.addItems(names)
        default = current if current in names else ("object4" if "object4" in names
                                                     else (names[0] if names else ""))
        self.object_combo.setCurrentText(default)
        self.object_combo.blockSignals(False)
        self.header = ["core", *names, "crop_zyx", "depth_mm"]
        self.rows = []
        for name, view in self.views.items():
            a = view.analysis
            porosity = [a.porosity.get(n, float("nan")) for n in names]
            depth = float(a.profile.depth_mm[-1] - a.profile.depth_mm[0]) if len(a.profile) else 0
            self.rows.append([name, *porosity, "×".join(map(str, a.crop.size_zyx)),
                              round(depth, 2)])
        self.table.setColumnCount(len(self.header))
        self.table.setHorizontalHeaderLabels(self.header)
        fill_table(self.table, [[r[0], *(f"{v:.4f}" for v in r[1:len(names) + 1]), *map(str, r[-2:])]
                           for r in self.rows])
        self.note.setText(f"{len(self.views)} core(s) analysed; the table holds the porosity "
                          "of each object over each core's crop.")
        self._draw_profiles()

    def _draw_profiles(self) -> None:
        self.plot.clear()
        self.legend.clear()
        name = self.object_combo.currentText()
        self.plot.setTitle(f"Porosity of {name} along each core" if name else "")
        for i, (core, view) in enumerate(self.views.items()):
            profile = view.analysis.profile
            if name not in profile.porosity:
                continue
            self.plot.plot(np.asarray(profile.depth_mm), profile.porosity[name],
                           pen=pg.mkPen(label_colour(i + 1), width=1.5), name=core)
