"""Synthetic micrographs written as a labelled data-set folder (``sem sample``, the sample
data, the demo model's training data).

Layout as :mod:`engines.sem.dataset` reads it: ``images/<stem>.tif`` (uncompressed, with the
pixel size in the resolution tags; or ``.png`` / ``.jpg``), ``labels/<stem>.png`` (palette PNG
of class indices), ``masks/<stem>.png`` (0/255), ``classes.json`` and ``train.txt`` /
``val.txt`` / ``test.txt``. Image ``i`` of seed ``s`` is generated from the seed sequence
``(s, i)``, so two sets with different seeds share no image. The folder is written under a
temporary name and renamed into place: a cancelled write leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Generator
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, forward
from engines.sem.labels import ClassTable
from engines.sem.synthetic import (
    CLASS_COLOURS,
    CLASS_NAMES,
    PIXEL_SIZE_UM,
    SyntheticConfig,
    iter_generate,
)
from engines.sem.writers import write_label_png, write_mask_png, write_micrograph

IMAGE_FORMATS = ("tif", "png", "jpg")
MAX_IMAGES = 1000


def image_seed(seed: int, index: int) -> int:
    """The generator seed of image ``index`` of a set written with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def split_of(n_images: int) -> dict[str, range]:
    """Image indices of each split: about 60/20/20 %, at least one validation image from two
    images and one test image from three."""
    n_test = max(1, round(0.2 * n_images)) if n_images >= 3 else 0
    n_val = max(1, round(0.2 * n_images)) if n_images >= 2 else 0
    n_train = n_images - n_test - n_val
    return {"train": range(0, n_train), "val": range(n_train, n_train + n_val),
            "test": range(n_train + n_val, n_images)}


def parse_size(text: str) -> tuple[int, int]:
    """``"4000x3000"`` (width × height, px) or ``"4000"`` as ``(height, width)``."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise InputError(f"size must be WIDTHxHEIGHT in pixels (e.g. 4000x4000), got "
                         f"{text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise InputError(f"size must be WIDTHxHEIGHT in pixels, got {text!r}")
    return values[1], values[0]


def _prepare_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError.for_file(out, "already exists and is not an empty folder")


def iter_write_dataset(out_dir: str | Path, n_images: int = 3,
                       size: tuple[int, int] = (2000, 2000), seed: int = 0,
                       config: SyntheticConfig | None = None, image_format: str = "tif",
                       classes_json: bool = True, split_lists: bool = True
                       ) -> Generator[Progress, None, Path]:
    """Write ``n_images`` synthetic micrographs of ``size = (height, width)`` px with labels
    and masks at ``out_dir`` (which must not exist or be empty); yields Progress, returns the
    folder.

    ``classes_json`` / ``split_lists`` False leave those files out (a set as some public ones
    come); ``config.data_bar_rows`` adds an unlabelled data bar below every image.
    """
    config = config or SyntheticConfig()
    if not 1 <= int(n_images) <= MAX_IMAGES:
        raise InputError(f"the number of images must be within 1…{MAX_IMAGES}, got {n_images}")
    if image_format not in IMAGE_FORMATS:
        raise InputError(f"unknown image format {image_format!r}; choose "
                         f"{', '.join(IMAGE_FORMATS)}")
    out = Path(out_dir)
    _prepare_target(out)
    temporary = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        for sub in ("images", "labels", "masks"):
            (temporary / sub).mkdir(parents=True)
        stems = []
        for i in range(n_images):
            stem = f"steel_{seed:04d}_{i:03d}"
            micrograph = yield from forward(
                iter_generate(size[0], size[1], image_seed(seed, i), config),
                i / n_images, 0.9 / n_images, f"image {i + 1}/{n_images}: ")
            write_micrograph(temporary / "images" / f"{stem}.{image_format}", micrograph.image,
                             PIXEL_SIZE_UM)
            write_label_png(temporary / "labels" / f"{stem}.png", micrograph.labels,
                            CLASS_COLOURS)
            write_mask_png(temporary / "masks" / f"{stem}.png", micrograph.mask)
            stems.append(stem)
            yield Progress((i + 1) / n_images, f"image {i + 1}/{n_images} written")
        if classes_json:
            table = ClassTable.from_names(CLASS_NAMES, CLASS_COLOURS)
            (temporary / "classes.json").write_text(json.dumps(
                {**table.to_json(), "pixel_size_um": PIXEL_SIZE_UM,
                 "source": f"LabLens synthetic micrographs, seed {seed}"}, indent=2))
        if split_lists:
            for split, indices in split_of(n_images).items():
                (temporary / f"{split}.txt").write_text(
                    "".join(f"{stems[k]}\n" for k in indices))
        if out.exists():
            out.rmdir()
        os.replace(temporary, out)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return out
