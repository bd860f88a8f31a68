"""The sem workspace: opening a data set, Analyze streaming into the view, the max-vote object
map, clicking objects, the scores of an analysed image, evaluation and exports."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
from PIL import Image

from engines.sem.maxvote import label_objects


def test_opening_a_data_set_shows_its_first_image_with_its_truth(qtbot, workspace, dataset):
    opened = workspace.opened
    assert opened.dataset is not None and opened.has_truth and opened.mask is not None
    view = workspace.view
    assert view.image_shape == (256, 288)
    assert view.pixel_size_um == opened.pixel_size_um and view.scale_bar.isVisible()
    # without a model the data set's classes name the overlay: the truth is drawn
    assert workspace.toolbar.layer == "truth"
    np.testing.assert_array_equal(view.overlay.classes, opened.truth.labels)
    assert view.legend.names == list(opened.classes.names)
    combo = workspace.toolbar.image_combo
    assert combo.count() == 4 and combo.isEnabled()
    with qtbot.waitSignal(workspace.micrographOpened, timeout=20000):
        combo.setCurrentIndex(2)
        combo.activated.emit(2)
    assert workspace.opened.path.name == combo.itemText(2)


def test_analyze_streams_the_rows_then_draws_the_max_vote_object_map(qtbot, workspace,
                                                                    untrained):
    workspace.set_model(untrained)
    # each batch outlasts one 50-ms progress window, so the rows arrive in several draws on a
    # fast machine too
    hook = untrained.net.register_forward_hook(lambda *_: time.sleep(0.06))
    rows: list[int] = []
    workspace.rowsDrawn.connect(rows.append)
    with qtbot.waitSignal(workspace.analysisFinished, timeout=60000) as blocker:
        workspace.analyze()
    hook.remove()
    reviewed = blocker.args[0]
    result = reviewed.result
    assert rows == sorted(rows) and rows[-1] == 256 and len(rows) >= 2  # band by band
    # objects are the mask's components; each is drawn in its max-voted class with outlines
    objects, n = label_objects(workspace.opened.mask)
    np.testing.assert_array_equal(result.objects, objects)
    assert result.n_objects == n == len(workspace.review_panel.document)
    assert workspace.toolbar.layer == "objects"
    expected = result.votes.class_per_id()[objects]
    np.testing.assert_array_equal(workspace.view.overlay.classes, expected)
    assert workspace.view.overlay.objects is result.objects
    assert workspace.table.model().rowCount() == n
    # the lowest vote share comes first, shown in the panel, the table and the view's box
    current = workspace.review_panel.current_item()
    assert current.score == min(item.score for item in workspace.review_panel.document)
    assert workspace.table.current_item() == current.id
    assert workspace.view.boxes.rect_of(current.id)
    # the image has truth: its scores are drawn
    assert reviewed.scores is not None
    assert workspace.scores.summary.rowCount() == 7
    assert workspace.scores.summary.item(4, 1).text().endswith("%")
    workspace.toolbar.set_layer("pixels")
    np.testing.assert_array_equal(workspace.view.overlay.classes, result.labels)


def test_clicking_an_object_makes_it_the_current_item(analyzed):
    ws = analyzed
    document = ws.review_panel.document
    target = max(document, key=lambda item: item.extras["area_px"])
    rows, cols = np.nonzero(ws.object_map.objects == target.mask_id)
    ws.view.objectClicked.emit(float(cols[0]) + 0.5, float(rows[0]) + 0.5)
    assert ws.review_panel.current_id == target.id
    rows, cols = np.nonzero(ws.object_map.objects == 0)
    ws.view.objectClicked.emit(float(cols[0]) + 0.5, float(rows[0]) + 0.5)
    assert ws.review_panel.current_id == target.id  # a click on the matrix changes nothing


def test_evaluating_a_split_shows_the_four_scores_and_the_object_confusion(qtbot, analyzed):
    ws = analyzed
    with qtbot.waitSignal(ws.scoresShown, timeout=60000) as blocker:
        ws.scores.split_combo.setCurrentText("test")
        ws.scores.evaluate_button.click()
    data = blocker.args[0]
    assert data is not None and data["peer"] is None  # the untrained model has no peer
    assert "test split" in ws.scores.source.text()
    assert ws.scores.confusion.isVisibleTo(ws.scores)
    assert not ws.scores.peer_confusion.isVisibleTo(ws.scores)
    shown = ws.scores.confusion.matrix  # second-phase true classes (rows) by predicted class
    counts = np.asarray(data["object_confusion"])[1:]
    assert shown.shape == (4, 5)
    np.testing.assert_allclose(shown[counts.sum(axis=1) > 0].sum(axis=1), 1.0)
    assert np.isnan(shown[counts.sum(axis=1) == 0]).all()


def test_exports_write_the_corrected_table_and_object_map(analyzed, tmp_path):
    ws = analyzed
    item = ws.review_panel.current_item()
    ws.review_panel.trigger(next(k for k in ws.review_panel.keymap.keys if k.keys == ("4",)))
    table = ws.export_objects(tmp_path / "objects.csv")
    with table.open() as handle:
        rows = {int(r["id"]): r for r in csv.DictReader(handle)}
    assert len(rows) == len(ws.review_panel.document)
    assert rows[item.id]["class"] == "pearlite" and rows[item.id]["reviewed"] == "true"
    data = json.loads(ws.export_objects(tmp_path / "objects.json").read_text())
    assert data["kind"] == "sem" and data["counts"]["reviewed"] == 1
    png = ws.export_object_map(tmp_path / "map.png")
    written = np.asarray(Image.open(png))
    np.testing.assert_array_equal(written, ws.object_map.image)
    assert (written[ws.object_map.objects == item.mask_id] == 4).all()
    view = ws.export_view(tmp_path / "view.png")
    assert Image.open(view).size[0] > 100


def test_opening_another_image_while_analyze_runs_drops_that_run(qtbot, workspace, untrained):
    ws = workspace
    ws.set_model(untrained)
    ws.analyze()
    other = ws.opened.image_paths()[1]
    with qtbot.waitSignal(ws.micrographOpened, timeout=20000):
        ws.open_path(other)
    qtbot.waitUntil(lambda: "analyze" not in ws.tasks, timeout=60000)
    assert ws.opened.path == other and ws.job is None and ws.reviewed is None
    assert ws.review_panel.document is None and ws.toolbar.layer == "truth"
    np.testing.assert_array_equal(ws.view.overlay.classes, ws.opened.truth.labels)
