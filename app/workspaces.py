"""Registry of the workspaces the window offers (only working ones are listed)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from engines.core.errors import InputError


@dataclass(frozen=True)
class WorkspaceSpec:
    """A workspace: its name (same as ``engines/<name>`` and ``widgets/<name>``), title, class."""

    name: str
    title: str
    widget_path: str  # "module:Class", imported only when the workspace is first shown

    def load_class(self) -> type:
        module_name, class_name = self.widget_path.split(":")
        return getattr(importlib.import_module(module_name), class_name)


WORKSPACES: tuple[WorkspaceSpec, ...] = (
    WorkspaceSpec("spectrum", "Spectrum (PGNAA)", "widgets.spectrum.workspace:SpectrumWorkspace"),
    WorkspaceSpec("cdc", "CDC events (COMET)", "widgets.cdc.workspace:CdcWorkspace"),
)


def workspace_spec(name: str) -> WorkspaceSpec:
    for spec in WORKSPACES:
        if spec.name == name:
            return spec
    valid = ", ".join(s.name for s in WORKSPACES)
    raise InputError(f"unknown workspace {name!r}; valid names: {valid}")
