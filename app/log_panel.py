"""Log dock: shows the ``lablens`` logger's records, from any thread."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QWidget

MAX_LINES = 2000


class _Bridge(QObject):
    line = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records through a queued Qt signal."""

    def __init__(self) -> None:
        super().__init__()
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(asctime)s  %(levelname)-7s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.line.emit(self.format(record))
        except RuntimeError:  # the panel was destroyed while a worker still logged
            pass


class LogPanel(QDockWidget):
    """Read-only log view fed by the ``lablens`` logger."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self.view = QPlainTextEdit(readOnly=True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFont("monospace", 9))
        self.setWidget(self.view)
        self.handler = QtLogHandler()
        self.handler.bridge.line.connect(self.view.appendPlainText)
        logger = logging.getLogger("lablens")
        logger.setLevel(logging.INFO)
        logger.addHandler(self.handler)

    def detach(self) -> None:
        logging.getLogger("lablens").removeHandler(self.handler)
