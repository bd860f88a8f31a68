"""Shared fixtures: a tiny synthetic data set (four 256 × 288 micrographs with masks, labels
and splits, copied per test so autosaved reviews do not leak between tests), an untrained
segmenter (the drawing, not the quality, is under test) and a shown workspace with the first
image open (the host is in tests/widgets/conftest.py)."""

from __future__ import annotations

import shutil

import pytest

from engines.core.progress import drive
from engines.sem.synthetic_dataset import iter_write_dataset


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    return drive(iter_write_dataset(tmp_path_factory.mktemp("semw") / "tiny", 4, (256, 288),
                                    seed=5))


@pytest.fixture
def dataset(tiny_set, tmp_path):
    return shutil.copytree(tiny_set, tmp_path / "tiny")


@pytest.fixture(scope="session")
def untrained():
    """A randomly initialised ResNet-18 U-Net lite at half scale (64-px windows)."""
    import torch

    from engines.sem.labels import ClassTable
    from engines.sem.models import create_model
    from engines.sem.preprocessing import Preprocessing
    from engines.sem.segmenter import SemSegmenter
    from engines.sem.synthetic import CLASS_COLOURS, CLASS_NAMES

    torch.manual_seed(0)
    net = create_model("unet-resnet18-lite", len(CLASS_NAMES), 1)
    return SemSegmenter(net, ClassTable(tuple(CLASS_NAMES), tuple(CLASS_COLOURS)),
                        Preprocessing(scale=0.5), window=64)


@pytest.fixture
def workspace(qtbot, host, dataset):
    """A shown workspace with the data set's first image open (no model, no activation)."""
    from widgets.sem.workspace import SemWorkspace

    ws = SemWorkspace(host)
    qtbot.addWidget(ws)
    ws.resize(1400, 850)
    ws.show()
    with qtbot.waitSignal(ws.micrographOpened, timeout=20000):
        ws.open_path(dataset)
    return ws


@pytest.fixture
def analyzed(qtbot, workspace, untrained):
    """The workspace with the untrained model and its analysis of the first image."""
    workspace.set_model(untrained)
    with qtbot.waitSignal(workspace.analysisFinished, timeout=60000):
        workspace.analyze()
    return workspace
