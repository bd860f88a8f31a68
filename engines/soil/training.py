"""Training of the surrogate network on the slices of one or more cores (the paper's Sec. 2.3).

Each slice's input is its three band-pair channels, its target the porosity of one object in
that slice (computed by the analysis: surrogate labels, no annotation). The slices are split
80/20 at random, by slice, as the paper's Table 1; training is the shared
:func:`engines.core.training.iter_fit` (Adam, warm-up + cosine, early stopping on the
validation RMSE, a time budget) with random flips and quarter turns of each batch (the porosity
of a slice does not change under them). The kept weights are those with the lowest validation
RMSE; the result records the train and test (validation) MSE and the seconds, Table 1's columns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engines.core.config import like, param, to_json
from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.core.training import FitConfig, iter_fit, seed_everything
from engines.soil.dataset import CoreSlices, SliceSet, pool_slices, split_slices
from engines.soil.models import MODELS, SoilSurrogate, create_model


def _arch_names() -> tuple[str, ...]:
    return tuple(MODELS.names())


@dataclass(frozen=True)
class TrainConfig(FitConfig):
    """Surrogate training; the shared optimisation settings are FitConfig's."""

    arch: str = param("vgg_light", label="Network", choices=_arch_names,
                      help="vgg16 as in the paper; vgg_light for the CPU")
    target: int = param(4, label="Target object", flag="object", range=(1, 64),
                        help="the network learns this object's porosity per slice")
    epochs: int = param(40, label="Epochs", range=(1, 100_000))
    batch_size: int = param(16, label="Batch size", range=(1, 4096))
    val_fraction: float = param(0.2, label="Held-out share", range=(0.05, 0.5), step=0.05,
                                help="share of the slices held out for validation (random)")
    input_size: int | None = param(None, label="Input size", unit="px", range=(32, 4096),
                                   help="slices are resized to this; default: the crop's "
                                        "cross-section")
    augment: bool = param(True, label="Flips and turns",
                          help="random flips and quarter turns of each training batch")
    eval_batch_size: int = param(64, label="Evaluation batch size", range=(1, 4096), cli=False)
    optimizer: str = like(FitConfig, "optimizer", "adam")
    warmup_fraction: float = like(FitConfig, "warmup_fraction", 0.05)
    patience: int = like(FitConfig, "patience", 10)

    def to_json(self):
        return to_json(self)


@dataclass
class TrainResult:
    """What :func:`iter_train` returns.

    Attributes
    ----------
    model
        The surrogate with the best validation weights.
    history
        One record per epoch: ``epoch``, ``train_loss``, ``val_rmse``, ``seconds``.
    train_index, val_index
        Slice indices into the pooled slices (cores in the order given).
    train_mse, val_mse
        Mean squared error of the kept weights on each split (Table 1's train/test error).
    seconds, stop_reason
    """

    model: SoilSurrogate
    history: list[dict[str, float]]
    train_index: np.ndarray
    val_index: np.ndarray
    train_mse: float
    val_mse: float
    seconds: float
    stop_reason: str
    extras: dict = field(default_factory=dict)

    def row(self, label: str) -> dict:
        """A row of the paper's Table 1."""
        return {"method": label, "seconds": round(self.seconds, 2), "train_mse": self.train_mse,
                "test_mse": self.val_mse, "test_rmse": float(np.sqrt(self.val_mse))}


def augment_batch(x, rng: np.random.Generator):
    """One random flip / quarter turn of a (N, C, H, W) tensor batch."""
    import torch

    turns = int(rng.integers(4))
    if turns:
        x = torch.rot90(x, turns, dims=(2, 3))
    if rng.integers(2):
        x = torch.flip(x, dims=(3,))
    return x


def mse_of(predicted: np.ndarray, target: np.ndarray) -> float:
    if len(target) == 0:
        return float("nan")
    return float(np.mean((np.asarray(predicted, np.float64) - target) ** 2))


def predict_inputs(net, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """Network outputs (n,) for float16/32 inputs (n, 3, S, S)."""
    from engines.core.inference import predict_array

    if len(inputs) == 0:
        return np.zeros(0, np.float32)
    return predict_array(net, inputs, batch_size, output=lambda y: y.float(),
                         prepare=lambda x: x.float())


def iter_train(cores: Sequence[CoreSlices], config: TrainConfig | None = None,
               pooled: SliceSet | None = None) -> TaskGenerator[TrainResult]:
    """Train a surrogate on ``cores``; yields Progress (live curves: ``loss`` per step,
    ``val_rmse`` and ``train_loss`` per epoch), returns a :class:`TrainResult`.

    Raises
    ------
    InputError
        Fewer than 5 slices, or an object the cores' preprocessing lacks.
    """
    import torch

    from engines.core.device import pick_device, to_device

    config = config or TrainConfig()
    cores = list(cores)
    if not cores:
        raise InputError("training needs at least one core")
    preprocess = cores[0].preprocess
    target = preprocess.check_object(config.target)
    rng = seed_everything(config.seed)
    size = config.input_size or int(max(cores[0].hu.shape[1:]))
    yield Progress(0.0, f"preparing {sum(len(c) for c in cores)} slices at {size} px")
    pooled = pooled or pool_slices(cores, size)
    if len(pooled) < 5:
        raise InputError(f"training needs at least 5 slices, got {len(pooled)}")
    y = pooled.targets[:, target - 1].astype(np.float32)
    train_idx, val_idx = split_slices(len(pooled), config.val_fraction, config.seed)
    device = pick_device(config.device)
    net = create_model(config.arch, size)
    with torch.no_grad():
        net.vgg.classifier[-1].bias.fill_(float(y[train_idx].mean()))
    net.to(device)
    steps_per_epoch = -(-len(train_idx) // config.batch_size)

    def batches():
        for _epoch in range(config.epochs):
            order = rng.permutation(train_idx)
            for rows in np.array_split(order, steps_per_epoch):
                rows = np.sort(rows)
                x = to_device(pooled.inputs[rows], device).float()
                if config.augment:
                    x = augment_batch(x, rng)
                yield x, to_device(y[rows], device)

    def step_loss(model, batch):
        x, target_values = batch
        return torch.nn.functional.mse_loss(model(x).float(), target_values), {}

    def validate(model) -> dict[str, float]:
        predicted = predict_inputs(model, pooled.inputs[val_idx], config.eval_batch_size)
        return {"val_rmse": float(np.sqrt(mse_of(predicted, y[val_idx])))}

    started = time.monotonic()
    fit = yield from iter_fit(net, batches(), step_loss, validate, config,
                              steps=steps_per_epoch * config.epochs, val_every=steps_per_epoch,
                              select="val_rmse", mode="min", steps_per_epoch=steps_per_epoch)
    seconds = time.monotonic() - started
    train_mse = mse_of(predict_inputs(net, pooled.inputs[train_idx], config.eval_batch_size),
                       y[train_idx])
    val_mse = fit.best["val_rmse"] ** 2
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_rmse": h["val_rmse"],
                "seconds": round(h["seconds"], 2)} for h in fit.history]
    training = {"config": config.to_json(), "history": history, "cores": pooled.names,
                "best_epoch": -(-fit.best_step // steps_per_epoch),
                "stop_reason": fit.stop_reason, "seconds": round(seconds, 1),
                "slices": {"train": int(len(train_idx)), "val": int(len(val_idx))}}
    metrics = {"val_rmse": float(np.sqrt(val_mse)), "val_mse": val_mse, "train_mse": train_mse,
               "train_rmse": float(np.sqrt(train_mse))}
    model = SoilSurrogate(net, target, preprocess, training, metrics)
    return TrainResult(model, history, train_idx, val_idx, train_mse, val_mse, seconds,
                       fit.stop_reason)
