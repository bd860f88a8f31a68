"""Typed, user-facing errors.

The GUI shows these in a dialog and keeps running; the CLI prints the message on one line and
exits with status 2. Messages start with the file name when a file is at fault, e.g.
``InputError("run7.spe: no $DATA section")``.
"""

from __future__ import annotations

from pathlib import Path


class LabLensError(Exception):
    """Base class of every error that is meant to be shown to a user."""


class InputError(LabLensError, ValueError):
    """A file, folder or parameter given by the user cannot be used."""

    @classmethod
    def for_file(cls, path: str | Path, problem: str) -> InputError:
        """Build the conventional ``"<file name>: <problem>"`` message, on one line (a problem
        that quotes the file's text may hold line breaks)."""
        return cls(f"{Path(path).name}: {' '.join(str(problem).splitlines())}")


class ModelError(LabLensError):
    """A model file is missing, malformed or does not fit the data."""


class CancelledError(LabLensError):
    """The user stopped a running task."""
