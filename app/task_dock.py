"""Task dock: one row per job with its progress bar, message and a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.task_runner import TaskHandle, TaskRunner

STATE_TEXT = {"done": "finished", "cancelled": "cancelled", "failed": "failed"}
MIN_WIDTH = 230  # room for a title, the progress bar and Cancel


class TaskRow(QWidget):
    """Title, progress bar, status text and Cancel for one task."""

    def __init__(self, handle: TaskHandle, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handle = handle
        self.title = QLabel(f"<b>{handle.title}</b>")
        self.title.setWordWrap(True)  # a narrow dock wraps titles instead of cutting them
        self.title.setToolTip(handle.title)
        self.bar = QProgressBar(maximum=1000)
        self.bar.setTextVisible(True)
        self.status = QLabel(handle.message)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        handle.progressed.connect(self._update)
        handle.ended.connect(self._ended)

    def _cancel(self) -> None:
        self.handle.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling at the next step…")

    def _update(self, _report=None) -> None:
        self.bar.setValue(int(round(self.handle.fraction * 1000)))
        self.bar.setFormat(f"{self.handle.fraction:.0%}")
        self.status.setText(self.handle.message)

    def _ended(self, state: str) -> None:
        self._update()
        if state == "done":
            self.bar.setValue(1000)
            self.bar.setFormat("100%")
        elapsed = time.monotonic() - self.handle.started_at
        self.status.setText(f"{STATE_TEXT.get(state, state)} after {elapsed:.1f} s")
        self.cancel_button.hide()


class TaskDock(QDockWidget):
    """Lists running and recently ended tasks; ended ones can be cleared."""

    MAX_ENDED = 8

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Tasks", parent)
        self.setObjectName("taskDock")
        self.rows: list[TaskRow] = []
        self._list = QVBoxLayout()
        self._list.addStretch(1)
        inner = QWidget()
        inner.setLayout(self._list)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.clear_button)
        self.setWidget(body)
        self.setMinimumWidth(MIN_WIDTH)
        runner.taskStarted.connect(self.add_task)

    def add_task(self, handle: TaskHandle) -> None:
        row = TaskRow(handle)
        self.rows.append(row)
        self._list.insertWidget(self._list.count() - 1, row)
        ended = [r for r in self.rows if r.handle.state != "running"]
        for old in ended[: max(0, len(ended) - self.MAX_ENDED)]:
            self._remove(old)

    def clear_finished(self) -> None:
        for row in [r for r in self.rows if r.handle.state != "running"]:
            self._remove(row)

    def _remove(self, row: TaskRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
