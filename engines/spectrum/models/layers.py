"""Building blocks shared by the 1-D spectrum models.

Every model is a :class:`GapClassifier`: ``features`` (convolutions, (B, C_in, L) ->
(B, F, L')), global average pooling over L', dropout, and ``classifier`` (a linear layer
F -> n_classes). That split makes the class activation map exact: the logit of class ``c`` is
the mean over L' of ``sum_k classifier.weight[c, k] * features[:, k, :]`` plus the bias (plus,
with a :class:`LikelihoodHead`, the template log-likelihood, whose per-channel terms the CAM
adds, see :mod:`engines.spectrum.cam`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

LOG_FLOOR = 1e-12  # the ML peer's floor for empty template channels


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

        self.likelihood: LikelihoodHead | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of input (B, C_in, L)."""
        logits = self.classifier(self.dropout(self.features(x).mean(dim=-1)))
        if self.likelihood is not None:
            logits = logits + self.likelihood(x)
        return logits

    def add_likelihood_head(self, templates: Any, normalisation: str, count_index: int | None,
                            reference_counts: float) -> None:
        """Add the template log-likelihood to the logits (see :class:`LikelihoodHead`)."""
        self.likelihood = LikelihoodHead(templates, normalisation, count_index, reference_counts)

    @property
    def n_classes(self) -> int:
        return self.classifier.out_features

    @property
    def in_channels(self) -> int:
        first = next(m for m in self.features.modules() if isinstance(m, nn.Conv1d))
        return first.in_channels

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


class LikelihoodHead(nn.Module):
    """The multinomial log-likelihood of the input under fixed class templates, as logits.

    ``logit_c = exp(log_scale) * sum_i n_i (log p_ci - mean_c' log p_c'i)``, with ``n_i`` the
    counts of the kept channels recovered from the normalised input (``x * k / n_kept``) and
    ``p`` the library's class templates (fixed, floored like the ML peer). The class mean is
    subtracted per channel, which changes no softmax. ``k`` is read from the count-level
    channel when the input has one (``count_index``), else ``reference_counts`` is used; the
    argmax is the ML peer's either way. Added to a network whose classifier starts at zero,
    training starts from the ML call and learns only what the templates miss.

    Parameters
    ----------
    templates
        (n_classes, n_kept) class templates on the kept channels, rows summing to 1.
    normalisation
        The input's normalisation (``"fraction"`` or ``"sqrt"``).
    count_index
        Input channel holding ``(log10(k) - 3.5) / 1.5``, or None.
    reference_counts
        ``k`` assumed without a count-level channel.
    """

    def __init__(self, templates: Any, normalisation: str, count_index: int | None,
                 reference_counts: float) -> None:
        super().__init__()
        from engines.spectrum.preprocessing import COUNT_LEVEL_CENTRE, COUNT_LEVEL_SCALE

        log_t = torch.log(torch.as_tensor(templates, dtype=torch.float64).clamp_min(LOG_FLOOR))
        self.register_buffer("log_templates", (log_t - log_t.mean(dim=0)).float(),
                             persistent=False)  # rebuilt from the stored templates on load
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.normalisation = normalisation
        self.count_index = count_index
        self.reference_counts = float(reference_counts)
        self._level = (COUNT_LEVEL_CENTRE, COUNT_LEVEL_SCALE)

    def describe(self) -> dict[str, Any]:
        """JSON settings that rebuild the head with the stored templates."""
        return {"normalisation": self.normalisation, "count_index": self.count_index,
                "reference_counts": self.reference_counts}

    def _counts(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_kept) counts of the kept channels recovered from the model input."""
        fraction = x[:, 0].float()
        if self.normalisation == "sqrt":
            fraction = fraction * fraction
        if self.count_index is None:
            k = torch.full((x.shape[0], 1), self.reference_counts, device=x.device)
        else:
            centre, scale = self._level
            k = torch.pow(10.0, x[:, self.count_index, :1].float() * scale + centre)
        return fraction * (k / fraction.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of input (B, C_in, n_kept)."""
        with torch.autocast(x.device.type, enabled=False):
            return torch.exp(self.log_scale) * (self._counts(x) @ self.log_templates.t())

    def channel_contributions(self, x: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
        """(B, n_kept) per-channel terms of the logit of ``class_index[b]`` (they sum to it)."""
        with torch.autocast(x.device.type, enabled=False):
            return torch.exp(self.log_scale) * self._counts(x) * self.log_templates[class_index]
