"""Screenshots of the nodules workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

from pathlib import Path

SHOWN_FROM = 0.3  # probability from which candidates are listed in the review shot


def shots(session) -> list[Path]:
    """The synthetic sample scans with the demo model: Analyze, the review of the best
    candidates in truth colours (the views on the top candidate), the FROC of the model and the
    classical peer on the four sample scans, the 3-D view with the candidates as spheres, and
    the Training tab with the demo model's recorded validation curves."""
    from engines.core.autosave import sidecar_path
    from widgets.nodules.training_panel import PRESETS

    window = session.window
    ws = window.switch_workspace("nodules")
    session.wait(lambda: ws.opened is not None, 900, "the nodules sample scans")
    if "nodules" in session.models:
        ws.load_model(session.models["nodules"])
    session.wait_for_model(ws)
    shots = []
    sidecars = []

    if ws.model is None:  # no demo model: a quick one so the other views have something
        ws.train_model()
        ws.training.set_configs(*PRESETS["Quick look (MobileNetV3-small, 1.5 mm pixels, 60 "
                                        "steps)"])
        trained: list = []
        ws.trainingFinished.connect(trained.append)
        ws.training.train_button.click()
        session.wait(lambda: bool(trained), 1800, "training")

    ws.tabs.setCurrentWidget(ws.scan_page)
    analyzed: list = []
    ws.analysisFinished.connect(analyzed.append)
    ws.analyze()
    session.wait(lambda: bool(analyzed), 1800, "Analyze")
    sidecars.append(sidecar_path(ws.opened.path))
    if ws.opened.has_truth:
        ws.toolbar.colour_combo.setCurrentIndex(1)
        ws.toolbar.colour_combo.activated.emit(1)
    ws.toolbar.set_threshold(SHOWN_FROM)  # the weaker candidates too, as a reviewer scans them
    panel = ws.panel
    accept = next(k for k in panel.keymap.keys if k.text == "Accept")
    reject = next(k for k in panel.keymap.keys if k.text == "Reject")
    first = panel.go(1)
    for _ in range(2):  # the annotator's first decisions: by truth when it is known
        item = panel.current_item()
        if item is None:
            break
        hit = ws.outcome(item.id) == "tp" if ws.opened.has_truth else True
        panel.trigger(accept if hit else reject)
        panel.go(1)
    if first is not None:
        panel.set_current(first)
        ws.zoom_to(ws.document[first])
    shots.append(session.grab("nodules_review"))

    ws.toolbar.three_d.setChecked(True)  # the 3-D view: the lungs and the candidates' spheres
    session.wait(lambda: ws.three_d.view is not None
                 and ws.three_d.view.render_volume is not None, 300, "the 3-D volume")
    ws.three_d.reset_camera("anterior")
    shots.append(session.grab("nodules_3d"))
    ws.toolbar.three_d.setChecked(False)

    ws.train_model()  # the Training tab: the demo model's recorded curves (or the quick run's)
    shots.append(session.grab("nodules_training"))
    if ws.opened.has_truth:
        evaluated: list = []
        ws.evaluationFinished.connect(evaluated.append)
        ws.evaluate()
        session.wait(lambda: bool(evaluated), 3600, "the FROC evaluation")
        shots.append(session.grab("nodules_froc"))

    ws.tabs.setCurrentWidget(ws.scan_page)
    for path in sidecars:  # leave the sample data as it was
        path.unlink(missing_ok=True)
    return shots
