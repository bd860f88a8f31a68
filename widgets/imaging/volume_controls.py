"""The side panel of the 3-D view: rendering preset, label legend with toggles, clipping range
per axis and the sides to look from."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QRangeSlider

from engines.imaging.volume_rendering import TRANSFER_FUNCTIONS

#: buttons to look at the volume from each side: (text, side)
SIDES = (("A", "anterior"), ("P", "posterior"), ("L", "left"), ("R", "right"),
         ("S", "superior"), ("I", "inferior"))
PANEL_WIDTH_PX = 230


class VolumeControls(QWidget):
    """Controls of the 3-D view; it only emits what the user asked for."""

    presetChosen = Signal(str)
    volumeToggled = Signal(bool)
    labelToggled = Signal(int, bool)
    clipChanged = Signal(object)  # ((z, y, x) low, (z, y, x) high) inclusive, or None
    sideChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(PANEL_WIDTH_PX)
        self.preset = QComboBox()
        for tf in TRANSFER_FUNCTIONS.values():
            self.preset.addItem(tf.label, tf.name)
        self.show_volume = QCheckBox("Show volume")
        self.show_volume.setChecked(True)
        self.legend = QListWidget()
        self.legend.setToolTip("Label surfaces: untick to hide")
        self.clip = QCheckBox("Clip to box")
        self.axis_names = ["z", "y", "x"]
        self.sliders: list[QRangeSlider] = []
        self.slider_names: list[QLabel] = []
        clip_rows = QVBoxLayout()
        for axis in "zyx":
            slider = QRangeSlider(Qt.Orientation.Horizontal)
            slider.valueChanged.connect(self._clip_changed)
            name = QLabel(axis)
            self.sliders.append(slider)
            self.slider_names.append(name)
            clip_rows.addWidget(name)
            clip_rows.addWidget(slider)
        sides = QGridLayout()
        for k, (text, side) in enumerate(SIDES):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(f"Look from the {side} side")
            button.clicked.connect(lambda _=False, side=side: self.sideChosen.emit(side))
            sides.addWidget(button, k // 6, k % 6)

        rendering = QGroupBox("Rendering")
        rendering_layout = QVBoxLayout(rendering)
        rendering_layout.addWidget(self.preset)
        rendering_layout.addWidget(self.show_volume)
        labels = QGroupBox("Labels")
        QVBoxLayout(labels).addWidget(self.legend)
        clipping = QGroupBox("Clipping")
        clipping_layout = QVBoxLayout(clipping)
        clipping_layout.addWidget(self.clip)
        clipping_layout.addLayout(clip_rows)
        view = QGroupBox("View from")
        view.setLayout(sides)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        for box in (rendering, labels, clipping, view):
            layout.addWidget(box)
        layout.addStretch(1)

        self.preset.activated.connect(
            lambda i: self.presetChosen.emit(str(self.preset.itemData(i))))
        self.show_volume.toggled.connect(self.volumeToggled)
        self.clip.toggled.connect(self._clip_changed)
        self.legend.itemChanged.connect(
            lambda item: self.labelToggled.emit(int(item.data(Qt.ItemDataRole.UserRole)),
                                                item.checkState() == Qt.CheckState.Checked))

    # -- filled in by the view -----------------------------------------------------------------
    def set_axes(self, shape_zyx: tuple[int, int, int], names: list[str]) -> None:
        """Slider ranges for a volume of ``shape_zyx``, rows named ``names`` (z, y, x)."""
        self.axis_names = list(names)
        for slider, n in zip(self.sliders, shape_zyx, strict=True):
            slider.blockSignals(True)
            slider.setRange(0, n - 1)
            slider.setValue((0, n - 1))
            slider.blockSignals(False)
        self._name_rows()

    def set_clip_values(self, low_zyx, high_zyx) -> None:
        """Move the sliders (without emitting) and tick the clip box."""
        for widget in (self.clip, *self.sliders):
            widget.blockSignals(True)
        self.clip.setChecked(True)
        for slider, low, high in zip(self.sliders, low_zyx, high_zyx, strict=True):
            slider.setValue((int(low), int(high)))
        for widget in (self.clip, *self.sliders):
            widget.blockSignals(False)
        self._name_rows()

    def _name_rows(self) -> None:
        for slider, label, name in zip(self.sliders, self.slider_names, self.axis_names,
                                       strict=True):
            low, high = slider.value()
            label.setText(f"{name}: {int(low)}–{int(high)} of 0–{slider.maximum()}")

    def set_legend(self, entries: list[tuple[int, str, tuple[int, ...]]]) -> None:
        """One checkable row per ``(label, name, RGB 0–255)``."""
        self.legend.blockSignals(True)
        self.legend.clear()
        for label, name, colour in entries:
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(*colour[:3]))
            item = QListWidgetItem(QIcon(swatch), f"{name}")
            item.setData(Qt.ItemDataRole.UserRole, int(label))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.legend.addItem(item)
        self.legend.blockSignals(False)

    def set_preset(self, name: str) -> None:
        self.preset.setCurrentIndex(self.preset.findData(name))

    def clip_range(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        if not self.clip.isChecked():
            return None
        values = [slider.value() for slider in self.sliders]
        return tuple(int(v[0]) for v in values), tuple(int(v[1]) for v in values)

    def set_label_checked(self, label: int, checked: bool) -> None:
        """Tick or untick the legend row of ``label`` without emitting."""
        self.legend.blockSignals(True)
        for row in range(self.legend.count()):
            item = self.legend.item(row)
            if int(item.data(Qt.ItemDataRole.UserRole)) == int(label):
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.legend.blockSignals(False)

    def _clip_changed(self, *_args) -> None:
        self._name_rows()
        self.clipChanged.emit(self.clip_range())
