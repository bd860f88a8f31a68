"""The spectrum workspace keeps the workspace contract (tests/widgets/contract.py)."""

from __future__ import annotations

import numpy as np

from engines.spectrum.training import TrainConfig
from tests.widgets.contract import WorkspaceContract
from tests.widgets.spectrum.conftest import TINY_TRAINING


class TestSpectrumContract(WorkspaceContract):
    name = "spectrum"

    def prepare(self, monkeypatch, tmp_path):
        monkeypatch.setattr("engines.spectrum.samples.MEASUREMENTS_PER_CLASS", 1)

    def sample_opened(self, ws):
        return ws.library is not None

    def check_drawn(self, ws, analysis):
        assert ws.results.call_label.text().startswith(analysis.predicted)
        assert ws.plot.has_cam and ws.plot.cam_image.isVisible()
        assert np.array_equal(ws.plot.cam, analysis.cam, equal_nan=True)
        assert analysis.predicted in ws.library.classes

    def bad_file(self, tmp_path):
        path = tmp_path / "truncated.spe"
        path.write_text("$SPEC_ID:\nx\n$DATA:\n0 100\n1 2 3\n")
        return path

    def start_long_task(self, ws):
        ws.training.set_config(TrainConfig(**TINY_TRAINING, steps=100_000))
        ws.training.train_button.click()
        return "Training"
