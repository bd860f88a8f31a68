"""Screenshots of the CDC workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

#: the real ICEDUST file's shape: 25 event windows, the signal track in two
WINDOWS, SIGNAL_WINDOWS = (25, (7, 18))


def real_like_file(folder: Path, seed: int = 5) -> Path:
    """A real-like ICEDUST ROOT file: 25 windows drawn from the real file's marginals at its
    occupancy, the signal track in windows 7 and 18, absolute times and simulation charge
    units, a CTH tree without times, the Monte-Carlo truth branches."""
    from engines.cdc.marginals import reference_occupancy
    from engines.cdc.root_io import write_root
    from engines.cdc.synthetic import generate_events
    from engines.core.progress import drive

    occupancy = reference_occupancy()
    events = list(drive(generate_events(WINDOWS, occupancy, seed, signal_fraction=0.0)))
    signal = drive(generate_events(len(SIGNAL_WINDOWS), occupancy, seed + 1000, 1.0))
    for window, event in zip(SIGNAL_WINDOWS, signal, strict=True):
        events[window] = event
    return write_root(folder / "icedust_like.root",
                      [replace(e.without_trigger(), event_number=n) for n, e in enumerate(events)])


def shots(session) -> list[Path]:
    """A short training run on the sample events; then a real-like ICEDUST file (no trigger
    times, simulation charge units) analysed with the GBDT peer: a signal window with the
    fitted track in outcome colours, the same in time colours beside the polar image, a window
    without signal, the purity–retention curves."""
    import numpy as np

    from engines.cdc.images import ImageConfig
    from engines.cdc.training import TrainConfig

    window = session.window
    ws = window.switch_workspace("cdc")
    session.wait(lambda: ws.opened is not None, 600, "the CDC sample events")
    if "cdc" in session.models:
        ws.load_model(session.models["cdc"])
    session.wait_for_model(ws)
    previous = ws.model
    shots = []
    # a short run of the light U-Net on the sample file for the live curves
    ws.train_model()
    ws.training.set_configs(ImageConfig(input_size=71),
                            TrainConfig(arch="light_unet", width=8, epochs=12, batch_size=8,
                                        pos_weight=3.0, ema_decay=0.99, warmup_fraction=0.05))
    trained: list = []
    ws.trainingFinished.connect(trained.append)
    ws.training.train_button.click()
    session.wait(lambda: bool(trained), 1800, "training")
    shots.append(session.grab("cdc_training"))
    if previous is not None:
        ws.set_model(previous)

    path = real_like_file(Path(tempfile.mkdtemp(prefix="lablens_cdc_shots_")))
    ws.open_path(path)
    session.wait(lambda: ws.opened is not None and ws.opened.path == path, 600, path.name)
    ws.tabs.setCurrentWidget(ws.events_page)
    ws.toolbar.peer.setChecked(True)
    analyzed: list = []
    ws.analysisFinished.connect(analyzed.append)
    ws.analyze()
    session.wait(lambda: bool(analyzed), 1800, "Analyze")
    numbers = list(ws.opened.table.event_number)
    ws.show_event(numbers.index(SIGNAL_WINDOWS[0]))
    ws.toolbar.mode_actions["outcome"].trigger()
    event = ws.shown_event
    cells, counts = np.unique(event.cell, return_counts=True)
    signal = np.isin(cells, event.cell[event.is_signal])
    multi = cells[signal & (counts > 1)]
    ws.display.hover_cell(int(multi[0] if multi.size else cells[signal][0]))
    shots.append(session.grab("cdc_events"))

    ws.toolbar.mode_actions["time"].trigger()
    ws.model_view.format_combo.setCurrentIndex(ws.model_view.format_combo.findData("polar"))
    shots.append(session.grab("cdc_time_window"))
    ws.model_view.format_combo.setCurrentIndex(0)

    ws.toolbar.mode_actions["outcome"].trigger()
    ws.show_event(numbers.index(3))  # a window without the signal track
    shots.append(session.grab("cdc_no_signal"))

    ws.tabs.setCurrentWidget(ws.curves)
    shots.append(session.grab("cdc_purity_retention"))
    ws.tabs.setCurrentWidget(ws.events_page)
    return shots
