"""Reference library and opened files as a tree: class → files, with counts and live time.

Every row that is a spectrum carries its index in the workspace's list of opened spectra;
selecting it emits :attr:`LibraryPanel.entrySelected`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.spectrum.library import SpectrumLibrary
from engines.spectrum.spectrum import Spectrum

ENTRY_ROLE = Qt.ItemDataRole.UserRole


def _live(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:  # None or NaN
        return "–"
    return f"{seconds:,.0f} s" if seconds >= 100 else f"{seconds:.3g} s"


def _counts(total: float) -> str:
    if total >= 1e6:
        return f"{total / 1e6:.1f} M"
    return f"{total / 1e3:.1f} k" if total >= 1e4 else f"{total:.0f}"


class LibraryPanel(QWidget):
    """Tree of the reference library (by class) and the individually opened files."""

    entrySelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No reference library loaded.")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Spectrum", "Counts", "Live"])
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.opened_root: QTreeWidgetItem | None = None
        self._items: dict[int, QTreeWidgetItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)

    def set_library(self, library: SpectrumLibrary, name: str, first_entry: int = 0) -> None:
        """Show the library's classes and files; file ``i`` is entry ``first_entry + i``."""
        self.tree.clear()
        self._items.clear()
        self.opened_root = None
        totals = library.spectra.sum(axis=1)
        for index, class_name in enumerate(library.classes):
            rows = [i for i, label in enumerate(library.labels) if label == index]
            lives = [library.live_times[i] for i in rows]
            parent = QTreeWidgetItem([class_name, _counts(sum(totals[i] for i in rows)),
                                      _live(sum(lives))])
            parent.setToolTip(0, f"{class_name}: {len(rows)} file(s)")
            self.tree.addTopLevelItem(parent)
            for i in rows:
                child = QTreeWidgetItem([library.files[i].name, _counts(totals[i]),
                                         _live(library.live_times[i])])
                child.setToolTip(0, str(library.files[i]))
                child.setData(0, ENTRY_ROLE, first_entry + i)
                parent.addChild(child)
                self._items[first_entry + i] = child
        self.summary.setText(f"<b>{name}</b>: {library.n_classes} classes, "
                             f"{len(library.files)} files")
        for column in (1, 2):
            self._align_right(column)

    def add_opened(self, entry: int, spectrum: Spectrum) -> None:
        """Add an individually opened file under "Opened files"."""
        if self.opened_root is None:
            self.opened_root = QTreeWidgetItem(["Opened files", "", ""])
            self.tree.addTopLevelItem(self.opened_root)
            self.opened_root.setExpanded(True)
        name = spectrum.source.name if spectrum.source else spectrum.name
        child = QTreeWidgetItem([name, _counts(spectrum.total_counts),
                                 _live(spectrum.live_time_s)])
        child.setToolTip(0, str(spectrum.source or name))
        child.setData(0, ENTRY_ROLE, entry)
        self.opened_root.addChild(child)
        self._items[entry] = child
        self._align_right(1)
        self._align_right(2)

    def select(self, entry: int) -> None:
        """Highlight an entry without emitting :attr:`entrySelected`."""
        item = self._items.get(entry)
        if item is None:
            return
        self.tree.blockSignals(True)
        if item.parent() is not None:
            item.parent().setExpanded(True)
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item)
        self.tree.blockSignals(False)

    def entries(self) -> Sequence[int]:
        return sorted(self._items)

    def _align_right(self, column: int) -> None:
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            item.setTextAlignment(column, align)
            stack.extend(item.child(i) for i in range(item.childCount()))

    def _current_changed(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is None:
            return
        entry = item.data(0, ENTRY_ROLE)
        if entry is not None:
            self.entrySelected.emit(int(entry))
