"""The start/Stop button pair of every long-running panel (training, evaluation, live runs)."""

from __future__ import annotations

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QPushButton


class RunButtons:
    """A start button and a Stop button that emit the panel's signals; Stop is enabled only
    while running, the start button only while idle."""

    def __init__(self, start_text: str, start: SignalInstance, stop: SignalInstance) -> None:
        self.start = QPushButton(start_text)
        self.stop = QPushButton("Stop")
        self.start.clicked.connect(start)
        self.stop.clicked.connect(stop)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        self.start.setEnabled(not running)
        self.stop.setEnabled(running)

    def row(self, *extra: QPushButton) -> QHBoxLayout:
        """The pair side by side, followed by ``extra`` buttons."""
        row = QHBoxLayout()
        for button in (self.start, self.stop, *extra):
            row.addWidget(button)
        return row
