"""The spectrum workspace's toolbar: analyze, step through spectra, view toggles and exports.

Every action carries its keyboard shortcut; the workspace also adds the actions to itself so the
shortcuts work wherever the focus is inside the workspace (text fields keep their own keys).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QSizePolicy, QToolBar, QWidget

from widgets.common.actions import shortcut_action
from widgets.common.navigator import Navigator


class SpectrumToolbar(QToolBar):
    """Actions only; the workspace connects them."""

    def __init__(self, parent: QWidget, describe: Callable[[int], str]) -> None:
        super().__init__("Spectrum", parent)
        self.setMovable(False)
        self.analyze_all = shortcut_action(self, "Analyze all", [], "Classify every opened spectrum "
                                   "(Analyze, Ctrl+Enter, classifies the shown one)")
        self.navigator = Navigator(parent, noun="spectrum", describe=describe, ends=False)
        self.navigator.position.setMinimumWidth(220)
        self.log_y = shortcut_action(self, "Log y", ["L"], "Logarithmic / linear counts axis",
                             checkable=True)
        self.log_y.setChecked(True)
        self.cam = shortcut_action(self, "CAM", ["C"], "Show the class activation map behind the "
                           "spectrum", checkable=True)
        self.cam.setChecked(True)
        self.zoom_kept = shortcut_action(self, "Zoom to kept range", ["K"], "Show the energy range the "
                                 "model uses")
        self.export_predictions = shortcut_action(self, "Export predictions CSV…", ["Ctrl+Shift+E"],
                                          "Save the predictions of this session as CSV")
        self.export_plot = shortcut_action(self, "Export plot PNG/SVG…", ["Ctrl+E"],
                                   "Save the plot of the current tab as PNG or SVG")
        self.addAction(self.analyze_all)
        self.addSeparator()
        self.navigator.add_to(self)
        self.addSeparator()
        self.addAction(self.log_y)
        self.addAction(self.cam)
        self.addAction(self.zoom_kept)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addAction(self.export_predictions)
        self.addAction(self.export_plot)

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [*self.navigator.shortcut_actions, self.log_y, self.cam, self.zoom_kept,
                self.export_predictions, self.export_plot]
