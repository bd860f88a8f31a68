"""Class-balanced training crops (a stride per class) and 90° rotation augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.sampling import (
    balancing_strides,
    class_balanced_origins,
    rotate_pair,
    rotations,
)
from engines.imaging.tiling import axis_starts


def _labels() -> np.ndarray:
    """Matrix 0, a large class-1 region, a small class-2 square, an unlabelled strip."""
    labels = np.zeros((200, 240), dtype=np.uint8)
    labels[:, 120:] = 1
    labels[40:70, 30:60] = 2
    labels[180:, :] = 255
    return labels


def test_centre_rule_picks_crops_by_their_centre_pixel_on_the_class_grid():
    labels = _labels()
    crops = class_balanced_origins(labels, 32, {0: 40, 1: 40, 2: 4}, n_classes=3)
    centres = crops.origins + 16
    assert np.all(labels[centres[:, 0], centres[:, 1]] == crops.classes)
    for cls, stride in ((0, 40), (1, 40), (2, 4)):
        origins = crops.origins[crops.classes == cls]
        assert set(origins[:, 0]) <= set(axis_starts(200, 32, stride))
        assert set(origins[:, 1]) <= set(axis_starts(240, 32, stride))
    # every grid origin whose centre is on class 2 was taken: about area / stride² of them
    counts = crops.counts(3)
    assert counts[2] == pytest.approx(30 * 30 / 4 ** 2, rel=0.2)
    assert len({tuple(o) for o in crops.origins}) == len(crops)   # never twice
    assert crops.crop(labels, int(np.flatnonzero(crops.classes == 2)[0]))[16, 16] == 2


def test_majority_rule_matches_brute_force_counts():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 0, 0, 1, 1, 2, 9], size=(45, 61)).astype(np.int16)
    window = (12, 15)
    crops = class_balanced_origins(labels, window, [7, 5, 3], rule="majority")
    chosen = {(int(y), int(x)): int(c) for (y, x), c in zip(crops.origins, crops.classes,
                                                           strict=True)}
    for cls, stride in enumerate((7, 5, 3)):
        for y0 in axis_starts(45, 12, stride):
            for x0 in axis_starts(61, 15, stride):
                window_labels = labels[y0:y0 + 12, x0:x0 + 15]
                counts = np.bincount(window_labels[window_labels < 3].ravel(), minlength=3)
                if counts.argmax() == cls:
                    assert chosen[(int(y0), int(x0))] == cls
                else:
                    assert chosen.get((int(y0), int(x0))) != cls


def test_unlabelled_pixels_never_decide():
    labels = np.full((64, 64), 255, dtype=np.uint8)
    labels[:8] = 1
    for rule in ("centre", "majority"):
        crops = class_balanced_origins(labels, 16, [None, 4], rule=rule)
        assert np.all(crops.classes == 1)
        if rule == "centre":
            assert np.all(crops.origins[:, 0] + 8 < 8)
    with pytest.raises(InputError, match="no class"):
        class_balanced_origins(labels, 16, [None, None])


def test_balancing_strides_equalise_crop_counts_under_the_centre_rule():
    labels = np.zeros((400, 400), dtype=np.uint8)
    labels[:100, :100] = 1      # 1/16 of the area
    labels[300:325, 300:325] = 2
    strides = balancing_strides(labels, 4, largest_stride=40)
    assert strides[0] == 40 and strides[3] is None
    area_0 = labels.size - 100 * 100 - 25 * 25
    assert strides[1] == round(40 * np.sqrt(100 * 100 / area_0))
    assert strides[2] == round(40 * np.sqrt(25 * 25 / area_0))
    counts = class_balanced_origins(labels, 20, strides).counts(4)
    assert counts[3] == 0
    assert counts[1:3].max() / counts[:3].min() < 2.0


def test_rotations_turn_image_and_label_together():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (6, 9, 3), dtype=np.uint8)
    label = rng.integers(0, 4, (6, 9), dtype=np.uint8)
    pairs = list(rotations(image, label))
    assert [p[0].shape[:2] for p in pairs] == [(6, 9), (9, 6), (6, 9), (9, 6)]
    for k, (rot_image, rot_label) in enumerate(pairs):
        np.testing.assert_array_equal(rot_image, np.rot90(image, k))
        np.testing.assert_array_equal(rot_label, np.rot90(label, k))
    # 90° counter-clockwise: the top-right pixel goes to the top-left
    assert np.array_equal(pairs[1][0][0, 0], image[0, -1])
    with pytest.raises(InputError):
        rotate_pair(image, label, 45)
    with pytest.raises(InputError, match="differ"):
        rotate_pair(image, label[:5], 90)
