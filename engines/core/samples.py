"""The registry of sample datasets: what File ▸ Open sample data offers and the CLI's ``sample``
verbs write.

Each workspace lists its datasets in ``engines/<workspace>/samples.py`` as ``SAMPLES``, a tuple
of :class:`SampleDataset`, and may name the one opened on first launch as ``DEFAULT``. A dataset is written once into the user's data folder
(``$LABLENS_DATA_DIR/samples/<workspace>/``) by :func:`iter_prepare_sample` and reused after.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import TaskGenerator
from engines.core.resources import sample_data_dir


@dataclass(frozen=True)
class SampleDataset:
    """One seeded synthetic dataset of a workspace.

    Attributes
    ----------
    name
        Short name (``"materials12"``, ``"occupancy40"``).
    label
        Menu text.
    location
        File or folder name inside the workspace's sample folder.
    write
        ``write(path)``: a generator that writes the dataset at ``path`` (atomically: a
        cancelled write leaves nothing at ``path``) and returns ``path``.
    is_complete
        ``is_complete(path)``: whether a dataset already at ``path`` can be used.
    """

    name: str
    label: str
    location: str
    write: Callable[[Path], TaskGenerator[Path]]
    is_complete: Callable[[Path], bool]


def _module(workspace: str):
    try:
        return importlib.import_module(f"engines.{workspace}.samples")
    except ModuleNotFoundError:
        return None


def sample_datasets(workspace: str) -> tuple[SampleDataset, ...]:
    """The datasets of ``workspace``, in menu order."""
    module = _module(workspace)
    return tuple(module.SAMPLES) if module is not None else ()


def default_sample(workspace: str) -> SampleDataset | None:
    """The dataset opened on first launch: the module's ``DEFAULT`` name, else its first."""
    module = _module(workspace)
    if module is None or not module.SAMPLES:
        return None
    name = getattr(module, "DEFAULT", module.SAMPLES[0].name)
    return sample_dataset(workspace, name)


def sample_dataset(workspace: str, name: str) -> SampleDataset:
    """The dataset called ``name``; unknown names raise an error listing the valid ones."""
    datasets = sample_datasets(workspace)
    for dataset in datasets:
        if dataset.name == name:
            return dataset
    raise InputError(f"unknown {workspace} sample {name!r}; valid names: "
                     f"{', '.join(d.name for d in datasets)}")


def sample_location(workspace: str, dataset: SampleDataset) -> Path:
    return sample_data_dir(workspace) / dataset.location


def iter_prepare_sample(workspace: str, dataset: SampleDataset) -> TaskGenerator[Path]:
    """The dataset's path, written first when it is missing or incomplete."""
    path = sample_location(workspace, dataset)
    if dataset.is_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return (yield from dataset.write(path))
