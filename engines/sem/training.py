"""Training a micrograph segmenter (Azimi et al., §4.3.3–4.3.4) as a generator with live curves.

Recipe:

* the data set's ``train`` images are prepared once at the model's scale (8-bit, see
  :mod:`engines.sem.preprocessing`) with their labels;
* class balance by a stride per class (§4.3.4, :func:`engines.imaging.sampling`): crop origins
  on a grid whose stride shrinks with the square root of the class's share of the pixels
  (the most common class at one window), a crop belonging to the class of its centre pixel;
  each batch then draws its crops' classes uniformly, so rare classes are seen as often as the
  matrix, and moves every crop by up to a quarter window;
* augmentation: 90/180/270° rotations (the paper's), flips, and a small brightness/contrast
  jitter (real sessions differ in both);
* cross-entropy (unlabelled pixels ignored), AdamW with warm-up and cosine decay
  (:func:`engines.core.training.iter_fit`);
* validation on the ``val`` images by tiled, stitched inference; the kept weights are those of
  the best validation mean IU (object accuracy of the max-vote is reported beside it);
* ``--minutes``: the step count is fitted to the time budget from the measured cost of a few
  steps and of a validation, so the learning-rate schedule completes inside the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engines.core.config import like, param, to_json
from engines.core.errors import InputError
from engines.core.metrics import ConfusionAccumulator, object_scores
from engines.core.progress import Progress, drive, forward
from engines.core.training import FitConfig, iter_fit, seed_everything
from engines.imaging.blend import SlidingWindowConfig
from engines.imaging.sampling import balancing_strides, class_balanced_origins
from engines.imaging.tiling import crop_window
from engines.sem.dataset import Dataset, load_sample
from engines.sem.inference import iter_segment_prepared
from engines.sem.labels import IGNORE
from engines.sem.maxvote import VoteCounter, label_objects, objects_of_labels, truth_object_classes
from engines.sem.models import segmentation_archs
from engines.sem.preprocessing import Preprocessing, network_input, prepare_image, prepare_labels
from engines.sem.segmenter import SemSegmenter
from engines.sem.weights import start_network


@dataclass(frozen=True)
class TrainConfig(FitConfig):
    """Segmenter training; the shared optimisation settings are
    :class:`~engines.core.training.FitConfig`'s."""

    arch: str = param("unet-resnet18-lite", label="Architecture", choices=segmentation_archs)
    epochs: int = param(40, label="Epochs", range=(1, 100_000),
                        help="passes over the class-balanced crops")
    window: int = param(512, label="Window", unit="px", range=(32, 2048), step=32,
                        help="training crops at the model's scale (smaller images get a "
                             "smaller one); also the default analysis window")
    batch_size: int = param(4, label="Batch size", range=(1, 1024))
    rotate: bool = param(True, label="Rotations and flips",
                         help="90/180/270° rotations (the paper's augmentation) and mirror "
                              "images")
    jitter: float = param(0.15, label="Intensity jitter", range=(0.0, 0.5), step=0.05,
                          decimals=2, help="random contrast (± this share) and brightness of "
                                           "crops")
    crop_bottom: int = param(0, label="Data bar", unit="rows", range=(0, 100_000),
                             help="rows of an instrument data bar cut from every image")
    steps: int | None = param(None, label="Steps", range=(1, 10_000_000),
                              help="optimiser steps (default: epochs × crops / batch size); "
                                   "a fixed count makes a run reproducible")
    validations: int = param(10, label="Validations", range=(1, 1000),
                             help="how many times the validation images are segmented")
    eval_batch_size: int = param(8, label="Evaluation batch size", range=(1, 256), cli=False)
    lr: float = like(FitConfig, "lr", 1e-3)
    weight_decay: float = like(FitConfig, "weight_decay", 1e-4)
    warmup_fraction: float = like(FitConfig, "warmup_fraction", 0.05)


@dataclass
class PreparedImage:
    """A labelled image at the model's scale, with its truth objects (for validation)."""

    stem: str
    image: np.ndarray          # (h, w[, 3]) uint8
    labels: np.ndarray         # (h, w) uint8
    objects: np.ndarray        # (h, w) int32
    object_classes: np.ndarray  # (n,) truth class per object


def prepare_split(dataset: Dataset, split: str, preprocessing: Preprocessing, crop_bottom: int
                  ) -> Generator[Progress, None, list[PreparedImage]]:
    """The labelled images of ``split`` at the model's scale (see :class:`PreparedImage`)."""
    files = [f for f in dataset.split(split) if f.label is not None]
    prepared = []
    for i, sample_files in enumerate(files):
        sample = load_sample(sample_files, dataset.classes, crop_bottom)
        image = prepare_image(sample.image, preprocessing)
        labels = prepare_labels(sample.labels, image.shape[:2])
        if sample.mask is not None:
            objects, n = label_objects(prepare_labels(sample.mask, image.shape[:2]))
        else:
            objects, n = objects_of_labels(labels)
        classes = truth_object_classes(labels, objects, n, len(dataset.classes))
        prepared.append(PreparedImage(sample.stem, image, labels, objects, classes))
        yield Progress((i + 1) / len(files), f"{split}: {sample.stem} ({i + 1}/{len(files)})")
    return prepared


def fitted_window(images: list[PreparedImage], window: int) -> int:
    """The training window: ``window``, or the largest multiple of 32 that fits the smallest
    image."""
    smallest = min(min(p.image.shape[:2]) for p in images)
    return int(window if smallest >= window else max(32, smallest // 32 * 32))


class CropSampler:
    """Class-balanced training crops (see the module docstring)."""

    def __init__(self, images: list[PreparedImage], n_classes: int, window: int,
                 config: TrainConfig, rng: np.random.Generator) -> None:
        labels = [p.labels for p in images]
        # class areas over the whole split (every 7th pixel is plenty for their ratios)
        sample = np.concatenate([lab.ravel()[::7] for lab in labels])[None, :]
        strides = balancing_strides(sample, n_classes, window, max(1, window // 16))
        pools: dict[int, list[np.ndarray]] = {}
        for k, lab in enumerate(labels):
            crops = class_balanced_origins(lab, window, strides, n_classes)
            for cls in np.unique(crops.classes):
                chosen = crops.origins[crops.classes == cls]
                pools.setdefault(int(cls), []).append(
                    np.column_stack([np.full(len(chosen), k), chosen]))
        if not pools:
            raise InputError("no training crop: the labels hold no class at any crop centre")
        self.pools = {c: np.concatenate(v) for c, v in sorted(pools.items())}
        self.images, self.window, self.config, self.rng = images, window, config, rng
        self.size = sum(len(v) for v in self.pools.values())

    def counts(self) -> dict[int, int]:
        return {c: len(v) for c, v in self.pools.items()}

    def _crop(self, k: int, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray]:
        image, labels = self.images[k].image, self.images[k].labels
        w, rng = self.window, self.rng
        shift = w // 4
        y0 = int(np.clip(y0 + rng.integers(-shift, shift + 1), 0, max(0, image.shape[0] - w)))
        x0 = int(np.clip(x0 + rng.integers(-shift, shift + 1), 0, max(0, image.shape[1] - w)))
        crop, truth = crop_window(image, y0, x0, (w, w)), crop_window(labels, y0, x0, (w, w))
        if self.config.rotate:
            turns = int(rng.integers(4))
            crop, truth = np.rot90(crop, turns, axes=(0, 1)), np.rot90(truth, turns)
            if rng.random() < 0.5:
                crop, truth = crop[:, ::-1], truth[:, ::-1]
        return crop, truth

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(size, w, w[, 3]) uint8 crops and (size, w, w) int64 labels."""
        classes = list(self.pools)
        crops, truths = [], []
        for cls in self.rng.choice(classes, size):
            pool = self.pools[int(cls)]
            k, y0, x0 = pool[self.rng.integers(len(pool))]
            crop, truth = self._crop(int(k), int(y0), int(x0))
            crops.append(crop)
            truths.append(truth)
        return np.stack(crops), np.stack(truths).astype(np.int64)


def validate_images(net, n_classes: int, in_channels: int, images: list[PreparedImage],
                    window: SlidingWindowConfig) -> dict[str, float]:
    """Mean IU, pixel accuracy and max-vote object accuracy on prepared images."""
    confusion = ConfusionAccumulator(n_classes, ignore_index=IGNORE)
    truth, predicted = [], []
    for image in images:
        counter = VoteCounter(len(image.object_classes), n_classes)

        def consume(y0: int, y1: int, band: np.ndarray, image=image, counter=counter) -> None:
            confusion.update(image.labels[y0:y1], band)
            counter.add(image.objects[y0:y1], band)

        drive(iter_segment_prepared(net, n_classes, in_channels, image.image, window, [consume]))
        truth.append(image.object_classes)
        predicted.append(counter.result().winner)
    scores = confusion.scores()
    objects = object_scores(np.concatenate(truth), np.concatenate(predicted), n_classes)
    return {"val_mean_iu": scores.mean_iu, "val_pixel_accuracy": scores.pixel_accuracy,
            "val_object_accuracy": objects.accuracy if np.concatenate(truth).size else math.nan}


def _plan_steps(model, sampler: CropSampler, config: TrainConfig, validate, budget_s: float,
                steps_wanted: int, device) -> tuple[int, dict[str, float]]:
    """Steps that fit ``budget_s`` seconds with ``config.validations`` validations, from the
    measured time of two training steps and one validation (whose figures are returned)."""
    import torch

    started = time.monotonic()
    x, y = sampler.batch(config.batch_size)
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(
            model(network_input(torch.from_numpy(x).to(device), model.in_channels)),
            torch.from_numpy(y).to(device), ignore_index=IGNORE)
        loss.backward()
    model.zero_grad(set_to_none=True)
    step_s = (time.monotonic() - started) / 2 * 1.15   # optimiser step, data, logging
    started = time.monotonic()
    first = validate(model)
    val_s = time.monotonic() - started
    usable = budget_s - (config.validations + 1) * val_s
    return max(1, min(steps_wanted, int(usable / step_s))), first


def train_segmenter(dataset: Dataset, config: TrainConfig | None = None,
                    preprocessing: Preprocessing | None = None, init: str | None = None
                    ) -> Generator[Progress, None, SemSegmenter]:
    """Train on ``dataset``'s train split, validate on its val split; yields Progress (every
    step: ``step``, ``loss``, ``lr``, ``epoch``; every validation also ``val_mean_iu``,
    ``val_pixel_accuracy``, ``val_object_accuracy``, ``train_loss``), returns the segmenter
    with the best validation mean IU weights.

    Parameters
    ----------
    init
        ``None`` (random weights), ``"demo"``, a sem model path, or local weights
        (:func:`engines.sem.weights.start_network`).
    """
    import torch

    from engines.core.device import pick_device, to_device

    started = time.monotonic()
    config = config or TrainConfig()
    preprocessing = preprocessing or Preprocessing()
    n_classes = len(dataset.classes)
    rng = seed_everything(config.seed)
    start = start_network(init, config.arch, n_classes, preprocessing.in_channels)
    notes = list(dataset.warnings) + start.notes
    for note in start.notes:
        yield Progress(0.0, note)
    train = yield from forward(prepare_split(dataset, "train", preprocessing,
                                             config.crop_bottom), 0.0, 0.0, "loading ")
    val = yield from forward(prepare_split(dataset, "val", preprocessing, config.crop_bottom),
                             0.0, 0.0, "loading ")
    if not train or not val:
        raise InputError(f"{dataset.root.name}: training needs labelled train and val images")
    window = fitted_window(train + val, config.window)
    if window != config.window:
        notes.append(f"window {config.window} px does not fit the images at scale "
                     f"{preprocessing.scale:g}; {window} px used")
    sampler = CropSampler(train, n_classes, window, config, rng)
    device = pick_device(config.device)
    net = start.net.to(device).to(memory_format=torch.channels_last)  # faster on CPUs too
    # validation tiles do not overlap: a third of the cost, and the choice of weights hardly
    # depends on it
    val_window = SlidingWindowConfig(window=window, stride=window,
                                     batch_size=config.eval_batch_size)

    def validate(model) -> dict[str, float]:
        return validate_images(model, n_classes, preprocessing.in_channels, val, val_window)

    steps_per_epoch = max(1, -(-sampler.size // config.batch_size))
    steps = config.steps or steps_per_epoch * config.epochs
    fit_config = config
    if config.max_minutes is not None:
        budget = 60.0 * config.max_minutes - (time.monotonic() - started)
        yield Progress(0.0, "timing a few steps and a validation")
        steps, first = _plan_steps(net, sampler, config, validate, budget, steps, device)
        notes.append(f"{steps} steps fit the {config.max_minutes:g}-minute budget (start: "
                     f"validation mean IU {first['val_mean_iu']:.4f})")
        left = config.max_minutes - (time.monotonic() - started) / 60.0
        fit_config = replace(config, max_minutes=max(0.01, left))
    val_every = max(1, math.ceil(steps / config.validations))

    def batches():
        while True:
            x, y = sampler.batch(config.batch_size)
            yield to_device(x, device), to_device(y, device)

    jitter = config.jitter

    def step_loss(model, batch):
        x, y = batch
        inputs = network_input(x, preprocessing.in_channels).contiguous(
            memory_format=torch.channels_last)
        if jitter:
            shape = (inputs.shape[0], 1, 1, 1)
            gain = 1 + jitter * (2 * torch.rand(shape, device=inputs.device) - 1)
            inputs = inputs * gain + 2 * jitter * (2 * torch.rand(shape, device=inputs.device) - 1)
        return torch.nn.functional.cross_entropy(model(inputs).float(), y,
                                                 ignore_index=IGNORE), {}

    fit = yield from iter_fit(net, batches(), step_loss, validate, fit_config, steps=steps,
                              val_every=val_every, select="val_mean_iu",
                              steps_per_epoch=steps_per_epoch)
    best = {k.removeprefix("val_"): v for k, v in fit.best.items()}
    training: dict[str, Any] = {
        "config": to_json(config), "init": start.source, "notes": notes,
        "images": len(train), "val_images": len(val), "window": window,
        "crops_per_class": {dataset.classes.names[c]: n for c, n in sampler.counts().items()},
        "best_step": fit.best_step, "steps": fit.steps_run, "steps_per_epoch": steps_per_epoch,
        "seconds": round(time.monotonic() - started, 1), "stop_reason": fit.stop_reason,
        "history": fit.history,
        "initial": None if start.initial is None else start.initial.training.get("data")}
    return SemSegmenter(fit.model, dataset.classes, preprocessing, window, training,
                        {"val": best})

