"""iter_fit: the schedule, best-weight selection, stop rules, EMA, time budget and resume."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engines.core.progress import drive
from engines.core.training import FitConfig, iter_fit, warmup_cosine

torch = pytest.importorskip("torch")


def _problem(seed: int = 0):
    """A linear regression whose validation loss the caller can script."""
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(123))  # same data always
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3

    def batches():
        for _ in itertools.count():
            yield x, y

    def step_loss(net, batch):
        inputs, target = batch
        return torch.nn.functional.mse_loss(net(inputs), target), {"extra": 1.0}

    return model, batches, step_loss


def test_lr_follows_warmup_cosine_and_reports_every_step():
    model, batches, step_loss = _problem()
    config = FitConfig(optimizer="adam", lr=0.01, warmup_fraction=0.2)
    reports = []
    drive(iter_fit(model, batches(), step_loss, lambda m: {"val_score": 0.0}, config,
                   steps=10, val_every=5, select="val_score"), reports.append)
    assert [r.metrics["step"] for r in reports] == list(range(1, 11))
    lrs = [r.metrics["lr"] for r in reports]
    assert lrs == pytest.approx([0.01 * warmup_cosine(s, 10, 0.2) for s in range(10)])
    assert all(r.metrics["extra"] == 1.0 for r in reports)
    validated = [r.metrics["step"] for r in reports if "val_score" in r.metrics]
    assert validated == [5, 10]
    assert all("train_loss" in r.metrics for r in reports if "val_score" in r.metrics)


def test_keeps_the_best_validation_weights_and_earlier_of_ties():
    model, batches, step_loss = _problem()
    scores = iter([0.2, 0.9, 0.5, 0.9])
    seen = {}

    def validate(net):
        value = next(scores)
        seen[value] = seen.get(value) or {k: v.clone() for k, v in net.state_dict().items()}
        return {"val_acc": value}

    fit = drive(iter_fit(model, batches(), step_loss, validate, FitConfig(lr=0.05), steps=8,
                         val_every=2, select="val_acc"))
    assert fit.best_step == 4 and fit.best == {"val_acc": 0.9}
    for key, value in model.state_dict().items():
        assert torch.equal(value, seen[0.9][key])
    assert [h["step"] for h in fit.history] == [2, 4, 6, 8] and fit.stop_reason == "step budget"


def test_min_mode_target_and_early_stopping():
    model, batches, step_loss = _problem()
    losses = iter([3.0, 2.0, 0.5, 0.1])
    fit = drive(iter_fit(model, batches(), step_loss, lambda m: {"val_loss": next(losses)},
                         FitConfig(), steps=100, val_every=1, select="val_loss", mode="min",
                         target=0.6))
    assert fit.stop_reason == "target reached" and fit.steps_run == 3
    assert fit.best == {"val_loss": 0.5}
    model, batches, step_loss = _problem()
    flat = iter([0.5, 0.6, 0.6, 0.6, 0.6, 0.6])
    fit = drive(iter_fit(model, batches(), step_loss, lambda m: {"val_acc": next(flat)},
                         FitConfig(patience=3), steps=100, val_every=1, select="val_acc"))
    assert fit.stop_reason == "early stopping" and fit.steps_run == 5 and fit.best_step == 2


def test_time_budget_stops_validates_and_keeps_best(monkeypatch):
    import engines.core.training as training

    clock = itertools.count(0.0, 30.0)  # every call to the clock advances half a minute
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock))
    model, batches, step_loss = _problem()
    fit = drive(iter_fit(model, batches(), step_loss, lambda m: {"val_acc": 0.5},
                         FitConfig(max_minutes=1.0), steps=1000, val_every=500,
                         select="val_acc"))
    assert fit.stop_reason == "time budget" and fit.steps_run < 10
    assert fit.history and fit.history[-1]["step"] == fit.steps_run  # validated at the stop


def test_with_a_time_budget_the_schedule_follows_the_clock(monkeypatch):
    import engines.core.training as training

    now = [0.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: now[0])
    model, batches, step_loss = _problem()

    def slow_batches():
        for batch in batches():
            now[0] += 6.0  # each step takes 6 s: 10 steps fill the minute
            yield batch

    reports = []
    fit = drive(iter_fit(model, slow_batches(), step_loss, lambda m: {"val_acc": 0.5},
                         FitConfig(lr=0.01, warmup_fraction=0.0, max_minutes=1.0), steps=1000,
                         val_every=500, select="val_acc"), reports.append)
    lrs = [r.metrics["lr"] for r in reports]
    assert fit.stop_reason == "time budget" and len(lrs) <= 11
    # far behind the 1000 steps, the learning rate still decays to ~0 with the clock
    assert lrs[-1] < 0.05 * lrs[0] and all(np.diff(lrs) <= 1e-12)
    model, batches, step_loss = _problem()
    reports = []
    drive(iter_fit(model, batches(), step_loss, lambda m: {"val_acc": 0.5},
                   FitConfig(lr=0.01, max_minutes=1e5), steps=10, val_every=5,
                   select="val_acc"), reports.append)  # a generous budget: the steps rule
    assert [r.metrics["lr"] for r in reports] == pytest.approx(
        [0.01 * warmup_cosine(s, 10, 0.1) for s in range(10)])


def test_ema_weights_are_validated_and_kept():
    model, batches, step_loss = _problem()
    validated = []

    def validate(net):
        validated.append(net)
        return {"val_acc": 1.0}

    drive(iter_fit(model, batches(), step_loss, validate, FitConfig(ema_decay=0.9), steps=4,
                   val_every=4, select="val_acc"))
    assert validated[0] is not model  # the averaged copy, not the raw network
    assert all(not p.requires_grad for p in validated[0].parameters())


def test_resume_continues_schedule_and_weights(tmp_path):
    state = tmp_path / "state"
    model, batches, step_loss = _problem()
    config = FitConfig(optimizer="adam", lr=0.01, warmup_fraction=0.0)
    first = iter([0.1])
    task = iter_fit(model, batches(), step_loss, lambda m: {"val_acc": next(first)}, config,
                    steps=8, val_every=4, select="val_acc", checkpoint=state)
    for report in task:  # stop after the first validation (as a cancel would)
        if report.metrics["step"] == 4:
            break
    task.close()
    straight, batches2, _ = _problem()
    both = iter([0.1, 0.2])
    full = drive(iter_fit(straight, batches2(), step_loss, lambda m: {"val_acc": next(both)},
                          config, steps=8, val_every=4, select="val_acc"))
    resumed_model, batches3, _ = _problem(seed=5)  # other initial weights: the state wins
    reports = []
    last = iter([0.2])
    resumed = drive(iter_fit(resumed_model, batches3(), step_loss,
                             lambda m: {"val_acc": next(last)}, config, steps=8, val_every=4,
                             select="val_acc", resume=state), reports.append)
    assert [r.metrics["step"] for r in reports] == [5, 6, 7, 8]
    assert reports[0].metrics["lr"] == pytest.approx(0.01 * warmup_cosine(4, 8, 0.0))
    assert resumed.steps_run == full.steps_run == 8 and resumed.best_step == 8
    assert [h["step"] for h in resumed.history] == [4, 8]
    final = {k: v for k, v in resumed_model.state_dict().items()}
    for key, value in straight.state_dict().items():
        assert np.allclose(final[key].numpy(), value.numpy(), atol=1e-6)


def test_fit_config_ranges_are_checked():
    with pytest.raises(Exception, match="lr"):
        FitConfig(lr=2.0)
    with pytest.raises(Exception, match="optimizer"):
        FitConfig(optimizer="sgd")
