"""Device choice and description with the accelerators present or absent (torch's probes
replaced, so every branch runs on a CPU-only machine)."""

from __future__ import annotations

import contextlib
import types

import numpy as np
import pytest
import torch

from engines.core.device import autocast, describe_device, pick_device, to_device
from engines.core.errors import InputError


@pytest.fixture
def accelerators(monkeypatch):
    def set_present(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_present


@pytest.mark.parametrize("cuda, mps, picked", [(True, True, "cuda"), (False, True, "mps"),
                                               (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(accelerators, cuda, mps, picked):
    accelerators(cuda, mps)
    assert pick_device("auto") == torch.device(picked)
    assert pick_device("") == torch.device(picked) and pick_device("AUTO").type == picked
    assert pick_device() == torch.device(picked)  # auto is the default


def test_auto_on_a_torch_without_an_mps_backend_is_the_cpu(accelerators, monkeypatch):
    accelerators(False, True)
    monkeypatch.setattr(torch, "backends", types.SimpleNamespace())  # older torch: no mps
    assert pick_device("auto") == torch.device("cpu")


def test_asked_for_devices_must_be_there(accelerators):
    accelerators(False, False)
    assert pick_device("cpu") == torch.device("cpu") and pick_device("CPU").type == "cpu"
    with pytest.raises(InputError) as error:
        pick_device("cuda")
    assert str(error.value) == "device 'cuda' requested but no CUDA GPU is available"
    with pytest.raises(InputError) as error:
        pick_device("mps")
    assert str(error.value) == "device 'mps' requested but MPS is not available"
    with pytest.raises(InputError) as error:
        pick_device("tpu")
    assert str(error.value) == "unknown device 'tpu'; valid: auto, cuda, mps, cpu"
    accelerators(True, True)
    assert pick_device("cuda") == torch.device("cuda")
    assert pick_device("mps") == torch.device("mps")


def test_descriptions(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name",
                        lambda device: {torch.device("cuda"): "NVIDIA H200"}.get(device, "?"))
    assert describe_device(torch.device("cuda")) == "CUDA: NVIDIA H200"
    assert describe_device(torch.device("mps")) == "MPS (Apple GPU)"
    assert describe_device(torch.device("cpu")) == f"CPU ({torch.get_num_threads()} threads)"


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # no GPU here: torch says so
def test_autocast_only_on_cuda():
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    context = autocast(torch.device("cuda"))
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16


def test_to_device_keeps_values_and_lays_out_4d_batches_channels_last():
    array = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    plain = to_device(array, torch.device("cpu"))
    assert plain.is_contiguous() and np.array_equal(plain.numpy(), array)
    last = to_device(array, torch.device("cpu"), channels_last=True)
    assert last.is_contiguous(memory_format=torch.channels_last) and not last.is_contiguous()
    assert np.array_equal(last.numpy(), array)
    flat = to_device(array[0], torch.device("cpu"), channels_last=True)  # 3-D: unchanged
    assert flat.is_contiguous()
    moved = to_device(array, torch.device("meta"))  # another device than the array's
    assert moved.device.type == "meta" and moved.shape == (2, 3, 4, 5)


def test_to_device_copies_to_cuda_through_pinned_memory_without_blocking(monkeypatch):
    """No GPU here: torch's pin_memory is replaced by a recorder, so the CUDA branch runs and
    what it passes on is checked (the copy itself is torch's)."""
    calls = []
    arrived = torch.zeros(2, 3, 4, 5)  # stands for the tensor on the GPU

    class Pinned:
        def to(self, device, **options):
            calls.append(("to", device, options))
            return arrived

    def pin_memory(self):
        calls.append(("pin", tuple(self.shape), self.device.type))
        return Pinned()

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
    array = np.ones((2, 3, 4, 5), dtype=np.float32)
    moved = to_device(array, torch.device("cuda"))
    assert moved is arrived
    assert calls == [("pin", (2, 3, 4, 5), "cpu"),
                     ("to", torch.device("cuda"), {"non_blocking": True})]
    calls.clear()
    last = to_device(array, torch.device("cuda", 1), channels_last=True)
    assert calls[1] == ("to", torch.device("cuda", 1), {"non_blocking": True})
    assert last.is_contiguous(memory_format=torch.channels_last)
    calls.clear()
    to_device(array, torch.device("cpu"))  # a host destination: no pinning
    assert calls == []
