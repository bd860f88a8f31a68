"""What every workspace's model bundle offers, and the one way to find and load a model.

A workspace model (``SpectrumClassifier``, ``CdcSegmenter``, ...) is a network plus what it needs
to be used (classes, preprocessing, thresholds), stored as safetensors + a JSON sidecar
(:mod:`engines.core.checkpoint`). The shell and the CLI handle every workspace's models through
this protocol alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from engines.core.resources import DEMO_MODELS_DIR

M = TypeVar("M", bound="Model")
DEMO = "demo"


@runtime_checkable
class Model(Protocol):
    """A trained model bundle."""

    @classmethod
    def load(cls: type[M], path: str | Path, device: Any = "cpu") -> M:
        """Read ``path`` (with or without suffix) onto ``device``; ``ModelError`` when the file
        is missing, malformed or of another workspace."""

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; returns the weights path."""

    def metadata(self) -> dict[str, Any]:
        """The JSON sidecar content."""

    def describe(self) -> str:
        """A few human-readable lines (Model ▸ Model info, ``info``)."""


def demo_model_path(workspace: str) -> Path | None:
    """The bundled demo model of ``workspace`` (path without suffix), or None when there is
    none."""
    path = DEMO_MODELS_DIR / f"{workspace}_demo"
    return path if path.with_name(path.name + ".safetensors").is_file() else None


def resolve_model_path(value: str | Path, workspace: str) -> Path:
    """``"demo"`` means the workspace's bundled demo model; anything else is a path.

    Raises
    ------
    ModelError
        ``"demo"`` for a workspace that bundles none.
    """
    from engines.core.errors import ModelError

    if str(value) != DEMO:
        return Path(value)
    path = demo_model_path(workspace)
    if path is None:
        raise ModelError(f"the {workspace} workspace bundles no demo model")
    return path


def load_model(model_type: type[M], value: str | Path, workspace: str,
               device_preference: str = "auto") -> M:
    """Load a model file, or ``"demo"``, on the preferred device (imports torch)."""
    from engines.core.device import pick_device

    return model_type.load(resolve_model_path(value, workspace), pick_device(device_preference))
