"""Where a training run starts (``--init``): fresh weights, a sem model (a file or the bundled
``demo``), or local ImageNet-style weights — the paper's biggest lever (55.50 % from scratch,
87.98 % fine-tuned, Table 2).

* A sem model (``MODEL.safetensors`` + ``MODEL.json``, or ``demo``): its architecture and
  weights. When the class count differs, the encoder/backbone is kept and the head (the last
  layer, see :class:`engines.sem.models.Architecture`) starts afresh; when the input channels
  differ, the first convolution is summed over (or spread across) the colour channels.
* Local weights without a sidecar: a torchvision state dict (``.pth`` / ``.pt``, loaded with
  ``torch.load(weights_only=True)``: no code runs) or a bare ``.safetensors``. VGG16 weights
  fill FCN-8s (``features.*``, and ``classifier.0`` / ``classifier.3`` reshaped into fc6 / fc7
  as in Long et al.); ResNet weights fill a ResNet U-Net's encoder. The ImageNet classifier is
  never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.core.errors import InputError, ModelError
from engines.sem.models import architecture, create_model

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


@dataclass
class Start:
    """The network a run starts from, what it came from, and what was done to fit it."""

    net: Any
    source: str
    notes: list[str] = field(default_factory=list)
    initial: Any = None          # the SemSegmenter it came from, if any


def _adapt(name: str, value, wanted):
    """``value`` reshaped to the ``wanted`` tensor's shape where there is a known way, else
    None (first-convolution channels; fc6/fc7 of VGG16)."""
    if value.shape == wanted.shape:
        return value
    if value.ndim == 4 and wanted.ndim == 4 and value.shape[0] == wanted.shape[0] and \
            value.shape[2:] == wanted.shape[2:]:
        if wanted.shape[1] == 1:
            return value.sum(dim=1, keepdim=True)
        if value.shape[1] == 1:
            return value.repeat(1, wanted.shape[1], 1, 1) / wanted.shape[1]
    if value.ndim == 2 and wanted.ndim == 4 and value.numel() == wanted.numel():
        return value.reshape(wanted.shape)
    return None


def _renamed(arch: str, key: str) -> str:
    """A torchvision key in the sem network's naming."""
    if arch.startswith("fcn8s"):
        return {"classifier.0.weight": "fc6.weight", "classifier.0.bias": "fc6.bias",
                "classifier.3.weight": "fc7.weight", "classifier.3.bias": "fc7.bias"
                }.get(key, key)
    if arch.startswith("unet-resnet") and not key.startswith("net."):
        return "net.encoder." + key
    return key


def transfer(net, tensors: dict[str, Any], source: str, skip: tuple[str, ...] = ()
             ) -> tuple[int, int, list[str]]:
    """Copy the tensors that fit into ``net`` (renamed and adapted); returns ``(copied,
    of the network's, notes)``. ``skip``: prefixes of the network not to fill."""
    import torch

    own = net.state_dict()
    filled, notes, adapted = {}, [], 0
    for key, value in tensors.items():
        if not torch.is_tensor(value):
            continue
        name = _renamed(net.arch, key)
        if name not in own or name.startswith(skip):
            continue
        fitted = _adapt(name, value.float() if value.is_floating_point() else value, own[name])
        if fitted is None:
            continue
        adapted += fitted.shape != value.shape
        filled[name] = fitted.to(own[name].dtype)
    if not filled:
        raise InputError(f"{source}: none of its weights fits the {net.arch} network")
    net.load_state_dict({**own, **filled})
    if adapted:
        notes.append(f"{adapted} tensors reshaped to fit (input channels, fc6/fc7)")
    return len(filled), len(own), notes


def _read_tensors(path: Path) -> dict[str, Any]:
    import torch

    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError.for_file(path, "initial weights not found")
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise InputError.for_file(path, f"not a valid safetensors file ({exc})") from None
    if suffix not in TORCH_SUFFIXES:
        raise InputError.for_file(path, "initial weights must be a sem model, .safetensors, or "
                                        f"a torchvision state dict ({', '.join(TORCH_SUFFIXES)})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling refusal or corrupt archive
        raise InputError.for_file(path, f"not a weights-only torch state dict "
                                        f"({str(exc).splitlines()[0][:160]})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict):
        raise InputError.for_file(path, "holds no state dict")
    return data


def _is_sem_model(value: str) -> bool:
    from engines.core.checkpoint import model_paths

    if value == "demo":
        return True
    _, sidecar = model_paths(value)
    return sidecar.is_file() and Path(value).suffix.lower() in ("", ".safetensors", ".json")


def start_network(init: str | Path | None, arch: str, n_classes: int, in_channels: int
                  ) -> Start:
    """The network a training run starts from (see the module docstring).

    Raises
    ------
    InputError
        Unreadable weights, weights that fit nothing, or a sem model of another architecture
        than ``arch``.
    """
    if init is None:
        return Start(create_model(arch, n_classes, in_channels), "random initialisation")
    text = str(init)
    if _is_sem_model(text):
        from engines.core.model import resolve_model_path
        from engines.sem.segmenter import SemSegmenter

        try:
            initial = SemSegmenter.load(resolve_model_path(text, "sem"))
        except ModelError as exc:
            raise InputError(str(exc)) from None
        if initial.arch != arch:
            raise InputError(f"{Path(text).name}: the initial model is a {initial.arch}, not a "
                             f"{arch} (leave out --arch, or give --arch {initial.arch})")
        net = create_model(arch, n_classes, in_channels, **initial.net.options)
        head = architecture(arch).head
        same = n_classes == initial.n_classes
        copied, total, notes = transfer(net, initial.net.state_dict(), text,
                                        () if same else head)
        if not same:
            notes.insert(0, f"{initial.n_classes} classes in {Path(text).name}, {n_classes} "
                            "here: encoder and decoder kept, the classification head "
                            "re-initialised")
        if in_channels != initial.preprocessing.in_channels:
            notes.append(f"first convolution adapted from {initial.preprocessing.in_channels} "
                         f"to {in_channels} input channels")
        return Start(net, f"{text} ({copied}/{total} tensors)", notes, initial)
    net = create_model(arch, n_classes, in_channels)
    path = Path(text)
    copied, total, notes = transfer(net, _read_tensors(path), path.name,
                                    architecture(arch).head)
    return Start(net, f"{path.name} ({copied}/{total} tensors)", notes)
