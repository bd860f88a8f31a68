"""The sample-dataset registry: lookup by workspace and name, the default, and preparing a
dataset once in the user's data folder."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.core.samples import (
    SampleDataset,
    default_sample,
    iter_prepare_sample,
    sample_dataset,
    sample_datasets,
    sample_location,
)

WORKSPACE = "fakews"


def _dataset(name: str, writes: list[Path] | None = None) -> SampleDataset:
    def write(path: Path):
        yield Progress(0.5, f"writing {name}")
        path.write_text(name)
        if writes is not None:
            writes.append(path)
        return path

    return SampleDataset(name, f"{name} (menu)", f"{name}.txt", write, Path.is_file)


@pytest.fixture
def workspace(monkeypatch, tmp_path):
    """A workspace ``fakews`` whose ``engines.fakews.samples`` lists two datasets."""
    module = types.ModuleType(f"engines.{WORKSPACE}.samples")
    module.SAMPLES = (_dataset("first"), _dataset("second"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setenv("LABLENS_DATA_DIR", str(tmp_path / "data"))
    return module


def test_datasets_come_from_the_workspace_module_in_menu_order(workspace):
    assert sample_datasets(WORKSPACE) == workspace.SAMPLES
    assert isinstance(sample_datasets(WORKSPACE), tuple)
    assert sample_dataset(WORKSPACE, "second") is workspace.SAMPLES[1]
    assert sample_dataset(WORKSPACE, "first") is workspace.SAMPLES[0]


def test_a_workspace_without_samples_has_none():
    assert sample_datasets("no_such_workspace") == ()
    assert default_sample("no_such_workspace") is None


def test_every_real_workspace_lists_its_datasets():
    for name in ("spectrum", "cdc", "soil", "nodules", "sem"):
        datasets = sample_datasets(name)
        assert datasets and all(isinstance(d, SampleDataset) for d in datasets)
        assert default_sample(name) in datasets


def test_unknown_name_lists_the_valid_ones(workspace):
    with pytest.raises(InputError) as raised:
        sample_dataset(WORKSPACE, "third")
    assert str(raised.value) == "unknown fakews sample 'third'; valid names: first, second"


def test_default_is_the_named_one_else_the_first(workspace):
    assert default_sample(WORKSPACE) is workspace.SAMPLES[0]
    workspace.DEFAULT = "second"
    assert default_sample(WORKSPACE) is workspace.SAMPLES[1]
    workspace.SAMPLES = ()
    assert default_sample(WORKSPACE) is None


def test_location_is_inside_the_workspace_sample_folder(workspace, tmp_path):
    dataset = workspace.SAMPLES[1]
    assert sample_location(WORKSPACE, dataset) == (
        tmp_path / "data" / "samples" / WORKSPACE / "second.txt")


def test_prepare_writes_once_then_reuses(workspace, tmp_path):
    writes: list[Path] = []
    dataset = _dataset("first", writes)
    reports: list[Progress] = []
    path = drive(iter_prepare_sample(WORKSPACE, dataset), reports.append)
    expected = tmp_path / "data" / "samples" / WORKSPACE / "first.txt"
    assert path == expected and expected.read_text() == "first"  # its folders made first
    assert writes == [expected] and [r.message for r in reports] == ["writing first"]
    reports.clear()
    assert drive(iter_prepare_sample(WORKSPACE, dataset), reports.append) == expected
    assert writes == [expected] and reports == []  # complete: not written again


def test_prepare_rewrites_an_incomplete_dataset_in_an_existing_folder(workspace, tmp_path):
    writes: list[Path] = []
    dataset = SampleDataset("first", "First", "first.txt", _dataset("first", writes).write,
                            lambda path: path.is_file() and path.read_text() == "first")
    folder = tmp_path / "data" / "samples" / WORKSPACE
    folder.mkdir(parents=True)
    (folder / "first.txt").write_text("half")
    assert drive(iter_prepare_sample(WORKSPACE, dataset)) == folder / "first.txt"
    assert writes == [folder / "first.txt"] and (folder / "first.txt").read_text() == "first"
