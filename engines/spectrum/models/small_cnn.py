"""A small custom 1-D CNN, the paper's "CNN custom 1D" peer (Table II).

Stages of conv-BN-ReLU, each but the last followed by max pooling, then global average pooling
and a linear classifier. Downsampling: ``stem_stride * pool ** (n_stages - 1)``.
"""

from __future__ import annotations

from torch import nn

from engines.spectrum.models.configs import SmallCnnConfig
from engines.spectrum.models.layers import ConvBN, GapClassifier


class SmallCnn1d(GapClassifier):
    """Plain 1-D CNN classifier: input (B, in_channels, L) -> logits (B, n_classes).

    ``features`` gives (B, channels[-1], ~L / (stem_stride * pool ** (n_stages - 1))).
    """

    def __init__(self, n_classes: int, in_channels: int, config: SmallCnnConfig) -> None:
        layers: list[nn.Module] = []
        c_in = in_channels
        last = len(config.channels) - 1
        for index, (width, kernel) in enumerate(zip(config.channels, config.kernels, strict=True)):
            layers.append(ConvBN(c_in, width, kernel, config.stem_stride if index == 0 else 1))
            if index < last and config.pool > 1:
                layers.append(nn.MaxPool1d(config.pool, config.pool, ceil_mode=True))
            c_in = width
        super().__init__(nn.Sequential(*layers), c_in, n_classes, config.dropout, "small_cnn",
                         config)
