"""Exports read back from disk: the event table (CSV), the display (PNG/SVG) and per-hit
predictions (our HDF5), which the workspace then opens with their stored scores."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engines.cdc.hdf5_io import read_predictions
from engines.core.errors import InputError, ModelError
from tests.widgets.cdc.conftest import N_EVENTS


def _read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_event_table_csv_before_and_after_analyze(qtbot, workspace, tiny_model, tmp_path):
    ws = workspace
    table = ws.opened.table
    rows = _read_csv(ws.export_table(tmp_path / "events.csv"))
    assert len(rows) == N_EVENTS and "purity" not in rows[0]
    assert [int(r["event_number"]) for r in rows] == table.event_number.tolist()
    assert [int(r["hits"]) for r in rows] == table.n_hits.tolist()
    assert float(rows[0]["occupancy"]) == pytest.approx(table.occupancy[0], abs=1e-5)
    with pytest.raises(ModelError, match="Analyze"):
        ws.export_predictions(tmp_path / "none.h5")
    ws.set_model(tiny_model[0])
    with qtbot.waitSignal(ws.analysisFinished, timeout=30000):
        ws.analyze()
    ws.threshold.set_threshold(0.25)
    rows = _read_csv(ws.export_table(tmp_path / "scored.csv"))
    purity, retention = ws.analysis.fitted.cells.per_event(0.25)
    pt = ws.analysis.pt_mev()
    assert [r["pt_mev"] for r in rows] == ["" if np.isnan(v) else f"{v:.3f}" for v in pt]
    assert [float(r["threshold"]) for r in rows] == [0.25] * N_EVENTS
    np.testing.assert_allclose([float(r["retention"]) for r in rows], retention, atol=1e-5)
    np.testing.assert_allclose([float(r["purity"] or "nan") for r in rows], purity, atol=1e-5)


@pytest.mark.parametrize("tab", [0, 1, 2])
def test_export_plot_png_and_svg(workspace, tmp_path, tab):
    ws = workspace
    ws.tabs.setCurrentIndex(tab)
    image = QImage(str(ws.export_plot(tmp_path / "plot.png")))
    assert not image.isNull() and image.width() == 1600 and image.height() > 400
    svg = ws.export_plot(tmp_path / "plot.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    if tab == 0:
        assert "x (cm)" in svg and "Event " in svg
        assert svg.count("<image") == 1 and len(svg) < 3_000_000  # the hits: one raster
    with pytest.raises(InputError, match="png or .svg"):
        ws.export_plot(tmp_path / "plot.jpg")


def test_predictions_hdf5_round_trip(qtbot, analyzed, tmp_path):
    ws = analyzed
    with qtbot.waitSignal(ws.predictionsExported, timeout=20000) as blocker:
        ws.export_predictions(tmp_path / "pred.h5")
    path = blocker.args[0]
    events = read_predictions(path, lazy=False)
    shown = ws.analysis.fitted  # what is on screen: the U-Net + track fit scores
    assert len(events) == N_EVENTS and events.metadata["threshold"] == shown.threshold
    for event, scores, original in zip(events, shown.hit_scores, ws.opened.events,
                                       strict=True):
        np.testing.assert_allclose(event.score, scores, atol=1e-6)
        np.testing.assert_array_equal(event.cell, original.cell)
    # opening the predictions shows their scores without any model
    model = shown.cells
    ws.model = None
    with qtbot.waitSignal(ws.fileOpened, timeout=20000):
        ws.open_path(path)
    assert ws.analysis is not None and ws.analysis.unet.name.startswith("stored scores")
    np.testing.assert_allclose(ws.analysis.scores().cells.score, model.score, atol=1e-6)
    assert ws.browser.cell_text(0, 5) != "" and ws.threshold.purity_label.text() != "Purity –"
