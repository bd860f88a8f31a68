"""The soil workspace's toolbar: what the slice views overlay, the 3-D view, exports.

Every action carries its keyboard shortcut; the workspace also adds the actions to itself so
the shortcuts work wherever the focus is inside the workspace.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QSizePolicy, QSlider, QToolBar, QWidget

from widgets.common.actions import shortcut_action

OVERLAYS = {"bands": ("Object bands", "1", "the solid of each object band after trimming"),
            "gradcam": ("Grad-CAM", "2", "where the surrogate looked (after Analyze with a "
                                         "model)"),
            "none": ("No overlay", "3", "the CT alone")}


class SoilToolbar(QToolBar):
    """Actions only; the workspace connects them."""

    def __init__(self, parent: QWidget, three_d: bool) -> None:
        super().__init__("Soil", parent)
        self.setMovable(False)
        self.overlays = QActionGroup(self)
        self.overlay_actions: dict[str, QAction] = {}
        for name, (text, key, tip) in OVERLAYS.items():
            action = shortcut_action(self, text, [key], f"Overlay {tip}", checkable=True)
            action.setData(name)
            self.overlays.addAction(action)
            self.overlay_actions[name] = action
        self.overlay_actions["bands"].setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(5, 100)
        self.opacity.setValue(45)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Opacity of the overlay (%)")
        self.three_d = shortcut_action(self, "3-D view", ["Ctrl+3"],
                                       "Volume rendering with pore and stone surfaces and the "
                                       "crop box (OpenGL; off by default without a display)",
                                       checkable=True)
        self.three_d.setChecked(three_d)
        self.export_profile = shortcut_action(self, "Profile CSV…", ["Ctrl+Shift+E"],
                                              "Save the porosity per slice of the current core")
        self.export_metrics = shortcut_action(self, "Tables CSV…", ["Ctrl+Shift+T"],
                                              "Save the porosity per object and the pore "
                                              "metrics of the current core")
        self.export_plot = shortcut_action(self, "Plot PNG/SVG…", ["Ctrl+E"],
                                           "Save the profile plot (or the plot of the "
                                           "current tab)")
        self.addWidget(QLabel(" Overlay: "))
        for action in self.overlay_actions.values():
            self.addAction(action)
        self.addWidget(QLabel(" Opacity "))
        self.addWidget(self.opacity)
        self.addSeparator()
        self.addAction(self.three_d)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addWidget(QLabel("Export: "))
        for action in (self.export_profile, self.export_metrics, self.export_plot):
            self.addAction(action)

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [*self.overlay_actions.values(), self.three_d, self.export_profile,
                self.export_metrics, self.export_plot]

    def overlay(self) -> str:
        return str(self.overlays.checkedAction().data())

    def overlay_opacity(self) -> float:
        """The opacity slider as 0–1."""
        return self.opacity.value() / 100.0
