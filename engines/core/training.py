"""Training shared by every workspace: :func:`iter_fit`, the one training loop, and its parts
(seeding, the warm-up + cosine schedule, EMA of the weights, early stopping)."""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.config import param, to_json, validate
from engines.core.progress import Progress


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch; return a numpy Generator for the caller's own draws."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def warmup_cosine(step: int, total_steps: int, warmup_fraction: float = 0.1) -> float:
    """Learning-rate multiplier in [0, 1]: linear warm-up, then cosine decay to 0."""
    warmup = max(1, int(round(total_steps * warmup_fraction)))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class ExponentialMovingAverage:
    """EMA of a model's weights; ``averaged`` is a frozen copy.

    The decay warms up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so a short run
    (a few hundred CPU steps) does not keep a large share of the random start: with a fixed
    0.995, 300 updates would still hold 22 % of the initial weights.
    """

    def __init__(self, model, decay: float = 0.996) -> None:
        import torch

        self.decay = decay
        self.averaged = copy.deepcopy(model).eval()
        for parameter in self.averaged.parameters():
            parameter.requires_grad_(False)
        self._torch = torch

    def decay_at(self, updates: int) -> float:
        """The decay applied by update number ``updates`` (0-based)."""
        return min(self.decay, (1.0 + updates) / (10.0 + updates))

    def update(self, model, updates: int) -> None:
        """Blend ``model`` in; ``updates`` is how many updates came before (for the warm-up)."""
        decay = self.decay_at(updates)
        with self._torch.no_grad():
            for ema_value, value in zip(self.averaged.state_dict().values(),
                                        model.state_dict().values(), strict=True):
                if ema_value.is_floating_point():
                    ema_value.lerp_(value.detach(), 1.0 - decay)
                else:
                    ema_value.copy_(value)


@dataclass
class EarlyStopping:
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` checks.

    ``mode='max'`` for accuracies/AUCs, ``'min'`` for losses.
    """

    patience: int = 5
    min_delta: float = 0.0
    mode: str = "max"
    best: float = field(default=float("nan"), init=False)
    best_step: int = field(default=-1, init=False)
    _bad_checks: int = field(default=0, init=False)

    def update(self, metric: float, step: int) -> bool:
        """Record a new value; return True if it is the best so far."""
        sign = 1.0 if self.mode == "max" else -1.0
        if math.isnan(self.best) or sign * (metric - self.best) > self.min_delta:
            self.best, self.best_step, self._bad_checks = metric, step, 0
            return True
        self._bad_checks += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self._bad_checks >= self.patience


# -- the one training loop --------------------------------------------------------------------


def _device_choices() -> tuple[str, ...]:
    from engines.core.device import DEVICE_CHOICES

    return DEVICE_CHOICES


OPTIMIZERS = ("adam", "adamw")


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings every workspace's training shares (its ``TrainConfig`` extends
    this class and may change defaults with :func:`engines.core.config.like`)."""

    optimizer: str = param("adamw", label="Optimiser", choices=OPTIMIZERS,
                           help="Adam, or AdamW (decoupled weight decay)")
    lr: float = param(1e-3, label="Peak learning rate", range=(1e-6, 1.0), step=5e-4,
                      decimals=6, help="reached after the warm-up, then decayed by a cosine")
    weight_decay: float = param(0.0, label="Weight decay", range=(0.0, 1.0), step=1e-3,
                                decimals=5)
    warmup_fraction: float = param(0.1, label="Warm-up fraction", range=(0.0, 0.5), step=0.05,
                                   decimals=3, help="share of the steps with a linear warm-up")
    ema_decay: float = param(0.0, label="EMA decay", range=(0.0, 0.9999), step=0.001,
                             decimals=4, help="exponential moving average of the weights per "
                                              "step, validated and kept instead of the raw "
                                              "weights; 0 = off")
    patience: int = param(0, label="Early-stopping patience", range=(0, 100_000),
                          help="validations without improvement before stopping; 0 = off")
    max_minutes: float | None = param(None, label="Time budget", unit="min",
                                      range=(0.01, 1e6), flag="minutes", suggest=30.0,
                                      decimals=1, step=5.0,
                                      help="stop after this wall time and keep the best "
                                           "weights so far; the learning-rate schedule "
                                           "follows the time when it is ahead of the steps")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))
    device: str = param("auto", label="Device", choices=_device_choices,
                        help="auto = CUDA > MPS > CPU", cli=False)

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass
class FitResult:
    """What :func:`iter_fit` returns.

    Attributes
    ----------
    best_step
        Step whose (EMA) weights were kept and are loaded into the returned model.
    best
        The validation metrics of that step.
    history
        One record per validation: ``step``, ``train_loss`` (mean since the last validation),
        ``lr``, ``seconds`` (since the start), ``epoch`` when epochs are given, and the
        validation metrics.
    steps_run, seconds, stop_reason
        ``"step budget"``, ``"target reached"``, ``"time budget"`` or ``"early stopping"``.
    """

    model: Any
    best_step: int
    best: dict[str, float]
    history: list[dict[str, float]]
    steps_run: int
    seconds: float
    stop_reason: str


def _optimizer(model, config: FitConfig):
    import torch

    make = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return make(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _distributed():
    """``torch.distributed`` when this process runs under torchrun with a process group."""
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def iter_fit(model, batches: Iterator[Any], step_loss: Callable[[Any, Any], tuple[Any, dict]],
             validate_fn: Callable[[Any], dict[str, float]], config: FitConfig, *, steps: int,
             val_every: int, select: str, mode: str = "max", target: float | None = None,
             steps_per_epoch: int | None = None, checkpoint: Path | None = None,
             resume: Path | None = None) -> Generator[Progress, None, FitResult]:
    """Train ``model`` for ``steps`` optimiser steps; a generator that yields progress.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` already on its device.
    batches
        Yields one training batch per step (fresh draws, or epochs of a fixed set).
    step_loss
        ``step_loss(model, batch) -> (loss tensor, {name: float})``, run under bf16 autocast on
        CUDA; the extra numbers go into the step's progress report.
    validate_fn
        ``validate_fn(model) -> {name: float}`` on the weights being validated (the EMA copy when
        ``config.ema_decay > 0``); called every ``val_every`` steps and after the last step.
    select, mode
        The validation metric that picks the kept weights, and whether higher (``"max"``) or
        lower (``"min"``) is better; ties keep the earlier step.
    target
        Stop once the selected metric reaches it.
    steps_per_epoch
        Adds ``epoch`` to reports and records.
    checkpoint, resume
        Write the training state (weights, optimiser, schedule, EMA, best weights, history) at
        every validation, and continue from such a state. A resumed run continues the weights
        and schedule; its batches are whatever ``batches`` yields next.

    Under ``torchrun`` (a process group initialised) the model is wrapped in
    ``DistributedDataParallel``: each process trains on its own batches, gradients are averaged,
    every process validates the same weights, and stop decisions are agreed across processes.

    Each step yields ``Progress(fraction, message, step=, loss=, lr=, [epoch=], **extras)``;
    steps that validate also carry the validation metrics and ``train_loss``.

    Returns
    -------
    FitResult with the kept weights loaded into ``model``.
    """
    import torch

    from engines.core.checkpoint import load_training_state, save_training_state
    from engines.core.device import autocast

    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    device = next(model.parameters()).device
    optimiser = _optimizer(model, config)
    clock = {"start": time.monotonic()}
    budget_s = None if config.max_minutes is None else 60.0 * config.max_minutes

    def schedule(step: int) -> float:
        # with a time budget the schedule runs on whichever is further: steps or time, so
        # the learning rate has decayed when the budget ends, however busy the machine (not
        # under torchrun, where every process must use the same learning rate)
        if budget_s is not None and _distributed() is None:
            elapsed = (time.monotonic() - clock["start"]) / budget_s
            step = max(step, int(steps * min(1.0, elapsed)))
        return warmup_cosine(step, steps, config.warmup_fraction)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    ema = ExponentialMovingAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    dist = _distributed()
    trained = model
    if dist is not None:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model)
    sign = 1.0 if mode == "max" else -1.0
    stopper = EarlyStopping(patience=config.patience or 1, mode=mode)
    best_state, best, history, step = None, {}, [], 0
    if resume is not None:
        state = load_training_state(resume, model, optimiser, scheduler,
                                    None if ema is None else ema.averaged)
        step, history, best = state["step"], state["history"], state["best"]
        best_state = state["best_weights"]
        if best:
            stopper.update(best[select], state["best_step"])
    best_step = stopper.best_step if best else 0
    started = time.monotonic() - (history[-1]["seconds"] if history else 0.0)
    clock["start"] = started
    losses: list[float] = []
    stop_reason = "step budget"
    for batch in batches:
        if step >= steps:
            break
        trained.train()
        lr = optimiser.param_groups[0]["lr"]
        with autocast(device):
            loss, extras = step_loss(trained, batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        if ema is not None:
            ema.update(model, step)
        step += 1
        losses.append(float(loss.item()))
        metrics: dict[str, Any] = {"step": step, "loss": losses[-1], "lr": lr, **extras}
        message = f"step {step}/{steps}"
        if steps_per_epoch:
            metrics["epoch"] = -(-step // steps_per_epoch)
            message = f"epoch {metrics['epoch']}/{-(-steps // steps_per_epoch)} {message}"
        message += f"  loss {np.mean(losses[-50:]):.4f}"
        out_of_time = (config.max_minutes is not None
                       and time.monotonic() - started > 60.0 * config.max_minutes)
        if dist is not None:
            flag = torch.tensor(float(out_of_time), device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            out_of_time = bool(flag.item())
        if step % val_every == 0 or step >= steps or out_of_time:
            validated = model if ema is None else ema.averaged
            values = validate_fn(validated)
            record = {"step": step, "train_loss": float(np.mean(losses)) if losses else math.nan,
                      "lr": lr, "seconds": time.monotonic() - started, **values}
            if steps_per_epoch:
                record["epoch"] = metrics["epoch"]
            history.append(record)
            losses = []
            metrics.update(values, train_loss=record["train_loss"])
            if stopper.update(values[select], step):
                best, best_step = dict(values), step
                best_state = {k: v.detach().clone() for k, v in validated.state_dict().items()}
            message += "  " + "  ".join(f"{k} {v:.4f}" for k, v in values.items())
            if checkpoint is not None and (dist is None or dist.get_rank() == 0):
                save_training_state(checkpoint, model, optimiser, scheduler,
                                    None if ema is None else ema.averaged,
                                    {"step": step, "history": history, "best": best,
                                     "best_step": best_step}, best_state)
            if target is not None and sign * (best[select] - target) >= 0:
                stop_reason = "target reached"
            elif config.patience and stopper.should_stop:
                stop_reason = "early stopping"
        if out_of_time and stop_reason == "step budget":
            stop_reason = "time budget"
        yield Progress(step / steps, message, **metrics)
        if stop_reason != "step budget":
            break
    if best_state is None:  # no step ran (empty batches or a finished resume): validate once
        validated = model if ema is None else ema.averaged
        best, best_step = validate_fn(validated), step
        best_state = validated.state_dict()
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_step, best, history, step, time.monotonic() - started,
                     stop_reason)
