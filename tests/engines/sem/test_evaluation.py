"""Pixel and object scores through the whole pipeline: a perfect segmenter scores 1, a
segmenter that calls everything matrix leaves every object not segmented, object tables
override the labels' majority, and the paper's segmented-only accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.sem.dataset import LabelledImage
from engines.sem.evaluation import iter_evaluate_samples
from engines.sem.labels import ObjectTable
from engines.sem.readers import Micrograph
from tests.engines.sem.conftest import coded_image
from tests.engines.sem.test_analysis import _scene


def _sample(labels, image=None, mask=True, table=None, stem="s"):
    image = coded_image(labels) if image is None else image
    return LabelledImage(stem, Micrograph(image, Path(f"{stem}.tif")),
                         labels, labels > 0 if mask else None, table)


def test_perfect_segmenter_scores_one(oracle):
    samples = [lambda s=s: _sample(_scene(seed=s), stem=f"s{s}") for s in range(3)]
    result = drive(iter_evaluate_samples(oracle, samples))
    out = result.to_json()
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu", "object_accuracy"):
        assert out[key] == pytest.approx(1.0), key
    confusion = np.array(out["object_confusion"])
    assert confusion.trace() == confusion.sum() == out["objects"] > 10
    assert out["per_class"]["a"]["object_recall"] == 1.0 and out["peer"] is None
    assert "carries no crop-and-classify peer" in out["notes"][-1]
    assert [i["image"] for i in out["images"]] == ["s0", "s1", "s2"]


def test_everything_matrix_is_not_segmented(oracle):
    labels = _scene()
    flat = np.zeros_like(coded_image(labels))
    flat[-4:, 10:] = 255            # keep a level range; the rest reads as matrix
    out = drive(iter_evaluate_samples(oracle, [lambda: _sample(labels, flat)])).to_json()
    assert out["object_accuracy"] < 0.2
    assert out["unsegmented_objects"] >= out["objects"] - 1
    assert np.array(out["object_confusion"])[:, 0].sum() == out["unsegmented_objects"]


def test_object_table_truth_and_segmented_accuracy(oracle):
    labels = _scene()
    from engines.sem.maxvote import label_objects

    objects, n = label_objects(labels > 0)
    truth = np.array([labels[objects == i + 1][0] for i in range(n)])
    wrong = truth.copy()
    wrong[0] = 1 if truth[0] != 1 else 2
    table = ObjectTable(np.arange(1, n + 1), None, wrong)
    result = drive(iter_evaluate_samples(oracle, [lambda: _sample(labels, table=table)]))
    assert result.objects.accuracy == pytest.approx((n - 1) / n)
    assert result.object_accuracy_segmented == pytest.approx((n - 1) / n)


def test_no_truth_is_an_error(oracle):
    labels = _scene()
    sample = LabelledImage("x", Micrograph(coded_image(labels), Path("x.tif")), None, None,
                           None)
    with pytest.raises(InputError, match="^x.tif: neither a label image nor a mask"):
        drive(iter_evaluate_samples(oracle, [lambda: sample]))
    with pytest.raises(InputError, match="no labelled images"):
        drive(iter_evaluate_samples(oracle, []))


def test_scores_of_an_analysis_already_run_and_of_corrections(oracle):
    from engines.sem.analysis import AnalysisJob
    from engines.sem.evaluation import score_analysis

    labels = _scene(seed=2)
    sample = _sample(labels)
    result = drive(AnalysisJob(oracle, sample.micrograph, mask=sample.mask).run())
    scores = score_analysis(result, sample)
    assert scores.pixel.mean_iu == pytest.approx(1.0) and scores.objects.accuracy == 1.0
    corrected = result.votes.winner.copy()
    corrected[0] = (corrected[0] % 4) + 1
    worse = score_analysis(result, sample, corrected)
    assert worse.objects.accuracy == pytest.approx(1 - 1 / len(corrected))
    unmasked = drive(AnalysisJob(oracle, sample.micrograph).run())
    assert score_analysis(unmasked, sample).objects.accuracy == 1.0
