"""Model files: safetensors weights plus a JSON sidecar, never pickle.

A model called ``MODEL`` is stored as ``MODEL.safetensors`` and ``MODEL.json``. The sidecar holds
everything needed to rebuild and use the model (architecture, classes, preprocessing, training
config, metrics, library versions). Loading never executes code from the file.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError, ModelError
from engines.core.files import atomic_write_bytes
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


def load_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON sidecar of a model, without its weights (no torch import).

    Raises
    ------
    ModelError
        If either file is missing or the sidecar is malformed.
    """
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
    return metadata


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``(tensors, metadata)``; floating tensors come back as float32 on the CPU.

    Raises
    ------
    ModelError
        If either file is missing or malformed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    metadata = load_metadata(path)
    weights_path = model_paths(path)[0]
    try:
        tensors = load(weights_path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{weights_path.name}: not a valid safetensors file ({exc})") from None
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    return tensors, metadata


def metadata_object(metadata: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    """``metadata[key]`` as a dict ({} when absent or null); ModelError when it is not an object
    (a model description's ``training`` or ``metrics``)."""
    value = metadata.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{source}: {key!r} must be a JSON object, not {type(value).__name__}")
    return value


def load_state_dict_strict(module: torch.nn.Module, tensors: dict[str, Any], source: str) -> None:
    """Load weights into ``module``; shape/name mismatches become a :class:`ModelError`."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{source}: weights do not fit the described architecture ({first})") from None


def check_described_network(build, tensors: dict[str, Any], source: str):
    """Build the network a sidecar describes on the meta device first (nothing allocated), and
    refuse the description unless every tensor of it is stored with the same shape: a hostile
    width or depth cannot make the real build allocate more than the weights file holds.
    Returns ``build()``, the real network, once the skeleton fits."""
    import torch

    try:
        with torch.device("meta"):
            skeleton = build()
    except RuntimeError as exc:  # e.g. a negative or overflowing size
        raise ModelError(f"{source}: invalid model description "
                         f"({str(exc).strip().splitlines()[0][:160]})") from None
    for name, value in skeleton.state_dict().items():
        stored = tensors.get(name)
        if stored is None or tuple(stored.shape) != tuple(value.shape):
            found = "missing" if stored is None else f"stored as {tuple(stored.shape)}"
            raise ModelError(f"{source}: weights do not fit the described architecture "
                             f"({name} of shape {tuple(value.shape)} is {found})")
    return build()


def save_training_state(path: str | Path, model, optimiser, scheduler, ema_model,
                        progress: dict[str, Any], best_weights: dict[str, Any] | None) -> Path:
    """Write what :func:`load_training_state` needs to continue a run: weights, optimiser
    moments, the schedule position, the EMA weights, the best weights so far and ``progress``
    (JSON: step, history, best metrics). Safetensors + JSON, like a model."""
    import torch

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if ema_model is not None:
        tensors.update({f"ema.{k}": v for k, v in ema_model.state_dict().items()})
    if best_weights is not None:
        tensors.update({f"best.{k}": v for k, v in best_weights.items()})
    optim = optimiser.state_dict()
    for index, state in optim["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    schedule = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    meta = {"kind": "training_state", "progress": progress,
            "param_groups": optim["param_groups"], "scheduler": schedule}
    return save_checkpoint(path, tensors, meta)


def load_training_state(path: str | Path, model, optimiser, scheduler, ema_model
                        ) -> dict[str, Any]:
    """Restore a state written by :func:`save_training_state` into the given objects; returns
    ``progress`` plus ``best_weights`` (a state dict, or None)."""
    tensors, meta = load_checkpoint(path)
    if meta.get("kind") != "training_state":
        raise ModelError(f"{Path(path).name}: not a training state (written by --checkpoint)")

    def part(prefix: str) -> dict[str, Any]:
        return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

    load_state_dict_strict(model, part("model."), Path(path).name)
    if ema_model is not None:
        load_state_dict_strict(ema_model, part("ema."), Path(path).name)
    state: dict[int, dict[str, Any]] = {}
    for key, value in part("optim.").items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    try:
        optimiser.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(
            optimiser.param_groups)})
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"{Path(path).name}: optimiser state does not fit ({exc})") from None
    best = part("best.")
    return {**meta["progress"], "best_weights": best or None}
