"""Shared fixtures: a tiny synthetic core set (three 48 × 64 × 64 DICOM cores), the bundled demo
surrogate, and a shown workspace with the set open (the host is in tests/widgets/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.core.progress import drive
from engines.soil.synthetic import SyntheticConfig

#: 48 slices of 64 × 64 pixels, an 18 mm core: the crop is 48 × 16 × 16 (seconds to analyse)
TINY = SyntheticConfig(shape=(48, 64, 64), diameter_mm=18.0, wall_mm=1.0, offset_mm=1.0)
N_CORES = 3



@pytest.fixture(scope="session")
def core_set(tmp_path_factory) -> Path:
    from engines.soil.samples import iter_write_core_set

    return drive(iter_write_core_set(tmp_path_factory.mktemp("soil") / "cores", N_CORES, 3, TINY))


@pytest.fixture(scope="session")
def demo_model():
    from engines.core.model import demo_model_path
    from engines.soil.models import SoilSurrogate

    path = demo_model_path("soil")
    if path is None:
        pytest.skip("no bundled soil demo model (make demo-model-soil)")
    return SoilSurrogate.load(path)


@pytest.fixture
def workspace(qtbot, host, core_set):
    """A shown workspace with the tiny core set open (no model, no activation tasks)."""
    from widgets.soil.workspace import SoilWorkspace

    ws = SoilWorkspace(host)
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    with qtbot.waitSignal(ws.coreShown, timeout=30000):
        ws.open_path(core_set)
    yield ws
    ws.shutdown()


def analyze(qtbot, ws):
    """Analyze the shown core and return the CoreView drawn."""
    with qtbot.waitSignal(ws.analysisFinished, timeout=60000) as blocker:
        ws.analyze()
    return blocker.args[0]
