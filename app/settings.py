"""Persistent user settings (QSettings): compute device, recent files, window state."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from engines.core.device import DEVICE_CHOICES

MAX_RECENT = 10


class Settings:
    """Typed access to the few values LabLens keeps between sessions."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings or QSettings("LabLens", "LabLens")

    @property
    def device(self) -> str:
        value = str(self._q.value("compute/device", "auto"))
        return value if value in DEVICE_CHOICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._q.setValue("compute/device", value if value in DEVICE_CHOICES else "auto")

    def recent_files(self, workspace: str) -> list[str]:
        value = self._q.value(f"recent/{workspace}", [])
        if isinstance(value, str):  # QSettings returns a lone string for one-item lists
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent_file(self, workspace: str, path: str) -> list[str]:
        recent = [path] + [p for p in self.recent_files(workspace) if p != path]
        recent = recent[:MAX_RECENT]
        self._q.setValue(f"recent/{workspace}", recent)
        return recent

    def clear_recent_files(self, workspace: str) -> None:
        self._q.remove(f"recent/{workspace}")

    @property
    def last_workspace(self) -> str:
        return str(self._q.value("window/workspace", ""))

    @last_workspace.setter
    def last_workspace(self, name: str) -> None:
        self._q.setValue("window/workspace", name)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._q.value("window/geometry"), self._q.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    def sync(self) -> None:
        self._q.sync()
