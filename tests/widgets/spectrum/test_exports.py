"""Exports: predictions CSV and the current plot as PNG/SVG, read back from disk."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtGui import QImage

from engines.core.errors import InputError


def test_export_predictions_csv(qtbot, workspace, tmp_path):
    ws = workspace
    with pytest.raises(InputError, match="no predictions"):
        ws.export_predictions(tmp_path / "empty.csv")
    with qtbot.waitSignal(ws.analysisFinished, timeout=30000):
        ws.toolbar.analyze_all.trigger()
    assert ws.results.table.rowCount() == len(ws.entries) == 24
    path = ws.export_predictions(tmp_path / "predictions.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24
    assert rows[0]["file"] == str(ws.entries[0].source) and rows[0]["mode"] == "as recorded"
    for row, analysis in zip(rows, ws.predictions, strict=True):
        assert row["predicted"] == analysis.predicted
        probabilities = [float(row[f"p_{c}"]) for c in ws.model.classes]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert float(row["confidence"]) == pytest.approx(max(probabilities), abs=1e-6)
        assert float(row["live_time_s"]) > 6000  # the sample library's long measurements


@pytest.mark.parametrize("tab", [0, 1, 2])
def test_export_plot_png_and_svg(qtbot, workspace, tmp_path, tab):
    ws = workspace
    ws.tabs.setCurrentIndex(tab)
    png = ws.export_plot(tmp_path / "plot.png")
    image = QImage(str(png))
    assert not image.isNull() and image.width() == 1600 and image.height() > 200
    svg = ws.export_plot(tmp_path / "plot.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    if tab == 0:
        assert "Counts per channel" in svg and "Energy" in svg
    with pytest.raises(InputError, match="png or .svg"):
        ws.export_plot(tmp_path / "plot.jpg")
