"""The U-Net registry, its grid-in/grid-out forward pass, and the segmenter bundle (save/load)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engines.cdc.images import ImageConfig
from engines.cdc.model import ENCODERS, FEATURE_SET, CdcSegmenter, create_model
from engines.cdc.signal_density import SignalDensity
from engines.cdc.synthetic import generate_events
from engines.core.checkpoint import model_paths
from engines.core.errors import InputError, ModelError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(4, occupancy=0.4, seed=8)))


@pytest.fixture(scope="module")
def segmenter(events):
    torch.manual_seed(0)
    config = ImageConfig(input_size=64)
    net = create_model("unet", encoder="efficientnet-b0", in_channels=3, input_size=64,
                       grid_shape=config.grid_shape)
    return CdcSegmenter(net, config, SignalDensity.fit(events), threshold=0.3,
                        training={"note": "test"}, metrics={"val": {"auc": 0.5}},
                        expects={"trigger_time_fraction": 1})


def test_registry_lists_models_and_encoders():
    with pytest.raises(InputError, match="valid names: light_unet, unet"):
        create_model("segformer")
    with pytest.raises(InputError, match="efficientnet-b7"):
        create_model("unet", encoder="resnet34")
    assert ENCODERS[0] == "efficientnet-b0" and len(ENCODERS) == 8


@pytest.mark.parametrize("name, options, input_size, grid", [
    ("unet", {"encoder": "efficientnet-b0"}, 64, (71, 71)),
    ("unet", {"encoder": "efficientnet-b0"}, 80, (128, 128)),
    ("light_unet", {"width": 8}, 71, (71, 71)),
    ("light_unet", {"width": 8, "cpu_bf16": True}, 71, (71, 71))])
def test_forward_returns_logits_on_the_cell_grid(name, options, input_size, grid):
    net = create_model(name, **options, in_channels=2, input_size=input_size,
                       grid_shape=grid).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, 2, *grid))   # 80 and 71 are padded inside
    assert out.shape == (2, *grid) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_predict_events_gives_one_score_per_hit(segmenter, events):
    scores = segmenter.predict_events(events, batch_size=3)
    assert [s.shape for s in scores] == [(e.n_hits,) for e in events]
    assert all(s.dtype == np.float32 and np.all((s >= 0) & (s <= 1)) for s in scores)
    prediction = drive(segmenter.iter_predict(events, batch_size=2))
    assert prediction.cell_scores.shape == (len(events), 4986)
    np.testing.assert_allclose(np.concatenate(prediction.hit_scores), np.concatenate(scores),
                               atol=1e-6)


def test_save_load_round_trip_in_fp16(segmenter, events, tmp_path):
    path = tmp_path / "cdc_model"
    segmenter.save(path, half=True)
    weights, sidecar = model_paths(path)
    meta = json.loads(sidecar.read_text())
    assert meta["kind"] == "lablens.cdc_segmenter" and meta["encoder"] == "efficientnet-b0"
    assert meta["arch_options"] == {"encoder": "efficientnet-b0"}
    assert meta["feature_set"] == FEATURE_SET and meta["expects"] == {"trigger_time_fraction": 1}
    assert meta["image_config"]["input_size"] == 64 and meta["threshold"] == 0.3
    assert len(meta["signal_density"]["table"]) == 90 and meta["training"] == {"note": "test"}
    loaded = CdcSegmenter.load(path)
    assert loaded.image_config == segmenter.image_config and loaded.threshold == 0.3
    assert loaded.expects == segmenter.expects and loaded.fit_config().threshold == 0.5
    np.testing.assert_allclose(loaded.density.table, segmenter.density.table, rtol=1e-5)
    before = np.concatenate(segmenter.predict_events(events[:2]))
    after = np.concatenate(loaded.predict_events(events[:2]))
    np.testing.assert_allclose(after, before, atol=2e-2)   # fp16 weights


def test_loading_broken_or_foreign_files_is_a_model_error(segmenter, tmp_path):
    path = tmp_path / "m"
    segmenter.save(path)
    weights, sidecar = model_paths(path)
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "kind": "lablens.spectrum_classifier"}))
    with pytest.raises(ModelError, match="not a CDC model"):
        CdcSegmenter.load(path)
    sidecar.write_text(json.dumps({**meta, "arch_options": {"encoder": "efficientnet-b1"}}))
    with pytest.raises(ModelError, match="do not fit"):
        CdcSegmenter.load(path)
    sidecar.write_text(json.dumps({**meta, "arch_options": {"encoder": "nonsense"}}))
    with pytest.raises(ModelError, match="encoder"):
        CdcSegmenter.load(path)
    sidecar.write_text(json.dumps({**meta, "arch_options": {"depth": 9}}))
    with pytest.raises(ModelError, match="arch_options"):
        CdcSegmenter.load(path)
    sidecar.write_text(json.dumps({**meta, "feature_set": None}))
    with pytest.raises(ModelError, match="retrain"):
        CdcSegmenter.load(path)
    sidecar.write_text(json.dumps({**meta, "track_fit": {"inlier_cm": -1}}))
    with pytest.raises(ModelError, match="track-fit"):
        CdcSegmenter.load(path).fit_config()
    stale = {"base": 0.0, "feature_names": ["logit"], "trees": [
        {"feature": [-1], "threshold": [0.0], "left": [-1], "right": [-1], "value": [0.0]}]}
    sidecar.write_text(json.dumps({**meta, "track_fit": {"rescorer": stale}}))
    with pytest.raises(ModelError, match="tune-fit"):   # trees of another feature set
        CdcSegmenter.load(path).rescorer()
    sidecar.write_text(json.dumps({**meta, "track_fit": {"rescorer": {"trees": 3}}}))
    with pytest.raises(ModelError, match="boosted-tree"):
        CdcSegmenter.load(path).rescorer()
    sidecar.write_text(json.dumps({**meta, "signal_density": {"table": [[1.0]]}}))
    with pytest.raises(ModelError, match="density"):
        CdcSegmenter.load(path)
    with pytest.raises(ModelError, match="not found"):
        CdcSegmenter.load(tmp_path / "absent")


def test_mismatched_bundle_is_refused(events):
    net = create_model("unet", encoder="efficientnet-b0", in_channels=2, input_size=64)
    with pytest.raises(ModelError, match="channels"):
        CdcSegmenter(net, ImageConfig(input_size=64), SignalDensity.fit(events))
    net3 = create_model("unet", encoder="efficientnet-b0", in_channels=3, input_size=64)
    with pytest.raises(ModelError, match="density"):
        CdcSegmenter(net3, ImageConfig(input_size=64), None)


def test_bundled_demo_model_reaches_its_recorded_figures():
    """Fresh events at 40 % occupancy (a seed the model never saw) against the sidecar's
    validation figures; small sample, so a tolerance."""
    from engines.cdc.metrics import cell_level
    from engines.cdc.rescoring import iter_fit_events
    from engines.core.model import demo_model_path

    path = demo_model_path("cdc")
    if path is None:
        pytest.skip("no bundled cdc demo model")
    segmenter = CdcSegmenter.load(path)
    recorded = segmenter.metrics["val"]
    # what `cdc info` compares a file with, read from the sidecar alone
    assert CdcSegmenter.expectations(path) == (segmenter.image_config, segmenter.expects)
    fresh = list(drive(generate_events(40, occupancy=0.4, seed=424_242)))
    scores = drive(segmenter.iter_predict(fresh)).cell_scores
    summary = cell_level(fresh, scores)
    assert summary.auc >= recorded["auc"] - 0.03
    assert summary.purity_at_retention >= recorded["purity_at_retention_0.9"] - 0.05
    with_fit = (segmenter.metrics.get("tune_with_fit")    # the U-Net + track fit
                or segmenter.metrics["val_with_fit"])
    fitted = cell_level(fresh, drive(iter_fit_events(fresh, scores,
                                                     segmenter.fit_config(),
                                                     segmenter.rescorer())).cell_scores)
    assert fitted.auc >= with_fit["auc"] - 0.03
    assert fitted.purity_at_retention >= with_fit["purity_at_retention_0.9"] - 0.05
