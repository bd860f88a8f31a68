"""Spectrum model registry: ``create_model(name, n_classes, in_channels, preset=..., **config)``.

Importing this package does not import torch; the model modules are loaded when a model is
built. Valid names: ``MODELS.names()`` -> ``["inception_resnet_1d", "small_cnn"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines.core.errors import InputError
from engines.core.registry import Registry
from engines.spectrum.models.configs import (
    CONFIG_CLASSES,
    PRESETS,
    InceptionResNet1dConfig,
    SmallCnnConfig,
    config_to_json,
    make_config,
)

if TYPE_CHECKING:
    from engines.spectrum.models.layers import GapClassifier

MODELS: Registry = Registry("spectrum model")


@MODELS.register("inception_resnet_1d")
def _inception_resnet_1d(n_classes: int, in_channels: int, config: InceptionResNet1dConfig):
    from engines.spectrum.models.inception_resnet_1d import InceptionResNet1d

    return InceptionResNet1d(n_classes, in_channels, config)


@MODELS.register("small_cnn")
def _small_cnn(n_classes: int, in_channels: int, config: SmallCnnConfig):
    from engines.spectrum.models.small_cnn import SmallCnn1d

    return SmallCnn1d(n_classes, in_channels, config)


def create_model(name: str, n_classes: int, in_channels: int, preset: str | None = None,
                 **config: Any) -> GapClassifier:
    """Build a spectrum classifier network.

    Parameters
    ----------
    name
        ``"inception_resnet_1d"`` or ``"small_cnn"``.
    n_classes
        Number of output classes (>= 2).
    in_channels
        Input channels (see :attr:`PreprocessConfig.in_channels`).
    preset
        Named settings (``"paper"`` or ``"cpu"`` for Inception-ResNet; default ``"cpu"``).
    **config
        Overrides of single config fields, e.g. ``width=0.5, blocks=(2, 4, 2)``.

    Returns
    -------
    A :class:`GapClassifier` with ``features``, ``classifier``, ``arch`` and ``config``.

    Raises
    ------
    InputError
        Unknown name (the message lists valid ones), preset or setting.
    """
    factory = MODELS.get(name)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise InputError(f"a classifier needs at least 2 classes, got {n_classes!r}")
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise InputError(f"in_channels must be a positive integer, got {in_channels!r}")
    return factory(n_classes, in_channels, make_config(name, preset, **config))


__all__ = ["CONFIG_CLASSES", "MODELS", "PRESETS", "InceptionResNet1dConfig", "SmallCnnConfig",
           "config_to_json", "create_model", "make_config"]
