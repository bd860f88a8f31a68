"""The window/level controls of the slice views: a preset menu and level and width boxes."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from engines.imaging.views import WINDOW_PRESETS, Window

CUSTOM = "custom"
VALUE_LIMIT = 1e7


class WindowLevelBar(QWidget):
    """Preset combo (lung, mediastinum, bone, soil, full range, custom) with level and width.

    Emits :attr:`presetChosen` when the user picks a preset and :attr:`windowEdited` when they
    type a level or width; :meth:`show_window` reflects the views' window without emitting.
    """

    presetChosen = Signal(str)
    windowEdited = Signal(float, float)  # level, width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip("Window presets; right-drag in a view: horizontal = width, "
                              "vertical = level")
        for preset in WINDOW_PRESETS.values():
            self.combo.addItem(preset.label, preset.name)
        self.combo.addItem("Custom", CUSTOM)
        self.level_box = self._spin_box("Level: value shown mid-grey")
        self.width_box = self._spin_box("Width: value range from black to white")
        self.width_box.setMinimum(1e-6)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Window"))
        layout.addWidget(self.combo)
        layout.addWidget(QLabel("L"))
        layout.addWidget(self.level_box)
        layout.addWidget(QLabel("W"))
        layout.addWidget(self.width_box)
        self.combo.activated.connect(self._preset_activated)
        self.level_box.editingFinished.connect(self._edited)
        self.width_box.editingFinished.connect(self._edited)

    @staticmethod
    def _spin_box(tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(-VALUE_LIMIT, VALUE_LIMIT)
        box.setDecimals(1)
        box.setKeyboardTracking(False)
        box.setToolTip(tip)
        return box

    def show_window(self, window: Window, preset: str | None) -> None:
        """Show ``window`` and select ``preset`` (None: Custom) without emitting."""
        for widget in (self.combo, self.level_box, self.width_box):
            widget.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(preset or CUSTOM))
        self.level_box.setValue(window.level)
        self.width_box.setValue(window.width)
        for widget in (self.combo, self.level_box, self.width_box):
            widget.blockSignals(False)

    @property
    def preset(self) -> str:
        return str(self.combo.currentData())

    def _preset_activated(self, index: int) -> None:
        name = str(self.combo.itemData(index))
        if name != CUSTOM:
            self.presetChosen.emit(name)

    def _edited(self) -> None:
        self.windowEdited.emit(float(self.level_box.value()), float(self.width_box.value()))
