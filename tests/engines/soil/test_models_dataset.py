"""Surrogate networks, model files, slice inputs and cores as data."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError, ModelError
from engines.soil.dataset import find_cores, slice_channels, split_slices
from engines.soil.models import MODELS, SoilSurrogate, conv_layer_names, create_model
from engines.soil.preprocess import PreprocessConfig


def test_registry_lists_the_networks():
    assert MODELS.names() == ["vgg16", "vgg16_bn", "vgg_light"]
    with pytest.raises(InputError, match="unknown soil model 'vgg19'; valid names: vgg16"):
        create_model("vgg19")
    with pytest.raises(InputError, match="input size"):
        create_model("vgg_light", 8)


def test_vgg16_regression_head():
    import torch

    net = create_model("vgg16", 64).eval()
    assert net.vgg.classifier[6].out_features == 1 and net.vgg.classifier[0].in_features == 25088
    layers = conv_layer_names(net)
    assert len(layers) == 13 and layers[-1][0] == "block5_conv3" and layers[-1][2] == 16
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 48, 40)).shape == (2,)  # resized to 64 × 64 first


def test_light_network_is_small():
    net = create_model("vgg_light", 100)
    assert sum(p.numel() for p in net.parameters()) < 1_000_000
    assert [n for n, _, _ in conv_layer_names(net)][-2:] == ["block4_conv1", "block4_conv2"]


def test_model_file_round_trip(tmp_path):
    net = create_model("vgg_light", 32)
    model = SoilSurrogate(net, 3, PreprocessConfig(min_cluster=10), {"cores": ["a"]},
                          {"val_rmse": 0.01})
    path = model.save(tmp_path / "m", half=True)
    assert path.stat().st_size < 2_000_000
    loaded = SoilSurrogate.load(tmp_path / "m")
    assert loaded.target == 3 and loaded.preprocess.min_cluster == 10 and loaded.input_size == 32
    assert "object3" in loaded.describe() and "RMSE 0.0100" in loaded.describe()
    x = np.random.default_rng(0).uniform(size=(3, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_channels(x), model.predict_channels(x), atol=5e-3)
    meta = (tmp_path / "m.json").read_text().replace("lablens.soil_surrogate", "other")
    (tmp_path / "m.json").write_text(meta)
    with pytest.raises(ModelError, match="not a soil surrogate"):
        SoilSurrogate.load(tmp_path / "m")
    with pytest.raises(ModelError, match="not found"):
        SoilSurrogate.load(tmp_path / "none")
    with pytest.raises(InputError, match="objects are 1…6"):
        SoilSurrogate(net, 9)


def test_channels_are_band_pairs():
    hu = np.array([[[-2048, -1025, -1, 0, 2047, 2048, 4096, 9000]]], dtype=np.int16)
    x = slice_channels(hu, PreprocessConfig())
    assert x.shape == (1, 3, 1, 8)
    # shifted 0, 1023, 2047 | 2048, 4095 | 4096, 6144, 6144 (clipped)
    np.testing.assert_allclose(x[0, 0, 0], [0.5, 0.5 + 1023 / 4096, 0.5 + 2047 / 4096, 0, 0,
                                            0, 0, 0])
    np.testing.assert_allclose(x[0, 1, 0], [0, 0, 0, 0.5, 0.5 + 2047 / 4096, 0, 0, 0])
    np.testing.assert_allclose(x[0, 2, 0], [0, 0, 0, 0, 0, 0.5, 1.0, 1.0])


def test_split_by_slice():
    train, val = split_slices(100, 0.2, seed=3)
    assert len(train) == 80 and len(val) == 20 and not set(train) & set(val)
    assert np.array_equal(split_slices(100, 0.2, 3)[1], val)
    assert len(split_slices(2, 0.2, 0)[1]) == 1


def test_find_cores(tmp_path, tiny_cores):
    from engines.imaging.volume_io import write_volume

    write_volume(tiny_cores[0].volume, tmp_path / "set" / "a", format="dicom")
    write_volume(tiny_cores[1].volume, tmp_path / "set" / "deeper" / "b.nii.gz")
    (tmp_path / "set" / "notes.txt").write_text("not a core")
    found = find_cores(tmp_path / "set")
    assert [p.name for p in found] == ["a", "b.nii.gz"]
    assert find_cores(tmp_path / "set" / "a") == [tmp_path / "set" / "a"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="^empty: no core found"):
        find_cores(tmp_path / "empty")


def test_core_slices_follow_the_analysis(tiny_slices):
    core = tiny_slices[0]
    assert core.hu.shape == (48, 16, 16) and core.targets.shape == (48, 6)
    assert core.channels([0, 5]).shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(core.target(4), core.targets[:, 3])
    np.testing.assert_array_equal(core.slice_index, np.arange(48))
