"""The CDC workspace's toolbar: step through events, colour mode, peer comparison, exports.

Every action carries its keyboard shortcut; the workspace also adds the actions to itself so
the shortcuts work wherever the focus is inside the workspace (text fields and the threshold
slider keep their own keys).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolBar, QWidget

from widgets.cdc.palette import COLOUR_MODES
from widgets.common.actions import shortcut_action
from widgets.common.navigator import Navigator


class CdcToolbar(QToolBar):
    """Actions only; the workspace connects them."""

    def __init__(self, parent: QWidget, describe: Callable[[int], str]) -> None:
        super().__init__("CDC", parent)
        self.setMovable(False)
        self.navigator = Navigator(parent, noun="event", describe=describe,
                                   find_tip="Event number")
        self.navigator.position.setMinimumWidth(150)
        self.modes = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for key, (name, mode) in enumerate(COLOUR_MODES.items(), start=1):
            action = shortcut_action(self, mode.title, [str(key)],
                             f"Colour hit cells by {mode.title.lower()}", checkable=True)
            action.setData(name)
            self.modes.addAction(action)
            self.mode_actions[name] = action
        self.mode_actions["outcome"].setChecked(True)
        self.peer = shortcut_action(self, "Compare with GBDT peer", [],
                                    "Takes effect at the next Analyze: it then also fits and "
                                    "scores the GBDT peer (2-fold cross-fit on the file's own "
                                    "events; needs truth)", checkable=True)
        self.export_table = shortcut_action(self, "Event table CSV…", ["Ctrl+Shift+E"],
                                    "Save the event list with purity/retention at the cut")
        self.export_predictions = shortcut_action(self, "Predictions HDF5…", ["Ctrl+Shift+P"],
                                          "Save every hit with its score (after Analyze)")
        self.export_plot = shortcut_action(self, "Display PNG/SVG…", ["Ctrl+E"],
                                   "Save the event display (or the plot of the current tab)")
        self.navigator.add_to(self)
        self.addSeparator()
        self.addWidget(QLabel(" Colour: "))
        for action in self.mode_actions.values():
            self.addAction(action)
        self.addSeparator()
        self.addAction(self.peer)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addWidget(QLabel("Export: "))
        for action in (self.export_table, self.export_predictions, self.export_plot):
            self.addAction(action)

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [*self.navigator.shortcut_actions, *self.mode_actions.values(),
                self.export_table, self.export_predictions, self.export_plot]
