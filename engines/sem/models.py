"""The sem model registry: the paper's FCN-8s on VGG16, lighter U-Nets, and the
crop-and-classify CNN peer.

Segmentation networks take ``(N, in_channels, H, W)`` float images (any size: they pad to
their stride inside and crop back) and return ``(N, n_classes, H, W)`` logits. Every network
is built with random weights (``weights=None`` / ``encoder_weights=None``): nothing is
downloaded; local weights come in through :mod:`engines.sem.weights`.

``fcn8s-vgg16``
    Long et al.'s FCN-8s as the paper used it (§3.1, §4.2): VGG16's 13 convolutions
    (the layers of torchvision's ``vgg16(weights=None).features``), fc6/fc7 as 7 × 7 and 1 × 1 convolutions,
    class scores fused with 1 × 1 scores of pool4 (skip A) and pool3 (skip B), learnable
    up-sampling initialised to bilinear interpolation (the paper's Eq. 6). ``fc_channels``
    (default 4096) makes a lighter variant.
``unet-resnet18`` / ``unet-resnet34`` / ``unet-efficientnet-b0``
    segmentation_models_pytorch U-Nets.
``unet-resnet18-lite``
    ResNet-18 U-Net of depth 4 (stride 16) with a slim decoder (128, 64, 32, 16 channels):
    3.6 M parameters, the bundled demo model's architecture.
``crop-cnn``
    The peer (task ``"classify"``): the paper's CIFARNet (§3, 4.1: three convolution and
    max-pooling layers, two fully connected layers, ReLU and dropout) on object crops warped
    to a fixed size; see :mod:`engines.sem.peer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engines.core.errors import InputError
from engines.core.registry import Registry


@dataclass(frozen=True)
class Architecture:
    """A registered network: its factory ``build(n_classes, in_channels, **options)``, its
    task (``"segment"`` or ``"classify"``), the state-dict prefixes of its head (replaced when a
    model is fine-tuned to another class count) and a one-line description."""

    name: str
    build: Callable[..., Any]
    task: str
    head: tuple[str, ...]
    description: str


MODELS: Registry[Architecture] = Registry("sem model")


def _register(name: str, task: str, head: tuple[str, ...], description: str):
    def decorator(build):
        MODELS.register(name)(lambda: Architecture(name, build, task, head, description))
        return build

    return decorator


def architecture(name: str) -> Architecture:
    """The registered architecture ``name``; unknown names list the valid ones."""
    return MODELS.create(name)


def segmentation_archs() -> tuple[str, ...]:
    return tuple(n for n in MODELS.names() if architecture(n).task == "segment")


def create_model(name: str, n_classes: int, in_channels: int = 1, **options: Any):
    """Build network ``name`` with random weights (see the module docstring)."""
    if not 2 <= int(n_classes) <= 127:
        raise InputError(f"a sem model needs 2…127 classes, got {n_classes}")
    if in_channels not in (1, 3):
        raise InputError(f"in_channels must be 1 (grey) or 3 (RGB), got {in_channels}")
    net = architecture(name).build(int(n_classes), int(in_channels), **options)
    net.arch, net.n_classes, net.in_channels = name, int(n_classes), int(in_channels)
    net.options = dict(options)
    return net


def _pad_to(x, multiple: int):
    import torch.nn.functional as F

    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > 1 else
                  "replicate")
    return x, height, width


def _bilinear_kernel(channels: int, size: int):
    """Weights of a ConvTranspose2d that up-samples each channel bilinearly (FCN's init)."""
    import torch

    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = torch.arange(size, dtype=torch.float32)
    filt = 1 - torch.abs(grid - centre) / factor
    kernel = filt[:, None] * filt[None, :]
    weight = torch.zeros(channels, channels, size, size)
    weight[range(channels), range(channels)] = kernel
    return weight


def _fcn8s_class():
    import torch
    from torch import nn

    class FCN8s(nn.Module):
        """FCN-8s on VGG16 (see the module docstring). Stride 32, skips at 16 and 8."""

        def __init__(self, n_classes: int, in_channels: int, fc_channels: int = 4096) -> None:
            from torchvision.models.vgg import cfgs, make_layers

            super().__init__()
            # torchvision's vgg16(weights=None).features, without building the 120 M
            # parameters of its classifier only to throw them away
            features = make_layers(cfgs["D"])
            if in_channels != 3:
                features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
            for layer in features:
                if isinstance(layer, nn.Conv2d):     # VGG's own initialisation
                    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(layer.bias)
            self.features = features          # pool3 = features[16], pool4 = [23], pool5 = [30]
            self.fc6 = nn.Conv2d(512, fc_channels, 7, padding=3)
            self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
            self.drop = nn.Dropout2d(0.5)
            self.score_fr = nn.Conv2d(fc_channels, n_classes, 1)
            self.score_pool4 = nn.Conv2d(512, n_classes, 1)
            self.score_pool3 = nn.Conv2d(256, n_classes, 1)
            for score in (self.score_pool4, self.score_pool3):
                nn.init.zeros_(score.weight)
                nn.init.zeros_(score.bias)
            self.up2 = nn.ConvTranspose2d(n_classes, n_classes, 4, stride=2, padding=1,
                                          bias=False)
            self.up2_pool4 = nn.ConvTranspose2d(n_classes, n_classes, 4, stride=2, padding=1,
                                                bias=False)
            self.up8 = nn.ConvTranspose2d(n_classes, n_classes, 16, stride=8, padding=4,
                                          bias=False)
            with torch.no_grad():
                for up in (self.up2, self.up2_pool4, self.up8):
                    up.weight.copy_(_bilinear_kernel(n_classes, up.kernel_size[0]))

        def forward(self, x):
            x, height, width = _pad_to(x, 32)
            pool3 = self.features[:17](x)
            pool4 = self.features[17:24](pool3)
            pool5 = self.features[24:](pool4)
            h = self.drop(torch.relu(self.fc6(pool5)))
            h = self.drop(torch.relu(self.fc7(h)))
            h = self.up2(self.score_fr(h)) + self.score_pool4(pool4)
            h = self.up2_pool4(h) + self.score_pool3(pool3)
            return self.up8(h)[:, :, :height, :width]

    return FCN8s


@_register("fcn8s-vgg16", "segment", ("score_fr.", "score_pool4.", "score_pool3.", "up2.",
                                      "up2_pool4.", "up8."),
           "FCN-8s on VGG16 with pool3/pool4 skips (the paper's network)")
def _fcn8s(n_classes: int, in_channels: int, fc_channels: int = 4096):
    return _fcn8s_class()(n_classes, in_channels, fc_channels)


def _unet_class():
    from torch import nn

    class SmpUnet(nn.Module):
        """A segmentation_models_pytorch U-Net; encoder stages deeper than ``depth`` are
        removed, so the weights hold only what the forward pass uses."""

        def __init__(self, n_classes: int, in_channels: int, encoder: str, depth: int,
                     decoder_channels: tuple[int, ...]) -> None:
            import segmentation_models_pytorch as smp

            super().__init__()
            self.stride = 2 ** depth
            self.net = smp.Unet(encoder, encoder_weights=None, in_channels=in_channels,
                                classes=n_classes, encoder_depth=depth,
                                decoder_channels=tuple(decoder_channels))
            if encoder.startswith("resnet"):
                for stage in range(depth, 5):
                    delattr(self.net.encoder, f"layer{stage}")

        def forward(self, x):
            x, height, width = _pad_to(x, self.stride)
            return self.net(x)[:, :, :height, :width]

    return SmpUnet


def _unet(encoder: str, depth: int = 5, decoder: tuple[int, ...] = (256, 128, 64, 32, 16)):
    def build(n_classes: int, in_channels: int):
        return _unet_class()(n_classes, in_channels, encoder, depth, decoder)

    return build


_UNET_HEAD = ("net.segmentation_head.",)
for _name, _encoder in (("unet-resnet18", "resnet18"), ("unet-resnet34", "resnet34"),
                        ("unet-efficientnet-b0", "efficientnet-b0")):
    _register(_name, "segment", _UNET_HEAD, f"U-Net with a {_encoder} encoder "
                                            "(segmentation_models_pytorch)")(_unet(_encoder))
_register("unet-resnet18-lite", "segment", _UNET_HEAD,
          "ResNet-18 U-Net of depth 4 with a slim decoder (the demo model)")(
    _unet("resnet18", 4, (128, 64, 32, 16)))


def _cifarnet_class():
    import torch
    from torch import nn

    class CifarNet(nn.Module):
        """Three conv + max-pool stages (32, 32, 64 channels, 5 × 5), two fully connected
        layers with ReLU and dropout: ``(N, C, s, s)`` crops -> ``(N, n_classes)`` logits."""

        def __init__(self, n_classes: int, in_channels: int, crop_size: int = 64) -> None:
            super().__init__()
            layers, channels = [], in_channels
            for width in (32, 32, 64):
                layers += [nn.Conv2d(channels, width, 5, padding=2), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2)]
                channels = width
            self.features = nn.Sequential(*layers)
            self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * (crop_size // 8) ** 2, 64),
                                    nn.ReLU(inplace=True), nn.Dropout(0.5),
                                    nn.Linear(64, n_classes))
            self.crop_size = int(crop_size)

        def forward(self, x):
            if tuple(x.shape[-2:]) != (self.crop_size, self.crop_size):
                x = torch.nn.functional.interpolate(x, size=(self.crop_size, self.crop_size),
                                                    mode="bilinear", align_corners=False)
            return self.fc(self.features(x))

    return CifarNet


@_register("crop-cnn", "classify", ("fc.4.",),
           "CIFARNet on object crops warped to a fixed size (the paper's object-based peer)")
def _crop_cnn(n_classes: int, in_channels: int, crop_size: int = 64):
    if crop_size % 8 or not 16 <= crop_size <= 512:
        raise InputError(f"crop size must be a multiple of 8 within 16…512, got {crop_size}")
    return _cifarnet_class()(n_classes, in_channels, crop_size)
