"""Training of the CDC U-Net (paper Sec. 5) as a generator that yields live curves.

Recipe: events split 80/10/10 stratified by their number of signal hits; the (time, ADC) signal
density fitted on the training split; images built once (on the cell grid) before the first
step; AdamW, linear warm-up over 10 % of the steps then cosine decay, peak lr 3e-3, weight
decay 1e-3; binary cross-entropy over cell pixels only (non-cell pixels ignored), with an
optional weight on signal pixels; EMA of the weights; after every epoch the EMA network is
scored on the validation split and the epoch with the highest validation PR-AUC (cell level)
is kept. Its decision threshold is the cut that keeps 90 % of the validation signal cells.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from engines.cdc.events import Event
from engines.cdc.images import ImageConfig, build_images, cell_scores
from engines.cdc.metrics import cell_level
from engines.cdc.model import ENCODERS, CdcSegmenter, create_model
from engines.cdc.signal_density import SignalDensity
from engines.core.config import like, param
from engines.core.errors import InputError
from engines.core.inference import predict_array
from engines.core.progress import Progress
from engines.core.training import FitConfig, iter_fit, seed_everything


def _check_split(split: tuple[float, ...]) -> str | None:
    ok = (len(split) == 3 and min(split) >= 0 and split[0] > 0 and split[1] > 0
          and abs(sum(split) - 1.0) < 1e-6)
    return None if ok else "must be three fractions summing to 1 with train and validation > 0"


@dataclass(frozen=True)
class TrainConfig(FitConfig):
    """The paper's recipe (Sec. 5): AdamW, cosine with 10 % warm-up, peak lr 3e-3, weight decay
    1e-3, EMA 0.996, batch 96, 30 epochs; the shared optimisation settings are
    :class:`~engines.core.training.FitConfig`'s."""

    encoder: str = param("efficientnet-b2", label="Encoder", choices=lambda: ENCODERS,
                         help="EfficientNet encoder of the U-Net (b0 smallest)")
    epochs: int = param(30, label="Epochs", range=(1, 1000))
    batch_size: int = param(96, label="Batch size", range=(1, 1024), step=8)
    pos_weight: float = param(1.0, label="Signal pixel weight", range=(0.1, 100.0), step=0.5,
                              decimals=2, help="BCE weight of signal pixels (class imbalance)")
    split: tuple[float, float, float] = param((0.8, 0.1, 0.1), label="Split", check=_check_split,
                                              help="train/validation/test fractions", cli=False)
    eval_batch_size: int = param(32, label="Evaluation batch size", range=(1, 4096), cli=False)
    lr: float = like(FitConfig, "lr", 3e-3)
    weight_decay: float = like(FitConfig, "weight_decay", 1e-3)
    ema_decay: float = like(FitConfig, "ema_decay", 0.996)


@dataclass
class TrainResult:
    """What :func:`train_segmenter` returns.

    Attributes
    ----------
    segmenter
        The network with the best validation-AUC EMA weights, its density and threshold.
    history
        One dict per epoch: ``epoch``, ``train_loss``, ``val_auc``, ``lr``, ``seconds``.
    split
        Event indices ``train``, ``val``, ``test`` into the events given.
    best_epoch
        1-based epoch whose weights were kept.
    """

    segmenter: CdcSegmenter
    history: list[dict[str, float]]
    split: dict[str, np.ndarray] = field(default_factory=dict)
    best_epoch: int = 0


def stratified_split(signal_counts: np.ndarray, fractions: Sequence[float],
                     rng: np.random.Generator, n_strata: int = 10
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split event indices by ``fractions`` within quantile strata of the signal count.

    Parameters
    ----------
    signal_counts : (N,) int
        Signal hits per event.

    Returns
    -------
    train, val, test : sorted int64 index arrays covering 0…N-1 once.
    """
    counts = np.asarray(signal_counts, dtype=np.float64)
    n = counts.size
    edges = np.unique(np.quantile(counts, np.linspace(0, 1, n_strata + 1)[1:-1])) if n else []
    stratum = np.searchsorted(edges, counts, side="right")
    parts: list[list[np.ndarray]] = [[], [], []]
    carry = np.zeros(3)
    for s in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == s))
        # largest-remainder rounding carried across strata keeps the overall fractions exact
        want = carry + np.asarray(fractions) * len(members)
        take = np.floor(want).astype(int)
        short = len(members) - take.sum()
        take[np.argsort(-(want - take))[:short]] += 1
        carry = want - take
        bounds = np.cumsum(np.r_[0, take])
        for k in range(3):
            parts[k].append(members[bounds[k]:bounds[k + 1]])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64)
                 for p in parts)


def _validation_auc(net, images: np.ndarray, events: Sequence[Event], config: ImageConfig,
                    batch_size: int) -> float:
    pixels = predict_array(net, images, batch_size, output=lambda logits: logits.sigmoid())
    return cell_level(events, cell_scores(pixels, config)).auc


def train_segmenter(events: Sequence[Event], image_config: ImageConfig | None = None,
                    config: TrainConfig | None = None, initial: CdcSegmenter | None = None
                    ) -> Generator[Progress, None, TrainResult]:
    """Train a U-Net on events with truth; yields Progress, returns a :class:`TrainResult`.

    Parameters
    ----------
    initial
        Start from this model's weights (fine-tuning); its encoder and image configuration
        must equal ``config.encoder`` and ``image_config`` except for the input size (the
        network is fully convolutional, so a model can be refined at a larger input size).
        None starts from random weights.

    Progress metrics: every step ``step``, ``epoch``, ``loss``, ``lr``; after every epoch
    also ``val_auc`` and ``train_loss``.

    Raises
    ------
    InputError
        Fewer than 10 events, events without truth or without any signal hit, or an initial
        model that does not match.
    """
    import torch

    from engines.core.device import pick_device, to_device

    image_config = image_config or ImageConfig()
    config = config or TrainConfig()
    events = list(events)
    if len(events) < 10:
        raise InputError(f"training needs at least 10 events, got {len(events)}")
    if not all(e.has_truth for e in events):
        raise InputError("training needs events with truth (is_signal)")
    if initial is not None and (
            initial.encoder != config.encoder
            or replace(initial.image_config, input_size=image_config.input_size) != image_config):
        raise InputError("the initial model differs from the requested encoder or image "
                         f"configuration (it has {initial.encoder}, "
                         f"{initial.image_config.format} at {initial.image_config.input_size} px)")
    rng = seed_everything(config.seed)
    counts = np.array([e.n_signal_hits for e in events])
    if counts.sum() == 0:
        raise InputError("the training events contain no signal hit")
    train_idx, val_idx, test_idx = stratified_split(counts, config.split, rng)
    train_events = [events[i] for i in train_idx]
    val_events = [events[i] for i in val_idx]
    yield Progress(0.0, "building images")
    density = SignalDensity.fit(train_events)
    train_set = build_images(train_events, image_config, density)
    val_images = build_images(val_events, image_config, density).images
    device = pick_device(config.device)
    net = create_model("unet", encoder=config.encoder, in_channels=image_config.channels,
                       input_size=image_config.input_size, grid_shape=image_config.grid_shape)
    if initial is not None:
        net.load_state_dict(initial.net.state_dict())
    net.to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        net.to(memory_format=torch.channels_last)
    steps_per_epoch = -(-len(train_events) // config.batch_size)
    valid = torch.from_numpy(np.array(train_set.valid[0])).to(device)
    pos_weight = torch.tensor(config.pos_weight, device=device)

    def batches():
        for _epoch in range(config.epochs):
            for batch in np.array_split(rng.permutation(len(train_events)), steps_per_epoch):
                rows = np.sort(batch)
                yield (to_device(train_set.images[rows], device, channels_last),
                       to_device(train_set.labels[rows], device))

    def step_loss(model, batch):
        x, y = batch
        loss_map = torch.nn.functional.binary_cross_entropy_with_logits(
            model(x).float(), y, pos_weight=pos_weight, reduction="none")
        return loss_map[:, valid].mean(), {}

    def validate(model) -> dict[str, float]:
        return {"val_auc": _validation_auc(model, val_images, val_events, image_config,
                                           config.eval_batch_size)}

    fit = yield from iter_fit(net, batches(), step_loss, validate, config,
                              steps=steps_per_epoch * config.epochs, val_every=steps_per_epoch,
                              select="val_auc", steps_per_epoch=steps_per_epoch)
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_auc": h["val_auc"],
                "lr": h["lr"], "seconds": h["seconds"]} for h in fit.history]
    best_epoch = -(-fit.best_step // steps_per_epoch)
    segmenter = CdcSegmenter(net, image_config, density)
    pixels = segmenter.predict_images(val_images, config.eval_batch_size)
    summary = cell_level(val_events, cell_scores(pixels, image_config))
    segmenter.threshold = summary.threshold_at_retention
    segmenter.training = {"config": config.to_json(), "history": history,
                          "initial": None if initial is None else initial.training,
                          "best_epoch": best_epoch, "events": len(events),
                          "stop_reason": fit.stop_reason, "seconds": round(fit.seconds, 1),
                          "split_sizes": [len(train_idx), len(val_idx), len(test_idx)]}
    segmenter.metrics = {"val": summary.figures()}
    return TrainResult(segmenter, history, {"train": train_idx, "val": val_idx,
                                            "test": test_idx}, best_epoch)
