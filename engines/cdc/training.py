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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.images import ImageConfig, build_images, cell_scores
from engines.cdc.metrics import cell_level
from engines.cdc.model import ENCODERS, CdcSegmenter, create_model
from engines.cdc.signal_density import SignalDensity
from engines.core.errors import InputError
from engines.core.progress import Progress


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (paper defaults; ranges in brackets)."""

    encoder: str = "efficientnet-b2"       # efficientnet-b0 … b7
    epochs: int = 30                       # [1, 1000]
    batch_size: int = 96                   # [1, 1024]
    lr: float = 3e-3                       # peak learning rate [1e-6, 1]
    weight_decay: float = 1e-3             # AdamW [0, 1]
    warmup_fraction: float = 0.1           # of all steps [0, 0.5]
    ema_decay: float = 0.996               # per step [0, 1)
    pos_weight: float = 1.0                # BCE weight of signal pixels [0.1, 100]
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/validation/test fractions
    seed: int = 0
    device: str = "auto"                   # auto, cuda, mps, cpu
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise InputError(f"unknown encoder {self.encoder!r}; valid: {', '.join(ENCODERS)}")
        checks = [(1 <= self.epochs <= 1000, "epochs must be within 1…1000"),
                  (1 <= self.batch_size <= 1024, "batch size must be within 1…1024"),
                  (1e-6 <= self.lr <= 1.0, "learning rate must be within 1e-6…1"),
                  (0.0 <= self.weight_decay <= 1.0, "weight decay must be within 0…1"),
                  (0.0 <= self.warmup_fraction <= 0.5, "warm-up fraction must be within 0…0.5"),
                  (0.0 <= self.ema_decay < 1.0, "EMA decay must be within [0, 1)"),
                  (0.1 <= self.pos_weight <= 100.0, "positive weight must be within 0.1…100"),
                  (len(self.split) == 3 and min(self.split) >= 0 and self.split[0] > 0
                   and self.split[1] > 0 and abs(sum(self.split) - 1.0) < 1e-6,
                   "split must be three fractions summing to 1 with train and validation > 0")]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
                    device, batch_size: int) -> float:
    import torch

    from engines.core.device import autocast

    net.eval()
    out = []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start:start + batch_size]).to(device)
            out.append(torch.sigmoid(net(x).float()).cpu().numpy())
    return cell_level(events, cell_scores(np.concatenate(out), config)).auc


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
    import time

    import torch

    from engines.core.device import autocast, pick_device
    from engines.core.training import ExponentialMovingAverage, seed_everything, warmup_cosine

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
    if device.type == "cuda":
        net.to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train_events) // config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, total, config.warmup_fraction))
    ema = ExponentialMovingAverage(net, config.ema_decay)
    valid = torch.from_numpy(np.array(train_set.valid[0])).to(device)
    pos_weight = torch.tensor(config.pos_weight, device=device)
    history: list[dict[str, float]] = []
    best_auc, best_state, best_epoch, step = -1.0, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        started = time.monotonic()
        net.train()
        losses = []
        for batch in np.array_split(rng.permutation(len(train_events)), steps_per_epoch):
            x = torch.from_numpy(train_set.images[np.sort(batch)]).to(device)
            y = torch.from_numpy(train_set.labels[np.sort(batch)]).to(device)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device):
                logits = net(x)
            loss_map = torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), y, pos_weight=pos_weight, reduction="none")
            loss = loss_map[:, valid].mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            ema.update(net)
            step += 1
            losses.append(loss.item())
            lr = optimiser.param_groups[0]["lr"]
            running = float(np.mean(losses[-50:]))
            yield Progress(step / total, f"epoch {epoch}/{config.epochs} step {step}/{total} "
                           f"loss {running:.4f}", step=step, epoch=epoch, loss=losses[-1], lr=lr)
        val_auc = _validation_auc(ema.averaged, val_images, val_events, image_config, device,
                                  config.eval_batch_size)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_auc": val_auc,
                  "lr": lr, "seconds": time.monotonic() - started}
        history.append(record)
        if best_state is None or val_auc > best_auc:
            best_auc, best_epoch = val_auc, epoch
            best_state = {k: v.detach().clone() for k, v in ema.averaged.state_dict().items()}
        yield Progress(step / total, f"epoch {epoch}: val AUC {val_auc:.4f}", step=step,
                       epoch=epoch, val_auc=val_auc, train_loss=record["train_loss"], lr=lr)
    net.load_state_dict(best_state)
    net.eval()
    segmenter = CdcSegmenter(net, image_config, density)
    pixels = segmenter.predict_images(val_images, config.eval_batch_size)
    summary = cell_level(val_events, cell_scores(pixels, image_config))
    segmenter.threshold = summary.threshold_at_retention
    segmenter.training = {"config": config.to_json(), "history": history,
                          "initial": None if initial is None else initial.training,
                          "best_epoch": best_epoch, "events": len(events),
                          "split_sizes": [len(train_idx), len(val_idx), len(test_idx)]}
    segmenter.metrics = {"val": summary.figures()}
    return TrainResult(segmenter, history, {"train": train_idx, "val": val_idx,
                                            "test": test_idx}, best_epoch)
