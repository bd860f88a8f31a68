"""The end view: every cell drawn, hit cells distinguished, the firing CTH counter marked (only
for files that name one), colour modes with levels from the data and their range in the
title, the hover readout with Monte-Carlo truth, and the display window with open ends."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engines.cdc.geometry import get_geometry
from engines.cdc.outcomes import OUTCOME_NAMES
from widgets.cdc.palette import COLOUR_MODES


def _brush_colours(item) -> set[tuple[int, int, int, int]]:
    return {b.color().getRgb() for b in item.data["brush"]}


def _title_is_inside(display, axis) -> bool:
    """The colour bar's axis title is shown and not clipped by the widget's edge."""
    margin = round(axis.label.document().documentMargin())  # blank frame around the text
    title = display.mapFromScene(axis.label.sceneBoundingRect()).boundingRect()
    inked = title.adjusted(margin, margin, -margin, -margin)
    return axis.label.isVisible() and display.viewport().rect().contains(inked)


def test_every_cell_is_drawn_and_hit_cells_stand_out(workspace):
    ws = workspace
    display, event = ws.display, ws.shown_event
    geo = get_geometry()
    assert len(display.cells_item.data) == 4986 == geo.n_cells
    np.testing.assert_allclose(display.cells_item.data["x"], geo.cell_x)
    hit_cells = np.unique(event.cell)
    assert len(display.hits_item.data) == hit_cells.size > 500
    np.testing.assert_allclose(np.sort(display.hits_item.data["x"]),
                               np.sort(geo.cell_x[hit_cells]))
    # empty cells are hollow, hit cells filled and drawn larger
    assert display.cells_item.opts["brush"].style() == Qt.BrushStyle.NoBrush
    assert all(b is None for b in display.cells_item.data["brush"])
    assert all(b.style() == Qt.BrushStyle.SolidPattern for b in display.hits_item.data["brush"])
    assert display.hits_item.data["size"].min() > display.cells_item.data["size"].max()
    # the firing trigger counter is filled and labelled, centred on the counter's azimuth
    counter = event.trigger_counter
    assert counter >= 0 and f"CTH {counter}" in display.fired_label.toPlainText()
    centre = display.fired_item.path().boundingRect().center()
    phi = np.arctan2(centre.y(), centre.x())
    assert abs(np.angle(np.exp(1j * (phi - geo.cth_phi_center[counter])))) < 0.05
    assert np.hypot(centre.x(), centre.y()) == pytest.approx(geo.cth_radius_cm[counter], abs=1.5)


def test_colour_modes_switch_and_each_has_a_legend(qtbot, workspace):
    ws = workspace
    display = ws.display
    assert display.mode == "outcome"  # default: without scores, the truth shows the track
    labels = [item[1].text for item in display.legend.items]
    assert any("signal (truth)" in t for t in labels)
    assert any("background (truth)" in t for t in labels)
    assert not display.colorbar.isVisible()
    n_signal_cells = np.unique(ws.shown_event.cell[ws.shown_event.is_signal]).size
    assert f"signal (truth) ({n_signal_cells} cells)" in labels
    axis = display.colorbar.getAxis("right")
    scales = ws.opened.scales
    assert display.levels["time"] == scales.time_ns  # levels from the file's percentiles
    assert display.levels["charge"] == scales.log10_charge
    for mode in ("time", "charge", "score"):
        ws.toolbar.mode_actions[mode].trigger()
        assert display.mode == mode and display.colorbar.isVisible()
        low, high = display.levels[mode]
        assert axis.labelText.startswith(COLOUR_MODES[mode].label) and "…" in axis.labelText
        qtbot.waitUntil(lambda: _title_is_inside(display, axis), timeout=2000)
        colours = _brush_colours(display.hits_item)
        if mode == "score":  # nothing scored yet: one grey, and the legend says so
            assert len(colours) == 1
            assert any("not scored" in item[1].text for item in display.legend.items)
        else:
            assert len(colours) > 20
    ws.toolbar.mode_actions["time"].trigger()
    time_colours = _brush_colours(display.hits_item)
    display.colorbar.setLevels((0.0, 100.0))  # what dragging the colour bar's handles does
    display.colorbar.sigLevelsChanged.emit(display.colorbar)
    assert display.levels["time"] == (0.0, 100.0)
    assert axis.labelText.endswith("0 … 100")
    assert _brush_colours(display.hits_item) != time_colours
    ws.toolbar.mode_actions["outcome"].trigger()
    assert not display.colorbar.isVisible() and len(display.legend.items) >= 4


def test_a_narrow_display_keeps_the_colour_bar_and_legend_in_view(qtbot, analyzed):
    ws = analyzed
    ws.resize(1200, 850)
    ws.events_page.setSizes([390, 520, 290])
    display = ws.display
    ws.toolbar.mode_actions["outcome"].trigger()        # the longest legend: four outcomes
    qtbot.waitUntil(lambda: display.width() < 560, timeout=2000)
    ws.toolbar.mode_actions["time"].trigger()
    axis = display.colorbar.getAxis("right")
    qtbot.waitUntil(lambda: _title_is_inside(display, axis), timeout=2000)
    view = display.viewport().rect()
    for item in (display.colorbar, display.legend, display.plot_item.titleLabel):
        assert view.contains(display.mapFromScene(item.sceneBoundingRect()).boundingRect())


def test_hover_lists_every_hit_of_a_cell(workspace):
    ws = workspace
    event = ws.shown_event
    cells, counts = np.unique(event.cell, return_counts=True)
    cell = int(cells[np.argmax(counts)])
    assert counts.max() >= 2
    geo = get_geometry()
    assert ws.display.cell_at(geo.cell_x[cell] + 0.3, geo.cell_y[cell] - 0.3) == cell
    assert ws.display.cell_at(0.0, 0.0) == -1  # the stopping target has no wires
    text = ws.display.hover_cell(cell)
    assert ws.hover_label.text() == text
    assert f"Cell {cell}" in text and f"layer {geo.layer_of_cell[cell]}" in text
    assert f"{counts.max()} hits" in text
    for index in np.flatnonzero(event.cell == cell):
        assert f"{event.time_ns[index]:.1f} ns" in text
        assert f"charge {event.adc[index]:.4g}" in text
    assert "▶" in text  # the hit the model sees
    assert "track " in text and "turn " in text  # Monte-Carlo truth of the file
    signal_cell = int(event.cell[event.is_signal][0])
    text = ws.display.hover_cell(signal_cell)
    assert "truth: <b>signal</b>" in text and OUTCOME_NAMES[6] in text  # no scores yet


def test_display_window_hides_hits_but_not_the_figures(workspace):
    ws = workspace
    event = ws.shown_event
    drawn = len(ws.display.hits_item.data)
    assert "time no limit, charge no limit" in ws.threshold.window_label.text()
    ws.threshold.set_window((-50.0, 400.0), (1e-3, 1e9))
    inside = (event.time_ns >= -50) & (event.time_ns <= 400)
    assert len(ws.display.hits_item.data) == np.unique(event.cell[inside]).size < drawn
    assert ws.threshold.window_label.text().startswith(f"Shown: {inside.sum():,} of "
                                                       f"{event.n_hits:,} hits")
    assert "time -50…400 ns, charge no limit" in ws.threshold.window_label.text()
    ws.threshold.set_window((-50.0, 400.0), (1e-3, 300.0))
    both = inside & (event.adc <= 300)
    assert abs(len(ws.display.hits_item.data) - np.unique(event.cell[both]).size) <= 2
    assert np.all(ws.cells.hit == np.isin(np.arange(4986), event.cell))  # figures use all hits
    ws.threshold.window_reset.click()
    assert len(ws.display.hits_item.data) == drawn


def test_a_file_without_trigger_times_drops_the_trigger_decorations(qtbot, workspace,
                                                                    tmp_path):
    """A real-like file: no CTH times, absolute hit times, simulation charge units."""
    from engines.cdc.hdf5_io import write_events

    events = [e.without_trigger() for e in ws_events(workspace)]
    path = write_events(tmp_path / "untriggered.h5", events)
    with qtbot.waitSignal(workspace.fileOpened, timeout=20000):
        workspace.open_path(path)
    display = workspace.display
    labels = [item[1].text for item in display.legend.items]
    assert "CTH trigger" not in labels and display.fired_label.toPlainText() == ""
    workspace.toolbar.mode_actions["time"].trigger()
    assert display.colorbar.getAxis("right").labelText.startswith("Hit time, file clock")
    assert workspace.threshold.time_title.text() == "Time, file clock (ns)"
    low, high = workspace.threshold.time_range
    assert low <= float(np.percentile(events[0].time_ns, 1)) and high > 1000


def test_low_scores_do_not_look_like_empty_cells(analyzed):
    """Empty cells are hollow light-grey rings; every scored hit, however low, is a filled
    point of a colour far from that grey (the score map starts dark)."""
    from widgets.cdc.event_display import EMPTY_PEN

    ws = analyzed
    ws.toolbar.mode_actions["score"].trigger()
    grey = np.array(EMPTY_PEN.color().getRgb()[:3], dtype=float)
    colours = np.array([b.color().getRgb()[:3] for b in ws.display.hits_item.data["brush"]],
                       dtype=float)
    assert len(colours) > 100
    assert np.linalg.norm(colours - grey, axis=1).min() > 60


def ws_events(workspace):
    return [workspace.opened.events[i] for i in range(len(workspace.opened.events))]
