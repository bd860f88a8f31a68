"""The registry of workspaces: one entry per workspace is all the shell needs.

An entry names the workspace (the same as its ``engines/<name>`` and ``widgets/<name>``
packages), its title, and where its parts are: the widget class, the CLI module (with a
``register(parser)`` function), the screenshot script (``widgets/<name>/screenshots.py`` with a
``shots(session)`` function) and the batch job (``engines/<name>/batch.py`` with ``JOB``).
Modules are imported only when used, so listing workspaces stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from engines.core.errors import InputError


def _load(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


@dataclass(frozen=True)
class WorkspaceSpec:
    """One workspace: its name, title, and the ``module:attribute`` paths of its parts."""

    name: str
    title: str
    widget: str
    cli: str | None = None
    screenshots: str | None = None
    batch: str | None = None

    def load_class(self) -> type:
        cls = _load(self.widget)
        cls.title = self.title  # the registry is the one place the title is written
        return cls

    def load_cli(self) -> Any:
        return None if self.cli is None else _load(self.cli)

    def load_screenshots(self) -> Any:
        if self.screenshots is None:
            raise InputError(f"the {self.name} workspace has no screenshot script")
        return _load(self.screenshots)

    def load_batch(self) -> Any:
        if self.batch is None:
            raise InputError(f"the {self.name} workspace has no batch analysis")
        return _load(self.batch)


WORKSPACES: tuple[WorkspaceSpec, ...] = (
    WorkspaceSpec("spectrum", "Spectrum (PGNAA)", "widgets.spectrum.workspace:SpectrumWorkspace",
                  "app.cli.spectrum", "widgets.spectrum.screenshots:shots",
                  "engines.spectrum.batch:JOB"),
    WorkspaceSpec("cdc", "CDC events (COMET)", "widgets.cdc.workspace:CdcWorkspace",
                  "app.cli.cdc", "widgets.cdc.screenshots:shots", "engines.cdc.batch:JOB"),
    WorkspaceSpec("sem", "Micrographs (SEM)", "widgets.sem.workspace:SemWorkspace",
                  "app.cli.sem", "widgets.sem.screenshots:shots", "engines.sem.batch:JOB"),
    WorkspaceSpec("soil", "Soil cores (CT)", "widgets.soil.workspace:SoilWorkspace",
                  "app.cli.soil", "widgets.soil.screenshots:shots", "engines.soil.batch:JOB"),
    WorkspaceSpec("nodules", "Lung nodules (CT)", "widgets.nodules.workspace:NodulesWorkspace",
                  "app.cli.nodules", "widgets.nodules.screenshots:shots",
                  "engines.nodules.batch:JOB"),
)


def workspace_spec(name: str) -> WorkspaceSpec:
    for spec in WORKSPACES:
        if spec.name == name:
            return spec
    valid = ", ".join(s.name for s in WORKSPACES)
    raise InputError(f"unknown workspace {name!r}; valid names: {valid}")
