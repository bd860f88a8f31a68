"""Building blocks shared by the 1-D spectrum models.

Every model is a :class:`GapClassifier`: ``features`` (convolutions, (B, C_in, L) ->
(B, F, L')), global average pooling over L', dropout, and ``classifier`` (a linear layer
F -> n_classes). That split makes the class activation map exact: the logit of class ``c`` is
the mean over L' of ``sum_k classifier.weight[c, k] * features[:, k, :]`` plus the bias.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ConvBN(nn.Sequential):
    """Conv1d (no bias) -> BatchNorm1d -> ReLU, padded so stride 1 keeps the length."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                      bias=False),
            nn.BatchNorm1d(out_channels, eps=1e-3),
            nn.ReLU(inplace=True),
        )
        self.out_channels = out_channels


class Concat(nn.Module):
    """Run parallel branches on one input and concatenate their outputs along channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class GapClassifier(nn.Module):
    """``features -> global average pooling -> dropout -> classifier``.

    Parameters
    ----------
    features
        Module mapping (B, C_in, L) to (B, F, L').
    n_features
        F, the channel count of the last feature map.
    n_classes
        Number of output logits.
    dropout
        Dropout probability before the classifier.
    arch, config
        Registry name and typed config; kept so checkpoints can describe the model.
    """

    def __init__(self, features: nn.Module, n_features: int, n_classes: int, dropout: float,
                 arch: str, config: Any) -> None:
        super().__init__()
        self.features = features
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_features, n_classes)
        self.arch = arch
        self.config = config
        self.n_features = n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of input (B, C_in, L)."""
        return self.classifier(self.dropout(self.features(x).mean(dim=-1)))

    @property
    def n_classes(self) -> int:
        return self.classifier.out_features

    @property
    def in_channels(self) -> int:
        first = next(m for m in self.features.modules() if isinstance(m, nn.Conv1d))
        return first.in_channels

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
