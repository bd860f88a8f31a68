"""Screenshots of the workspaces for the docs:
``python -m app.screenshots OUTDIR [WORKSPACE...] [--model WORKSPACE=PATH]``.

Starts the real main window (with throw-away settings), drives each workspace through a short
scripted session and saves ``QWidget.grab()`` images as ``OUTDIR/<workspace>_<view>.png``. A
workspace uses its bundled demo model, the model given with ``--model``, or trains a quick one.
Run it under a virtual display (``make screenshots`` uses ``xvfb-run``). A workspace adds itself
by registering a function in :data:`SHOTS`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WINDOW_SIZE = (1600, 1000)


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

    def grab(self, name: str) -> Path:
        self.settle()
        path = self.out_dir / f"{name}.png"
        if not self.window.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        print(f"wrote {path}")
        return path


def spectrum_shots(session: Session) -> list[Path]:
    """Sample library + model, Analyze with element lines, training (only when there is no
    demo model), evaluation, live acquisition."""
    from engines.spectrum.evaluation import EvaluateConfig
    from engines.spectrum.live import LiveConfig
    from engines.spectrum.training import TrainConfig

    window = session.window
    ws = window.switch_workspace("spectrum")
    session.wait(lambda: ws.library is not None, 300, "the sample library")
    shots = []
    if "spectrum" in session.models:
        ws.load_model(session.models["spectrum"])
    if any(h.title.startswith("Loading model") for h in window.runner.running):
        session.wait(ws.has_model, 120, "the model")
    previous = ws.classifier
    # a short run for the curves when a model is at hand, else a quick model to show
    ws.train_model()
    ws.training.set_config(TrainConfig(arch="small_cnn", counts=(5000, 200_000), batch_size=64,
                                       steps=300 if previous is None else 80, lr=3e-3,
                                       val_every=10, val_draws=20, target_accuracy=0.97))
    trained = []
    ws.trainingFinished.connect(trained.append)
    ws.training.train_button.click()
    session.wait(lambda: bool(trained), 900, "training")
    shots.append(session.grab("spectrum_training"))
    if previous is not None:
        ws.set_classifier(previous)
    ws.tabs.setCurrentIndex(0)
    ws.right_tabs.setCurrentWidget(ws.results)
    pvc = next(i for i, s in enumerate(ws.entries) if s.source and s.source.parent.name == "PVC")
    ws.show_entry(pvc)
    for symbol in ("Cl", "H"):
        ws.elements.set_checked(symbol, True)
    done = []
    ws.analysisFinished.connect(done.append)
    ws.analyze()
    session.wait(lambda: bool(done), 60, "Analyze")
    ws.plot.hover_at(1164.9)  # what hovering over the Cl line shows
    shots.append(session.grab("spectrum_analyze"))

    ws.tabs.setCurrentWidget(ws.evaluation)
    ws.evaluation.set_config(EvaluateConfig(counts=(100, 300, 1000, 3000, 10_000, 19650,
                                                    100_000), draws_per_class=40))
    evaluated = []
    ws.evaluationFinished.connect(evaluated.append)
    ws.start_evaluation()
    session.wait(lambda: bool(evaluated), 600, "the evaluation")
    shots.append(session.grab("spectrum_evaluation"))

    ws.tabs.setCurrentIndex(0)
    for symbol, shown in (("Cl", False), ("H", False), ("Cu", True)):
        ws.elements.set_checked(symbol, shown)
    ws.live_panel.reference_combo.setCurrentText("Cu")
    ws.live_panel.set_config(LiveConfig(rate_cps=ws.live_panel.rate_spin.value(),
                                        update_interval_s=0.05, max_live_time_s=5.0,
                                        threshold=0.95, realtime=False))
    lived = []
    ws.liveFinished.connect(lived.append)
    ws.start_live()
    session.wait(lambda: bool(lived), 300, "the live acquisition")
    shots.append(session.grab("spectrum_live"))
    return shots


def cdc_shots(session: Session) -> list[Path]:
    """Sample events + model: a short training run, Analyze with the GBDT peer, the event
    display in outcome and time colours (with the model's view), the purity-retention curves."""
    import numpy as np

    from engines.cdc.images import ImageConfig
    from engines.cdc.training import TrainConfig

    window = session.window
    ws = window.switch_workspace("cdc")
    session.wait(lambda: ws.opened is not None, 600, "the CDC sample events")
    if "cdc" in session.models:
        ws.load_model(session.models["cdc"])
    if any(h.title.startswith("Loading model") for h in window.runner.running):
        session.wait(ws.has_model, 120, "the model")
    previous = ws.segmenter
    shots = []
    # a short run for the curves when a model is at hand, else a quick model to show
    ws.train_model()
    ws.training.set_configs(ImageConfig(input_size=96, scaling="limited"),
                            TrainConfig(encoder="efficientnet-b0", epochs=3 if previous else 6,
                                        batch_size=8, pos_weight=5.0))
    trained: list = []
    ws.trainingFinished.connect(trained.append)
    ws.training.train_button.click()
    session.wait(lambda: bool(trained), 1800, "training")
    shots.append(session.grab("cdc_training"))
    if previous is not None:
        ws.set_segmenter(previous)

    ws.tabs.setCurrentWidget(ws.events_page)
    ws.toolbar.peer.setChecked(True)
    analyzed: list = []
    ws.analysisFinished.connect(analyzed.append)
    ws.analyze()
    session.wait(lambda: bool(analyzed), 1800, "Analyze")
    table = ws.opened.table
    purity, retention = ws.analysis.model.per_event(ws.threshold.threshold)
    quality = np.nan_to_num(purity * retention) * (table.n_signal_hits >= 60)
    # a typical good event: the median of those above the file's median quality
    good = np.flatnonzero(quality >= np.median(quality[quality > 0]))
    ws.show_event(int(good[np.argsort(quality[good])[len(good) // 2]]))
    ws.toolbar.mode_actions["outcome"].trigger()
    event = ws.shown_event
    cells, counts = np.unique(event.cell, return_counts=True)
    signal = np.isin(cells, event.cell[event.is_signal])
    multi = cells[signal & (counts > 1)]
    ws.display.hover_cell(int(multi[0] if multi.size else cells[signal][0]))
    shots.append(session.grab("cdc_events"))

    ws.toolbar.mode_actions["time"].trigger()
    ws.threshold.set_window((-50.0, 400.0), (0.0, 700.0))  # the paper's signal region
    ws.model_view.format_combo.setCurrentIndex(1)  # the normal (x, y) image
    shots.append(session.grab("cdc_time_window"))
    ws.threshold.reset_window()
    ws.model_view.format_combo.setCurrentIndex(0)
    ws.toolbar.mode_actions["outcome"].trigger()

    ws.tabs.setCurrentWidget(ws.curves)
    shots.append(session.grab("cdc_purity_retention"))
    ws.tabs.setCurrentWidget(ws.events_page)
    return shots


#: workspace name -> function that scripts it and returns the images written
SHOTS: dict[str, Callable[[Session], list[Path]]] = {"spectrum": spectrum_shots, "cdc": cdc_shots}


def main(argv: list[str] | None = None) -> int:
    import argparse

    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m app.screenshots",
                                     description="Screenshots of the workspaces for the docs")
    parser.add_argument("out_dir", type=Path, metavar="OUTDIR")
    parser.add_argument("workspaces", nargs="*", metavar="WORKSPACE",
                        help=f"default: all ({', '.join(SHOTS)})")
    parser.add_argument("--model", action="append", default=[], metavar="WORKSPACE=PATH",
                        help="use this model instead of the demo model")
    args = parser.parse_args(argv)
    out_dir = args.out_dir
    names = args.workspaces or list(SHOTS)
    try:
        models = {k: Path(v) for k, v in (item.split("=", 1) for item in args.model)}
    except ValueError:
        parser.error("--model expects WORKSPACE=PATH")
    unknown = [n for n in names if n not in SHOTS]
    if unknown:
        print(f"no screenshots for {', '.join(unknown)}; valid: {', '.join(SHOTS)}",
              file=sys.stderr)
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
                SHOTS[name](session)
        finally:
            window.close()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
