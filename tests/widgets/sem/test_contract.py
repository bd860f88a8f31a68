"""The sem workspace keeps the workspace contract (tests/widgets/contract.py), with the bundled
demo model on a small sample data set."""

from __future__ import annotations

import numpy as np

from engines.core.samples import SampleDataset
from engines.sem.preprocessing import Preprocessing
from engines.sem.training import TrainConfig
from tests.widgets.contract import WorkspaceContract

SHAPE = (256, 288)  # (height, width) of the two sample images


def _small_samples():
    from engines.sem import samples

    write, complete = samples._writer(2, SHAPE), samples._complete(2)
    return (SampleDataset("steel3", "two small synthetic micrographs", "sem_small", write,
                          complete),)


class TestSemContract(WorkspaceContract):
    name = "sem"
    timeout_ms = 180_000

    def prepare(self, monkeypatch, tmp_path):
        monkeypatch.setattr("engines.sem.samples.SAMPLES", _small_samples())

    def sample_opened(self, ws):
        return ws.opened is not None

    def check_drawn(self, ws, reviewed):
        assert ws.reviewed is reviewed and ws.opened.shape == SHAPE
        assert ws.toolbar.layer == "objects"
        expected = reviewed.result.votes.class_per_id()[reviewed.result.objects]
        np.testing.assert_array_equal(ws.view.overlay.classes, expected)
        assert ws.table.model().rowCount() == reviewed.result.n_objects > 0
        assert ws.scores.summary.rowCount() > 0  # the sample has truth

    def bad_file(self, tmp_path):
        path = tmp_path / "not_a_micrograph.tif"
        path.write_bytes(b"II*\x00" + b"\x00" * 60)
        return path

    def start_long_task(self, ws):
        ws.training.set_configs(Preprocessing(scale=0.5),
                                TrainConfig(window=64, batch_size=2, steps=100_000,
                                            validations=1))
        ws.training.start_combo.setCurrentIndex(ws.training.start_combo.findData("random"))
        ws.training.train_button.click()
        return "Training on"
