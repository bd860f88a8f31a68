"""Model files: safetensors weights plus a JSON sidecar, never pickle.

A model called ``MODEL`` is stored as ``MODEL.safetensors`` and ``MODEL.json``. The sidecar holds
everything needed to rebuild and use the model (architecture, classes, preprocessing, training
config, metrics, library versions). Loading never executes code from the file.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError, ModelError
from engines.core.safe_read import read_bytes_limited
from engines.core.safe_text import parse_json_safely

if TYPE_CHECKING:
    import torch

WEIGHTS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"
FORMAT_VERSION = 1
MAX_SIDECAR_BYTES = 64 << 20  # a sidecar holds a few kB to a few MB of JSON


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """Return ``(weights, sidecar)`` for a model path given with or without a suffix."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, META_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + META_SUFFIX)


def library_versions() -> dict[str, str]:
    import safetensors
    import torch

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
    }


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, tensors: dict[str, Any], metadata: dict[str, Any],
                    half: bool = False) -> Path:
    """Save ``tensors`` (name -> torch tensor) and ``metadata`` (JSON-able dict).

    Parameters
    ----------
    half
        Store floating-point tensors as fp16 (the bundled demo models use this to stay small).

    Returns
    -------
    Path of the weights file.
    """
    import torch
    from safetensors.torch import save

    weights_path, meta_path = model_paths(path)
    prepared = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().to("cpu").contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
        prepared[name] = tensor
    meta = {"format_version": FORMAT_VERSION, "libraries": library_versions(), **metadata}
    atomic_write_bytes(weights_path, save(prepared))
    atomic_write_bytes(meta_path, json.dumps(meta, indent=2, sort_keys=True).encode())
    return weights_path


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``(tensors, metadata)``; floating tensors come back as float32 on the CPU.

    Raises
    ------
    ModelError
        If either file is missing or malformed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    weights_path, meta_path = model_paths(path)
    for required in (weights_path, meta_path):
        if not required.is_file():
            raise ModelError(f"{required.name}: model file not found in {required.parent}")
    try:
        metadata = parse_json_safely(read_bytes_limited(meta_path, MAX_SIDECAR_BYTES), meta_path)
    except InputError as exc:
        raise ModelError(f"{meta_path.name}: not a valid JSON model description "
                         f"({str(exc).removeprefix(meta_path.name + ': ')})") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{meta_path.name}: expected a JSON object")
    try:
        tensors = load(weights_path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{weights_path.name}: not a valid safetensors file ({exc})") from None
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    return tensors, metadata


def load_state_dict_strict(module: torch.nn.Module, tensors: dict[str, Any], source: str) -> None:
    """Load weights into ``module``; shape/name mismatches become a :class:`ModelError`."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{source}: weights do not fit the described architecture ({first})") from None
