"""Shared fixtures: a few synthetic events in our HDF5 format, a tiny trained model (light
U-Net of width 8, one short epoch), and a shown workspace (the host is in
tests/widgets/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.cdc.images import ImageConfig
from engines.cdc.io import read_events
from engines.cdc.peer import PeerConfig
from engines.cdc.synthetic import write_sample_file
from engines.cdc.training import TrainConfig, train_segmenter
from engines.core.progress import drive

N_EVENTS = 6


def _one_torch_thread() -> int:
    """Run torch on one thread and return the previous count: with other jobs on a 2-core
    machine, spinning OpenMP workers make two threads 10-50x slower than one."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    return previous


@pytest.fixture(scope="session")
def sample_file(tmp_path_factory) -> Path:
    """Six events at 40 % occupancy with truth (a signal track in every event)."""
    return write_sample_file(tmp_path_factory.mktemp("cdc") / "events.h5", N_EVENTS, 0.4, seed=5)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A really trained (if weak) light U-Net: width 8 at the grid's 71 px, one epoch on 10
    events, its track fit tuned on the two validation events."""
    import torch

    previous = _one_torch_thread()
    try:
        torch.manual_seed(0)
        folder = tmp_path_factory.mktemp("cdc_model")
        events = read_events(write_sample_file(folder / "train.h5", 10, 0.3, seed=9),
                             lazy=False)
        config = TrainConfig(arch="light_unet", width=8, epochs=1, batch_size=8,
                             pos_weight=5.0, split=(0.6, 0.2, 0.2), device="cpu")
        result = drive(train_segmenter(list(events), ImageConfig(input_size=71), config))
        path = result.segmenter.save(folder / "tiny")
    finally:
        torch.set_num_threads(previous)
    return result.segmenter, path


@pytest.fixture
def workspace(qtbot, host, sample_file):
    """A shown workspace with the sample file open (no model, no activation tasks)."""
    from widgets.cdc.workspace import CdcWorkspace

    ws = CdcWorkspace(host)
    qtbot.addWidget(ws)
    ws.resize(1350, 850)
    ws.peer_config = PeerConfig(max_iter=20)  # the peer's fit, not its quality, is under test
    ws.show()
    with qtbot.waitSignal(ws.fileOpened, timeout=20000):
        ws.open_path(sample_file)
    return ws


@pytest.fixture
def analyzed(qtbot, workspace, tiny_model):
    """The workspace with the tiny model and its scores of every event."""
    workspace.set_model(tiny_model[0])
    with qtbot.waitSignal(workspace.analysisFinished, timeout=30000):
        workspace.analyze()
    return workspace
