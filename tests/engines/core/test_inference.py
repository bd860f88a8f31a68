"""The shared batched inference loop: batching, output/prepare hooks, progress, OOM halving."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.inference import Predictor, iter_predict, predict_array
from engines.core.progress import drive

torch = pytest.importorskip("torch")


class Doubler(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(2.0))
        self.sizes: list[int] = []
        self.grad_enabled: list[bool] = []

    def forward(self, x):
        self.sizes.append(int(x.shape[0]))
        self.grad_enabled.append(torch.is_grad_enabled())
        return x * self.weight


def test_batches_in_order_without_gradients():
    net = Doubler()
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    out = predict_array(net, x, batch_size=4)
    assert out.tolist() == (2 * x).tolist() and out.dtype == np.float32
    assert net.sizes == [4, 4, 2] and not any(net.grad_enabled)
    assert not net.training


def test_prepare_and_output_hooks_run_on_the_device_tensors():
    net = Doubler()
    x = np.ones((3, 2), np.float32)
    out = predict_array(net, x, prepare=lambda t: t + 1, output=lambda t: t.sum(dim=1))
    assert out.tolist() == [8.0, 8.0, 8.0]


def test_progress_reports_every_batch_and_returns_all():
    reports = []
    out = drive(iter_predict(Doubler(), np.zeros((5, 1), np.float32), 2), reports.append)
    assert [round(r.fraction, 2) for r in reports] == [0.4, 0.8, 1.0] and out.shape == (5, 1)


def test_out_of_memory_halves_the_batch_and_retries(monkeypatch):
    net = Doubler()
    predictor = Predictor(net, batch_size=8)
    real = predictor._run

    def run(chunk):
        if len(chunk) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(chunk)

    monkeypatch.setattr(predictor, "_run", run)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    x = np.arange(7, dtype=np.float32).reshape(7, 1)
    assert predictor(x).ravel().tolist() == (2 * x).ravel().tolist()
    assert predictor.batch_size == 2  # the smaller size sticks


def test_out_of_memory_at_batch_one_is_raised(monkeypatch):
    predictor = Predictor(Doubler(), batch_size=1)

    def run(chunk):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(predictor, "_run", run)
    with pytest.raises(torch.OutOfMemoryError):
        predictor(np.zeros((2, 1), np.float32))


def _oom_above(predictor, limit, monkeypatch):
    """Make the predictor's forward pass fail like a full GPU for chunks over ``limit``."""
    real, tried = predictor._run, []

    def run(chunk):
        tried.append(len(chunk))
        if len(chunk) > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(chunk)

    monkeypatch.setattr(predictor, "_run", run)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    return tried


@pytest.mark.parametrize("start, limit, tried, final", [
    (9, 4, [9, 4, 4, 1], 4),     # halved (9 // 2), not cut to a third
    (2, 1, [2, 1, 1, 1], 1),     # down to one sample at a time
])
def test_out_of_memory_halving_steps(monkeypatch, start, limit, tried, final):
    predictor = Predictor(Doubler(), batch_size=start)
    seen = _oom_above(predictor, limit, monkeypatch)
    x = np.arange(tried[-1] + sum(tried[1:-1]), dtype=np.float32).reshape(-1, 1)
    assert predictor(x).ravel().tolist() == (2 * x).ravel().tolist()
    assert seen == tried and predictor.batch_size == final


def test_batch_sizes_below_one_mean_one_and_empty_inputs_give_nothing():
    net = Doubler()
    assert Predictor(net, batch_size=0).batch_size == 1
    assert predict_array(net, np.arange(3, dtype=np.float32).reshape(3, 1), 1).ravel().tolist() \
        == [0.0, 2.0, 4.0]
    assert net.sizes == [1, 1, 1]
    empty = predict_array(net, np.zeros((0, 2), np.float32))
    assert empty.shape == (0,) and empty.dtype == np.float32
    reports = []
    streamed = drive(iter_predict(net, np.zeros((0, 2), np.float32)), reports.append)
    assert reports == [] and streamed.shape == (0,) and streamed.dtype == np.float32


def test_iter_predict_passes_both_hooks_and_names_what_it_counts():
    reports = []
    out = drive(iter_predict(Doubler(), np.ones((5, 1), np.float32), 2,
                             output=lambda t: t * 10, prepare=lambda t: t + 1, what="cells"),
                reports.append)
    assert out.ravel().tolist() == [40.0] * 5
    assert [r.message for r in reports] == ["2/5 cells", "4/5 cells", "5/5 cells"]
    reports.clear()
    drive(iter_predict(Doubler(), np.ones((3, 1), np.float32), 3), reports.append)
    assert [r.message for r in reports] == ["3/3 samples"]


@pytest.mark.parametrize("device, channels_last", [("cpu", False), ("cuda", True)])
def test_gpu_batches_and_weights_go_channels_last(monkeypatch, device, channels_last):
    """On CUDA the net's weights and each input batch are laid out channels-last (the device
    helpers are replaced, so this runs without a GPU)."""
    import contextlib

    net = Doubler()
    predictor = Predictor(net, batch_size=4)
    predictor.device = torch.device(device)
    moved, layouts = [], []

    def to_device(x, target, channels_last=False):
        moved.append((target.type, channels_last))
        return torch.as_tensor(x)

    monkeypatch.setattr("engines.core.device.to_device", to_device)
    monkeypatch.setattr("engines.core.device.autocast", lambda target: contextlib.nullcontext())
    monkeypatch.setattr(net, "to", lambda **options: layouts.append(options) or net)
    out = predictor(np.ones((6, 1, 1, 1), np.float32))
    assert out.shape == (6, 1, 1, 1) and moved == [(device, channels_last)] * 2
    assert layouts == ([{"memory_format": torch.channels_last}] if channels_last else [])
