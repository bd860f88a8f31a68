"""The sem workspace's toolbar: the image of the data set, what the overlay shows and how,
the data bar setting, and exports.

Actions only; the workspace connects them. Every action with a shortcut is also added to the
workspace so the keys work wherever the focus is inside it (review keys are the review
panel's).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QSlider, QSpinBox, QToolBar, QWidget

from widgets.common.actions import shortcut_action

#: what the overlay shows: the stitched pixel classes or the max-vote object map
LAYERS = {"objects": "Objects (max-vote)", "pixels": "Pixel classes", "truth": "Ground truth",
          "none": "No overlay"}
#: how: fills, outlines of the objects, or both
MODES = {"both": "Fill + outline", "fill": "Fill", "outline": "Outline"}


class SemToolbar(QToolBar):
    """Image choice, overlay layer / mode / opacity, data bar rows and exports."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("SEM", parent)
        self.setMovable(False)
        self.image_combo = QComboBox()
        self.image_combo.setToolTip("Images of the open data set")
        self.image_combo.setMinimumWidth(170)
        self.image_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_combo = _combo(LAYERS, "What the overlay shows")
        self.mode_combo = _combo(MODES, "Fills, object outlines, or both")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Overlay opacity")
        self.crop_bottom = QSpinBox()
        self.crop_bottom.setRange(0, 100_000)
        self.crop_bottom.setSuffix(" rows")
        self.crop_bottom.setToolTip("Rows of an instrument data bar to cut from the bottom of the "
                                    "image (applies when the image is opened again)")
        self.fit = shortcut_action(parent, "Fit", ["F"], "Show the whole image")
        self.export_objects = shortcut_action(parent, "Objects CSV…", ["Ctrl+Shift+E"],
                                              "Save the corrected object table (CSV or JSON)")
        self.export_labels = shortcut_action(parent, "Object map PNG…", ["Ctrl+Shift+L"],
                                             "Save the corrected max-vote object map as a "
                                             "class-index PNG")
        self.export_view = shortcut_action(parent, "View PNG/SVG…", ["Ctrl+E"],
                                           "Save the image view (or the plot of the current tab)")
        self.addWidget(QLabel(" Image: "))
        self.addWidget(self.image_combo)
        self.addSeparator()
        self.addWidget(QLabel(" Overlay: "))
        self.addWidget(self.layer_combo)
        self.addWidget(self.mode_combo)
        self.addWidget(self.opacity)
        self.addAction(self.fit)
        self.addSeparator()
        self.addWidget(QLabel(" Data bar: "))
        self.addWidget(self.crop_bottom)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addWidget(QLabel("Export: "))
        for action in (self.export_objects, self.export_labels, self.export_view):
            self.addAction(action)

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [self.fit, self.export_objects, self.export_labels, self.export_view]

    @property
    def layer(self) -> str:
        return self.layer_combo.currentData()

    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_layer(self, layer: str) -> None:
        self.layer_combo.setCurrentIndex(self.layer_combo.findData(layer))


def _combo(entries: dict[str, str], tip: str) -> QComboBox:
    combo = QComboBox()
    for key, text in entries.items():
        combo.addItem(text, key)
    combo.setToolTip(tip)
    return combo
