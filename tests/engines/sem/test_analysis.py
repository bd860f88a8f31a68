"""Tiled inference, stitching, the analysis job (bands as they finish, max-vote, review items,
object table) and its files, with an oracle network whose right answer is known."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.core.review import ReviewItem
from engines.imaging.blend import SlidingWindowConfig
from engines.sem.analysis import AnalysisJob, find_mask, iter_analyze_file
from engines.sem.inference import iter_segment
from engines.sem.labels import read_label
from engines.sem.maxvote import label_objects
from engines.sem.preprocessing import Preprocessing, RowMap, prepare_image, prepare_labels
from engines.sem.readers import read_micrograph
from engines.sem.writers import write_mask_png
from tests.engines.sem.conftest import coded_image


def _scene(height=150, width=230, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((height, width), np.uint8)
    for _ in range(9):
        y, x = rng.integers(0, height - 20), rng.integers(0, width - 20)
        labels[y:y + rng.integers(6, 20), x:x + rng.integers(6, 20)] = rng.integers(1, 5)
    labels[-4:, 10:] = 4     # > 0.5 % of the brightest and darkest levels: the stretch is exact
    return labels


@pytest.mark.parametrize("window, stride", [(64, 48), (64, 64), (256, 200)])
def test_tiled_stitched_oracle_is_exact(oracle, window, stride):
    labels = _scene()
    config = SlidingWindowConfig(window=window, stride=stride, batch_size=3)
    bands = []
    result = drive(iter_segment(oracle, coded_image(labels), config,
                                [lambda y0, y1, rows: bands.append((y0, y1, rows.copy()))]))
    np.testing.assert_array_equal(result, labels)
    assert bands[0][0] == 0 and bands[-1][1] == labels.shape[0]
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:], strict=False))


def test_model_scale_and_rgb_input(oracle):
    labels = _scene(200, 240)
    labels[:] = np.repeat(np.repeat(labels[::4, ::4], 4, 0), 4, 1)      # 4-px blocks
    oracle.preprocessing = Preprocessing(scale=0.5)
    rgb = np.repeat(coded_image(labels)[:, :, None], 3, axis=2)
    result = drive(iter_segment(oracle, rgb, SlidingWindowConfig(window=64, stride=48)))
    assert np.mean(result == labels) > 0.99


def test_row_maps_and_label_preparation():
    rows = RowMap(10, 5)
    assert rows.source.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert rows.rows_of(1, 3) == (2, 6) and rows.rows_of(4, 5) == (8, 10)
    labels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert prepare_labels(labels, (6, 8)).shape == (6, 8)
    assert prepare_image(np.full((4, 4), 7, np.uint16), Preprocessing()).dtype == np.uint8


def test_analysis_job_with_mask(oracle):
    labels = _scene()
    job = AnalysisJob(oracle, coded_image(labels), mask=labels > 0,
                      window=SlidingWindowConfig(window=64, stride=48, batch_size=2))
    seen = []
    task = job.run()
    try:
        while True:
            report = next(task)
            seen.append(job.rows_done)
            assert (job.labels[:job.rows_done] == labels[:job.rows_done]).all()
    except StopIteration as stop:
        result = stop.value
    assert seen == sorted(seen) and seen[-1] == labels.shape[0] and report.fraction == 1.0
    objects, n = label_objects(labels > 0)
    assert result.object_source == "mask" and result.n_objects == n
    assert (result.votes.share == 1.0).all() and (result.votes.runner_up == -1).all()
    np.testing.assert_array_equal(result.object_image(), labels)
    items = result.review_items()
    assert len(items) == n and isinstance(items[0], ReviewItem)
    first = items[0]
    assert first.mask_id == 1 and first.score == 1.0 and first.extras["area_px"] > 0
    ys, xs = np.nonzero(objects == 1)
    assert first.box == (0.0, ys.min(), xs.min(), 1.0, ys.max() + 1, xs.max() + 1)
    header, rows = result.table()
    assert header[:3] == ["id", "class", "class_name"] and len(rows) == n


def test_objects_from_the_prediction_without_a_mask(oracle):
    labels = _scene(seed=4)
    result = drive(AnalysisJob(oracle, coded_image(labels)).run())
    assert result.object_source == "prediction"
    assert result.n_objects == label_objects(labels > 0)[1]


def test_sizes_must_agree(oracle):
    with pytest.raises(InputError, match="the mask is 10 × 10 px but the image is 230 × 150"):
        AnalysisJob(oracle, coded_image(_scene()), mask=np.zeros((10, 10), bool))


def test_analyze_file_writes_labels_objects_and_table(oracle, tmp_path):
    labels = _scene()
    (tmp_path / "set" / "images").mkdir(parents=True)
    (tmp_path / "set" / "masks").mkdir()
    bar = np.zeros((12, labels.shape[1]), np.uint8)
    tifffile.imwrite(tmp_path / "set" / "images" / "a.tif",
                     np.concatenate([coded_image(labels), bar]))
    write_mask_png(tmp_path / "set" / "masks" / "a.png", labels > 0)
    image = tmp_path / "set" / "images" / "a.tif"
    assert find_mask(image) == tmp_path / "set" / "masks" / "a.png"
    summary = drive(iter_analyze_file(oracle, image, tmp_path / "out"))
    assert summary["object_source"] == "mask" and summary["height"] == labels.shape[0]
    assert any("the mask a.png is shorter" in w for w in summary["warnings"])
    written, _ = read_label(summary["objects_png"])
    np.testing.assert_array_equal(written, labels)
    with open(summary["objects_csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["objects"] and rows[0]["vote_share"] == "1.0000"
    assert read_micrograph(image, crop_bottom=12).shape == labels.shape
    none = drive(iter_analyze_file(oracle, image, tmp_path / "out2", mask_path="",
                                   crop_bottom=12))
    assert none["object_source"] == "prediction" and none["mask"] is None
