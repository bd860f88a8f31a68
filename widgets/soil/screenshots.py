"""Screenshots of the soil workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

import tempfile
from pathlib import Path


def shots(session) -> list[Path]:
    """The sample core set with the demo model: Analyze two cores (pore metrics, prediction,
    grad-CAM), the band overlay with the 3-D view, the grad-CAM overlay, Compare cores, a short
    training run for the curves, and the model matrix of the trained and the demo model."""
    import numpy as np

    from engines.soil.training import TrainConfig

    window = session.window
    ws = window.switch_workspace("soil")
    session.wait(lambda: ws.volume is not None, 900, "the soil sample cores")
    if "soil" in session.models:
        ws.load_model(session.models["soil"])
    session.wait_for_model(ws)
    analyzed: list = []
    ws.analysisFinished.connect(analyzed.append)
    shots = []

    def analyze(count: int) -> None:
        session.wait(lambda: "analyze" not in ws.tasks, 600, "the running Analyze")
        if len(analyzed) < count:
            ws.analyze()
        session.wait(lambda: len(analyzed) >= count and "analyze" not in ws.tasks, 900,
                     "Analyze")

    analyze(1)
    if ws.three_d.enabled:
        session.wait(lambda: ws.three_d.view.render_volume is not None, 300, "the 3-D volume")
        session.settle(3.0)  # the surfaces task
    view = ws.views[ws.current]
    crop = view.analysis.crop
    # the crosshair at the crop's centre across, a third of the way down the core
    depth = int(view.analysis.profile.slice_index[len(view.analysis.profile) // 3])
    ws.slice_views.set_position((depth, *(a + n // 2 for a, n in zip(
        crop.start_zyx[1:], crop.size_zyx[1:], strict=True))))
    session.settle(2.0)  # the throttled crosshair reaches the profile and the 3-D view
    shots.append(session.grab("soil_cores"))

    ws.toolbar.overlay_actions["gradcam"].trigger()
    if view.heat is not None:  # where the network looked hardest in the middle of the core
        per_slice = view.heat.heat.max(axis=(1, 2))
        n = len(per_slice)
        hottest = n // 4 + int(np.argmax(per_slice[n // 4:3 * n // 4]))
        ws.go_to_slice(int(view.heat.slice_index[hottest]))
        session.settle(2.0)
    shots.append(session.grab("soil_gradcam"))
    ws.toolbar.overlay_actions["bands"].trigger()

    second = list(ws.paths)[1]
    ws.show_core(second)
    session.wait(lambda: ws.current == second, 300, f"core {second}")
    analyze(2)
    ws.tabs.setCurrentWidget(ws.compare)
    shots.append(session.grab("soil_compare"))

    previous = ws.model
    ws.train_model()
    ws.training.set_config(TrainConfig(arch="vgg_light", input_size=48, epochs=3,
                                       batch_size=16, max_minutes=3.0))
    trained: list = []
    ws.trainingFinished.connect(trained.append)
    ws.training.train_button.click()
    session.wait(lambda: bool(trained), 900, "training")
    shots.append(session.grab("soil_training"))

    # the matrix of the trained and the demo model on the six cores (the paper trains one
    # model per core; two are enough to show the view)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        ws.model.save(folder / "short_run")
        if previous is not None:
            previous.save(folder / "demo")
        ws.set_models_folder(folder)
        ws.matrix_panel.with_current.setChecked(False)
        session.wait(lambda: "analyze" not in ws.tasks, 600, "the re-analysis")
        ws.tabs.setCurrentWidget(ws.matrix_panel)
        matrices: list = []
        ws.matrixFinished.connect(matrices.append)
        ws.matrix_panel.run_buttons.start.click()
        session.wait(lambda: bool(matrices), 900, "the model matrix")
        shots.append(session.grab("soil_matrix"))
    if previous is not None:
        ws.set_model(previous)
    ws.tabs.setCurrentWidget(ws.cores_page)
    return shots
