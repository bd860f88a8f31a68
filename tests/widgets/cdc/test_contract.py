"""The CDC workspace keeps the workspace contract (tests/widgets/contract.py)."""

from __future__ import annotations

from engines.cdc.training import TrainConfig
from tests.widgets.contract import WorkspaceContract

EVENTS = 12  # enough for a training run (10 at least)


class TestCdcContract(WorkspaceContract):
    name = "cdc"

    def prepare(self, monkeypatch, tmp_path):
        monkeypatch.setattr("engines.cdc.samples.EVENTS", EVENTS)

    def sample_opened(self, ws):
        return ws.opened is not None

    def check_drawn(self, ws, analysis):
        assert ws.analysis is analysis and len(analysis.unet.hit_scores) == EVENTS
        assert ws.browser.cell_text(0, 4) != ""  # the per-event purity column is filled
        assert len(ws.display.hits_item.data) > 0

    def bad_file(self, tmp_path):
        path = tmp_path / "not_events.h5"
        path.write_bytes(b"\\x89HDF\\r\\n\\x1a\\n" + b"\\0" * 64)
        return path

    def start_long_task(self, ws):
        image, _ = ws.training.configs("cpu")
        ws.training.set_configs(image, TrainConfig(encoder="efficientnet-b0", epochs=1000,
                                                   batch_size=2))
        ws.training.train_button.click()
        return "Training on"
