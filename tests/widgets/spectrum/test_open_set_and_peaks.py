"""The open-set verdict in the window, the peaks tab linked to the plot, the calibration
re-fit, axis limits and element labels that never overlap."""

from __future__ import annotations

import numpy as np
import pytest

from engines.spectrum.live import LiveConfig
from engines.spectrum.spectrum import Spectrum


def _foreign(ws) -> Spectrum:
    """A library spectrum with lines no class has (600-1000 keV tripled)."""
    base = ws.entries[0]
    counts = base.counts.copy()
    band = (base.energies > 600) & (base.energies < 1000)
    counts[band] *= 3.0
    return Spectrum(counts, base.calibration, base.live_time_s, name="foreign.csv")


def test_a_foreign_spectrum_is_reported_not_in_the_library(qtbot, workspace, calibrated_bayes):
    ws = workspace
    ws.set_model(calibrated_bayes)
    with qtbot.waitSignal(ws.analysisFinished, timeout=20000) as blocker:
        ws.analyze()
    own = blocker.args[0]
    assert own.in_library and ws.results.verdict_label.isVisible()
    assert ws.results.verdict_label.text().startswith("In the library")
    ws._files_opened(([_foreign(ws)], []))
    with qtbot.waitSignal(ws.analysisFinished, timeout=20000) as blocker:
        ws.analyze()
    foreign = blocker.args[0]
    assert foreign.in_library is False
    banner = ws.results.verdict_label.text()
    assert banner.startswith(f"Not in the library (closest: {foreign.predicted})")
    assert "fit p = " in banner and ws.results.call_label.text().startswith("closest: ")
    row = ws.results.table.rowCount() - 1
    assert ws.results.table.item(row, 1).text() == f"not in library ({foreign.predicted})"
    assert ws.statusBar_text if hasattr(ws, "statusBar_text") else True


def test_live_acquisition_does_not_decide_on_a_foreign_sample(qtbot, workspace,
                                                              calibrated_bayes):
    ws = workspace
    ws.set_model(calibrated_bayes)
    ws._files_opened(([_foreign(ws)], []))
    ws.live_panel.reference_combo.setCurrentIndex(0)  # the shown spectrum
    ws.live_panel.set_config(LiveConfig(rate_cps=8000.0, update_interval_s=0.25,
                                        max_live_time_s=3.0, threshold=0.95, realtime=False))
    with qtbot.waitSignal(ws.liveFinished, timeout=60000) as blocker:
        ws.live_panel.start_button.click()
    result = blocker.args[0]
    assert result.decided_name is None and not result.in_library[-1]
    assert not ws.live_panel.plot.decision_shown
    assert "not in the library" in ws.live_panel.readout.text()
    assert ws.results.verdict_label.text().startswith("Not in the library")


def test_peaks_tab_finds_fits_links_and_refits_the_calibration(qtbot, workspace):
    ws = workspace
    pvc = next(i for i, s in enumerate(ws.entries) if s.source and s.source.parent.name == "PVC")
    ws.show_entry(pvc)
    with qtbot.waitSignal(ws.peaksFound, timeout=60000) as blocker:
        ws.peaks_panel.find_button.click()
    report = blocker.args[0]
    assert len(report.peaks) > 10 and ws.peaks_panel.table.rowCount() == len(report.peaks)
    assert len(ws.plot.peak_items) == len(report.peaks)
    chlorine = [i for i, p in enumerate(report.peaks) if p.line == "Cl 1164.9"]
    assert chlorine, [p.line for p in report.peaks]
    index = chlorine[0]
    ws.peaks_panel.select(index)  # a row click zooms the plot to the peak
    (x0, x1), _ = ws.plot.plot_item.vb.viewRange()
    assert x0 < 1164.9 < x1 and x1 - x0 < 60
    with qtbot.waitSignal(ws.plot.peakClicked) as clicked:
        ws.plot.peakClicked.emit(ws.plot.peak_at(report.peaks[index].centroid_kev))
    assert clicked.args[0] == index and ws.peaks_panel.table.currentRow() == index
    assert "E(ch) = " in ws.peaks_panel.calibration_label.text()
    assert "library's energy grid" in ws.peaks_panel.calibration_label.text()
    ticked = ws.peaks_panel.ticked()
    assert len(ticked) >= 3
    ws.refit_calibration()
    assert "Re-fit from" in ws.peaks_panel.refit_label.text()
    before = len(ws.entries)
    ws.apply_calibration()
    assert len(ws.entries) == before + 1 and ws.entries[-1].name.endswith("(recalibrated)")
    np.testing.assert_allclose(ws.entries[-1].energies[[1000, 7000]],
                               ws.entries[pvc].energies[[1000, 7000]], atol=0.5)


def test_an_opened_file_says_which_reader_read_it(qtbot, workspace, tmp_path):
    from engines.spectrum.readers import write_spe

    ws = workspace
    path = write_spe(tmp_path / "one.Spe", ws.entries[2])
    with qtbot.waitSignal(ws.spectrumShown, timeout=20000):
        ws.open_path(path)
    text = ws.peaks_panel.calibration_label.text()
    assert "Read by LabLens (spe)" in text and "$MCA_CAL" in text


def test_axis_limits_stay_on_the_data(qtbot, workspace):
    ws = workspace
    vb = ws.plot.plot_item.vb
    vb.scaleBy((1000.0, 1000.0))  # a wild zoom out with the wheel
    (x0, x1), (y0, y1) = vb.viewRange()
    edges = ws.plot.edges
    span = edges[-1] - edges[0]
    assert x0 >= edges[0] - 0.051 * span and x1 <= edges[-1] + 0.051 * span
    assert y1 <= np.log10(ws.plot.counts.max()) + 1.01 and y0 >= -1.01
    assert not ws.plot.plot_item.getAxis("left").autoSIPrefix
    ws.toolbar.log_y.trigger()  # linear
    vb.scaleBy((1000.0, 1000.0))
    _, (y0, y1) = vb.viewRange()
    assert y1 <= 1.31 * ws.plot.counts.max() and y0 >= -0.03 * ws.plot.counts.max()


def test_element_labels_never_overlap(qtbot, workspace):
    ws = workspace
    for symbol in ("Cl", "Fe", "Cu", "H", "Ca"):
        ws.elements.set_checked(symbol, True)
    qtbot.wait(50)
    lines = [line for items in ws.markers.lines.values() for line in items]
    shown = [line for line in lines if line.label.isVisible()]
    assert 0 < len(shown) <= len(lines)
    rects = [line.label.sceneBoundingRect() for line in shown]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)
    ws.plot.plot_item.setXRange(1150, 1180, padding=0)  # zoomed in: Cl 1164.9 gets its label
    qtbot.wait(50)
    assert "Cl 1164.9" in ws.markers.labels_shown()


@pytest.mark.parametrize("n", [0, 1])
def test_place_labels_greedy(n):
    from widgets.spectrum.element_lines import place_labels

    heights = place_labels([10.0, 12.0, 14.0, 100.0], [50.0] * 4, 12.0, 400.0, [0, 1, 2, 3][n:])
    placed = [h for h in heights if h is not None]
    assert len(set(placed[: 3 - n])) == len(placed[: 3 - n])  # neighbours on different rows
