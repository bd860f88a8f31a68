"""The soil workspace keeps the workspace contract (tests/widgets/contract.py)."""

from __future__ import annotations

from engines.soil.training import TrainConfig
from tests.widgets.contract import WorkspaceContract
from tests.widgets.soil.conftest import TINY


class TestSoilContract(WorkspaceContract):
    name = "soil"

    def prepare(self, monkeypatch, tmp_path):
        monkeypatch.setattr("engines.soil.samples.SAMPLE_CORES", 2)
        monkeypatch.setattr("engines.soil.samples.SAMPLE_CONFIG", TINY)

    def sample_opened(self, ws):
        return ws.volume is not None and len(ws.paths) == 2

    def check_drawn(self, ws, view):
        assert ws.views[ws.current] is view
        assert ws.results.porosity.rowCount() == len(view.analysis.porosity)
        assert "object2" in ws.profile.curves and "predicted" in ws.profile.curves
        assert ws.slice_views.labels is not None

    def bad_file(self, tmp_path):
        path = tmp_path / "not_a_core.nii"
        path.write_bytes(b"\x5c\x01\x00\x00" + b"\0" * 60)
        return path

    def start_long_task(self, ws):
        ws.training.set_config(TrainConfig(arch="vgg_light", input_size=32, epochs=1000,
                                           batch_size=4))
        ws.training.train_button.click()
        return "Training on"
