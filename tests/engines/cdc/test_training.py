"""Training: stratified split, config checks, the live-curve generator and best-epoch choice."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.images import ImageConfig
from engines.cdc.synthetic import generate_events
from engines.cdc.training import TrainConfig, stratified_split, train_segmenter
from engines.core.errors import InputError
from engines.core.progress import drive


def test_stratified_split_sizes_cover_and_balance():
    rng = np.random.default_rng(0)
    counts = np.concatenate([rng.integers(10, 30, 500), rng.integers(80, 120, 500)])
    train, val, test = stratified_split(counts, (0.8, 0.1, 0.1), np.random.default_rng(1))
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1000))
    for part in (val, test):                       # both modes present in the same share
        assert np.mean(counts[part] > 50) == pytest.approx(0.5, abs=0.06)
    again = stratified_split(counts, (0.8, 0.1, 0.1), np.random.default_rng(1))
    np.testing.assert_array_equal(again[1], val)


def test_paper_defaults_and_validation():
    config = TrainConfig()
    assert (config.encoder, config.epochs, config.batch_size, config.lr, config.weight_decay,
            config.warmup_fraction, config.ema_decay) == ("efficientnet-b2", 30, 96, 3e-3,
                                                          1e-3, 0.1, 0.996)
    with pytest.raises(InputError, match="encoder"):
        TrainConfig(encoder="resnet18")
    with pytest.raises(InputError, match="split"):
        TrainConfig(split=(0.9, 0.0, 0.1))


@pytest.mark.slow
def test_training_yields_live_curves_and_keeps_the_best_epoch():
    events = list(drive(generate_events(20, occupancy=0.3, seed=4)))
    config = TrainConfig(encoder="efficientnet-b0", epochs=2, batch_size=8, ema_decay=0.5,
                         pos_weight=5.0, split=(0.6, 0.2, 0.2))
    reports = []
    result = drive(train_segmenter(events, ImageConfig(input_size=64), config), reports.append)
    steps = [r for r in reports if "loss" in r.metrics]
    epochs = [r for r in reports if "val_auc" in r.metrics]
    assert len(steps) == 4 and len(epochs) == 2            # 12 training events / 8 = 2 steps
    assert all(np.isfinite(r.metrics["loss"]) and r.metrics["lr"] >= 0 for r in steps)
    assert [r.fraction for r in steps] == sorted(r.fraction for r in steps)
    history = result.history
    assert [h["epoch"] for h in history] == [1, 2]
    best = max(history, key=lambda h: h["val_auc"])["epoch"]
    assert result.best_epoch == best
    segmenter = result.segmenter
    assert segmenter.metrics["val"]["auc"] == pytest.approx(history[best - 1]["val_auc"],
                                                            abs=1e-6)
    assert 0.0 <= segmenter.threshold <= 1.0 and segmenter.density is not None
    assert sorted(np.concatenate(list(result.split.values())).tolist()) == list(range(20))
    assert segmenter.training["config"]["encoder"] == "efficientnet-b0"


def test_training_refuses_unusable_events():
    events = list(drive(generate_events(12, occupancy=0.3, seed=4, signal_fraction=0.0)))
    with pytest.raises(InputError, match="no signal"):
        drive(train_segmenter(events, ImageConfig(input_size=64),
                              TrainConfig(encoder="efficientnet-b0")))
    with pytest.raises(InputError, match="at least 10"):
        drive(train_segmenter(events[:5]))


def test_fine_tuning_needs_a_matching_initial_model():
    from engines.cdc.model import CdcSegmenter, create_model
    from engines.cdc.signal_density import SignalDensity

    events = list(drive(generate_events(12, occupancy=0.3, seed=4)))
    net = create_model("unet", encoder="efficientnet-b0", in_channels=3, input_size=64)
    initial = CdcSegmenter(net, ImageConfig(input_size=64), SignalDensity.fit(events))
    with pytest.raises(InputError, match="initial model differs"):
        drive(train_segmenter(events, ImageConfig(input_size=64, scaling="limited"),
                              TrainConfig(encoder="efficientnet-b0"), initial))
    with pytest.raises(InputError, match="initial model differs"):
        drive(train_segmenter(events, ImageConfig(input_size=64),
                              TrainConfig(encoder="efficientnet-b1"), initial))


@pytest.mark.slow
def test_a_model_can_be_refined_at_a_larger_input_size():
    import torch

    from engines.cdc.model import CdcSegmenter, create_model
    from engines.cdc.signal_density import SignalDensity

    events = list(drive(generate_events(12, occupancy=0.3, seed=4)))
    net = create_model("unet", encoder="efficientnet-b0", in_channels=3, input_size=64)
    initial = CdcSegmenter(net, ImageConfig(input_size=64), SignalDensity.fit(events))
    config = TrainConfig(encoder="efficientnet-b0", epochs=1, batch_size=8, lr=1e-6,
                         warmup_fraction=0.0, ema_decay=0.0)
    result = drive(train_segmenter(events, ImageConfig(input_size=96), config, initial))
    assert result.segmenter.image_config.input_size == 96
    assert result.segmenter.net.input_size == 96
    refined = result.segmenter.net.state_dict()
    for name, tensor in initial.net.state_dict().items():   # tiny lr: the weights carried over
        if tensor.is_floating_point() and "running" not in name:
            assert torch.allclose(refined[name], tensor, atol=1e-4), name
