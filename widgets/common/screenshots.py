"""What a workspace's screenshot script (``widgets/<ws>/screenshots.py``, ``shots(session)``)
is handed: the real main window, the output folder, and helpers to wait and grab."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


class Session:
    """The window, the output folder and helpers to wait and grab."""

    def __init__(self, window, out_dir: Path, models: dict[str, Path] | None = None) -> None:
        self.window = window
        self.out_dir = out_dir
        self.models = models or {}

    def wait(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Process events until ``predicate()`` holds; raise TimeoutError naming ``what``."""
        from PySide6.QtWidgets import QApplication

        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            QApplication.processEvents()
            time.sleep(0.02)

    def settle(self, seconds: float = 0.5) -> None:
        """Let layouts, throttled updates and repaints finish."""
        from PySide6.QtWidgets import QApplication

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.02)

    def wait_for_model(self, workspace, timeout_s: float = 120) -> None:
        """Wait until a model load that is under way has finished (nothing when none is)."""
        if any(h.title.startswith("Loading model") for h in self.window.runner.running):
            self.wait(workspace.has_model, timeout_s, "the model")

    def grab(self, name: str) -> Path:
        self.settle()
        path = self.out_dir / f"{name}.png"
        if not self.picture().save(str(path)):
            raise OSError(f"could not write {path}")
        print(f"wrote {path}")
        return path

    def picture(self):
        """The window as a QPixmap, with every visible 3-D view's own picture painted in:
        ``QWidget.grab`` cannot see into an embedded OpenGL window (it gives garbage there), so
        each widget with a ``grab_picture()`` (the VTK volume view) is read back from OpenGL."""
        from PySide6.QtCore import QPoint
        from PySide6.QtGui import QPainter
        from PySide6.QtWidgets import QWidget

        pixmap = self.window.grab()
        views = [w for w in self.window.findChildren(QWidget)
                 if callable(getattr(w, "grab_picture", None)) and w.isVisible()]
        if views:
            painter = QPainter(pixmap)
            for view in views:
                painter.drawPixmap(view.mapTo(self.window, QPoint(0, 0)), view.grab_picture())
            painter.end()
        return pixmap
