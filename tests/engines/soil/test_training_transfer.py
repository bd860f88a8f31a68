"""Surrogate training, transfer learning of the dense head, and the comparison (Table 1)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.soil.training import TrainConfig, augment_batch, iter_train
from engines.soil.transfer import TransferConfig, iter_compare, iter_transfer

FAST = dict(arch="vgg_light", input_size=32, batch_size=16, device="cpu", seed=1)


@pytest.fixture(scope="module")
def trained(tiny_slices):
    reports = []
    result = drive(iter_train(tiny_slices, TrainConfig(epochs=6, target=4, **FAST)),
                   reports.append)
    return result, reports


def test_training_learns_the_surrogate_label(trained, tiny_slices):
    result, reports = trained
    y = np.concatenate([c.target(4) for c in tiny_slices])
    assert len(result.train_index) == 115 and len(result.val_index) == 29  # 80/20 by slice
    # better than predicting the training mean for every held-out slice
    baseline = np.sqrt(np.mean((y[result.val_index] - y[result.train_index].mean()) ** 2))
    assert np.sqrt(result.val_mse) < 0.8 * baseline
    assert result.model.metrics["val_rmse"] == pytest.approx(np.sqrt(result.val_mse))
    assert result.model.training["cores"] == [c.name for c in tiny_slices]
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5, 6]
    curves = [r.metrics for r in reports if "val_rmse" in r.metrics]
    assert len(curves) == 6 and all("train_loss" in m for m in curves)
    assert result.row("full")["test_mse"] == result.val_mse


def test_augmentation_turns_and_flips():
    import torch

    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    seen = {tuple(augment_batch(x, np.random.default_rng(s)).flatten().tolist())
            for s in range(40)}
    assert len(seen) == 8  # the dihedral group of the square


def test_bad_training_input(tiny_slices):
    with pytest.raises(InputError, match="at least one core"):
        drive(iter_train([], TrainConfig(**FAST)))
    with pytest.raises(InputError, match="objects are 1…6"):
        drive(iter_train(tiny_slices, TrainConfig(target=7, **FAST)))


def test_transfer_retrains_only_the_head(trained, tiny_slices):
    source = trained[0].model
    result = drive(iter_transfer(source, tiny_slices, TransferConfig(target=2, epochs=4,
                                                                      device="cpu")))
    model = result.model
    assert model.target == 2 and model.training["frozen"] == "features"
    for a, b in zip(source.net.vgg.features.state_dict().values(),
                    model.net.vgg.features.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    head = [not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(
        source.net.vgg.classifier.state_dict().values(),
        model.net.vgg.classifier.state_dict().values(), strict=True)]
    assert any(head)
    assert model.net is not source.net and source.target == 4
    assert all(p.requires_grad for p in model.net.parameters())
    y = np.concatenate([c.target(2) for c in tiny_slices])
    predicted = np.concatenate([model.predict_channels(c.channels()) for c in tiny_slices])
    assert np.sqrt(np.mean((predicted - y)[result.val_index] ** 2)) == pytest.approx(
        np.sqrt(result.val_mse), rel=1e-3)


def test_comparison_rows(trained, tiny_slices):
    comparison = drive(iter_compare(trained[0].model, tiny_slices[:1],
                                    TransferConfig(target=2, epochs=2, device="cpu")))
    rows = comparison.rows()
    assert [r["method"] for r in rows] == ["full training", "dense layer"]
    assert all(r["seconds"] > 0 and r["train_mse"] >= 0 and r["test_mse"] >= 0 for r in rows)
    assert comparison.full.model.target == comparison.transfer.model.target == 2
    assert np.array_equal(comparison.full.val_index, comparison.transfer.val_index)
