"""Synthetic micrographs: seeded, strip rendering without seams, objects that never touch,
varied sizes, all four constituents, 16-bit and data-bar variants, and the data-set writer."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.sem import synthetic
from engines.sem.dataset import open_dataset
from engines.sem.maxvote import label_objects
from engines.sem.synthetic import SyntheticConfig, iter_generate
from engines.sem.synthetic_dataset import image_seed, iter_write_dataset, parse_size, split_of
from engines.sem.textures import TEXTURES, hash_float


@pytest.fixture(scope="module")
def micrograph():
    return drive(iter_generate(700, 900, 3))


def test_seeded_and_consistent_truth(micrograph):
    again = drive(iter_generate(700, 900, 3))
    np.testing.assert_array_equal(again.image, micrograph.image)
    other = drive(iter_generate(700, 900, 4))
    assert not np.array_equal(other.labels, micrograph.labels)
    assert micrograph.image.shape == micrograph.labels.shape == (700, 900)
    np.testing.assert_array_equal(micrograph.labels,
                                  micrograph.object_classes[micrograph.objects])
    assert micrograph.object_classes[0] == 0 and set(micrograph.object_classes[1:]) <= {1, 2, 3, 4}


def test_objects_never_touch_and_cover_about_the_target(micrograph):
    components, n = label_objects(micrograph.mask)
    assert n == len(np.unique(micrograph.objects)) - 1      # one component per object
    fraction = micrograph.mask.mean()
    assert 0.18 < fraction < 0.36
    areas = np.bincount(micrograph.objects.ravel())[1:]
    areas = areas[areas > 0]
    assert areas.max() > 8 * np.median(areas) or areas.max() > 20_000   # varied sizes


def test_strips_join_without_seams(monkeypatch):
    """Everything but the (per-pixel independent) detector noise is a function of the pixel's
    coordinates: other strip heights give the same image."""
    quiet = SyntheticConfig(noise=0.0)
    whole = drive(iter_generate(300, 400, 3, quiet)).image
    monkeypatch.setattr(synthetic, "STRIP_ROWS", 97)
    np.testing.assert_array_equal(drive(iter_generate(300, 400, 3, quiet)).image, whole)


def test_every_constituent_over_a_few_images():
    seen = set()
    for seed in range(4):
        seen |= set(drive(iter_generate(600, 600, seed)).object_classes[1:].tolist())
    assert seen == {1, 2, 3, 4}


def test_textures_differ_by_class():
    """Crude texture statistics tell the constituents apart (what a model must learn)."""
    v, u = np.meshgrid(np.arange(200, dtype=np.float32), np.arange(200, dtype=np.float32))
    key = np.full(u.size, 12345, dtype=np.int64)
    stats = {}
    for cls, texture in TEXTURES.items():
        values = texture(u.ravel(), v.ravel(), key, 7).reshape(200, 200)
        stats[cls] = (values.std(), np.abs(np.diff(values, axis=0)).mean(),
                      np.abs(np.diff(values, axis=1)).mean())
    assert len({tuple(np.round(s, 1)) for s in stats.values()}) == 4
    h = hash_float(1, np.arange(10_000))
    assert 0.45 < h.mean() < 0.55 and h.min() >= 0 and h.max() < 1


def test_16_bit_and_data_bar():
    m = drive(iter_generate(200, 240, 1, SyntheticConfig(bits=16, data_bar_rows=30)))
    assert m.image.dtype == np.uint16 and m.image.shape == (230, 240)
    assert m.labels.shape == (200, 240) and m.image[200:].max() > 0
    assert m.image[:200].max() > 255


def test_size_limits():
    with pytest.raises(InputError, match="at least 64"):
        drive(iter_generate(32, 500, 0))
    with pytest.raises(InputError, match="at most"):
        drive(iter_generate(9000, 9000, 0))


def test_dataset_writer(tmp_path):
    path = drive(iter_write_dataset(tmp_path / "set", 3, (128, 160), seed=2, image_format="jpg",
                                    classes_json=False,
                                    config=SyntheticConfig(data_bar_rows=8)))
    assert sorted(p.name for p in path.iterdir()) == ["images", "labels", "masks", "test.txt",
                                                      "train.txt", "val.txt"]
    dataset = open_dataset(path)
    assert dataset.classes_inferred and len(dataset.samples) == 3
    with pytest.raises(InputError, match="already exists"):
        drive(iter_write_dataset(path, 1, (128, 160)))
    assert not list(tmp_path.glob(".set.tmp*"))


def test_helpers():
    assert parse_size("4000x3000") == (3000, 4000) and parse_size("512") == (512, 512)
    with pytest.raises(InputError, match="WIDTHxHEIGHT"):
        parse_size("big")
    assert {k: len(v) for k, v in split_of(10).items()} == {"train": 6, "val": 2, "test": 2}
    assert {k: len(v) for k, v in split_of(1).items()} == {"train": 1, "val": 0, "test": 0}
    assert image_seed(0, 1) != image_seed(1, 0)
