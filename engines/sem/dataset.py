"""Labelled data-set folders, as they come.

Layout::

    DIR/images/<stem>.tif|png|jpg     micrographs
    DIR/labels/<stem>.png|tif         class index per pixel (0 = matrix)
    DIR/masks/<stem>.png              optional binary object masks
    DIR/objects/<stem>.csv            optional per-object class tables
    DIR/classes.json                  class names (+ colours), any number of classes
    DIR/train.txt, val.txt, test.txt  optional lists of stems

What real public sets do is tolerated and reported in ``warnings``: other folder names
(``image``, ``imgs``, ``annotations``, ``gt``, ...), stems that differ in case or carry a suffix
(``_label``, ``_gt``, ``_mask``), split lists holding file names or paths, no ``val.txt`` (a
part of the training list validates), no lists at all (a seeded 70/15/15 split), no
``classes.json`` (the class count is the largest label index + 1, named ``class 0`` …).
Per image (:func:`load_sample`): a label shorter than its image (an instrument data bar, or a
label one row short) crops the image to the label; other size mismatches, unknown class
indices and unreadable files are an :class:`InputError` naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.sem.labels import (
    ClassTable,
    ObjectTable,
    read_class_table,
    read_label,
    read_mask,
    read_object_table,
)
from engines.sem.maxvote import label_objects, objects_of_labels, truth_object_classes
from engines.sem.readers import IMAGE_SUFFIXES, Micrograph, crop_rows, read_micrograph

IMAGE_DIRS = ("images", "image", "imgs", "img", "micrographs", "cropped_images")
LABEL_DIRS = ("labels", "label", "annotations", "annotation", "gt", "ground_truth", "masks_class")
MASK_DIRS = ("masks", "mask", "object_masks")
OBJECT_DIRS = ("objects", "object_tables")
SPLITS = ("train", "val", "test")
_SPLIT_FILES = {"train": ("train.txt", "training.txt"), "val": ("val.txt", "valid.txt",
                                                               "validation.txt"),
                "test": ("test.txt", "testing.txt")}
_STEM_SUFFIX = re.compile(r"([_\-. ](label|labels|gt|mask|masks|seg|annotation|class|classes))$",
                          re.IGNORECASE)


def stem_key(name: str) -> str:
    """The matching key of a file name or stem: lower case, no extension, no label suffix."""
    stem = Path(name.strip().replace("\\", "/")).name
    for suffix in IMAGE_SUFFIXES + (".csv",):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return _STEM_SUFFIX.sub("", stem).lower()


@dataclass(frozen=True)
class SampleFiles:
    """The files of one labelled image (``None`` where absent)."""

    stem: str
    image: Path
    label: Path | None = None
    mask: Path | None = None
    objects: Path | None = None


@dataclass
class Dataset:
    """A labelled folder: classes, the files of every image and the splits (lists of keys)."""

    root: Path
    classes: ClassTable
    samples: dict[str, SampleFiles]
    splits: dict[str, list[str]]
    warnings: list[str] = field(default_factory=list)
    classes_inferred: bool = False

    def split(self, name: str) -> list[SampleFiles]:
        """The files of split ``name`` (``"all"``: every image)."""
        if name == "all":
            return list(self.samples.values())
        if name not in self.splits:
            raise InputError(f"{self.root.name}: unknown split {name!r}; choose "
                             f"{', '.join(self.splits)}")
        return [self.samples[k] for k in self.splits[name]]

    def summary(self) -> dict:
        return {"root": str(self.root), "images": len(self.samples),
                "labelled": sum(s.label is not None for s in self.samples.values()),
                "masks": sum(s.mask is not None for s in self.samples.values()),
                "classes": list(self.classes.names), "classes_inferred": self.classes_inferred,
                "splits": {k: len(v) for k, v in self.splits.items()},
                "warnings": list(self.warnings)}


def _folder(root: Path, names: tuple[str, ...]) -> Path | None:
    present = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    for name in names:
        if name in present:
            return present[name]
    return None


def _files(folder: Path | None, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if folder is None:
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in suffixes:
            found.setdefault(stem_key(path.name), path)
    return found


def _read_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.for_file(path, f"cannot be read ({exc})") from None
    return [stem_key(line.split(",")[0].split()[0]) for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


def _splits(root: Path, keys: list[str], labelled: set[str], warnings: list[str]
            ) -> dict[str, list[str]]:
    present = {p.name.lower(): p for p in root.iterdir() if p.is_file()}
    lists: dict[str, list[str]] = {}
    for split, names in _SPLIT_FILES.items():
        file = next((present[n] for n in names if n in present), None)
        if file is None:
            continue
        wanted = _read_list(file)
        missing = [k for k in wanted if k not in labelled]
        if missing:
            warnings.append(f"{file.name}: {len(missing)} of {len(wanted)} names have no "
                            f"labelled image (e.g. {missing[0]!r}); skipped")
        lists[split] = [k for k in dict.fromkeys(wanted) if k in labelled]
        if wanted and not lists[split]:
            raise InputError.for_file(file, "none of its names matches a labelled image")
    ordered = [k for k in keys if k in labelled]
    if not lists:
        rng = np.random.default_rng(0)
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        n = len(shuffled)
        n_test = n // 7 + (n >= 3) if n >= 3 else 0
        n_val = max(1, round(0.15 * n)) if n >= 2 else 0
        lists = {"test": shuffled[:n_test], "val": shuffled[n_test:n_test + n_val],
                 "train": shuffled[n_test + n_val:] or shuffled[:1]}
        if n:
            warnings.append(f"no split lists: {len(lists['train'])}/{len(lists['val'])}/"
                            f"{len(lists['test'])} train/val/test images by a seeded shuffle")
    if "train" not in lists:
        used = {k for v in lists.values() for k in v}
        lists["train"] = [k for k in ordered if k not in used]
    if not lists.get("val"):
        train = lists["train"]
        n_val = max(1, round(0.15 * len(train))) if len(train) >= 2 else 0
        lists["val"] = train[len(train) - n_val:] if n_val else list(train)
        lists["train"] = train[:len(train) - n_val] if n_val else train
        warnings.append(f"no validation list: {len(lists['val'])} training images validate"
                        + ("" if n_val else " (the same image trains and validates)"))
    lists.setdefault("test", [])
    return {k: lists[k] for k in SPLITS}


def _infer_classes(samples: dict[str, SampleFiles], warnings: list[str]) -> ClassTable:
    largest = 0
    for files in samples.values():
        if files.label is not None:
            labels, _ = read_label(files.label)
            values = np.flatnonzero(np.bincount(labels.ravel(), minlength=256)[:255])
            largest = max(largest, int(values.max()) if values.size else 0)
    n = max(2, largest + 1)
    warnings.append(f"no classes.json: {n} classes inferred from the labels (largest index "
                    f"{largest}), named class 0 … class {n - 1}; class 0 is the matrix")
    return ClassTable.numbered(n)


def open_dataset(path: str | Path, classes: ClassTable | None = None) -> Dataset:
    """Index a labelled folder (see the module docstring); files are not decoded except the
    labels when the class count must be inferred."""
    root = Path(path)
    if not root.is_dir():
        raise InputError.for_file(root, "not a folder" if root.exists() else "folder not found")
    image_dir = _folder(root, IMAGE_DIRS)
    if image_dir is None:
        raise InputError.for_file(root, f"no images folder (looked for {', '.join(IMAGE_DIRS)})")
    images = _files(image_dir, IMAGE_SUFFIXES)
    if not images:
        raise InputError.for_file(image_dir, "no micrographs (.tif, .png, .jpg) in the folder")
    labels = _files(_folder(root, LABEL_DIRS), IMAGE_SUFFIXES)
    masks = _files(_folder(root, MASK_DIRS), IMAGE_SUFFIXES)
    tables = _files(_folder(root, OBJECT_DIRS), (".csv",))
    warnings: list[str] = []
    orphans = sorted(set(labels) - set(images))
    if orphans:
        warnings.append(f"{len(orphans)} labels without an image (e.g. {orphans[0]!r})")
    samples = {k: SampleFiles(p.stem, p, labels.get(k), masks.get(k), tables.get(k))
               for k, p in images.items()}
    labelled = {k for k, s in samples.items() if s.label is not None or s.objects is not None}
    unlabelled = len(samples) - len(labelled)
    if unlabelled:
        warnings.append(f"{unlabelled} images without a label (not used for training)")
    inferred = False
    if classes is None:
        json_file = next((p for p in root.iterdir() if p.name.lower() == "classes.json"), None)
        if json_file is not None:
            classes = read_class_table(json_file)
        else:
            classes, inferred = _infer_classes(samples, warnings), True
    splits = _splits(root, list(samples), labelled, warnings)
    return Dataset(root, classes, samples, splits, warnings, inferred)


@dataclass
class LabelledImage:
    """One image with its truth, aligned (same height and width)."""

    stem: str
    micrograph: Micrograph
    labels: np.ndarray | None
    mask: np.ndarray | None
    object_table: ObjectTable | None
    warnings: list[str] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        return self.micrograph.array


def _check_size(micrograph: Micrograph, truth: np.ndarray, truth_path: Path, what: str,
                bar_rows: int) -> np.ndarray:
    """``truth`` checked against the image: same width, at most as many rows (rows of a data bar
    cut from the image by the setting are cut from the truth too)."""
    height, width = micrograph.shape
    if truth.shape[1] != width:
        raise InputError.for_file(truth_path, f"{what} is {truth.shape[1]} × {truth.shape[0]} px "
                                              f"but {micrograph.path.name} is {width} × {height}")
    if bar_rows and truth.shape[0] == height + bar_rows:
        return truth[:height]
    if truth.shape[0] > height:
        raise InputError.for_file(truth_path, f"{what} has {truth.shape[0]} rows but "
                                              f"{micrograph.path.name} only {height}")
    return truth


def load_sample(files: SampleFiles, classes: ClassTable, crop_bottom: int = 0) -> LabelledImage:
    """Read an image with its label, mask and object table, aligned (see the module
    docstring): a label or mask shorter than the image crops the image (and the other truth)."""
    micrograph = read_micrograph(files.image, crop_bottom)
    truths: dict[str, tuple[np.ndarray, Path]] = {}
    if files.label is not None:
        labels, notes = read_label(files.label, classes)
        micrograph.warnings.extend(notes)
        truths["label"] = (_check_size(micrograph, labels, files.label, "label", crop_bottom),
                           files.label)
    if files.mask is not None:
        mask, notes = read_mask(files.mask)
        micrograph.warnings.extend(notes)
        truths["mask"] = (_check_size(micrograph, mask, files.mask, "mask", crop_bottom),
                          files.mask)
    if truths:
        _, (shortest, path) = min(truths.items(), key=lambda t: t[1][0].shape[0])
        short = micrograph.shape[0] - shortest.shape[0]
        if short:
            why = (f"{path.name} is one row short" if short == 1 else
                   f"{path.name} is {short} rows shorter: a data bar")
            crop_rows(micrograph, shortest.shape[0], why)
    labels = truths["label"][0][:micrograph.shape[0]] if "label" in truths else None
    mask = truths["mask"][0][:micrograph.shape[0]] if "mask" in truths else None
    table = read_object_table(files.objects, classes) if files.objects is not None else None
    return LabelledImage(files.stem, micrograph, labels, mask, table, list(micrograph.warnings))


def truth_objects(sample: LabelledImage, n_classes: int) -> tuple[np.ndarray, int, np.ndarray]:
    """``(objects, n, truth classes (n,))`` of a labelled image (−1: no truth)."""
    if sample.mask is not None:
        objects, n = label_objects(sample.mask)
    elif sample.labels is not None:
        objects, n = objects_of_labels(sample.labels)
    else:
        raise InputError(f"{sample.micrograph.path.name}: neither a label image nor a mask to "
                         "find objects in")
    if sample.object_table is not None:
        truth = sample.object_table.object_classes(objects, n,
                                                   sample.micrograph.path.name)[1:]
    elif sample.labels is not None:
        truth = truth_object_classes(sample.labels, objects, n, n_classes)
    else:
        raise InputError(f"{sample.micrograph.path.name}: no truth classes (a mask needs a "
                         "label image or an object table)")
    return objects, n, truth
