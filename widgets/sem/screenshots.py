"""Screenshots of the sem workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

from pathlib import Path


def shots(session) -> list[Path]:
    """The sample micrographs with the demo model: Analyze while the tiles stream in, the
    max-vote object map, a review in progress (zoomed on an object), the scores of a split with
    the crop-and-classify peer, and a short training run's curves."""
    from engines.sem.preprocessing import Preprocessing
    from engines.sem.training import TrainConfig

    window = session.window
    ws = window.switch_workspace("sem")
    session.wait(lambda: ws.opened is not None, 900, "the sem sample micrographs")
    if "sem" in session.models:
        ws.load_model(session.models["sem"])
    session.wait_for_model(ws)
    session.wait(ws.has_model, 120, "the sem model")
    shots = []

    # Analyze: a grab while the stitched rows stream in, then the object map
    height = ws.opened.shape[0]
    done: list = []
    ws.analysisFinished.connect(done.append)
    ws.analyze()
    ws.view.fit()  # the whole image (a restored review may have zoomed in on an object)
    session.wait(lambda: ws.drawn_rows >= height // 2 or done, 900, "half of the rows")
    shots.append(session.grab("sem_analyze_streaming"))
    session.wait(lambda: bool(done), 1800, "Analyze")
    ws.view.fit()
    shots.append(session.grab("sem_objects"))

    # a review in progress: a few objects decided, the current one zoomed in on
    panel = ws.review_panel
    keys = {k.keys[0]: k for k in panel.keymap.keys}
    for key in ("Return", "N", "2", "N", "R", "N", "0", "N"):  # as the keys would
        panel.trigger(keys[key])
    shots.append(session.grab("sem_review"))

    # scores of the data set's test split, with the peer
    ws.tabs.setCurrentWidget(ws.scores)
    scored: list = []
    ws.evaluationFinished.connect(scored.append)
    ws.evaluate("test")
    session.wait(lambda: bool(scored), 1800, "the evaluation")
    shots.append(session.grab("sem_scores"))

    # a short training run from the demo model (fine-tuning) for the curves
    ws.train_model()
    ws.training.set_configs(Preprocessing(scale=0.5),
                            TrainConfig(window=128, batch_size=8, validations=3, lr=1e-3,
                                        max_minutes=2.0))
    previous = ws.model
    trained: list = []
    ws.trainingFinished.connect(trained.append)
    ws.training.train_button.click()
    session.wait(lambda: bool(trained), 1800, "training")
    shots.append(session.grab("sem_training"))
    ws.set_model(previous)
    ws.tabs.setCurrentWidget(ws.micrograph_page)
    return shots
