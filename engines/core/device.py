"""Compute device choice and the inference/training contexts that go with it.

torch is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from engines.core.errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(preference: str = "auto") -> torch.device:
    """Return the torch device for a user preference: auto picks CUDA > MPS > CPU.

    Raises
    ------
    InputError
        If the preference is unknown or the requested accelerator is absent.
    """
    import torch

    preference = (preference or "auto").lower()
    if preference not in DEVICE_CHOICES:
        raise InputError(f"unknown device {preference!r}; valid: {', '.join(DEVICE_CHOICES)}")
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise InputError("device 'mps' requested but MPS is not available")
    return torch.device(preference)


def describe_device(device: torch.device) -> str:
    """Short label for the status bar, e.g. ``"CUDA: NVIDIA H100"`` or ``"CPU (2 threads)"``."""
    import torch

    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return f"CPU ({torch.get_num_threads()} threads)"


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op elsewhere (CPU bf16 is slower than fp32 on most CPUs)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(array, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """A numpy array (or tensor) as a tensor on ``device``: through pinned host memory and a
    non-blocking copy on CUDA, in ``channels_last`` layout for 4-D batches when asked."""
    import torch

    tensor = torch.as_tensor(array)
    if tensor.device == device:
        pass
    elif device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    else:
        tensor = tensor.to(device)
    if channels_last and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor
