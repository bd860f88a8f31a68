"""Typed architecture settings of the spectrum models and their named presets (no torch here).

Forms in the GUI are built from these dataclasses; checkpoints store them with
:func:`config_to_json` and rebuild them with :func:`make_config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engines.core.config import param, validate
from engines.core.errors import InputError


def _length(n: int) -> Any:
    def check(value: tuple) -> str | None:
        return None if len(value) == n else f"must list {n} values, got {len(value)}"

    return check


def _stages(config: SmallCnnConfig) -> None:
    n = len(config.channels)
    if not 1 <= n <= 8:
        raise InputError(f"channels must list 1-8 stages, got {n}")
    if len(config.kernels) != n:
        raise InputError(f"kernels must list one size per stage ({n}), got {config.kernels}")
    if any(k % 2 == 0 for k in config.kernels):
        raise InputError(f"kernels must be odd, got {config.kernels}")


@dataclass(frozen=True)
class InceptionResNet1dConfig:
    """Inception-ResNet-V2 (Szegedy et al. 2016) reduced to 1-D. The whole network downsamples
    by ``stem_stride * 16``; a larger stride makes CPU training cheaper."""

    width: float = param(1.0, label="Width", range=(0.05, 2.0),
                         help="multiplier on every channel count of the paper network")
    blocks: tuple[int, int, int] = param((10, 20, 10), label="Blocks A, B, C", range=(0, 40),
                                         check=_length(3), help="paper: 10, 20, 10")
    scales: tuple[float, float, float] = param((0.17, 0.10, 0.20), label="Residual scales",
                                               range=(0.0, 1.0), check=_length(3),
                                               help="of the A, B and C blocks")
    stem_kernel: int = param(3, label="Stem kernel", range=(1, 31))
    stem_stride: int = param(2, label="Stem stride", range=(1, 16))
    dropout: float = param(0.2, label="Dropout", range=(0.0, 0.9),
                           help="before the classifier (paper: keep 0.8)")

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "scales", tuple(float(v) for v in self.scales))

    def channels(self, paper_channels: int) -> int:
        """Scaled channel count: a multiple of 4, at least 4."""
        return max(4, int(round(paper_channels * self.width / 4)) * 4)


@dataclass(frozen=True)
class SmallCnnConfig:
    """A plain 1-D CNN: conv-BN-ReLU stages with max pooling, then GAP and a linear layer."""

    channels: tuple[int, ...] = param((16, 32, 64, 128), label="Channels per stage",
                                      range=(4, 1024), help="1-8 stages")
    kernels: tuple[int, ...] = param((7, 5, 5, 3), label="Kernel per stage", range=(1, 31),
                                     help="odd; one per stage")
    stem_stride: int = param(4, label="Stem stride", range=(1, 16))
    pool: int = param(2, label="Pooling", range=(1, 8),
                      help="max-pool factor after every stage but the last")
    dropout: float = param(0.2, label="Dropout", range=(0.0, 0.9))

    def __post_init__(self) -> None:
        validate(self)
        _stages(self)


# Sizes for 12 classes on the paper's 7896 kept channels: Inception-ResNet "paper" 50.0 M
# parameters and 19.4 G multiply-adds per spectrum; "cpu" 0.22 M and 20 M (stride-8 stem, 1/8
# width); small_cnn 0.04 M and 14 M.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "inception_resnet_1d": {
        "paper": {},
        "cpu": {"width": 0.125, "blocks": (2, 3, 2), "stem_kernel": 15, "stem_stride": 8},
    },
    "small_cnn": {
        "cpu": {},
    },
}
DEFAULT_PRESET = "cpu"
CONFIG_CLASSES: dict[str, type] = {
    "inception_resnet_1d": InceptionResNet1dConfig,
    "small_cnn": SmallCnnConfig,
}


def make_config(arch: str, preset: str | None = None, **overrides: Any) -> Any:
    """Build the config of ``arch`` from a preset (default ``"cpu"``) plus field overrides.

    Lists are accepted for tuple fields (as they come back from JSON).

    Raises
    ------
    InputError
        For an unknown architecture, preset or field, or a value out of range.
    """
    if arch not in CONFIG_CLASSES:
        raise InputError(f"unknown spectrum model {arch!r}; valid names: "
                         f"{', '.join(sorted(CONFIG_CLASSES))}")
    cls = CONFIG_CLASSES[arch]
    presets = PRESETS[arch]
    preset = DEFAULT_PRESET if preset is None else preset
    if preset not in presets:
        raise InputError(f"unknown preset {preset!r} for {arch}; valid: {', '.join(presets)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - fields
    if unknown:
        raise InputError(f"unknown {arch} settings: {', '.join(sorted(unknown))}; "
                         f"valid: {', '.join(sorted(fields))}")
    values = {**presets[preset], **overrides}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise InputError(f"invalid {arch} settings: {exc}") from None


def config_to_json(config: Any) -> dict[str, Any]:
    """Plain JSON-able dict of a config (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(config).items()}
