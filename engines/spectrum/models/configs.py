"""Typed architecture settings of the spectrum models and their named presets (no torch here).

Forms in the GUI are built from these dataclasses; checkpoints store them with
:func:`config_to_json` and rebuild them with :func:`make_config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engines.core.errors import InputError


@dataclass(frozen=True)
class InceptionResNet1dConfig:
    """Inception-ResNet-V2 (Szegedy et al. 2016) reduced to 1-D.

    Attributes
    ----------
    width
        Multiplier on every channel count of the paper network (0.05-2; 1 = paper).
    blocks
        Number of Inception-ResNet-A, -B and -C blocks (paper: 10, 20, 10; each 0-40).
    scales
        Residual scaling of the A, B and C blocks (paper: 0.17, 0.10, 0.20).
    stem_kernel, stem_stride
        Kernel and stride of the first convolution (paper: 3, 2). The whole network downsamples
        by ``stem_stride * 16``; a larger stride makes CPU training cheaper.
    dropout
        Dropout before the classifier (paper: 0.2, i.e. keep 0.8).
    """

    width: float = 1.0
    blocks: tuple[int, int, int] = (10, 20, 10)
    scales: tuple[float, float, float] = (0.17, 0.10, 0.20)
    stem_kernel: int = 3
    stem_stride: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        _check_range("width", self.width, 0.05, 2.0)
        _check_tuple(self, "blocks", 3, int, 0, 40)
        _check_tuple(self, "scales", 3, float, 0.0, 1.0)
        _check_range("stem_kernel", self.stem_kernel, 1, 31, integer=True)
        _check_range("stem_stride", self.stem_stride, 1, 16, integer=True)
        _check_range("dropout", self.dropout, 0.0, 0.9)

    def channels(self, paper_channels: int) -> int:
        """Scaled channel count: a multiple of 4, at least 4."""
        return max(4, int(round(paper_channels * self.width / 4)) * 4)


@dataclass(frozen=True)
class SmallCnnConfig:
    """A plain 1-D CNN: conv-BN-ReLU stages with max pooling, then GAP and a linear layer.

    Attributes
    ----------
    channels
        Output channels of each stage (1-8 stages, 4-1024 channels each).
    kernels
        Kernel size of each stage (same length as ``channels``, odd, 1-31).
    stem_stride
        Stride of the first convolution (1-16).
    pool
        Max-pool factor after every stage but the last (1-8).
    dropout
        Dropout before the classifier (0-0.9).
    """

    channels: tuple[int, ...] = (16, 32, 64, 128)
    kernels: tuple[int, ...] = (7, 5, 5, 3)
    stem_stride: int = 4
    pool: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        n = len(self.channels)
        if not 1 <= n <= 8:
            raise InputError(f"channels must list 1-8 stages, got {n}")
        _check_tuple(self, "channels", n, int, 4, 1024)
        _check_tuple(self, "kernels", n, int, 1, 31)
        if any(k % 2 == 0 for k in self.kernels):
            raise InputError(f"kernels must be odd, got {self.kernels}")
        _check_range("stem_stride", self.stem_stride, 1, 16, integer=True)
        _check_range("pool", self.pool, 1, 8, integer=True)
        _check_range("dropout", self.dropout, 0.0, 0.9)


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


def _check_range(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {what} in [{low}, {high}], got {value!r}")


def _check_tuple(config: Any, name: str, length: int, kind: type, low: float, high: float) -> None:
    value = getattr(config, name)
    if not isinstance(value, tuple) or len(value) != length:
        raise InputError(f"{name} must be a sequence of {length} numbers, got {value!r}")
    for item in value:
        _check_range(name, item, low, high, integer=kind is int)
    if kind is float:
        object.__setattr__(config, name, tuple(float(v) for v in value))
