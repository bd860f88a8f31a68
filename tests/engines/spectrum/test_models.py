import pytest
import torch

from engines.core.errors import InputError
from engines.spectrum.cam import class_activation_maps
from engines.spectrum.models import (
    MODELS,
    InceptionResNet1dConfig,
    config_to_json,
    create_model,
    make_config,
)


class BaseModelTester:
    """Checks every spectrum model must pass; subclasses name the model and a tiny config."""

    name: str
    config: dict
    downsampling: int
    n_classes = 3
    in_channels = 2
    length = 256

    def build(self, seed: int = 0):
        torch.manual_seed(seed)
        return create_model(self.name, self.n_classes, self.in_channels, **self.config)

    def batch(self, size: int = 4):
        generator = torch.Generator().manual_seed(1)
        return torch.rand(size, self.in_channels, self.length, generator=generator)

    def test_output_and_feature_shapes(self):
        model = self.build().eval()
        x = self.batch()
        features = model.features(x)
        assert features.shape == (4, model.n_features, self.length // self.downsampling)
        assert model(x).shape == (4, self.n_classes)
        assert model.arch == self.name and model.in_channels == self.in_channels
        assert isinstance(model.classifier, torch.nn.Linear)

    def test_cam_is_exact(self):
        model = self.build().eval()
        x = self.batch()
        with torch.no_grad():
            logits, maps = class_activation_maps(model, x)
            expected = model(x)
        assert maps.shape == (4, self.n_classes, self.length // self.downsampling)
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)

    def test_overfits_one_batch(self):
        model = self.build().train()
        x = self.batch(8)
        y = torch.arange(8) % self.n_classes
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(25):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]

    def test_deterministic_under_a_seed(self):
        x = self.batch()
        a, b, c = self.build(7).eval(), self.build(7).eval(), self.build(8).eval()
        with torch.no_grad():
            assert torch.equal(a(x), b(x))
            assert not torch.equal(a(x), c(x))

    def test_any_input_length_works(self):
        model = self.build().eval()
        with torch.no_grad():
            assert model(torch.rand(2, self.in_channels, 1000)).shape == (2, self.n_classes)

    def test_config_roundtrip_rebuilds_the_same_weights_layout(self):
        model = self.build()
        again = create_model(self.name, self.n_classes, self.in_channels,
                             **config_to_json(model.config))
        assert again.config == model.config
        again.load_state_dict(model.state_dict(), strict=True)


class TestInceptionResNet1d(BaseModelTester):
    name = "inception_resnet_1d"
    config = {"width": 0.0625, "blocks": (1, 1, 1), "stem_stride": 2, "stem_kernel": 3}
    downsampling = 32


class TestSmallCnn(BaseModelTester):
    name = "small_cnn"
    config = {"channels": (8, 16, 16), "kernels": (5, 3, 3), "stem_stride": 2}
    downsampling = 8


def test_registry_names_and_errors():
    assert MODELS.names() == ["inception_resnet_1d", "small_cnn"]
    with pytest.raises(InputError, match="valid names: inception_resnet_1d, small_cnn"):
        create_model("resnet", 3, 2)
    with pytest.raises(InputError, match="unknown inception_resnet_1d settings: depth"):
        create_model("inception_resnet_1d", 3, 2, depth=3)
    with pytest.raises(InputError, match="unknown preset"):
        create_model("small_cnn", 3, 2, preset="paper")
    with pytest.raises(InputError, match="at least 2 classes"):
        create_model("small_cnn", 1, 2)
    with pytest.raises(InputError, match="width"):
        make_config("inception_resnet_1d", width=0.0)
    with pytest.raises(InputError, match="blocks"):
        make_config("inception_resnet_1d", blocks=(1, 2))
    with pytest.raises(InputError, match="odd"):
        make_config("small_cnn", kernels=(4, 3, 3, 3))


def test_presets_differ_only_by_config():
    paper = make_config("inception_resnet_1d", "paper")
    cpu = make_config("inception_resnet_1d", "cpu")
    assert paper == InceptionResNet1dConfig()
    assert paper.blocks == (10, 20, 10) and paper.width == 1.0
    assert cpu.width < paper.width and cpu.stem_stride > paper.stem_stride
    assert make_config("inception_resnet_1d", "cpu", width=0.5).width == 0.5


def test_paper_preset_is_the_full_size_network():
    model = create_model("inception_resnet_1d", 12, 2, preset="paper")
    assert model.parameter_count() > 40_000_000
    assert model.n_features == 1536
    small = create_model("inception_resnet_1d", 12, 2, preset="cpu")
    assert small.parameter_count() < 1_000_000
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 2, 512)).shape == (1, 12)
