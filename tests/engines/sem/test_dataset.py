"""Data-set folders as they come: the standard layout, a MetalDAM-like set (jpg with a data
bar, png labels, split lists with extensions, no classes.json), stems differing in case and
suffix, labels one row short, and what must be an error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from engines.core.errors import InputError
from engines.sem.dataset import load_sample, open_dataset, stem_key, truth_objects

H, W = 60, 80


def _labels(seed: int, n_classes: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros((H, W), np.uint8)
    for _ in range(4):
        y, x = rng.integers(5, H - 15), rng.integers(5, W - 15)
        labels[y:y + 10, x:x + 10] = rng.integers(1, n_classes)
    return labels


def _metaldam_like(root, n=6, bar=12):
    """jpg images with a data bar, grey png labels named differently, lists with extensions."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        labels = _labels(i)
        image = np.concatenate([labels * 40 + 20, np.zeros((bar, W), np.uint8)]).astype(np.uint8)
        Image.fromarray(np.repeat(image[:, :, None], 3, axis=2)).save(
            root / "images" / f"Micrograph{i}.JPG", quality=95)
        Image.fromarray(labels).save(root / "labels" / f"micrograph{i}_label.png")
    (root / "train.txt").write_text("".join(f"micrograph{i}.jpg\n" for i in range(n - 2)))
    (root / "val.txt").write_text(f"micrograph{n - 2}\n")
    (root / "test.txt").write_text(f"images/micrograph{n - 1}.jpg\n# a comment\n\n")
    return root


def test_standard_synthetic_layout(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    assert dataset.classes.names[1] == "martensite" and not dataset.classes_inferred
    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 2, "val": 1, "test": 1}
    assert not dataset.warnings
    sample = load_sample(dataset.split("test")[0], dataset.classes)
    assert sample.labels.shape == sample.image.shape == sample.mask.shape == (256, 288)
    objects, n, truth = truth_objects(sample, 5)
    assert n > 0 and truth.min() >= 1


def test_metaldam_like_set(tmp_path):
    root = _metaldam_like(tmp_path / "md")
    dataset = open_dataset(root)
    assert dataset.classes_inferred and dataset.classes.names == tuple(
        f"class {i}" for i in range(5))
    assert any("no classes.json: 5 classes inferred" in w for w in dataset.warnings)
    assert [s.image.name for s in dataset.split("test")] == ["Micrograph5.JPG"]
    assert len(dataset.split("train")) == 4 and len(dataset.split("val")) == 1
    sample = load_sample(dataset.split("train")[0], dataset.classes)
    assert sample.micrograph.shape == (H, W) and sample.labels.shape == (H, W)
    assert any("12 rows shorter: a data bar" in w for w in sample.warnings)


def test_label_one_row_short_and_data_bar_setting(tmp_path):
    root = _metaldam_like(tmp_path / "md", n=3, bar=1)
    dataset = open_dataset(root)
    sample = load_sample(dataset.split("train")[0], dataset.classes)
    assert sample.micrograph.shape == (H, W) and any("one row short" in w for w in sample.warnings)
    root2 = _metaldam_like(tmp_path / "md2", n=3, bar=0)
    sample = load_sample(open_dataset(root2).split("train")[0], dataset.classes, crop_bottom=5)
    assert sample.micrograph.shape == sample.labels.shape == (H - 5, W)


def test_no_lists_and_no_val_list(tmp_path):
    root = _metaldam_like(tmp_path / "md", n=8)
    for name in ("train.txt", "val.txt", "test.txt"):
        (root / name).unlink()
    dataset = open_dataset(root)
    sizes = {k: len(v) for k, v in dataset.splits.items()}
    assert sum(sizes.values()) == 8 and min(sizes.values()) >= 1
    assert any("seeded shuffle" in w for w in dataset.warnings)
    (root / "train.txt").write_text("\n".join(f"micrograph{i}" for i in range(6)))
    (root / "test.txt").write_text("micrograph7\n")
    dataset = open_dataset(root)
    assert len(dataset.split("val")) == 1 and len(dataset.split("train")) == 5
    assert any("no validation list" in w for w in dataset.warnings)


def test_classes_json_is_used_and_bad_indices_fail(tmp_path):
    root = _metaldam_like(tmp_path / "md", n=3)
    (root / "classes.json").write_text(json.dumps(["matrix", "one", "two"]))
    dataset = open_dataset(root)
    assert dataset.classes.names == ("matrix", "one", "two")
    with pytest.raises(InputError, match=r"^micrograph\d_label.png: class index [34]"):
        for files in dataset.samples.values():
            load_sample(files, dataset.classes)


def test_size_mismatches_are_errors_naming_the_file(tmp_path):
    root = _metaldam_like(tmp_path / "md", n=3)
    Image.fromarray(np.zeros((H, W - 1), np.uint8)).save(root / "labels" / "micrograph0_label.png")
    dataset = open_dataset(root)
    with pytest.raises(InputError, match="^micrograph0_label.png: label is 79 × 60 px but "
                                         "Micrograph0.JPG is 80 × 72"):
        load_sample(dataset.samples["micrograph0"], dataset.classes)
    Image.fromarray(np.zeros((H + 20, W), np.uint8)).save(root / "labels" / "micrograph1_label.png")
    with pytest.raises(InputError, match="^micrograph1_label.png: label has 80 rows"):
        load_sample(dataset.samples["micrograph1"], dataset.classes)


def test_missing_folders_and_unmatched_lists(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        open_dataset(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="^empty: no images folder"):
        open_dataset(tmp_path / "empty")
    root = _metaldam_like(tmp_path / "md", n=3)
    (root / "test.txt").write_text("nothing_like_this\n")
    with pytest.raises(InputError, match="^test.txt: none of its names"):
        open_dataset(root)
    shutil.rmtree(root / "labels")
    for name in ("train.txt", "val.txt", "test.txt"):
        (root / name).unlink()
    (root / "classes.json").write_text('["matrix", "x"]')
    dataset = open_dataset(root)
    assert any("3 images without a label" in w for w in dataset.warnings)
    assert dataset.split("train") == []


@pytest.mark.parametrize("name, key", [("Micro_01.JPG", "micro_01"), ("a/b/x_label.png", "x"),
                                       ("y-GT.tif", "y"), (" z.jpeg ", "z")])
def test_stem_keys(name, key):
    assert stem_key(name) == key
