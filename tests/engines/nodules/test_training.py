"""Training: crops and augmentation keep boxes on their nodules, AP by definition, the split,
and a few steps end to end (thresholds chosen on the validation scans)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.nodules.detectors import DetectorConfig
from engines.nodules.preprocess import PreprocessConfig
from engines.nodules.training import (
    CropSet,
    TrainConfig,
    augment,
    average_precision,
    crop_weights,
    split_scans,
    train_detector,
)


def test_augmented_boxes_follow_the_disc():
    size, disc = 128, (80.0, 40.0, 6.0)                       # x, y, radius in pixels
    yy, xx = np.mgrid[:size, :size] + 0.5
    image = (((xx - disc[0]) ** 2 + (yy - disc[1]) ** 2) < disc[2] ** 2) * 255
    crops = CropSet(np.repeat(image[None, None].astype(np.uint8), 3, 1),
                    [np.array([[74.0, 34.0, 86.0, 46.0]], np.float32)], np.zeros(1, int))
    config = TrainConfig(crop_px=64, rotate_deg=40.0, hu_jitter=0.0, noise=0.0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        images, targets = augment(crops, np.array([0]), config, rng, torch.device("cpu"))
        box = targets[0]["boxes"][0].numpy()
        centre = (box[:2] + box[2:]) / 2
        plane = images[0, 0].numpy()
        ys, xs = np.nonzero(plane > 0.5)
        np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], centre, atol=0.7)
        np.testing.assert_allclose(box[2:] - box[:2], 12.0, atol=1e-4)


def test_crops_with_small_boxes_are_drawn_more_often():
    empty = np.zeros((0, 4), np.float32)
    boxes = [empty, np.array([[0, 0, 20, 20]], np.float32),        # 14 mm at 0.7 mm pixels
             np.array([[0, 0, 20, 20], [30, 30, 36, 37]], np.float32)]  # and a 4.2 mm one
    crops = CropSet(np.zeros((3, 3, 8, 8), np.uint8), boxes, np.zeros(3, int))
    plain = crop_weights(crops, TrainConfig(), 0.7)
    np.testing.assert_allclose(plain, np.array([1, 3, 3]) / 7)
    small = crop_weights(crops, TrainConfig(small_mm=6.0, small_weight=4.0), 0.7)
    np.testing.assert_allclose(small, np.array([1, 3, 12]) / 16)


def test_average_precision():
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1], bool), 2) == \
        pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.9]), np.array([True]), 4) == pytest.approx(0.25)
    assert np.isnan(average_precision(np.zeros(0), np.zeros(0, bool), 0))


def test_split_keeps_one_of_each(tiny_dataset):
    train, val = split_scans(tiny_dataset.scans, 0.1, np.random.default_rng(0))
    assert len(val) == 1 and len(train) == 2 and not set(train) & set(val)


def test_a_few_steps_end_to_end(tiny_dataset):
    config = TrainConfig(steps=4, batch_size=4, crop_px=64, val_every=2, val_fraction=0.34,
                         warmup_fraction=0.0, ema_decay=0.0)
    result = drive(train_detector(tiny_dataset, config,
                                  DetectorConfig(arch="ssdlite_mobilenet_v3_small",
                                                 min_box_mm=8.0),
                                  PreprocessConfig(pixel_mm=3.0)))
    model = result.model
    assert [h["step"] for h in result.history] == [2, 4]
    assert 0.05 <= model.slice_threshold <= 0.95 and 0.2 <= model.threshold <= 0.95
    assert model.training["steps_run"] == 4 and model.training["val_scans"] == 1
    assert {"recall", "precision", "cpm", "froc"} <= set(model.metrics["validation"])
    assert len(result.split["val"]) == 1


def test_training_refuses_a_single_scan(tiny_dataset):
    from dataclasses import replace

    with pytest.raises(InputError, match="at least two scans"):
        drive(train_detector(replace(tiny_dataset, scans=tiny_dataset.scans[:1])))
