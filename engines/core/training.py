"""Training helpers shared by every workspace: seeding, schedules, EMA, early stopping."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field

import numpy as np


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
    """EMA of a model's weights (``decay`` per update); ``averaged`` is a frozen copy."""

    def __init__(self, model, decay: float = 0.996) -> None:
        import torch

        self.decay = decay
        self.averaged = copy.deepcopy(model).eval()
        for parameter in self.averaged.parameters():
            parameter.requires_grad_(False)
        self._torch = torch

    def update(self, model) -> None:
        with self._torch.no_grad():
            for ema_value, value in zip(self.averaged.state_dict().values(),
                                        model.state_dict().values(), strict=True):
                if ema_value.is_floating_point():
                    ema_value.lerp_(value.detach(), 1.0 - self.decay)
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
