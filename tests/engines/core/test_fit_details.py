"""iter_fit in detail: messages, epochs, records, the exact clock rules, targets in both modes,
EMA and best weights across a resume, runs without steps, and a one-process torchrun group."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import engines.core.training as training
from engines.core.progress import drive
from engines.core.training import FitConfig, iter_fit, warmup_cosine

torch = pytest.importorskip("torch")


def _problem(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(123))
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def batches():
        for _ in itertools.count():
            yield x, y

    def step_loss(net, batch):
        return torch.nn.functional.mse_loss(net(batch[0]), batch[1]), {}

    return model, batches, step_loss


def _scripted_loss(net, batch):
    """A loss whose value is the batch (a number): zero gradient, known value."""
    return (net(torch.zeros(1, 3)) * 0.0).sum() + float(batch), {}


def _clock(monkeypatch, start: float):
    now = [start]
    monkeypatch.setattr(training.time, "monotonic", lambda: now[0])
    return now


def _timed(batches, now, seconds):
    """``batches`` with the clock advanced by the next of ``seconds`` before each one."""
    for batch, spent in zip(batches, seconds, strict=False):
        now[0] += spent
        yield batch


def test_messages_epochs_and_records():
    model, _, _ = _problem()
    values = iter([{"acc": 0.5, "auc": 0.25}, {"acc": 0.75, "auc": 0.5},
                   {"acc": 0.7, "auc": 0}])
    reports = []
    fit = drive(iter_fit(model, iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), _scripted_loss,
                         lambda m: next(values), FitConfig(), steps=7, val_every=3,
                         select="acc", steps_per_epoch=3), reports.append)
    assert [r.metrics["epoch"] for r in reports] == [1, 1, 1, 2, 2, 2, 3]
    assert [r.metrics["loss"] for r in reports] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert [r.fraction for r in reports] == pytest.approx([s / 7 for s in range(1, 8)])
    assert reports[0].message == "epoch 1/3 step 1/7  loss 1.0000"
    assert reports[2].message == "epoch 1/3 step 3/7  loss 2.0000  acc 0.5000  auc 0.2500"
    assert reports[6].message == "epoch 3/3 step 7/7  loss 7.0000  acc 0.7000  auc 0.0000"
    assert [r.metrics.get("train_loss") for r in reports] == [
        None, None, 2.0, None, None, 5.0, 7.0]  # the mean since the last validation
    assert [h["step"] for h in fit.history] == [3, 6, 7]  # the last step validates too
    assert [h["epoch"] for h in fit.history] == [1, 2, 3]
    assert [h["train_loss"] for h in fit.history] == [2.0, 5.0, 7.0]
    assert [h["lr"] for h in fit.history] == [reports[i].metrics["lr"] for i in (2, 5, 6)]
    assert fit.best_step == 6 and fit.best == {"acc": 0.75, "auc": 0.5}
    assert fit.model is model and not model.training


def test_the_message_shows_the_mean_of_the_last_fifty_losses():
    model, _, _ = _problem()
    reports = []
    drive(iter_fit(model, iter(float(i) for i in range(1, 61)), _scripted_loss,
                   lambda m: {"acc": 0.0}, FitConfig(), steps=60, val_every=100, select="acc"),
          reports.append)
    assert reports[-1].message.startswith("step 60/60  loss 35.5000  acc")  # mean of 11..60


def test_time_budget_is_strictly_more_than_the_minutes(monkeypatch):
    now = _clock(monkeypatch, 1000.0)
    model, batches, step_loss = _problem()
    fit = drive(iter_fit(model, _timed(batches(), now, [30.0, 30.0, 0.5, 100.0]),
                         step_loss, lambda m: {"acc": 0.5}, FitConfig(max_minutes=1.0),
                         steps=100, val_every=50, select="acc"))
    # step 2 ends after exactly 60 s (not over the minute), step 3 at 60.5 s
    assert fit.stop_reason == "time budget" and fit.steps_run == 3
    assert fit.history[-1]["seconds"] == 60.5 and fit.seconds == 60.5


def test_schedule_follows_the_clock_in_proportion_to_the_budget(monkeypatch):
    now = _clock(monkeypatch, 1000.0)
    model, batches, step_loss = _problem()
    reports = []
    fit = drive(iter_fit(model, _timed(batches(), now, [30.0] * 10), step_loss,
                         lambda m: {"acc": 0.5},
                         FitConfig(lr=0.01, warmup_fraction=0.0, max_minutes=2.0),
                         steps=100, val_every=50, select="acc"), reports.append)
    # a step's learning rate is set after the one before: 30 s of 120 = a quarter of the steps
    assert [r.metrics["lr"] for r in reports] == pytest.approx(
        [0.01 * warmup_cosine(s, 100, 0.0) for s in (0, 25, 50, 75, 100)])
    assert fit.steps_run == 5 and fit.stop_reason == "time budget"


def test_resume_continues_the_clock_ema_and_best_weights(tmp_path, monkeypatch):
    now = _clock(monkeypatch, 1000.0)
    state = tmp_path / "state"
    config = FitConfig(lr=0.05, warmup_fraction=0.0, ema_decay=0.5, max_minutes=2.0)
    model, batches, step_loss = _problem()
    kept = {}

    def validate_first(net):
        kept.update({k: v.clone() for k, v in net.state_dict().items()})
        return {"acc": 0.9}

    task = iter_fit(model, _timed(batches(), now, [30.0, 30.0]), step_loss,
                    validate_first, config, steps=100, val_every=2, select="acc",
                    checkpoint=state)
    for report in task:
        if report.metrics["step"] == 2:
            break
    task.close()
    ema_at_2 = dict(kept)
    now[0] = 5000.0
    resumed_model, batches2, _ = _problem(seed=9)
    seen = []

    def validate_after(net):
        seen.append({k: v.clone() for k, v in net.state_dict().items()})
        return {"acc": 0.1}  # worse than before the resume: the step-2 weights stay best

    reports = []
    fit = drive(iter_fit(resumed_model, _timed(batches2(), now, [30.0] * 5), step_loss,
                         validate_after, config, steps=100, val_every=2, select="acc",
                         resume=state), reports.append)
    # 60 s before the resume: step 4 ends at 120 s (the budget), step 5 past it
    assert [r.metrics["step"] for r in reports] == [3, 4, 5]
    assert fit.stop_reason == "time budget" and [h["step"] for h in fit.history] == [2, 4, 5]
    assert [h["seconds"] for h in fit.history] == [60.0, 120.0, 150.0]
    # the schedule counts the 60 s before the resume: at 90 s of 120, three quarters done
    assert reports[1].metrics["lr"] == pytest.approx(0.05 * warmup_cosine(75, 100, 0.0))
    assert fit.best_step == 2 and fit.best == {"acc": 0.9}
    for key, value in resumed_model.state_dict().items():
        assert torch.equal(value, ema_at_2[key])  # the best (EMA) weights of the first run
    assert not torch.equal(seen[0]["weight"], ema_at_2["weight"])


def test_resumed_ema_is_the_saved_average(tmp_path):
    config = FitConfig(optimizer="adam", ema_decay=0.9)
    model, batches, step_loss = _problem()
    straight = []
    drive(iter_fit(model, batches(), step_loss,
                   lambda m: straight.append(m.weight.detach().clone()) or {"acc": 1.0},
                   config, steps=4, val_every=2, select="acc"))
    state = tmp_path / "state"
    model, batches, step_loss = _problem()
    task = iter_fit(model, batches(), step_loss, lambda m: {"acc": 1.0}, config, steps=4,
                    val_every=2, select="acc", checkpoint=state)
    for report in task:
        if report.metrics["step"] == 2:
            break
    task.close()
    resumed = []
    other, batches2, _ = _problem(seed=4)  # other weights, and a fresh EMA unless restored
    drive(iter_fit(other, batches2(), step_loss,
                   lambda m: resumed.append(m.weight.detach().clone()) or {"acc": 1.0},
                   config, steps=4, val_every=2, select="acc", resume=state))
    assert torch.allclose(resumed[0], straight[1], atol=1e-6)


def test_a_finished_resume_keeps_the_saved_best(tmp_path):
    state = tmp_path / "state"
    model, batches, step_loss = _problem()
    scores = iter([0.5, 0.9, 0.3])
    first = drive(iter_fit(model, batches(), step_loss, lambda m: {"acc": next(scores)},
                           FitConfig(), steps=6, val_every=2, select="acc", checkpoint=state))
    best = {k: v.clone() for k, v in model.state_dict().items()}
    again, batches2, _ = _problem(seed=3)
    fit = drive(iter_fit(again, batches2(), step_loss,
                         lambda m: pytest.fail("validated again"), FitConfig(), steps=6,
                         val_every=2, select="acc", resume=state))
    assert (fit.best_step, fit.best, fit.steps_run) == (4, {"acc": 0.9}, 6) == (
        first.best_step, first.best, first.steps_run)
    for key, value in again.state_dict().items():
        assert torch.equal(value, best[key])


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_without_steps_it_validates_once_and_keeps_the_weights(ema_decay, monkeypatch):
    _clock(monkeypatch, 1000.0)
    model, _, step_loss = _problem()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    validated = []

    def validate(net):
        validated.append(net)
        return {"acc": float(net.weight.detach().sum())}

    fit = drive(iter_fit(model, iter([]), step_loss, validate, FitConfig(ema_decay=ema_decay),
                         steps=5, val_every=1, select="acc"))
    assert len(validated) == 1 and (validated[0] is model) == (ema_decay == 0.0)
    assert fit.best == {"acc": pytest.approx(float(start["weight"].sum()))}
    assert (fit.best_step, fit.steps_run, fit.history, fit.seconds) == (0, 0, [], 0.0)
    assert fit.model is model and fit.stop_reason == "step budget"
    for key, value in model.state_dict().items():
        assert torch.equal(value, start[key])


def test_the_ema_follows_the_configured_decay():
    model, batches, step_loss = _problem()
    raw = []

    def recording_loss(net, batch):
        raw.append(net.weight.detach().clone())  # the weights before this step
        return step_loss(net, batch)

    validated = []
    drive(iter_fit(model, batches(), recording_loss,
                   lambda m: validated.append(m.weight.detach().clone()) or {"acc": 1.0},
                   FitConfig(lr=0.05, ema_decay=0.05), steps=3, val_every=2, select="acc"))
    ema = raw[0]
    for value in raw[1:3]:  # the weights after steps 1 and 2 (validated at step 2)
        ema = ema + (1 - 0.05) * (value - ema)  # decay 0.05 is below the warm-up's values
    assert torch.allclose(validated[0], ema, atol=1e-6)


def test_target_in_max_mode_is_reached_at_equality():
    model, batches, step_loss = _problem()
    scores = iter([0.2, 0.5, 0.9, 0.95])
    fit = drive(iter_fit(model, batches(), step_loss, lambda m: {"acc": next(scores)},
                         FitConfig(), steps=100, val_every=1, select="acc", target=0.9))
    assert fit.stop_reason == "target reached" and fit.steps_run == 3


def test_mode_is_checked():
    model, batches, step_loss = _problem()
    with pytest.raises(ValueError, match="mode must be 'max' or 'min', got 'best'"):
        drive(iter_fit(model, batches(), step_loss, lambda m: {}, FitConfig(), steps=1,
                       val_every=1, select="acc", mode="best"))


def test_a_parameter_without_gradient_in_a_step_is_left_alone():
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 1), "b": torch.nn.Linear(2, 1)})
    x = torch.ones(4, 2)
    before_step = []

    def step_loss(net, step):
        before_step.append({k: v.clone() for k, v in net.state_dict().items()})
        head = net["a"] if step == 0 else net["b"]  # head a only in the first step
        return head(x).pow(2).mean(), {}

    drive(iter_fit(model, iter(range(4)), step_loss, lambda m: {"acc": 1.0},
                   FitConfig(lr=0.1, weight_decay=0.1), steps=4, val_every=4, select="acc"))
    assert not torch.equal(before_step[1]["a.weight"], before_step[0]["a.weight"])
    assert torch.equal(model["a"].weight, before_step[1]["a.weight"])  # no moment-driven drift
    assert not torch.equal(model["b"].weight, before_step[1]["b.weight"])


def test_the_reported_learning_rate_is_the_optimiser_s():
    model, batches, step_loss = _problem()
    reports = []
    drive(iter_fit(model, batches(), step_loss, lambda m: {"acc": 1.0},
                   FitConfig(optimizer="adam", lr=0.02, warmup_fraction=0.5), steps=4,
                   val_every=4, select="acc"), reports.append)
    assert reports[0].metrics["lr"] == pytest.approx(0.01)
    assert np.isclose(FitConfig(lr=0.02).to_json()["lr"], 0.02)


def test_under_a_process_group_the_model_is_wrapped_and_stops_are_agreed(tmp_path,
                                                                          monkeypatch):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'group'}", rank=0,
                            world_size=1)
    try:
        assert training._distributed() is dist
        now = _clock(monkeypatch, 1000.0)
        model, batches, step_loss = _problem()
        trained = []

        def wrapped_loss(net, batch):
            trained.append(net)
            return step_loss(net, batch)

        reports = []
        fit = drive(iter_fit(model, _timed(batches(), now, [30.0] * 10), wrapped_loss,
                             lambda m: {"acc": 0.5},
                             FitConfig(lr=0.01, max_minutes=1.0), steps=10, val_every=2,
                             select="acc", checkpoint=tmp_path / "state"), reports.append)
    finally:
        dist.destroy_process_group()
    assert all(isinstance(net, DistributedDataParallel) and net.module is model
               for net in trained)
    # the clock ends the run (agreed through an all-reduce) but does not drive the schedule
    assert fit.stop_reason == "time budget" and fit.steps_run == 3
    assert [r.metrics["lr"] for r in reports] == pytest.approx(
        [0.01 * warmup_cosine(s, 10, 0.1) for s in range(3)])
    assert any(tmp_path.glob("state*"))  # rank 0 writes the checkpoint
