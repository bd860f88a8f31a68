"""Training a nodule SSD on a LUNA16-style dataset, as a generator that yields live curves.

Recipe:

1. Scans are split into training and validation scans (``val_fraction``, by scan).
2. For every scan, the slice choice of :func:`engines.nodules.preprocess.choose_slices`
   (slices cutting a nodule by at least ``train_min_mm``, the paper's three centre slices,
   negatives from the rest of the lungs) is turned into 2.5-D images at the model's pixel
   size, and stored as 8-bit crops ``crop_px + 64`` wide: one around each nodule box, one at
   random on the others (:class:`CropSet`).
3. Each step draws ``batch_size`` crops and augments them on the fly: a random window of
   ``crop_px`` with a rotation of up to ``rotate_deg`` and flips (one affine resampling), a
   contrast/level change of the HU window (``hu_jitter``) and added noise. True boxes are the
   nodules' circles, so a rotated box is the same square about the rotated centre.
4. The loss is SSD's (smooth-L1 on matched default boxes, cross-entropy with 3:1 hard negative
   mining), with at least ``min_negatives`` hard negatives per crop
   (:func:`engines.nodules.detectors.ssd_losses`: torchvision's mining takes none from a crop
   without a nodule, so negative slices taught nothing); :func:`engines.core.training.iter_fit` runs AdamW with warm-up and cosine decay,
   EMA of the weights, and keeps the weights with the best validation AP at IoU 0.5
   (``val_ap``, on validation crops; ``val_recall`` and ``val_precision`` at score 0.5
   beside it).
5. On the validation scans the whole detection runs (:mod:`engines.nodules.detect`): the slice
   threshold is the highest whose per-slice recall reaches ``target_recall``, the candidate
   threshold the lowest giving at most ``target_fp`` false positives per scan.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.core.box_metrics import match_boxes
from engines.core.config import like, param, to_json
from engines.core.errors import InputError
from engines.core.progress import Progress, forward
from engines.core.training import FitConfig, iter_fit, seed_everything
from engines.nodules.boxes import TruthConfig
from engines.nodules.detectors import (
    DetectorConfig,
    create_detector,
    load_backbone_weights,
    ssd_losses,
)
from engines.nodules.luna16 import LunaDataset, ScanEntry
from engines.nodules.lungs import lung_mask
from engines.nodules.model import NoduleDetector
from engines.nodules.preprocess import PreprocessConfig, choose_slices, plane_map, stack_slices
from engines.nodules.scan import open_scan

CROP_MARGIN = 64


@dataclass(frozen=True)
class TrainConfig(FitConfig):
    """Training settings; the optimisation ones are :class:`~engines.core.training.FitConfig`'s."""

    steps: int = param(3000, label="Steps", range=(1, 1_000_000))
    batch_size: int = param(16, label="Batch size", range=(1, 512), step=4)
    crop_px: int = param(160, label="Crop", unit="px", range=(64, 1024), step=32,
                         check=lambda v: None if v % 32 == 0 else "must be a multiple of 32",
                         help="training windows (the network is fully convolutional)")
    negative_ratio: float = param(1.0, label="Negatives per positive", range=(0.0, 20.0),
                                  step=0.5, help="negative slices per slice with a nodule")
    min_negatives: int = param(32, label="Hard negatives per crop", range=(0, 10_000),
                               help="at least this many hardest background boxes per crop "
                                    "enter the loss (SSD's own 3 per positive gives none "
                                    "on a crop without a nodule); 0 = torchvision's loss")
    centre_slices: int = param(3, label="Centre slices", range=(0, 50),
                               help="the paper's centre slices of every scan")
    train_min_mm: float = param(1.5, label="Smallest trained box", unit="mm",
                                range=(0.0, 30.0), help="circles narrower are not learnt")
    small_mm: float = param(6.0, label="Small box", unit="mm", range=(0.0, 30.0),
                            help="crops with a true box narrower than this are drawn "
                                 "more often (the small-box weight)")
    small_weight: float = param(1.0, label="Small-box weight", range=(1.0, 20.0), step=0.5,
                                help="how much more often crops with a small box are drawn "
                                     "(1 = as every crop with a nodule)")
    val_fraction: float = param(0.2, label="Validation scans", range=(0.05, 0.9), step=0.05,
                                help="share of the scans kept for validation")
    val_every: int = param(250, label="Validate every", unit="steps", range=(1, 100_000))
    rotate_deg: float = param(15.0, label="Rotation", unit="°", range=(0.0, 180.0))
    flips: bool = param(True, label="Flips", help="mirror left-right and up-down")
    hu_jitter: float = param(0.05, label="Window jitter", range=(0.0, 0.5), step=0.01,
                             decimals=3, help="relative contrast and level change")
    noise: float = param(0.015, label="Added noise", range=(0.0, 0.2), step=0.005, decimals=3,
                         help="largest std of added Gaussian noise (window units)")
    target_recall: float = param(0.985, label="Target slice recall", range=(0.5, 1.0),
                                 step=0.005, decimals=3,
                                 help="the slice threshold is the highest reaching this "
                                      "recall on the validation scans")
    target_fp: float = param(1.0, label="Target FP per scan", range=(0.05, 50.0),
                             help="the candidate threshold is the lowest with at most this "
                                  "many false positives per validation scan")
    lr: float = like(FitConfig, "lr", 2e-3)
    weight_decay: float = like(FitConfig, "weight_decay", 1e-4)
    ema_decay: float = like(FitConfig, "ema_decay", 0.995)


@dataclass
class CropSet:
    """Training crops: ``images`` (n, 3, S, S) uint8 (window × 255), ``boxes`` one (k, 4)
    float32 array per crop (x0, y0, x1, y1 crop pixels), ``scan`` (n,) index of the scan."""

    images: np.ndarray
    boxes: list[np.ndarray]
    scan: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def positives(self) -> int:
        return int(sum(len(b) > 0 for b in self.boxes))


@dataclass
class TrainResult:
    """What :func:`train_detector` returns: the model (best weights, chosen thresholds), the
    validation history, the split (seriesuids) and the validation :class:`Evaluation`."""

    model: NoduleDetector
    history: list[dict[str, float]]
    split: dict[str, list[str]] = field(default_factory=dict)
    validation: object = None


def _crop_boxes(boxes: np.ndarray, origin: np.ndarray, size: int) -> np.ndarray:
    """Boxes moved into a crop at ``origin`` (x, y), clipped; those keeping < half their area
    inside are dropped."""
    moved = boxes - np.r_[origin, origin]
    clipped = np.clip(moved, 0, size)
    area = np.prod(moved[:, 2:] - moved[:, :2], axis=1)
    kept = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1)
    return clipped[(kept >= 0.5 * np.maximum(area, 1e-9)) & (kept > 0)].astype(np.float32)


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    _, h, w = image.shape
    if h >= size and w >= size:
        return image
    out = np.zeros((3, max(h, size), max(w, size)), image.dtype)
    out[:, :h, :w] = image
    return out


def iter_crops(dataset: LunaDataset, entries: Sequence[ScanEntry], preprocess: PreprocessConfig,
               config: TrainConfig, rng: np.random.Generator
               ) -> Generator[Progress, None, CropSet]:
    """Steps 2 of the module docstring for ``entries``; yields Progress per scan."""
    from engines.nodules.evaluation import scan_truth

    size = config.crop_px + CROP_MARGIN
    truth_config = TruthConfig(min_fraction=0.0, min_mm=config.train_min_mm)
    images, boxes, owner = [], [], []
    for index, entry in enumerate(entries):
        scan = open_scan(entry.path, entry.series_uid)
        volume = scan.volume
        excluded = (dataset.nodules_of(scan.seriesuid, excluded=True)
                    if dataset.excluded is not None else None)
        truth = scan_truth(volume, dataset.nodules_of(scan.seriesuid), excluded, truth_config)
        lungs = lung_mask(volume)
        sx, sy, sz = volume.spacing_xyz
        geometry = plane_map(volume.shape[1:], (sy, sx), preprocess.pixel_mm,
                             lungs.bounds(int(np.ceil(10.0 / min(sx, sy)))))
        choice = choose_slices(volume.shape[0], truth.z[truth.counted], lungs.slice_range(),
                               rng, config.negative_ratio, config.centre_slices,
                               avoid=truth.z[~truth.counted])
        zs = choice.all()
        stacks = stack_slices(volume.array, zs, preprocess.neighbour_offset(sz), geometry,
                              preprocess.hu_window)
        for z, stack in zip(zs, stacks, strict=True):
            image = _pad_to(np.rint(stack * 255).astype(np.uint8), size)
            on_slice = geometry.to_model(truth.on_slice(int(z)))
            limit = np.array([image.shape[2] - size, image.shape[1] - size])
            origins = []
            for box in on_slice:
                centre = (box[:2] + box[2:]) / 2
                room = max(0.0, size / 2 - (box[2] - box[0]) / 2 - 8) * 0.5
                origins.append(centre - size / 2 + rng.uniform(-room, room, 2))
            if not origins:
                origins.append(rng.uniform(0, 1, 2) * limit)
            for origin in origins:
                o = np.clip(np.rint(origin), 0, limit).astype(int)
                images.append(image[:, o[1]:o[1] + size, o[0]:o[0] + size])
                boxes.append(_crop_boxes(on_slice, o, size) if len(on_slice)
                             else np.zeros((0, 4), np.float32))
                owner.append(index)
        yield Progress((index + 1) / len(entries), f"scan {index + 1}/{len(entries)}: "
                                                   f"{len(images)} crops")
    return CropSet(np.stack(images) if images else np.zeros((0, 3, size, size), np.uint8),
                   boxes, np.asarray(owner, dtype=np.int64))


def augment(crops: CropSet, rows: np.ndarray, config: TrainConfig, rng: np.random.Generator,
            device, train: bool = True):
    """Step 3 of the module docstring: ``(images (B, 3, T, T) float tensor, targets)``;
    ``train=False`` takes the centred window unchanged (validation)."""
    import torch
    import torch.nn.functional as F

    size, out = crops.images.shape[-1], config.crop_px
    theta, targets = [], []
    for row in rows:
        boxes = crops.boxes[row]
        angle = np.radians(rng.uniform(-config.rotate_deg, config.rotate_deg)) if train else 0.0
        flips = (np.where(rng.random(2) < 0.5, -1.0, 1.0) if train and config.flips
                 else np.ones(2))
        if len(boxes):  # a window round one of the boxes, anywhere in it when training
            box = boxes[rng.integers(len(boxes))] if train else boxes[0]
            room = np.maximum(out / 2 - (box[2:] - box[:2]) / 2 - 6, 0) if train else 0.0
            edge = out / 2 * (0.8 if train else 1.0)
            centre = np.clip((box[:2] + box[2:]) / 2 + rng.uniform(-room, room, 2), edge,
                             size - edge)
        elif train:
            centre = size / 2 + rng.uniform(-1, 1, 2) * (size - out) / 2
        else:
            centre = np.full(2, size / 2)
        c, s = np.cos(angle), np.sin(angle)
        matrix = np.array([[c, -s], [s, c]]) @ np.diag(flips)
        theta.append(np.c_[matrix * out / size, 2 * centre / size - 1])
        if len(boxes):
            middle = (boxes[:, :2] + boxes[:, 2:]) / 2
            half = (boxes[:, 2:] - boxes[:, :2]) / 2
            moved = (middle - centre) @ np.linalg.inv(matrix).T + out / 2
            boxes = _crop_boxes(np.c_[moved - half, moved + half], np.zeros(2), out)
        targets.append({"boxes": torch.as_tensor(boxes, dtype=torch.float32, device=device),
                        "labels": torch.ones(len(boxes), dtype=torch.int64, device=device)})
    images = torch.from_numpy(crops.images[rows]).to(device).float().div_(255.0)
    grid = F.affine_grid(torch.tensor(np.asarray(theta), dtype=torch.float32, device=device),
                         (len(rows), 3, out, out), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                           align_corners=False)
    if train and (config.hu_jitter > 0 or config.noise > 0):
        n = len(rows)
        gain = torch.tensor(1 + rng.uniform(-config.hu_jitter, config.hu_jitter, n),
                            dtype=torch.float32, device=device).view(n, 1, 1, 1)
        level = torch.tensor(rng.uniform(-config.hu_jitter, config.hu_jitter, n) / 2,
                             dtype=torch.float32, device=device).view(n, 1, 1, 1)
        sigma = torch.tensor(rng.uniform(0, config.noise, n), dtype=torch.float32,
                             device=device).view(n, 1, 1, 1)
        images = (images - 0.5) * gain + 0.5 + level + sigma * torch.randn_like(images)
        images = images.clamp_(0.0, 1.0)
    return images, targets


def crop_weights(crops: CropSet, config: TrainConfig, pixel_mm: float) -> np.ndarray:
    """Drawing probabilities (n,) of the training crops: 3 for a crop with a nodule box, 1
    without, times ``small_weight`` for a crop with a box narrower than ``small_mm``."""
    weights = np.ones(len(crops))
    for i, boxes in enumerate(crops.boxes):
        if len(boxes):
            side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * pixel_mm
            weights[i] = 3.0 * (config.small_weight if side.min() < config.small_mm else 1.0)
    return weights / weights.sum()


def average_precision(scores: np.ndarray, is_tp: np.ndarray, n_true: int) -> float:
    """Area under the interpolated precision–recall curve (all points, VOC 2010+)."""
    if n_true == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_tp[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / n_true
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(steps * envelope))


def crop_scores(model: NoduleDetector, crops: CropSet, config: TrainConfig, device
                ) -> dict[str, float]:
    """``val_ap`` (IoU 0.5), ``val_recall`` and ``val_precision`` at score 0.5 on centred
    validation windows."""
    rng = np.random.default_rng(0)
    scores, hits, n_true = [], [], 0
    tp_half = fp_half = 0
    for start in range(0, len(crops), 32):
        rows = np.arange(start, min(start + 32, len(crops)))
        images, targets = augment(crops, rows, config, rng, device, train=False)
        for found, target in zip(model.predict(images.cpu().numpy(), 16), targets, strict=True):
            truth = target["boxes"].cpu().numpy()
            matched = match_boxes(found[:, :4], found[:, 4], truth, 0.5) >= 0
            scores.append(found[:, 4])
            hits.append(matched)
            n_true += len(truth)
            tp_half += int((matched & (found[:, 4] >= 0.5)).sum())
            fp_half += int((~matched & (found[:, 4] >= 0.5)).sum())
    scores_all = np.concatenate(scores) if scores else np.zeros(0)
    hits_all = np.concatenate(hits) if hits else np.zeros(0, bool)
    return {"val_ap": average_precision(scores_all, hits_all, n_true),
            "val_recall": tp_half / n_true if n_true else float("nan"),
            "val_precision": tp_half / (tp_half + fp_half) if tp_half + fp_half else 0.0}


def split_scans(entries: Sequence[ScanEntry], fraction: float, rng: np.random.Generator
                ) -> tuple[list[ScanEntry], list[ScanEntry]]:
    """Training and validation scans (at least one of each)."""
    order = rng.permutation(len(entries))
    n_val = int(np.clip(round(fraction * len(entries)), 1, len(entries) - 1))
    return ([entries[i] for i in sorted(order[n_val:])],
            [entries[i] for i in sorted(order[:n_val])])


def train_detector(dataset: LunaDataset, config: TrainConfig | None = None,
                   detector: DetectorConfig | None = None,
                   preprocess: PreprocessConfig | None = None, init: str | Path | None = None,
                   detect_settings: dict | None = None) -> Generator[Progress, None, TrainResult]:
    """Train a nodule SSD (module docstring); yields Progress, returns a :class:`TrainResult`.

    Parameters
    ----------
    init
        Local backbone weights (:func:`engines.nodules.detectors.load_backbone_weights`).
    detect_settings
        :class:`engines.nodules.detect.DetectConfig` fields for the threshold choice (stored
        with the model).

    Progress metrics: every step ``step``, ``loss``, ``loc``, ``cls``, ``lr``; on validation
    steps also ``val_ap``, ``val_recall``, ``val_precision`` and ``train_loss``.

    Raises
    ------
    InputError
        Fewer than two scans, or no nodule box in the training scans.
    """
    import torch

    from engines.core.device import pick_device
    from engines.nodules.detect import DetectConfig
    from engines.nodules.evaluation import (
        choose_slice_threshold,
        choose_threshold,
        iter_outcomes,
        summarise,
    )

    config = config or TrainConfig()
    detector = detector or DetectorConfig()
    preprocess = preprocess or PreprocessConfig()
    detect = DetectConfig(**(detect_settings or {}))
    if len(dataset.scans) < 2:
        raise InputError(f"{dataset.root.name}: training needs at least two scans (one is kept "
                         f"for validation), found {len(dataset.scans)}")
    rng = seed_everything(config.seed)
    train_entries, val_entries = split_scans(dataset.scans, config.val_fraction, rng)
    yield Progress(0.0, "preparing training crops")
    crops = yield from forward(iter_crops(dataset, train_entries, preprocess, config, rng),
                               0.0, 0.08, "training crops: ")
    if crops.positives == 0:
        raise InputError(f"{dataset.root.name}: the training scans hold no nodule box "
                         "(annotations.csv rows for these scans?)")
    val_crops = yield from forward(iter_crops(dataset, val_entries, preprocess, config, rng),
                                   0.08, 0.02, "validation crops: ")
    device = pick_device(config.device)
    net = create_detector(detector, preprocess.pixel_mm)
    if init is not None:
        load_backbone_weights(net, init)
    net.to(device)
    model = NoduleDetector(net, detector, preprocess)
    weights = crop_weights(crops, config, preprocess.pixel_mm)

    def batches():
        while True:
            rows = rng.choice(len(crops), size=config.batch_size, p=weights)
            yield augment(crops, rows, config, rng, device)

    def step_loss(network, batch):
        images, targets = batch
        losses = ssd_losses(network, images, targets, config.min_negatives)
        return (losses["bbox_regression"] + losses["classification"],
                {"loc": float(losses["bbox_regression"].detach()),
                 "cls": float(losses["classification"].detach())})

    def validate(network) -> dict[str, float]:
        return crop_scores(NoduleDetector(network, detector, preprocess), val_crops, config,
                           device)

    fit = yield from forward(iter_fit(net, batches(), step_loss, validate, config,
                                      steps=config.steps, val_every=config.val_every,
                                      select="val_ap"), 0.1, 0.8)
    model = NoduleDetector(fit.model, detector, preprocess, detect_settings=to_json(detect))
    yield Progress(0.9, "choosing thresholds on the validation scans")
    outcomes = yield from forward(iter_outcomes(model, dataset, val_entries, detect), 0.9, 0.1,
                                  "validation scans: ")
    model.slice_threshold = choose_slice_threshold(outcomes, config.target_recall)
    model.threshold = choose_threshold(outcomes, config.target_fp)
    validation = summarise(outcomes, model.threshold, model.slice_threshold, bootstrap=200)
    figures = validation.to_json()
    model.metrics = {"validation": {**figures["slice"], "cpm": figures["cpm"],
                                    "froc": figures["froc"],
                                    "sensitivity": figures["sensitivity"],
                                    "fp_per_scan": figures["fp_per_scan"],
                                    "scans": figures["scans"], "nodules": figures["nodules"]},
                     "validation_crops": dict(fit.best)}
    model.training = {"config": config.to_json(), "scans": len(dataset.scans),
                      "train_scans": len(train_entries), "val_scans": len(val_entries),
                      "crops": len(crops), "positive_crops": crops.positives,
                      "best_step": fit.best_step, "steps_run": fit.steps_run,
                      "stop_reason": fit.stop_reason, "seconds": round(fit.seconds, 1),
                      "init": None if init is None else Path(init).name,
                      "history": fit.history,
                      "torch_threads": torch.get_num_threads()}
    yield Progress(1.0, "done")
    return TrainResult(model, fit.history,
                       {"train": [e.seriesuid for e in train_entries],
                        "val": [e.seriesuid for e in val_entries]}, validation)
