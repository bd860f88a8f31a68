"""The nodules workspace's toolbar: scan choice, score threshold, colours, draw mode, exports.

Every action carries its keyboard shortcut; the workspace adds the actions to itself so the
keys work wherever the focus is inside it (the slice views keep the arrow keys and the wheel
for slices).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QSlider, QToolBar, QWidget

from widgets.common.actions import shortcut_action
from widgets.nodules.box_layer import COLOUR_MODES

SLIDER_STEPS = 100


class NodulesToolbar(QToolBar):
    """Actions and controls only; the workspace connects them."""

    thresholdChanged = Signal(float)

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Nodules", parent)
        self.setMovable(False)
        self.scan_combo = QComboBox()
        self.scan_combo.setMinimumWidth(180)
        self.scan_combo.setToolTip("Scan of the open dataset")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setFixedWidth(160)
        self.slider.setToolTip("Candidates below this probability are hidden (reviewed ones "
                               "stay)")
        self.threshold_label = QLabel()
        self.threshold_label.setMinimumWidth(44)
        self.slider.valueChanged.connect(self._slid)
        self.colour_combo = QComboBox()
        for name, label in COLOUR_MODES.items():
            self.colour_combo.addItem(label, name)
        self.colour_combo.setToolTip("Colour the boxes by review state, or (with annotations) "
                                     "by TP / FP with the missed nodules dashed")
        self.draw = shortcut_action(self, "Draw box", ["D"], "Draw a box around a nodule the "
                                    "detector missed (in any view)", checkable=True)
        self.three_d = shortcut_action(self, "3-D view", ["Ctrl+3"],
                                       "The lungs rendered in 3-D with the candidates as "
                                       "spheres, in the 2 × 2 layout (OpenGL)",
                                       checkable=True)
        self.export_submission = shortcut_action(
            self, "Submission CSV…", ["Ctrl+Shift+S"], "LUNA16 submission: seriesuid, coordX, "
            "coordY, coordZ, probability, diameter_mm of every candidate not rejected")
        self.export_annotations = shortcut_action(
            self, "annotations.csv…", ["Ctrl+Shift+A"], "The accepted nodules as LUNA16 "
            "annotations (world mm, diameter_mm)")
        self.export_review = shortcut_action(self, "Review CSV/JSON…", ["Ctrl+Shift+R"],
                                             "Every item with its state, box and note")
        self.export_report = shortcut_action(self, "Report PNG…", ["Ctrl+E"],
                                             "The views with the boxes as an image (or the plot "
                                             "of the current tab)")
        self.addWidget(QLabel(" Scan: "))
        self.addWidget(self.scan_combo)
        self.addSeparator()
        self.addWidget(QLabel(" Probability ≥ "))
        self.addWidget(self.slider)
        self.addWidget(self.threshold_label)
        self.addSeparator()
        self.addWidget(QLabel(" Colour: "))
        self.addWidget(self.colour_combo)
        self.addAction(self.draw)
        self.addAction(self.three_d)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addWidget(QLabel("Export: "))
        for action in self.export_actions:
            self.addAction(action)
        self.set_threshold(0.5)

    @property
    def export_actions(self) -> list[QAction]:
        return [self.export_submission, self.export_annotations, self.export_review,
                self.export_report]

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [self.draw, self.three_d, *self.export_actions]

    @property
    def threshold(self) -> float:
        return self.slider.value() / SLIDER_STEPS

    def set_threshold(self, value: float) -> None:
        """Move the slider (emits :attr:`thresholdChanged` when it moves)."""
        self.slider.setValue(round(min(max(value, 0.0), 1.0) * SLIDER_STEPS))
        self.threshold_label.setText(f"{self.threshold:.2f}")

    def _slid(self, _value: int) -> None:
        self.threshold_label.setText(f"{self.threshold:.2f}")
        self.thresholdChanged.emit(self.threshold)

    def set_scans(self, names: list[str], index: int) -> None:
        """The dataset's scans in the combo (hidden choice when there is only one)."""
        self.scan_combo.blockSignals(True)
        self.scan_combo.clear()
        self.scan_combo.addItems(names)
        self.scan_combo.setCurrentIndex(index)
        self.scan_combo.setEnabled(len(names) > 1)
        self.scan_combo.blockSignals(False)
