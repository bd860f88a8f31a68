"""Where bundled resources and generated sample data live."""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parents[2] / "resources"
DEMO_MODELS_DIR = RESOURCES_DIR / "models"


def user_data_dir() -> Path:
    """Folder for generated sample data (``$LABLENS_DATA_DIR`` or ``~/.local/share/lablens``)."""
    override = os.environ.get("LABLENS_DATA_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "lablens"


def sample_data_dir(workspace: str) -> Path:
    return user_data_dir() / "samples" / workspace
