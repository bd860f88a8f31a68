"""Where bundled resources and generated sample data live."""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parents[2] / "resources"
DEMO_MODELS_DIR = RESOURCES_DIR / "models"


def demo_model_path(workspace: str) -> Path:
    """Path (without suffix) of a workspace's bundled demo model, e.g. ``models/spectrum_demo``."""
    return DEMO_MODELS_DIR / f"{workspace}_demo"


def resolve_model_path(value: str | Path, workspace: str) -> Path:
    """``"demo"`` means the bundled demo model; anything else is a path."""
    return demo_model_path(workspace) if str(value) == "demo" else Path(value)


def user_data_dir() -> Path:
    """Folder for generated sample data (``$LABLENS_DATA_DIR`` or ``~/.local/share/lablens``)."""
    override = os.environ.get("LABLENS_DATA_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "lablens"


def sample_data_dir(workspace: str) -> Path:
    return user_data_dir() / "samples" / workspace
