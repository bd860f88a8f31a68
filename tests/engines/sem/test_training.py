"""Training on a tiny data set: class-balanced crops, live curves, the time budget, fine-tuning
from a model with another class count, and the bundle it returns."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.sem.dataset import open_dataset
from engines.sem.preprocessing import Preprocessing
from engines.sem.segmenter import SemSegmenter
from engines.sem.training import (
    CropSampler,
    PreparedImage,
    TrainConfig,
    fitted_window,
    prepare_split,
    train_segmenter,
)

FAST = dict(window=64, batch_size=2, steps=4, validations=2, eval_batch_size=4)


def _image(labels):
    return PreparedImage("x", (labels * 50).astype(np.uint8), labels, labels.astype(np.int32),
                         np.zeros(0))


def test_crop_sampler_balances_classes():
    labels = np.zeros((256, 256), np.uint8)
    labels[40:70, 150:180] = 1        # 1.4 % of the pixels
    labels[100:250, 100:250] = 2      # 34 %
    sampler = CropSampler([_image(labels)], 3, 64, TrainConfig(), np.random.default_rng(0))
    counts = sampler.counts()
    assert set(counts) == {0, 1, 2} and counts[1] >= 4
    crops, truth = sampler.batch(300)
    assert crops.shape == (300, 64, 64) and truth.shape == (300, 64, 64)
    centre_classes = np.bincount(truth[:, 32, 32], minlength=3)
    assert centre_classes.min() > 50           # every class drawn about equally
    with pytest.raises(InputError, match="no pixel carries a class label"):
        CropSampler([_image(np.full((64, 64), 255, np.uint8))], 3, 64, TrainConfig(),
                    np.random.default_rng(0))


def test_window_fits_small_images():
    small = _image(np.zeros((100, 300), np.uint8))
    assert fitted_window([small], 512) == 96 and fitted_window([small], 64) == 64


def test_train_reports_curves_and_returns_a_bundle(tiny_dataset, tmp_path):
    dataset = open_dataset(tiny_dataset)
    reports = []
    segmenter = drive(train_segmenter(dataset, TrainConfig(**FAST), Preprocessing(scale=0.5)),
                      reports.append)
    validations = [r.metrics for r in reports if "val_mean_iu" in r.metrics]
    assert len(validations) == 2
    assert {"val_mean_iu", "val_pixel_accuracy", "val_object_accuracy", "train_loss", "step",
            "lr"} <= set(validations[-1])
    assert segmenter.window == 64 and segmenter.preprocessing.scale == 0.5
    assert 0 <= segmenter.metrics["val"]["mean_iu"] <= 1
    assert segmenter.training["steps"] == 4 and segmenter.training["images"] == 2
    path = segmenter.save(tmp_path / "m", half=True)
    assert SemSegmenter.load(path).training["best_step"] in (2, 4)


def test_time_budget_fits_the_steps(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    config = TrainConfig(**{**FAST, "steps": None, "epochs": 1000, "max_minutes": 0.15})
    segmenter = drive(train_segmenter(dataset, config, Preprocessing(scale=0.5)))
    training = segmenter.training
    assert any("fit the 0.15-minute budget" in n for n in training["notes"])
    assert training["seconds"] < 0.15 * 60 * 2 and training["steps"] < 1000 * 10


def test_fine_tune_to_another_class_count(tiny_dataset, tmp_path):
    dataset = open_dataset(tiny_dataset)
    base = drive(train_segmenter(dataset, TrainConfig(**{**FAST, "steps": 1}),
                                 Preprocessing(scale=0.5)))
    base.save(tmp_path / "base")
    from engines.sem.labels import ClassTable

    dataset.classes = ClassTable.from_names(list(dataset.classes.names) + ["extra"])
    tuned = drive(train_segmenter(dataset, TrainConfig(**{**FAST, "steps": 1}),
                                  Preprocessing(scale=0.5), init=str(tmp_path / "base")))
    assert tuned.n_classes == 6
    assert any("head re-initialised" in n for n in tuned.training["notes"])
    assert tuned.training["init"].startswith(str(tmp_path / "base"))


def test_prepare_split_scales_truth(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    images = drive(prepare_split(dataset, "val", Preprocessing(scale=0.5), 0))
    assert images[0].image.shape == images[0].labels.shape == (128, 144)
    assert len(images[0].object_classes) == images[0].objects.max() > 0
