"""File dialogs that start in the folder last used for the same kind of file (QSettings),
in every workspace, and give a saved file the suffix of the chosen filter."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

ORGANISATION = APPLICATION = "LabLens"


def _settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


def last_folder(kind: str) -> str:
    """The folder last used for ``kind`` (``"open"``, ``"model"``, ``"export"``), or ``""``."""
    folder = str(_settings().value(f"folders/{kind}", ""))
    return folder if folder and Path(folder).is_dir() else ""


def remember_folder(kind: str, path: str | Path) -> None:
    path = Path(path)
    _settings().setValue(f"folders/{kind}", str(path if path.is_dir() else path.parent))


def _start(kind: str, name: str = "") -> str:
    folder = last_folder(kind)
    return str(Path(folder) / name) if folder else name


def open_path(parent: QWidget, title: str, filter_text: str, kind: str = "open") -> Path | None:
    """An existing file chosen by the user, or None."""
    path, _ = QFileDialog.getOpenFileName(parent, title, _start(kind), filter_text)
    if not path:
        return None
    remember_folder(kind, path)
    return Path(path)


def open_folder(parent: QWidget, title: str, kind: str = "open") -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, title, _start(kind))
    if not path:
        return None
    remember_folder(kind, path)
    return Path(path)


def save_path(parent: QWidget, title: str, default_name: str, filter_text: str,
              kind: str = "export") -> Path | None:
    """A file name to write, or None; without a suffix it gets the chosen filter's first one
    (``"SVG image (*.svg)"`` gives ``.svg``), else ``default_name``'s."""
    path, chosen = QFileDialog.getSaveFileName(parent, title, _start(kind, default_name),
                                               filter_text)
    if not path:
        return None
    path = Path(path)
    if not path.suffix:
        match = re.search(r"\*(\.[\w.]+)", chosen or "")
        path = path.with_name(path.name + (match.group(1) if match else Path(default_name).suffix))
    remember_folder(kind, path)
    return path
