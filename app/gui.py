"""Start the desktop application."""

from __future__ import annotations

import logging
import sys


def run_gui(workspace: str | None = None) -> int:
    """Create the QApplication and the main window, and run the event loop."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("LabLens")
    app.setOrganizationName("LabLens")
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    window = MainWindow(start_workspace=workspace)
    window.show()
    return app.exec()
