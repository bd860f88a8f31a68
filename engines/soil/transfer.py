"""Transfer learning (the paper's Table 1): keep a trained network's convolutional layers,
retrain only its dense head on another object's porosity, and compare with full training.

The convolutional layers are frozen, so each slice's pooled features are computed once (in
evaluation mode, batch-norm statistics included) and the head is trained on them with the
shared :func:`engines.core.training.iter_fit`; the same 80/20 split by slice as full training
(same seed) makes the two comparable. :func:`iter_compare` runs both and returns Table 1's rows
(time, train MSE, test MSE).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from engines.core.config import like, param, to_json
from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, forward
from engines.core.training import FitConfig, iter_fit, seed_everything
from engines.soil.dataset import CoreSlices, pool_slices, split_slices
from engines.soil.models import SoilSurrogate
from engines.soil.training import TrainConfig, TrainResult, iter_train, mse_of, predict_inputs


@dataclass(frozen=True)
class TransferConfig(FitConfig):
    """Retraining of the dense head; the shared optimisation settings are FitConfig's."""

    target: int = param(2, label="New target object", flag="object", range=(1, 64),
                        help="the head learns this object's porosity per slice")
    epochs: int = param(60, label="Epochs", range=(1, 100_000))
    batch_size: int = param(32, label="Batch size", range=(1, 4096))
    val_fraction: float = param(0.2, label="Held-out share", range=(0.05, 0.5), step=0.05)
    reset_head: bool = param(False, label="Reset the head",
                             help="start the dense layers from random weights instead of the "
                                  "trained ones")
    eval_batch_size: int = param(64, label="Evaluation batch size", range=(1, 4096), cli=False)
    optimizer: str = like(FitConfig, "optimizer", "adam")
    warmup_fraction: float = like(FitConfig, "warmup_fraction", 0.05)
    patience: int = like(FitConfig, "patience", 10)

    def to_json(self):
        return to_json(self)


def _reset(module) -> None:
    for layer in module.modules():
        if hasattr(layer, "reset_parameters") and layer is not module:
            layer.reset_parameters()


def iter_transfer(model: SoilSurrogate, cores: Sequence[CoreSlices],
                  config: TransferConfig | None = None) -> TaskGenerator[TrainResult]:
    """A new surrogate for ``config.target`` made of ``model``'s frozen convolutional layers
    and a retrained dense head; yields Progress (``val_rmse`` per epoch), returns a
    :class:`~engines.soil.training.TrainResult` whose seconds include the feature pass."""
    import torch

    from engines.core.device import to_device

    config = config or TransferConfig()
    cores = list(cores)
    if not cores:
        raise InputError("transfer learning needs at least one core")
    target = cores[0].preprocess.check_object(config.target)
    rng = seed_everything(config.seed)
    started = time.monotonic()
    net = copy.deepcopy(model.net).eval()
    device = model.device
    pooled = pool_slices(cores, net.input_size)
    y = pooled.targets[:, target - 1].astype(np.float32)
    train_idx, val_idx = split_slices(len(pooled), config.val_fraction, config.seed)
    if len(train_idx) < 4:
        raise InputError(f"transfer learning needs at least 5 slices, got {len(pooled)}")
    features = []
    with torch.inference_mode():
        for n0 in range(0, len(pooled), config.eval_batch_size):
            x = to_device(pooled.inputs[n0:n0 + config.eval_batch_size], device).float()
            features.append(net.embed(x).float().cpu().numpy())
            yield Progress(0.2 * min(1.0, (n0 + len(x)) / len(pooled)),
                           f"features of {n0 + len(x)}/{len(pooled)} slices")
    features = np.concatenate(features)
    head = net.vgg.classifier
    for parameter in net.vgg.features.parameters():
        parameter.requires_grad_(False)
    if config.reset_head:
        _reset(head)
    steps_per_epoch = -(-len(train_idx) // config.batch_size)

    def batches():
        for _epoch in range(config.epochs):
            for rows in np.array_split(rng.permutation(train_idx), steps_per_epoch):
                yield to_device(features[rows], device), to_device(y[rows], device)

    def step_loss(module, batch):
        x, values = batch
        return torch.nn.functional.mse_loss(module(x)[:, 0].float(), values), {}

    def validate(module) -> dict[str, float]:
        predicted = predict_inputs(_head_net(module), features[val_idx], config.eval_batch_size)
        return {"val_rmse": float(np.sqrt(mse_of(predicted, y[val_idx])))}

    fit = yield from forward(iter_fit(head, batches(), step_loss, validate, config,
                                      steps=steps_per_epoch * config.epochs,
                                      val_every=steps_per_epoch, select="val_rmse",
                                      mode="min", steps_per_epoch=steps_per_epoch), 0.2, 0.8)
    net.vgg.classifier = fit.model
    for parameter in net.parameters():
        parameter.requires_grad_(True)
    net.eval()
    seconds = time.monotonic() - started
    train_mse = mse_of(predict_inputs(_head_net(head), features[train_idx],
                                      config.eval_batch_size), y[train_idx])
    val_mse = fit.best["val_rmse"] ** 2
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_rmse": h["val_rmse"],
                "seconds": round(h["seconds"], 2)} for h in fit.history]
    source = model.training.get("name") or f"{model.arch} on {model.target_name}"
    training = {"config": config.to_json(), "history": history, "cores": pooled.names,
                "transfer_from": source, "source_target": model.target, "frozen": "features",
                "source_training": {k: model.training.get(k) for k in ("cores", "seconds")},
                "stop_reason": fit.stop_reason, "seconds": round(seconds, 1),
                "slices": {"train": int(len(train_idx)), "val": int(len(val_idx))}}
    metrics = {"val_rmse": float(np.sqrt(val_mse)), "val_mse": val_mse, "train_mse": train_mse,
               "train_rmse": float(np.sqrt(train_mse))}
    result = SoilSurrogate(net, target, model.preprocess, training, metrics)
    return TrainResult(result, history, train_idx, val_idx, train_mse, val_mse, seconds,
                       fit.stop_reason)


def _head_net(head):
    """The dense head as a network of features (n, F) -> (n,) for :func:`predict_inputs`."""
    import torch

    class HeadNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head(x)[:, 0]

    return HeadNet()


@dataclass
class Comparison:
    """The paper's Table 1 for one set of cores: full training vs the dense head only."""

    full: TrainResult
    transfer: TrainResult

    def rows(self) -> list[dict]:
        return [self.full.row("full training"), self.transfer.row("dense layer")]


def iter_compare(model: SoilSurrogate, cores: Sequence[CoreSlices],
                 config: TransferConfig | None = None, full: TrainConfig | None = None
                 ) -> TaskGenerator[Comparison]:
    """Transfer ``model`` to ``config.target`` and, for comparison, train a network of the same
    architecture from scratch on the same target and split (``full``: its settings, by default
    as many epochs as the transfer); returns both results."""
    config = config or TransferConfig()
    full = replace(full or TrainConfig(epochs=config.epochs), arch=model.arch, target=config.target,
                   input_size=model.input_size, seed=config.seed,
                   val_fraction=config.val_fraction, device=config.device,
                   max_minutes=full.max_minutes if full else config.max_minutes)
    transferred = yield from forward(iter_transfer(model, cores, config), 0.0, 0.3,
                                     "dense layer: ")
    trained = yield from forward(iter_train(cores, full), 0.3, 0.7, "full training: ")
    return Comparison(trained, transferred)
