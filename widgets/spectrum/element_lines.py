"""Element reference lines: a checkable element list and the markers it draws on the plot.

Energies and yields come from the engine's nuclear data (IAEA/Budapest PGAA database); each
checked element draws its prompt-gamma lines as labelled vertical lines, the strongest solid.
Labels never overlap: after every change of the view they are placed again, strongest lines
first, each at the highest of four heights where it touches no placed label; a label that
fits nowhere is hidden (its line stays, and zooming in brings the label back).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engines.spectrum.synthetic.nuclear_data import ANNIHILATION_KEV, ELEMENTS, element

# Distinct, print-friendly colours (Okabe-Ito + a few), cycled over elements.
PALETTE = [(213, 94, 0), (0, 114, 178), (0, 158, 115), (204, 121, 167), (230, 159, 0),
           (86, 180, 233), (120, 60, 160), (160, 40, 40), (60, 120, 40), (90, 90, 90)]
LABEL_HEIGHTS = (0.98, 0.74, 0.50, 0.26)  # label tops along the line (fraction of height)
LABEL_GAP_PX = 3.0


def place_labels(x_px: Sequence[float], lengths_px: Sequence[float], thickness_px: float,
                 height_px: float, order: Sequence[int],
                 heights: Sequence[float] = LABEL_HEIGHTS) -> list[float | None]:
    """Heights (fractions of the plot height, label tops) for vertical labels of lines at
    ``x_px`` with text lengths ``lengths_px``, placed in ``order``; None = no room.

    A label spans ``thickness_px`` across its line (to its left) and its length downwards from
    its top; two labels collide when both spans overlap (with a small gap)."""
    placed: list[tuple[float, float, float]] = []  # (x, top px, bottom px)
    out: list[float | None] = [None] * len(x_px)
    for i in order:
        for fraction in heights:
            top = fraction * height_px
            bottom = top - lengths_px[i]
            if bottom < 0:
                continue
            if all(abs(x_px[i] - x) >= thickness_px + LABEL_GAP_PX
                   or bottom >= t + LABEL_GAP_PX or top <= b - LABEL_GAP_PX
                   for x, t, b in placed):
                placed.append((x_px[i], top, bottom))
                out[i] = fraction
                break
    return out


class ElementMarkers:
    """Vertical, labelled lines of the checked elements on a plot item."""

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self.plot_item = plot_item
        self.lines: dict[str, list[pg.InfiniteLine]] = {}
        self.colors: dict[str, tuple[int, int, int]] = {}
        self.strength: dict[int, float] = {}  # id(line) -> relative yield (label priority)
        plot_item.vb.sigRangeChanged.connect(self.relayout)
        plot_item.vb.sigResized.connect(self.relayout)

    def _color(self, symbol: str) -> tuple[int, int, int]:
        """The first palette colour no shown element uses (distinct while <= 10 are shown)."""
        used = [self.colors[s] for s in self.lines if s in self.colors]
        free = [c for c in PALETTE if c not in used] or PALETTE
        self.colors[symbol] = free[0]
        return free[0]

    @property
    def shown(self) -> list[str]:
        return list(self.lines)

    def show(self, symbol: str) -> None:
        if symbol in self.lines:
            return
        if symbol == "511":
            items = [self._line(ANNIHILATION_KEV, "511 annihilation", (100, 100, 100), True)]
            self.strength[id(items[0])] = 1.0
        else:
            data = element(symbol)
            strongest = max(y for _, y in data.lines)
            color = self._color(symbol)
            items = []
            for energy, yield_ in data.lines:
                items.append(self._line(energy, f"{symbol} {energy:.1f}", color,
                                        yield_ >= 0.5 * strongest))
                self.strength[id(items[-1])] = yield_ / strongest
        for item in items:
            self.plot_item.addItem(item, ignoreBounds=True)
        self.lines[symbol] = items
        self.relayout()

    def hide(self, symbol: str) -> None:
        for item in self.lines.pop(symbol, []):
            self.plot_item.removeItem(item)
            self.strength.pop(id(item), None)
        self.relayout()

    def relayout(self, *_args) -> None:
        """Place every label again for the current view (see the module docstring)."""
        lines = [line for items in self.lines.values() for line in items]
        if not lines:
            return
        vb = self.plot_item.vb
        height = vb.sceneBoundingRect().height()
        (x0, x1), _ = vb.viewRange()
        sizes = [line.label.mapRectToScene(line.label.boundingRect()) for line in lines]
        thickness = max(rect.width() for rect in sizes) + 1.0
        x_px = [vb.mapViewToScene(QPointF(line.value(), 0.0)).x() for line in lines]
        lengths = [rect.height() + 2.0 for rect in sizes]
        visible = [x0 <= line.value() <= x1 for line in lines]
        order = sorted((i for i in range(len(lines)) if visible[i]),
                       key=lambda i: (-self.strength.get(id(lines[i]), 0.0), lines[i].value()))
        heights = place_labels(x_px, lengths, thickness, height, order)
        for line, fraction in zip(lines, heights, strict=True):
            line.label.setVisible(fraction is not None)
            if fraction is not None:
                line.label.setPosition(fraction)

    def labels_shown(self) -> list[str]:
        """Texts of the labels currently drawn."""
        return [line.label.format for items in self.lines.values() for line in items
                if line.label.isVisible()]

    @staticmethod
    def _line(energy: float, text: str, color: tuple[int, int, int],
              strong: bool) -> pg.InfiniteLine:
        style = Qt.PenStyle.SolidLine if strong else Qt.PenStyle.DashLine
        pen = pg.mkPen(color, width=1.4 if strong else 1.0, style=style)
        # vertical labels left of the line; heights are set by relayout()
        line = pg.InfiniteLine(energy, angle=90, movable=False, pen=pen, label=text,
                               labelOpts={"position": LABEL_HEIGHTS[0], "color": color,
                                          "fill": (255, 255, 255, 200), "rotateAxis": (1, 0),
                                          "anchors": [(1, 1), (1, 1)]})
        line.setZValue(5)
        return line


class ElementLinesPanel(QWidget):
    """Checkable list of elements; toggling one shows or hides its lines on the plot."""

    elementsChanged = Signal(list)  # symbols now shown

    def __init__(self, markers: ElementMarkers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.markers = markers
        self.list = QListWidget()
        hint = QLabel("Prompt-gamma lines (keV), IAEA PGAA database. Solid: strong lines.")
        hint.setWordWrap(True)
        entries = [("511", "511 keV annihilation")]
        entries += [(s, f"{s}  ({len(e.lines)} lines, σ = {e.sigma_b:g} b)")
                    for s, e in ELEMENTS.items()]
        for symbol, text in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, symbol)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.itemChanged.connect(self._toggled)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(self.list)

    def set_checked(self, symbol: str, checked: bool) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == symbol:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        element(symbol)  # raises InputError listing the known elements

    def _toggled(self, item: QListWidgetItem) -> None:
        symbol = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.markers.show(symbol)
        else:
            self.markers.hide(symbol)
        self.elementsChanged.emit(self.markers.shown)
