"""The surrogate networks and the :class:`SoilSurrogate` bundle that saves, loads and runs them.

Networks (registry :data:`MODELS`), all torchvision ``VGG`` modules built with ``weights=None``
(nothing is downloaded) and a 1-output regression head, as the paper's Fig. 9:

* ``vgg16`` — torchvision VGG16; its last dense layer (4096 → 1000) becomes 4096 → 1;
* ``vgg16_bn`` — the same with batch normalisation (easier to train from scratch);
* ``vgg_light`` — for the CPU: the same VGG class with four blocks of 16–128 channels (batch
  normalised), a 4 × 4 adaptive pool and a 2048 → 256 → 1 dense head (0.8 M parameters).

:class:`SurrogateNet` resizes slices to the network's input size (bilinear) and returns one
porosity per slice. Convolutional layers are named as in Keras' VGG16 (``block5_conv3``), the
names grad-CAM takes.

Model file: ``MODEL.safetensors`` + ``MODEL.json`` (architecture, input size, target object,
the preprocessing, training record and figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.core.config import from_json, to_json
from engines.core.errors import InputError, ModelError
from engines.core.registry import Registry
from engines.soil.preprocess import PreprocessConfig, preprocessing_of

KIND = "lablens.soil_surrogate"
MODELS: Registry = Registry("soil model")
LIGHT_LAYERS = [16, 16, "M", 32, 32, "M", 64, 64, "M", 128, 128, "M"]


def _head(vgg, n_features: int, hidden: int | None, dropout: float):
    import torch.nn as nn

    if hidden is None:  # keep torchvision's dense layers, replace the 1000-class output
        vgg.classifier[6] = nn.Linear(vgg.classifier[6].in_features, 1)
        return vgg
    vgg.classifier = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(True),
                                   nn.Dropout(p=dropout), nn.Linear(hidden, 1))
    return vgg


@MODELS.register("vgg16")
def _vgg16():
    from torchvision.models import vgg16

    return _head(vgg16(weights=None), 0, None, 0.5)


@MODELS.register("vgg16_bn")
def _vgg16_bn():
    from torchvision.models import vgg16_bn

    return _head(vgg16_bn(weights=None), 0, None, 0.5)


@MODELS.register("vgg_light")
def _vgg_light():
    import torch.nn as nn
    from torchvision.models.vgg import VGG, make_layers

    vgg = VGG(make_layers(LIGHT_LAYERS, batch_norm=True), num_classes=1, init_weights=True)
    vgg.avgpool = nn.AdaptiveAvgPool2d((4, 4))
    return _head(vgg, 128 * 16, 256, 0.3)


def resize_channels(x, size: int):
    """Slices (N, 3, H, W) tensor at ``size`` × ``size`` (bilinear, half-pixel centres), or
    unchanged when already that size: how every input reaches the network."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _net_class():
    import torch

    class SurrogateNet(torch.nn.Module):
        """A VGG regression network on slices.

        ``forward(x)``: x (N, 3, H, W) float channels (:func:`engines.soil.dataset.slice_channels`)
        -> porosity (N,) float; slices are resized to ``input_size`` first when they differ.
        """

        def __init__(self, arch: str, input_size: int) -> None:
            super().__init__()
            self.arch = arch
            self.input_size = int(input_size)
            self.vgg = MODELS.create(arch)

        def resize(self, x: torch.Tensor) -> torch.Tensor:
            return resize_channels(x, self.input_size)

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            """The pooled, flattened convolutional features (N, F): the dense head's input."""
            return torch.flatten(self.vgg.avgpool(self.vgg.features(self.resize(x))), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.vgg.classifier(self.embed(x))[:, 0]

    return SurrogateNet


def create_model(arch: str = "vgg_light", input_size: int = 200):
    """Build a :class:`SurrogateNet` by registry name; unknown names list the valid ones."""
    MODELS.get(arch)
    if not 32 <= int(input_size) <= 4096:
        raise InputError(f"input size {input_size} px is outside 32…4096")
    return _net_class()(arch, input_size)


def conv_layer_names(net) -> list[tuple[str, int, int]]:
    """``(name, index in vgg.features, stride)`` of every convolution, Keras names
    (``block1_conv1``…); the stride is the input pixels per feature cell (2 per pool before)."""
    import torch.nn as nn

    out, block, conv, stride = [], 1, 0, 1
    for index, layer in enumerate(net.vgg.features):
        if isinstance(layer, nn.Conv2d):
            conv += 1
            out.append((f"block{block}_conv{conv}", index, stride))
        elif isinstance(layer, nn.MaxPool2d):
            block, conv, stride = block + 1, 0, stride * 2
    return out


class SoilSurrogate:
    """A trained surrogate: network, the object whose porosity it predicts, preprocessing.

    Parameters
    ----------
    net
        A :class:`SurrogateNet` (:func:`create_model`).
    target
        Object (1-based) whose per-slice porosity the network predicts.
    preprocess
        The preprocessing its training data had (clip, bands, crop).
    training, metrics
        JSON-able record for the sidecar (config, history, data; RMSE figures).
    """

    def __init__(self, net, target: int, preprocess: PreprocessConfig | None = None,
                 training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.preprocess = preprocessing_of(preprocess or PreprocessConfig())
        self.target = self.preprocess.check_object(target)
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})

    @property
    def arch(self) -> str:
        return self.net.arch

    @property
    def input_size(self) -> int:
        return self.net.input_size

    @property
    def target_name(self) -> str:
        return f"object{self.target}"

    @property
    def device(self):
        return next(self.net.parameters()).device

    def to(self, device) -> SoilSurrogate:
        import torch

        self.net.to(torch.device(device))
        return self

    def predict_channels(self, channels: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Porosity (n,) float32 for slice channels (n, 3, H, W)."""
        from engines.core.inference import predict_array

        if len(channels) == 0:
            return np.zeros(0, np.float32)
        return predict_array(self.net, channels, batch_size, output=lambda y: y.float())

    def describe(self) -> str:
        lines = [f"{self.arch} regression of the porosity of {self.target_name} per slice "
                 f"(input {self.input_size} px, channels = objects 1+2, 3+4, 5+6)"]
        rmse = self.metrics.get("val_rmse")
        if isinstance(rmse, int | float):
            lines.append(f"Held-out slices: RMSE {rmse:.4f}")
        cores = self.training.get("cores")
        if isinstance(cores, list):
            source = self.training.get("transfer_from")
            lines.append(f"Trained on {len(cores)} core(s): {', '.join(map(str, cores[:6]))}"
                         + (f"; dense head transferred from {source}" if source else ""))
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        return {"kind": KIND, "arch": self.arch, "input_size": self.input_size,
                "target": self.target, "preprocess": to_json(self.preprocess),
                "training": self.training, "metrics": self.metrics}

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; ``half`` stores fp16 weights."""
        from engines.core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.net.state_dict(), self.metadata(), half=half)

    @classmethod
    def load(cls, path: str | Path, device: Any = "cpu") -> SoilSurrogate:
        """Load a model file; ModelError when missing, malformed or not a soil model."""
        from engines.core.checkpoint import (
            check_described_network,
            load_checkpoint,
            load_state_dict_strict,
        )

        tensors, meta = load_checkpoint(path)
        name = Path(path).name
        if meta.get("kind") != KIND:
            raise ModelError(f"{name}: not a soil surrogate model (kind {meta.get('kind')!r})")
        try:
            preprocess = from_json(PreprocessConfig, meta.get("preprocess", {}), "preprocessing")
            net = check_described_network(
                lambda: create_model(str(meta.get("arch")), int(meta.get("input_size", 0))),
                tensors, name)
            model = cls(net, int(meta.get("target", 0)), preprocess, meta.get("training"),
                        meta.get("metrics"))
        except (InputError, TypeError, ValueError) as exc:
            raise ModelError(f"{name}: {exc}") from None
        load_state_dict_strict(net, tensors, name)
        return model.to(device)

