"""The side panel of the 3-D view: rendering preset, label legend with toggles, clipping range
per axis and the sides to look from."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledRangeSlider

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
        self.sliders: list[QLabeledRangeSlider] = []
        self.slider_names: list[QLabel] = []
        clip_form = QFormLayout()
        for axis in "zyx":
            slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
            slider.setEdgeLabelMode(QLabeledRangeSlider.EdgeLabelMode.NoLabel)
            slider.valueChanged.connect(self._clip_changed)
            name = QLabel(axis)
            self.sliders.append(slider)
            self.slider_names.append(name)
            clip_form.addRow(name, slider)
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
        clipping_layout.addLayout(clip_form)
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
        for slider, label, n, name in zip(self.sliders, self.slider_names, shape_zyx, names,
                                          strict=True):
            slider.blockSignals(True)
            slider.setRange(0, n - 1)
            slider.setValue((0, n - 1))
            slider.blockSignals(False)
            label.setText(name)

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

    def _clip_changed(self, *_args) -> None:
        self.clipChanged.emit(self.clip_range())
