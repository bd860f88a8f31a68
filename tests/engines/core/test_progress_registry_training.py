import pytest

from engines.core.device import autocast, describe_device, pick_device
from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.core.registry import Registry
from engines.core.training import EarlyStopping, ExponentialMovingAverage, warmup_cosine


def _task(n):
    for i in range(n):
        yield Progress((i + 1) / n, f"step {i + 1}", value=i)
    return "result"


def test_drive_returns_result_and_reports_progress():
    seen = []
    assert drive(_task(3), seen.append) == "result"
    assert [p.fraction for p in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert seen[-1].metrics == {"value": 2}


def test_progress_fraction_is_clipped():
    assert Progress(1.7).fraction == 1.0 and Progress(-1).fraction == 0.0


def test_registry_error_lists_valid_names():
    registry = Registry("model")
    registry.register("tiny")(lambda: "t")
    registry.register("big")(lambda: "b")
    assert registry.create("tiny") == "t"
    with pytest.raises(InputError, match="valid names: big, tiny"):
        registry.create("huge")
    with pytest.raises(ValueError):
        registry.register("tiny")(lambda: None)


def test_warmup_cosine_shape():
    values = [warmup_cosine(s, 100, 0.1) for s in range(100)]
    assert values[0] == pytest.approx(0.1)
    assert max(values) == pytest.approx(1.0)
    assert values[-1] < 0.01
    assert all(b <= a + 1e-12 for a, b in zip(values[10:], values[11:], strict=False))


def test_early_stopping_max_mode():
    stop = EarlyStopping(patience=2, mode="max")
    assert stop.update(0.5, 0) and stop.update(0.6, 1)
    assert not stop.update(0.6, 2) and not stop.should_stop
    assert not stop.update(0.55, 3) and stop.should_stop
    assert stop.best == 0.6 and stop.best_step == 1


def test_ema_moves_towards_weights():
    import torch

    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = ExponentialMovingAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, 100)  # past the warm-up: the configured decay
    assert ema.averaged.weight.detach().tolist() == [[0.5, 0.5]]


def test_ema_warms_up_so_a_short_run_forgets_the_random_start():
    import torch

    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = ExponentialMovingAverage(model, decay=0.995)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for updates in range(300):
        ema.update(model, updates)
    # a fixed 0.995 would keep 0.995**300 = 22 % of the zero start; the warm-up keeps < 2 %
    assert ema.averaged.weight.item() > 0.98
    assert ema.decay_at(0) == pytest.approx(0.1)
    assert ema.decay_at(10_000) == 0.995


def test_device_choice_and_description():
    device = pick_device("cpu")
    assert device.type == "cpu"
    assert describe_device(device).startswith("CPU (")
    with autocast(device):
        pass
    with pytest.raises(InputError, match="valid"):
        pick_device("tpu")
