"""Screenshots of the spectrum workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

from pathlib import Path


def shots(session) -> list[Path]:
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
    session.wait_for_model(ws)
    previous = ws.model
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
        ws.set_model(previous)
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
