"""What the spectrum tab draws: CAM with its legend, log/linear, discard regions bound to the
preprocessing, element lines, stepping through spectra, hover readout, short measurements."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.synthetic.nuclear_data import ELEMENTS


def _analyze(qtbot, ws):
    with qtbot.waitSignal(ws.analysisFinished, timeout=20000) as blocker:
        ws.analyze()
    return blocker.args[0]


def test_analyze_draws_the_call_bars_and_a_cam_with_legend(qtbot, workspace):
    ws = workspace
    analysis = _analyze(qtbot, ws)
    assert ws.results.call_label.text() == f"{analysis.predicted} — {analysis.confidence:.1%}"
    assert ws.results.bars.classes == ws.model.classes
    assert ws.results.bars.values.sum() == pytest.approx(1.0, abs=1e-6)
    keep = ws.model.keep_mask
    cam = ws.plot.cam_image.image[0]
    assert cam.shape == keep.shape
    assert np.all(np.isfinite(cam[keep])) and np.all(np.isnan(cam[~keep]))
    assert ws.plot.cam_image.isVisible() and ws.plot.cam_bar.isVisible()
    assert ws.plot.cam_bar.getAxis("right").labelText == f"CAM of {analysis.predicted}"
    low, high = ws.plot.cam_bar.levels()
    assert low == -high and high == pytest.approx(np.nanmax(np.abs(cam)))
    assert ws.results.table.rowCount() == 1
    ws.toolbar.cam.trigger()  # C: hide the overlay, keep the data
    assert not ws.plot.cam_image.isVisible() and ws.plot.has_cam
    ws.step(1)  # another spectrum: the old map no longer applies
    assert not ws.plot.has_cam


def test_short_measurement_is_an_rsm_draw_with_its_live_time(qtbot, workspace):
    ws = workspace
    ws.results.set_short_counts(5000, seed=2)
    rate = ws.entries[0].count_rate
    assert f"≈ {5000 / rate:.3g} s live time" in ws.results.live_hint.text()
    analysis = _analyze(qtbot, ws)
    assert analysis.short_counts == 5000 and analysis.total_counts == 5000
    assert analysis.live_time_s == pytest.approx(5000 / ws.entries[0].total_counts
                                                 * ws.entries[0].live_time_s)
    assert ws.plot.counts.sum() == 5000  # the plot shows what was classified
    assert "RSM-3 draw of 5000 counts" in ws.results.detail_label.text()


def test_log_linear_toggle_by_action_and_key(qtbot, workspace):
    ws = workspace
    assert ws.plot.log_y and ws.plot.plot_item.getAxis("left").logMode
    ws.toolbar.log_y.trigger()
    assert not ws.plot.log_y and not ws.plot.plot_item.getAxis("left").logMode
    ws.plot.setFocus()
    qtbot.keyClick(ws.plot, Qt.Key.Key_L)
    assert ws.plot.log_y and ws.toolbar.log_y.isChecked()


def test_discard_regions_and_preprocessing_are_bound_both_ways(qtbot, workspace):
    ws = workspace
    grid = ws.model.grid
    assert [tuple(r) for r in ws.preprocess.discard] == [(0, 104), (8000, 16384)]
    assert len(ws.plot.regions) == 2
    assert ws.plot.regions[0].getRegion() == pytest.approx((grid.edges[0], grid.edges[104]))
    with qtbot.waitSignal(ws.plot.discardChanged):
        ws.plot.regions[0].setRegion((grid.edges[0], grid.edges[300]))
    assert ws.preprocess.discard[0] == (0, 300)
    assert ws.training.discard_edit.text() == "0:300, 8000:16384"
    assert ws.training.config(ws.preprocess, "cpu").preprocess.discard[0] == (0, 300)

    ws.set_preprocess(PreprocessConfig(discard=[(0, 50), (5000, 16384)]))
    assert ws.plot.regions[1].getRegion() == pytest.approx((grid.edges[5000], grid.edges[16384]))
    ws.training.discard_edit.setText("0:80")
    ws.training.discard_edit.editingFinished.emit()
    assert ws.preprocess.discard == [(0, 80)] and len(ws.plot.regions) == 1
    ws.training.discard_edit.setText("0:16384")  # nothing left: an error, nothing changes
    ws.training.discard_edit.editingFinished.emit()
    assert ws.preprocess.discard == [(0, 80)] and "remove all" in str(ws.host.errors[-1][0])


def test_element_lines_toggle(qtbot, workspace):
    ws = workspace
    item = ws.plot.plot_item
    ws.elements.set_checked("Fe", True)
    lines = ws.markers.lines["Fe"]
    assert len(lines) == len(ELEMENTS["Fe"].lines)
    assert {round(line.value(), 1) for line in lines} == {e for e, _ in ELEMENTS["Fe"].lines}
    assert all(line in item.items for line in lines)
    assert any("7631.1" in line.label.format for line in lines)
    ws.elements.set_checked("Fe", False)
    assert "Fe" not in ws.markers.lines and not any(line in item.items for line in lines)


def test_arrow_keys_step_and_hover_reads_energy_channel_counts(qtbot, workspace):
    ws = workspace
    ws.plot.setFocus()
    qtbot.keyClick(ws.plot, Qt.Key.Key_Right)
    assert ws.current == 1
    qtbot.keyClick(ws.plot, Qt.Key.Key_Left)
    qtbot.keyClick(ws.plot, Qt.Key.Key_Left)
    assert ws.current == 0
    spectrum = ws.entries[0]
    energy = float(spectrum.energies[1000])
    assert ws.plot.readout(energy) == (f"E = {energy:.1f} keV, ch 1000, counts "
                                       f"{spectrum.counts[1000]:.0f}")
    assert ws.library_panel.tree.currentItem().text(0) == spectrum.source.name


def test_a_folder_of_files_opens_the_readable_ones_and_names_the_others(qtbot, workspace,
                                                                        tmp_path):
    from engines.spectrum.readers import write_csv
    from engines.spectrum.spectrum import Calibration, Spectrum

    ws = workspace
    folder = tmp_path / "measurements"
    folder.mkdir()
    write_csv(folder / "a.csv", ws.entries[3])
    raw = Spectrum(np.arange(512, dtype=float), Calibration((0.0, 1.0)), name="raw",
                   metadata={"calibrated": False})
    (folder / "raw.spe").write_text("$SPEC_ID:\nraw\n$DATA:\n0 511\n"
                                    + "\n".join(str(int(c)) for c in raw.counts) + "\n")
    (folder / "bad.spe").write_bytes(b"\x00\x01garbage")
    with qtbot.waitSignal(ws.spectrumShown, timeout=20000):
        ws.open_path(folder)
    assert len(ws.entries) == 26 and ws.current == 25
    assert len(ws.host.errors) == 1 and str(ws.host.errors[0][0]).startswith("bad.spe: ")
    assert ws.library_panel.opened_root.childCount() == 2
    # raw.spe has no calibration: drawn over channel numbers, said so on the axis and on hover
    assert "Channel" in ws.plot.plot_item.getAxis("bottom").labelText
    (x0, x1), _ = ws.plot.plot_item.vb.viewRange()
    assert x0 < 10 and 500 < x1 < 600
    assert ws.plot.readout(100.2) == "ch 100, counts 100 (no energy calibration)"
    ws.step(-1)  # a.csv, calibrated again
    assert ws.plot.plot_item.getAxis("bottom").labelText == "Energy"


def test_the_hover_readout_follows_what_is_drawn(qtbot, workspace):
    ws = workspace
    ws.plot.hover_at(1164.9)
    first = ws.hover_label.text()
    assert first.startswith("E = 1164.9 keV, ch 1649, counts ")
    ws.step(1)
    assert ws.hover_label.text() == f"E = 1164.9 keV, ch 1649, counts {ws.entries[1].counts[1649]:.0f}"
    _analyze(qtbot, ws)
    assert ", CAM " in ws.hover_label.text()
