"""Screenshots of the workspaces for the docs:
``python -m app.screenshots OUTDIR [WORKSPACE...] [--model WORKSPACE=PATH]``.

Starts the real main window (with throw-away settings), drives each workspace through a short
scripted session and saves ``QWidget.grab()`` images as ``OUTDIR/<workspace>_<view>.png``. A
workspace uses its bundled demo model, the model given with ``--model``, or trains a quick one.
Run it under a virtual display (``make screenshots`` uses ``xvfb-run``). Each workspace's script
is ``widgets/<ws>/screenshots.py:shots``, named in the workspace registry.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from engines.core.errors import LabLensError

WINDOW_SIZE = (1600, 1000)


def main(argv: list[str] | None = None) -> int:
    import argparse

    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import Settings
    from app.workspaces import WORKSPACES, workspace_spec
    from widgets.common.screenshots import Session

    parser = argparse.ArgumentParser(prog="python -m app.screenshots",
                                     description="Screenshots of the workspaces for the docs")
    parser.add_argument("out_dir", type=Path, metavar="OUTDIR")
    parser.add_argument("workspaces", nargs="*", metavar="WORKSPACE",
                        help="default: all registered workspaces")
    parser.add_argument("--model", action="append", default=[], metavar="WORKSPACE=PATH",
                        help="use this model instead of the demo model")
    args = parser.parse_args(argv)
    out_dir = args.out_dir
    names = args.workspaces or [spec.name for spec in WORKSPACES]
    try:
        models = {k: Path(v) for k, v in (item.split("=", 1) for item in args.model)}
    except ValueError:
        parser.error("--model expects WORKSPACE=PATH")
    try:
        scripts = {name: workspace_spec(name).load_screenshots() for name in names}
    except LabLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, start_workspace=names[0])
        window.resize(*WINDOW_SIZE)
        window.show()
        window.resizeDocks([window.task_dock], [275], Qt.Orientation.Horizontal)
        window.resizeDocks([window.log_panel], [110], Qt.Orientation.Vertical)
        session = Session(window, out_dir, models)
        try:
            for name in names:
                scripts[name](session)
        finally:
            window.close()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
