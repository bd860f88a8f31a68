"""The model-transfer matrix with the paper's greedy selection, and grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.soil.gradcam import grad_cam, iter_heat_volume, layer_names, upsample_cam
from engines.soil.matrix import (
    evaluate_cores,
    greedy_selection,
    iter_matrix,
    iter_predict_core,
)
from engines.soil.models import SoilSurrogate, create_model


def test_greedy_selection_by_hand():
    rmse = np.array([
        # c0    c1    c2    c3    c4    c5
        [0.01, 0.03, 0.05, 0.02, 0.09, 0.09],  # m0 fits c0 c1 c3
        [0.09, 0.01, 0.01, 0.03, 0.09, 0.09],  # m1 fits c1 c2 c3 (mean lower than m0)
        [0.09, 0.09, 0.09, 0.09, 0.02, 0.09],  # m2 fits c4
        [0.03, 0.09, 0.09, 0.09, 0.03, 0.09],  # m3 fits c0 c4
    ])
    steps, uncovered = greedy_selection(rmse, ["m0", "m1", "m2", "m3"],
                                        [f"c{i}" for i in range(6)], 0.04)
    # m0 and m1 both fit 3; m1 has the lower mean RMSE. Then c0 and c4 remain: m3 takes both.
    assert [(s.model, s.cores) for s in steps] == [("m1", ["c1", "c2", "c3"]),
                                                   ("m3", ["c0", "c4"])]
    assert uncovered == ["c5"] and steps[0].count == 3
    assert steps[1].to_json()["rmse"] == [0.03, 0.03]
    none, rest = greedy_selection(np.full((2, 2), 0.5), ["a", "b"], ["x", "y"])
    assert none == [] and rest == ["x", "y"]
    nan, _ = greedy_selection(np.array([[np.nan, 0.01]]), ["a"], ["x", "y"])
    assert nan[0].cores == ["y"]


@pytest.fixture(scope="module")
def models():
    import torch

    torch.manual_seed(0)
    return [(f"m{k}", SoilSurrogate(create_model("vgg_light", 32), k)) for k in (2, 4)]


def test_matrix_of_every_model_on_every_core(models, tiny_slices):
    matrix = drive(iter_matrix(models, tiny_slices, threshold=1.0))
    assert matrix.rmse.shape == (2, 3) and matrix.targets == [2, 4]
    for m, (_, model) in enumerate(models):
        for c, core in enumerate(tiny_slices):
            predicted = model.predict_channels(core.channels())
            expected = np.sqrt(np.mean((predicted - core.target(model.target)) ** 2))
            assert matrix.rmse[m, c] == pytest.approx(expected, rel=1e-5)
    assert sum(s.count for s in matrix.selection) == 3 and matrix.uncovered == []
    out = matrix.to_json()
    assert out["cores"] == [c.name for c in tiny_slices] and out["threshold"] == 1.0
    assert matrix.table()[0][1] >= 2 or len(matrix.table()) == 2
    evaluated = evaluate_cores(models[0][1], tiny_slices)
    assert evaluated["slices"] == 144 and set(evaluated["cores"]) == set(out["cores"])
    reports = []
    along = drive(iter_predict_core(models[1][1], tiny_slices[2], batch_size=20), reports.append)
    assert len(reports) == 3 and along.predicted.shape == along.depth_mm.shape == (48,)
    assert along.rmse == pytest.approx(matrix.rmse[1, 2], rel=1e-5)
    np.testing.assert_array_equal(along.computed, tiny_slices[2].target(4))


def test_upsampling_puts_each_cell_on_its_pixels():
    cam = np.zeros((1, 3, 3), np.float32)
    cam[0, 1, 1] = 1.0
    # stride 4 on a 13-pixel input: cells cover [0,4) [4,8) [8,12); pixel 12 was pooled away
    up = upsample_cam(cam, 4, 13, (13, 13))
    assert up.shape == (1, 13, 13)
    row = up[0, 5]
    assert row[5] == row[6] == row.max() == pytest.approx(0.875 ** 2)  # cell centre at 5.5
    assert np.argmax(up[0].sum(axis=1)) in (5, 6) and np.allclose(up[0, 12], up[0, 11])
    # the network had resized a 26-pixel slice to 13: back to 26, peak at 11-12
    big = upsample_cam(cam, 4, 13, (26, 26))
    assert big.shape == (1, 26, 26) and np.argmax(big[0, 11]) in (11, 12)
    assert big[0].sum(axis=0).argmax() in (11, 12)


def test_grad_cam_and_the_heat_volume(models, tiny_slices):
    model = models[1][1]
    assert layer_names(model)[-1] == "block4_conv2"
    core = tiny_slices[0]
    cams, predicted = grad_cam(model, core.channels([3, 4]), "block2_conv1")
    assert cams.shape == (2, 16, 16) and (cams >= 0).all()
    np.testing.assert_allclose(predicted, model.predict_channels(core.channels([3, 4])),
                               atol=1e-5)
    reports = []
    heat = drive(iter_heat_volume(model, core, batch_size=20), reports.append)
    assert heat.heat.shape == (48, 16, 16) and len(reports) == 3
    assert heat.heat.max() == pytest.approx(1.0) or heat.raw_max == 0
    assert heat.slice(10).shape == (16, 16) and heat.layer == "block4_conv2"
    np.testing.assert_allclose(heat.computed, core.target(4))
    with pytest.raises(InputError, match="outside the crop"):
        heat.slice(48)
    with pytest.raises(InputError, match="unknown layer 'conv9'; valid names: block1_conv1"):
        grad_cam(model, core.channels([0]), "conv9")
