"""The nodules workspace keeps the workspace contract (tests/widgets/contract.py)."""

from __future__ import annotations

from engines.nodules.detectors import DetectorConfig
from engines.nodules.preprocess import PreprocessConfig
from engines.nodules.synthetic import small_config
from engines.nodules.training import TrainConfig
from tests.widgets.contract import WorkspaceContract
from tests.widgets.nodules.conftest import tiny_detector


class TestNodulesContract(WorkspaceContract):
    name = "nodules"

    def prepare(self, monkeypatch, tmp_path):
        monkeypatch.setattr("engines.nodules.samples.SAMPLE_CONFIG", small_config())
        path = tiny_detector().save(tmp_path / "tiny_demo")
        monkeypatch.setattr("engines.core.model.demo_model_path",
                            lambda ws: path if ws == "nodules" else None)

    def sample_opened(self, ws):
        return ws.opened is not None

    def check_drawn(self, ws, detections):
        assert ws.detections is detections and detections.scan is ws.opened.scan
        shown = detections.slices.above(max(detections.slice_threshold, ws.toolbar.threshold))
        assert len(shown) > 0
        z = ws.views.position[0]
        on_slice = int((shown.z == z).sum())
        assert len(ws.boxes.static["axial"].ids) >= on_slice
        assert ws.document is not None and len(ws.document) == len(detections.candidates)
        rows = ws.table.item_model.rowCount()
        assert rows == len(ws.shown_items())

    def bad_file(self, tmp_path):
        path = tmp_path / "broken.mhd"
        path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 4000 4000 4000\n"
                        "ElementType = MET_SHORT\nElementDataFile = broken.raw\n")
        (tmp_path / "broken.raw").write_bytes(b"\0" * 100)
        return path

    def start_long_task(self, ws):
        ws.training.set_configs(DetectorConfig(arch="ssdlite_mobilenet_v3_small",
                                               min_box_mm=8.0),
                                PreprocessConfig(pixel_mm=3.0),
                                TrainConfig(steps=100_000, batch_size=2, crop_px=64))
        ws.training.train_button.click()
        return "Training on"
