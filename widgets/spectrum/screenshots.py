"""Screenshots of the spectrum workspace for the docs (run by ``python -m app.screenshots``)."""

from __future__ import annotations

import os
from pathlib import Path

REAL_OUT_OF_LIBRARY = "1110C NAA cave pottery.Spe"
REAL_PEAKS = "01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf"


def shared_spectra() -> Path | None:
    """The real gamma spectra beside the project (``../shared/data/spectra``), if present."""
    folder = Path(os.environ.get("LABLENS_SHARED_SPECTRA",
                                 Path(__file__).resolve().parents[2].parent / "shared" / "data"
                                 / "spectra"))
    return folder if folder.is_dir() else None


def shots(session) -> list[Path]:
    """Sample library + model; Analyze with element lines; a real spectrum of a material
    outside the library; peaks and net areas on a real spectrum; training (a short run);
    evaluation; live acquisition."""
    from engines.spectrum.evaluation import EvaluateConfig
    from engines.spectrum.live import LiveConfig
    from engines.spectrum.peaks import PeakConfig
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
                                       val_every=10, val_draws=20, target_accuracy=0.97,
                                       hybrid=previous is None, open_set=previous is None))
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
    for symbol in ("Cl", "H"):
        ws.elements.set_checked(symbol, False)

    real = shared_spectra()
    if real is not None:
        shown = []
        ws.spectrumShown.connect(shown.append)
        ws.open_path(real / REAL_OUT_OF_LIBRARY)
        session.wait(lambda: bool(shown), 60, "opening a real spectrum")
        done.clear()
        ws.analyze()
        session.wait(lambda: bool(done), 60, "Analyze")
        shots.append(session.grab("spectrum_not_in_library"))

        shown.clear()
        ws.open_path(real / REAL_PEAKS)
        session.wait(lambda: bool(shown), 60, "opening a real spectrum")
        ws.peaks_panel.form.set_value(PeakConfig(fwhm_1332_kev=1.9, threshold=5.0))
        found = []
        ws.peaksFound.connect(found.append)
        ws.find_peaks()
        session.wait(lambda: bool(found), 120, "the peak search")
        report = found[-1]
        thallium = next((i for i, p in enumerate(report.peaks) if p.line == "Tl-208"), 0)
        ws.plot.plot_item.setXRange(200, 2700, padding=0)
        ws.peaks_panel.select(thallium)
        ws.plot.plot_item.setXRange(200, 2700, padding=0)
        ws.plot.plot_item.enableAutoRange(y=True)
        ws.refit_calibration()
        shots.append(session.grab("spectrum_peaks"))

    ws.tabs.setCurrentWidget(ws.evaluation)
    ws.evaluation.set_config(EvaluateConfig(counts=(100, 300, 1000, 3000, 10_000, 19650,
                                                    100_000), draws_per_class=40))
    evaluated = []
    ws.evaluationFinished.connect(evaluated.append)
    ws.start_evaluation()
    session.wait(lambda: bool(evaluated), 600, "the evaluation")
    shots.append(session.grab("spectrum_evaluation"))

    ws.tabs.setCurrentIndex(0)
    ws.show_entry(0)
    ws.plot.show_kept_range()  # the range the model uses (the peaks shot zoomed in)
    ws.elements.set_checked("Cu", True)
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
