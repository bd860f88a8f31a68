"""Training of the CDC networks (paper Sec. 5) as generators that yield live curves.

Recipe (paper): AdamW, linear warm-up over 10 % of the steps then cosine decay, peak lr 3e-3,
weight decay 1e-3; binary cross-entropy over cell pixels only (non-cell pixels ignored), with
an optional weight on signal pixels; EMA of the weights; after every epoch the EMA network is
scored on the validation events and the epoch with the highest validation PR-AUC (cell level)
is kept. Its decision threshold is the cut that keeps 90 % of the validation signal cells.

Two sources of training events:

:func:`train_segmenter` (a file's events)
    Split 80/10/10 stratified by the number of signal hits; epochs over the training split.
:func:`train_on_synthetic` (fresh events every step)
    The calibrated generator (:mod:`engines.cdc.synthetic`) makes new events for every batch,
    so there is no fixed set to overfit; the validation events are generated once from their
    own seed.

In both, a share ``no_trigger_fraction`` of the training events (and the same share of the
validation events, fixed) is shown as a file without CTH times shows it
(:meth:`engines.cdc.events.Event.without_trigger`), so one model serves both kinds of file.
The signal density comes from the training events; images are built per batch (about 1 ms an
event). The kept model records what it was trained on (``expects``, see
:mod:`engines.cdc.features`) and a track-fit configuration tuned on the validation events
(:func:`engines.cdc.second_stage.tune`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.features import feature_summary
from engines.cdc.geometry import CTH_SEGMENTS, get_geometry
from engines.cdc.images import ImageConfig, build_images, cell_scores, valid_mask
from engines.cdc.metrics import cell_level
from engines.cdc.model import ARCHS, ENCODERS, CdcSegmenter, cpu_bf16_supported, create_model
from engines.cdc.signal_density import SignalDensity
from engines.core.config import like, param, to_json, validate
from engines.core.errors import InputError
from engines.core.progress import Progress, forward
from engines.core.training import FitConfig, iter_fit, seed_everything


def _check_split(split: tuple[float, ...]) -> str | None:
    ok = (len(split) == 3 and min(split) >= 0 and split[0] > 0 and split[1] > 0
          and abs(sum(split) - 1.0) < 1e-6)
    return None if ok else "must be three fractions summing to 1 with train and validation > 0"


def _increasing(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and pair[1] >= pair[0] else "must be a (low, high) pair"


def _parse_range(text: str) -> tuple[float, float]:
    """``"0.2:0.6"`` -> (0.2, 0.6); ``"0.4"`` -> (0.4, 0.4)."""
    try:
        parts = [float(v) for v in text.split(":")]
    except ValueError:
        raise InputError(f"occupancy: expected LOW:HIGH or a number, got {text!r}") from None
    if len(parts) not in (1, 2):
        raise InputError(f"occupancy: expected LOW:HIGH or a number, got {text!r}")
    return (parts[0], parts[-1])


@dataclass(frozen=True)
class TrainConfig(FitConfig):
    """The paper's recipe (Sec. 5): AdamW, cosine with 10 % warm-up, peak lr 3e-3, weight decay
    1e-3, EMA 0.996, batch 96, 30 epochs; the shared optimisation settings are
    :class:`~engines.core.training.FitConfig`'s."""

    arch: str = param("unet", label="Network", choices=ARCHS,
                      help="unet: EfficientNet encoder (paper); light_unet: plain U-Net at "
                           "the grid's native resolution (fast on CPUs)")
    encoder: str = param("efficientnet-b2", label="Encoder", choices=lambda: ENCODERS,
                         help="EfficientNet encoder of the U-Net (b0 smallest)")
    width: int = param(32, label="Light U-Net width", range=(4, 256), step=8,
                       help="channels of the light U-Net's first level (doubling per level)")
    epochs: int = param(30, label="Epochs", range=(1, 1000))
    batch_size: int = param(96, label="Batch size", range=(1, 1024), step=8)
    pos_weight: float = param(1.0, label="Signal pixel weight", range=(0.1, 100.0), step=0.5,
                              decimals=2, help="BCE weight of signal pixels (class imbalance)")
    no_trigger_fraction: float = param(0.5, label="Events without trigger time",
                                       range=(0.0, 1.0), step=0.1, decimals=2,
                                       help="share of events shown as a file without CTH "
                                            "times shows them")
    cpu_bf16: bool = param(True, label="bf16 on CPU", flag="cpu-bf16",
                           help="bf16 autocast when the CPU has native bf16")
    split: tuple[float, float, float] = param((0.8, 0.1, 0.1), label="Split", check=_check_split,
                                              help="train/validation/test fractions", cli=False)
    eval_batch_size: int = param(32, label="Evaluation batch size", range=(1, 4096), cli=False)
    lr: float = like(FitConfig, "lr", 3e-3)
    weight_decay: float = like(FitConfig, "weight_decay", 1e-3)
    ema_decay: float = like(FitConfig, "ema_decay", 0.996)


@dataclass(frozen=True)
class StreamConfig:
    """Fresh synthetic training events (:func:`train_on_synthetic`)."""

    events_per_epoch: int = param(2000, label="Events per epoch", range=(8, 10_000_000),
                                  help="fresh events per epoch (an epoch = one validation)")
    occupancy: tuple[float, float] = param((0.2, 0.6), label="Occupancy", range=(0.01, 0.95),
                                           check=_increasing, parse=_parse_range,
                                           format=lambda v: f"{v[0]:g}:{v[1]:g}",
                                           help="each event's mean occupancy, uniform in "
                                                "this range")
    signal_fraction: float = param(0.85, label="Events with a signal track", range=(0.0, 1.0))
    reuse: int = param(3, label="Uses per event", range=(1, 100),
                       help="each generated event is used this often on average, every time "
                            "turned by a random number of CTH segments (generation costs about "
                            "a third of a training step on a CPU)")
    val_events: int = param(300, label="Validation events", range=(10, 100_000))
    val_occupancy: float = param(0.4, label="Validation occupancy", range=(0.01, 0.95))

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass
class TrainResult:
    """What the training generators return.

    Attributes
    ----------
    segmenter
        The network with the best validation-AUC EMA weights, its density and threshold.
    history
        One dict per epoch: ``epoch``, ``train_loss``, ``val_auc``, ``lr``, ``seconds``.
    split
        Event indices ``train``, ``val``, ``test`` into the events given (empty for
        synthetic training).
    best_epoch
        1-based epoch whose weights were kept.
    validation_events
        The validation events as the model saw them (for tuning and reports).
    """

    segmenter: CdcSegmenter
    history: list[dict[str, float]]
    split: dict[str, np.ndarray] = field(default_factory=dict)
    best_epoch: int = 0
    validation_events: list[Event] = field(default_factory=list)


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


def rotate(event: Event, segments: int) -> Event:
    """``event`` turned about the chamber axis by ``segments`` CTH segments (2π/64 each): every
    hit moves along its layer by the nearest whole number of wires, the trigger counter by
    ``segments``, the truth momentum with it. Layers have different wire counts, so the turn
    is exact to half a cell per layer (a jitter that also stands for real per-layer offsets)."""
    geometry = get_geometry()
    cell = event.cell.astype(np.int64)
    layer = geometry.layer_of_cell[cell]
    wires = geometry.wires_per_layer[layer]
    shift = np.rint(segments * wires / CTH_SEGMENTS).astype(np.int64)
    moved = geometry.first_cell[layer] + np.mod(geometry.wire_in_layer[cell] + shift, wires)
    counter = event.trigger_counter
    if counter >= 0:
        counter = (counter // CTH_SEGMENTS) * CTH_SEGMENTS + (counter + segments) % CTH_SEGMENTS
    momentum = event.momentum_mev
    if momentum is not None:
        angle = 2.0 * np.pi * segments / CTH_SEGMENTS
        c, s = np.cos(angle), np.sin(angle)
        momentum = np.column_stack([c * momentum[:, 0] - s * momentum[:, 1],
                                    s * momentum[:, 0] + c * momentum[:, 1], momentum[:, 2]])
    return replace(event, cell=moved, trigger_counter=int(counter), momentum_mev=momentum)


def hide_triggers(events: Sequence[Event], fraction: float, rng: np.random.Generator
                  ) -> list[Event]:
    """``events`` with a random ``fraction`` of them shown without their trigger."""
    hide = rng.random(len(events)) < fraction
    return [e.without_trigger() if h and e.trigger_time_known else e
            for e, h in zip(events, hide, strict=True)]


def _check_initial(initial: CdcSegmenter | None, config: TrainConfig,
                   image_config: ImageConfig) -> None:
    if initial is None:
        return
    same_net = initial.arch == config.arch and (
        initial.encoder == config.encoder if config.arch == "unet"
        else initial.net.width == config.width)
    if not same_net or replace(initial.image_config,
                               input_size=image_config.input_size) != image_config:
        raise InputError("the initial model differs from the requested network or image "
                         f"configuration (it has {initial.arch} {initial.encoder}, "
                         f"{initial.image_config.format} at {initial.image_config.input_size} px)")


def _fit(train_batches: Callable[[], Iterator[list[Event]]], steps_per_epoch: int,
         density: SignalDensity, val_events: list[Event], sample_events: list[Event],
         image_config: ImageConfig, config: TrainConfig, initial: CdcSegmenter | None,
         describe: dict[str, Any]) -> Generator[Progress, None, TrainResult]:
    """The part both training generators share: network, loss, iter_fit, the kept model."""
    import torch

    from engines.core.device import pick_device, to_device

    device = pick_device(config.device)
    bf16 = config.cpu_bf16 and device.type == "cpu" and cpu_bf16_supported()
    options = ({"encoder": config.encoder} if config.arch == "unet" else
               {"width": config.width, "circular": image_config.format == "polar"})
    net = create_model(config.arch, **options, in_channels=image_config.channels,
                       input_size=image_config.input_size, grid_shape=image_config.grid_shape,
                       cpu_bf16=bf16)
    if initial is not None:
        net.load_state_dict(initial.net.state_dict())
    net.to(device)
    channels_last = device.type == "cuda" or bf16
    if channels_last:
        net.to(memory_format=torch.channels_last)
    val_images = build_images(val_events, image_config, density).images
    valid = torch.from_numpy(valid_mask(image_config.format).copy()).to(device)
    pos_weight = torch.tensor(config.pos_weight, device=device)

    def batches():
        for events in train_batches():
            batch = build_images(events, image_config, density)
            yield (to_device(batch.images, device, channels_last),
                   to_device(batch.labels, device))

    def step_loss(model, batch):
        x, y = batch
        loss_map = torch.nn.functional.binary_cross_entropy_with_logits(
            model(x).float(), y, pos_weight=pos_weight, reduction="none")
        return loss_map[:, valid].mean(), {}

    def validate(model) -> dict[str, float]:
        from engines.core.inference import predict_array

        pixels = predict_array(model, val_images, config.eval_batch_size,
                               output=lambda logits: logits.sigmoid())
        return {"val_auc": cell_level(val_events, cell_scores(pixels, image_config)).auc}

    fit = yield from forward(
        iter_fit(net, batches(), step_loss, validate, config,
                 steps=steps_per_epoch * config.epochs, val_every=steps_per_epoch,
                 select="val_auc", steps_per_epoch=steps_per_epoch), 0.0, 0.97)
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_auc": h["val_auc"],
                "lr": h["lr"], "seconds": h["seconds"]} for h in fit.history]
    best_epoch = -(-fit.best_step // steps_per_epoch)
    segmenter = CdcSegmenter(net, image_config, density)
    yield Progress(0.97, "scoring the validation events")
    prediction = segmenter.predict_images(val_images, config.eval_batch_size)
    summary = cell_level(val_events, cell_scores(prediction, image_config))
    segmenter.threshold = summary.threshold_at_retention
    expects = feature_summary(sample_events, image_config.time_reference_percentile)
    occupancy = [e.occupancy for e in sample_events]
    expects["occupancy_range"] = [round(float(np.percentile(occupancy, 2)), 3),
                                  round(float(np.percentile(occupancy, 98)), 3)]
    segmenter.expects = expects
    segmenter.training = {"config": config.to_json(), "history": history,
                          "initial": None if initial is None else initial.training,
                          "best_epoch": best_epoch, "stop_reason": fit.stop_reason,
                          "seconds": round(fit.seconds, 1), **describe}
    segmenter.metrics = {"val": summary.figures()}
    yield Progress(0.98, "tuning the track fit on the validation events")
    from engines.cdc.second_stage import RescoreConfig, store, tune

    tuned = yield from forward(tune(segmenter, val_events), 0.98, 0.02, "track fit: ")
    store(segmenter, tuned, RescoreConfig(), "val_with_fit")
    return TrainResult(segmenter, history, best_epoch=best_epoch, validation_events=val_events)


def train_segmenter(events: Sequence[Event], image_config: ImageConfig | None = None,
                    config: TrainConfig | None = None, initial: CdcSegmenter | None = None
                    ) -> Generator[Progress, None, TrainResult]:
    """Train on events with truth (e.g. a file's); yields Progress, returns a
    :class:`TrainResult`.

    Parameters
    ----------
    initial
        Start from this model's weights (fine-tuning); its network and image configuration
        must equal the requested ones except for the input size (the networks are fully
        convolutional, so a model can be refined at a larger input size). None starts from
        random weights.

    Progress metrics: every step ``step``, ``epoch``, ``loss``, ``lr``; after every epoch
    also ``val_auc`` and ``train_loss``.

    Raises
    ------
    InputError
        Fewer than 10 events, events without truth or without any signal hit, or an initial
        model that does not match.
    """
    image_config = image_config or ImageConfig()
    config = config or TrainConfig()
    events = list(events)
    if len(events) < 10:
        raise InputError(f"training needs at least 10 events, got {len(events)}")
    if not all(e.has_truth for e in events):
        raise InputError("training needs events with truth (is_signal)")
    _check_initial(initial, config, image_config)
    rng = seed_everything(config.seed)
    counts = np.array([e.n_signal_hits for e in events])
    if counts.sum() == 0:
        raise InputError("the training events contain no signal hit")
    train_idx, val_idx, test_idx = stratified_split(counts, config.split, rng)
    train_events = [events[i] for i in train_idx]
    val_events = hide_triggers([events[i] for i in val_idx], config.no_trigger_fraction,
                               np.random.default_rng([config.seed, 2]))
    yield Progress(0.0, "signal density")
    density = SignalDensity.fit(hide_triggers(train_events, config.no_trigger_fraction, rng),
                                percentile=image_config.time_reference_percentile)
    steps_per_epoch = -(-len(train_events) // config.batch_size)

    def train_batches() -> Iterator[list[Event]]:
        for _epoch in range(config.epochs):
            for rows in np.array_split(rng.permutation(len(train_events)), steps_per_epoch):
                yield hide_triggers([train_events[i] for i in np.sort(rows)],
                                    config.no_trigger_fraction, rng)

    result = yield from _fit(train_batches, steps_per_epoch, density, val_events, train_events,
                             image_config, config, initial,
                             {"events": len(events),
                              "split_sizes": [len(train_idx), len(val_idx), len(test_idx)]})
    result.split = {"train": train_idx, "val": val_idx, "test": test_idx}
    return result


def train_on_synthetic(stream: StreamConfig | None = None,
                       image_config: ImageConfig | None = None,
                       config: TrainConfig | None = None, initial: CdcSegmenter | None = None,
                       synthetic=None) -> Generator[Progress, None, TrainResult]:
    """Train on fresh synthetic events (a new batch of events every step).

    Parameters
    ----------
    stream
        How many events per epoch, their occupancy range and signal share, the validation set.
    synthetic
        The generator's physics (:class:`engines.cdc.synthetic.SyntheticConfig`; default).

    The validation events come from seed ``(seed, 1)`` at ``stream.val_occupancy``; training
    batches from a generator seeded with ``(seed, 3)``.
    """
    from engines.cdc.synthetic import generate_events

    stream = stream or StreamConfig()
    image_config = image_config or ImageConfig()
    config = config or TrainConfig()
    _check_initial(initial, config, image_config)
    seed_everything(config.seed)
    rng = np.random.default_rng([config.seed, 3])
    yield Progress(0.0, f"generating {stream.val_events} validation events")
    val_events = list((yield from forward(
        generate_events(stream.val_events, stream.val_occupancy, int(rng.integers(2**31)),
                        stream.signal_fraction, synthetic), 0.0, 0.0)))
    val_events = hide_triggers(val_events, config.no_trigger_fraction,
                               np.random.default_rng([config.seed, 2]))
    sample = list((yield from forward(
        generate_events(max(stream.val_events, 200), stream.occupancy,
                        int(rng.integers(2**31)), stream.signal_fraction, synthetic), 0.0,
        0.0)))
    sample = hide_triggers(sample, config.no_trigger_fraction, rng)
    density = SignalDensity.fit(sample, percentile=image_config.time_reference_percentile)
    steps_per_epoch = max(1, stream.events_per_epoch // config.batch_size)

    def train_batches() -> Iterator[list[Event]]:
        """Batches from a rolling pool: every step adds batch_size / reuse fresh events and
        draws the batch from the pool's newest batch_size · reuse, each turned at random."""
        from engines.core.progress import drive

        fresh = max(1, config.batch_size // stream.reuse)
        pool: list[Event] = []
        while True:
            pool.extend(drive(generate_events(
                fresh if pool else config.batch_size * stream.reuse, stream.occupancy,
                int(rng.integers(2**31)), stream.signal_fraction, synthetic,
                chunk_size=config.batch_size * stream.reuse)))
            del pool[:-config.batch_size * stream.reuse]
            chosen = rng.choice(len(pool), min(config.batch_size, len(pool)), replace=False)
            events = [rotate(pool[i], int(rng.integers(CTH_SEGMENTS))) for i in chosen]
            yield hide_triggers(events, config.no_trigger_fraction, rng)

    return (yield from _fit(train_batches, steps_per_epoch, density, val_events, sample,
                            image_config, config, initial,
                            {"events": stream.events_per_epoch * config.epochs,
                             "data": "fresh synthetic events", "stream": stream.to_json()}))
