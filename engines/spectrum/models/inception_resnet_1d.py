"""Inception-ResNet-V2 (Szegedy, Ioffe, Vanhoucke 2016) reduced to 1-D, as in the paper Sec. III-B.

Every 2-D kernel becomes a 1-D kernel of the same length (3x3 -> 3, 1x7 and 7x1 -> 7,
1x3 and 3x1 -> 3); padding keeps lengths so parallel branches line up. Channel counts are the
paper's times ``config.width``; block counts and the stem stride come from the config, so the
paper-size and the CPU-size networks are the same classes with different settings.

Downsampling: stem ``stem_stride * 4``, Reduction-A 2, Reduction-B 2.
"""

from __future__ import annotations

import torch
from torch import nn

from engines.spectrum.models.configs import InceptionResNet1dConfig
from engines.spectrum.models.layers import Concat, ConvBN, GapClassifier


class ResidualInception(nn.Module):
    """An Inception-ResNet block: ``relu(x + scale * conv1x1(concat(branches(x))))``."""

    def __init__(self, channels: int, branches: list[nn.Module], mixed: int, scale: float,
                 activate: bool = True) -> None:
        super().__init__()
        self.mixed = Concat(*branches)
        self.up = nn.Conv1d(mixed, channels, 1)
        self.scale = scale
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.scale * self.up(self.mixed(x))
        return torch.relu(out) if self.activate else out


def _chain(c_in: int, widths: list[int], kernels: list[int], strides: list[int] | None = None
           ) -> nn.Sequential:
    strides = strides or [1] * len(widths)
    layers = []
    for width, kernel, stride in zip(widths, kernels, strides, strict=True):
        layers.append(ConvBN(c_in, width, kernel, stride))
        c_in = width
    return nn.Sequential(*layers)


class InceptionResNet1d(GapClassifier):
    """1-D Inception-ResNet-V2 classifier.

    Parameters
    ----------
    n_classes
        Number of classes.
    in_channels
        Input channels (1 counts channel, +1 with the position channel).
    config
        Width, block counts, residual scales, stem stride, dropout.

    Input (B, in_channels, L) -> logits (B, n_classes); ``features`` gives
    (B, c(1536), ~L / (16 * stem_stride)).
    """

    def __init__(self, n_classes: int, in_channels: int, config: InceptionResNet1dConfig) -> None:
        c = config.channels
        layers: list[nn.Module] = [
            ConvBN(in_channels, c(32), config.stem_kernel, config.stem_stride),
            ConvBN(c(32), c(32), 3),
            ConvBN(c(32), c(64), 3),
            nn.MaxPool1d(3, 2, padding=1),
            ConvBN(c(64), c(80), 1),
            ConvBN(c(80), c(192), 3),
            nn.MaxPool1d(3, 2, padding=1),
        ]
        c_in = c(192)
        layers.append(Concat(  # Mixed-5b
            _chain(c_in, [c(96)], [1]),
            _chain(c_in, [c(48), c(64)], [1, 5]),
            _chain(c_in, [c(64), c(96), c(96)], [1, 3, 3]),
            nn.Sequential(nn.AvgPool1d(3, 1, padding=1, count_include_pad=False),
                          ConvBN(c_in, c(64), 1)),
        ))
        c_a = c(96) + c(64) + c(96) + c(64)
        scale_a, scale_b, scale_c = config.scales
        for _ in range(config.blocks[0]):
            layers.append(ResidualInception(c_a, [
                _chain(c_a, [c(32)], [1]),
                _chain(c_a, [c(32), c(32)], [1, 3]),
                _chain(c_a, [c(32), c(48), c(64)], [1, 3, 3]),
            ], c(32) + c(32) + c(64), scale_a))
        layers.append(Concat(  # Reduction-A
            _chain(c_a, [c(384)], [3], [2]),
            _chain(c_a, [c(256), c(256), c(384)], [1, 3, 3], [1, 1, 2]),
            nn.MaxPool1d(3, 2, padding=1),
        ))
        c_b = c_a + 2 * c(384)
        for _ in range(config.blocks[1]):
            layers.append(ResidualInception(c_b, [
                _chain(c_b, [c(192)], [1]),
                _chain(c_b, [c(128), c(160), c(192)], [1, 7, 7]),
            ], 2 * c(192), scale_b))
        layers.append(Concat(  # Reduction-B
            _chain(c_b, [c(256), c(384)], [1, 3], [1, 2]),
            _chain(c_b, [c(256), c(288)], [1, 3], [1, 2]),
            _chain(c_b, [c(256), c(288), c(320)], [1, 3, 3], [1, 1, 2]),
            nn.MaxPool1d(3, 2, padding=1),
        ))
        c_c = c(384) + c(288) + c(320) + c_b
        for index in range(config.blocks[2]):
            layers.append(ResidualInception(c_c, [
                _chain(c_c, [c(192)], [1]),
                _chain(c_c, [c(192), c(224), c(256)], [1, 3, 3]),
            ], c(192) + c(256), scale_c, activate=index < config.blocks[2] - 1))
        layers.append(ConvBN(c_c, c(1536), 1))
        super().__init__(nn.Sequential(*layers), c(1536), n_classes, config.dropout,
                         "inception_resnet_1d", config)
