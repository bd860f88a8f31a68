"""Screenshots of the CDC workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

from pathlib import Path


def shots(session) -> list[Path]:
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
    session.wait_for_model(ws)
    previous = ws.model
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
        ws.set_model(previous)

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
