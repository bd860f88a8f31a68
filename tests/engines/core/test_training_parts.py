"""The parts of the training loop, exactly: seeding, the schedule's values, the EMA's blend
and warm-up, early stopping's rules and the optimiser choice."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from engines.core import training
from engines.core.training import (
    EarlyStopping,
    ExponentialMovingAverage,
    FitConfig,
    seed_everything,
    warmup_cosine,
)

torch = pytest.importorskip("torch")


def _draws(seed: int):
    rng = seed_everything(seed)
    return random.random(), float(np.random.random()), float(torch.rand(1)), rng.random()


def test_seed_everything_seeds_every_generator():
    first = _draws(7)
    assert _draws(7) == first  # each of the four streams repeats
    other = _draws(8)
    assert all(a != b for a, b in zip(first, other, strict=True))  # and each follows the seed
    assert first[3] == np.random.default_rng(7).random()
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert (random.random(), float(np.random.random()), float(torch.rand(1))) == first[:3]


def test_seed_everything_takes_seeds_past_numpy_s_legacy_range():
    big = _draws(2**32 + 5)
    assert big[1] == _draws(5)[1]  # numpy's legacy seed wraps at 2**32
    assert big[0] != _draws(5)[0] and big[3] != _draws(5)[3]  # Python's and the Generator don't


def test_warmup_cosine_values():
    # 10 steps, 20 % warm-up: two linear steps, then a cosine over the remaining eight
    assert warmup_cosine(0, 10, 0.2) == pytest.approx(0.5)
    assert warmup_cosine(1, 10, 0.2) == pytest.approx(1.0)
    assert warmup_cosine(2, 10, 0.2) == pytest.approx(1.0)
    assert warmup_cosine(6, 10, 0.2) == pytest.approx(0.5)  # half-way through the decay
    assert warmup_cosine(4, 10, 0.2) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert warmup_cosine(10, 10, 0.2) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(25, 10, 0.2) == pytest.approx(0.0, abs=1e-12)  # past the end: stays 0


def test_warmup_cosine_default_rounding_and_no_warmup():
    assert warmup_cosine(0, 100) == pytest.approx(0.1)  # default 10 %: 10 warm-up steps
    assert warmup_cosine(9, 100) == pytest.approx(1.0)
    assert warmup_cosine(0, 10, 0.29) == pytest.approx(1 / 3)  # 2.9 warm-up steps round to 3
    assert warmup_cosine(0, 10, 0.0) == pytest.approx(1.0)  # no warm-up: at least one step
    assert warmup_cosine(1, 10, 0.0) == pytest.approx(1.0)  # the cosine starts at step 1
    assert warmup_cosine(2, 10, 0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 9)))
    assert warmup_cosine(0, 1, 0.5) == pytest.approx(1.0)  # one step: warm-up of one
    assert warmup_cosine(2, 2, 0.0) == pytest.approx(0.0, abs=1e-12)  # a one-step cosine


def test_ema_blends_by_the_decay_and_copies_integer_buffers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.BatchNorm1d(1))
    torch.nn.init.zeros_(model[0].weight)
    ema = ExponentialMovingAverage(model, decay=0.75)
    assert not ema.averaged.training and model.training  # a frozen copy in eval mode
    assert all(not p.requires_grad for p in ema.averaged.parameters())
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    model[1].num_batches_tracked.fill_(7)
    ema.update(model, 1000)
    assert ema.averaged[0].weight.detach().tolist() == [[0.25, 0.25]]
    assert int(ema.averaged[1].num_batches_tracked) == 7  # not averaged: copied
    assert model[0].weight.detach().tolist() == [[1.0, 1.0]]  # the model is left alone
    with pytest.raises(ValueError):  # another architecture is refused, not half-blended
        ema.update(torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False)), 1000)


def test_ema_decay_default_and_warm_up():
    model = torch.nn.Linear(1, 1)
    ema = ExponentialMovingAverage(model)
    assert ema.decay == 0.996
    assert ema.decay_at(0) == pytest.approx(1 / 10)
    assert ema.decay_at(5) == pytest.approx(6 / 15)
    assert ema.decay_at(10_000) == 0.996
    warm = ExponentialMovingAverage(model, decay=0.5)
    torch.nn.init.zeros_(warm.averaged.weight)
    with torch.no_grad():
        model.weight.fill_(1.0)
    warm.update(model, 2)  # decay_at(2) = 3 / 12 < 0.5
    assert warm.averaged.weight.item() == pytest.approx(0.75)


def test_early_stopping_defaults_min_delta_and_min_mode():
    stop = EarlyStopping()
    assert (stop.patience, stop.min_delta, stop.mode) == (5, 0.0, "max")
    assert math.isnan(stop.best) and stop.best_step == -1 and not stop.should_stop
    assert stop.update(0.3, 0)
    for step in range(1, 5):
        assert not stop.update(0.3, step) and not stop.should_stop  # equal is no improvement
    assert not stop.update(0.2, 5) and stop.should_stop  # the fifth bad check
    delta = EarlyStopping(patience=1, min_delta=0.1)
    assert delta.update(0.5, 0)
    assert not delta.update(0.6, 1) and delta.should_stop and delta.best == 0.5
    assert delta.update(0.61, 2) and not delta.should_stop  # a real gain resets the count
    low = EarlyStopping(patience=2, mode="min")
    assert low.update(1.0, 0) and low.update(0.5, 1)
    assert not low.update(0.7, 2) and not low.should_stop
    assert (low.best, low.best_step) == (0.5, 1)
    low_delta = EarlyStopping(patience=1, min_delta=0.1, mode="min")
    assert low_delta.update(1.0, 0)
    assert not low_delta.update(0.9, 1) and low_delta.best == 1.0  # a gain of only min_delta
    assert low_delta.update(0.89, 2) and low_delta.best == 0.89


def test_optimiser_choice_lr_and_weight_decay():
    model = torch.nn.Linear(2, 1)
    adam = training._optimizer(model, FitConfig(optimizer="adam", lr=0.02, weight_decay=0.1))
    assert type(adam) is torch.optim.Adam
    assert adam.param_groups[0]["lr"] == 0.02 and adam.param_groups[0]["weight_decay"] == 0.1
    assert len(adam.param_groups[0]["params"]) == 2
    adamw = training._optimizer(model, FitConfig(optimizer="adamw", weight_decay=0.3))
    assert type(adamw) is torch.optim.AdamW and adamw.param_groups[0]["weight_decay"] == 0.3


def test_not_distributed_without_a_process_group():
    assert training._distributed() is None
    assert "cuda" in training._device_choices() and "auto" in training._device_choices()


def test_fit_config_to_json_holds_every_field():
    saved = FitConfig(optimizer="adam", lr=0.02, patience=3).to_json()
    assert saved["optimizer"] == "adam" and saved["lr"] == 0.02 and saved["patience"] == 3
    assert {"weight_decay", "warmup_fraction", "ema_decay", "max_minutes", "seed"} <= set(saved)
