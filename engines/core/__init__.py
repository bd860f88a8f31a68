"""Shared engine pieces: progress, typed errors, devices, checkpoints, metrics, training helpers."""

from engines.core.errors import CancelledError, InputError, LabLensError, ModelError
from engines.core.progress import Progress, drive

__all__ = ["CancelledError", "InputError", "LabLensError", "ModelError", "Progress", "drive"]
