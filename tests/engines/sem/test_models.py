"""The model registry, the networks' shapes, FCN-8s's bilinear up-sampling, and where a run
starts (``--init``): sem models with another class count, torchvision state dicts, bare
safetensors, and files that must be refused."""

from __future__ import annotations

import pytest
import torch

from engines.core.errors import InputError
from engines.sem.labels import ClassTable
from engines.sem.models import MODELS, architecture, create_model, segmentation_archs
from engines.sem.preprocessing import Preprocessing
from engines.sem.segmenter import SemSegmenter
from engines.sem.weights import _read_tensors, start_network, transfer

LIGHT = {"fcn8s-vgg16": {"fc_channels": 64}}


def test_registry_lists_names():
    with pytest.raises(InputError, match="valid names: crop-cnn, fcn8s-vgg16"):
        create_model("segformer", 5)
    assert "crop-cnn" not in segmentation_archs() and "unet-resnet18-lite" in segmentation_archs()
    with pytest.raises(InputError, match="2…127 classes"):
        create_model("unet-resnet18", 1)
    with pytest.raises(InputError, match="in_channels"):
        create_model("unet-resnet18", 3, in_channels=2)


@pytest.mark.parametrize("name", sorted(set(MODELS.names()) - {"crop-cnn"}))
def test_segmentation_networks_keep_any_input_size(name):
    net = create_model(name, 4, 1, **LIGHT.get(name, {})).eval()
    with torch.inference_mode():
        out = net(torch.randn(1, 1, 70, 90))
    assert out.shape == (1, 4, 70, 90) and torch.isfinite(out).all()


def test_lite_unet_holds_only_what_it_uses():
    net = create_model("unet-resnet18-lite", 5)
    assert not any("layer4" in k for k in net.state_dict())
    assert sum(p.numel() for p in net.parameters()) < 4e6


def test_fcn8s_upsampling_starts_bilinear():
    net = create_model("fcn8s-vgg16", 2, 1, fc_channels=32)
    x = torch.ones(1, 2, 4, 4)
    up = net.up8(x)
    assert up.shape == (1, 2, 32, 32)
    assert torch.allclose(up[0, :, 8:24, 8:24], torch.ones(2, 16, 16))  # constants stay constant
    assert float(net.score_pool3.weight.detach().abs().sum()) == 0.0


def test_crop_cnn():
    net = create_model("crop-cnn", 5, 1, crop_size=32)
    assert net(torch.randn(3, 1, 32, 32)).shape == (3, 5)
    assert net(torch.randn(3, 1, 50, 40)).shape == (3, 5)
    with pytest.raises(InputError, match="multiple of 8"):
        create_model("crop-cnn", 5, 1, crop_size=30)
    assert architecture("crop-cnn").task == "classify"


def _sem_model(tmp_path, n_classes=5, channels=1):
    net = create_model("unet-resnet18-lite", n_classes, channels)
    names = ClassTable.numbered(n_classes)
    path = tmp_path / f"m{n_classes}"
    SemSegmenter(net, names, Preprocessing(in_channels=channels)).save(path)
    return net, path


def test_init_from_a_sem_model_with_another_class_count(tmp_path):
    source, path = _sem_model(tmp_path, 5)
    start = start_network(str(path), "unet-resnet18-lite", 3, 1)
    assert "classification head re-initialised" in start.notes[0]
    own = start.net.state_dict()
    theirs = source.state_dict()
    assert torch.equal(own["net.encoder.conv1.weight"], theirs["net.encoder.conv1.weight"])
    assert own["net.segmentation_head.0.weight"].shape[0] == 3
    same = start_network(str(path), "unet-resnet18-lite", 5, 1)
    assert torch.equal(same.net.state_dict()["net.segmentation_head.0.weight"],
                       theirs["net.segmentation_head.0.weight"]) and not same.notes
    rgb = start_network(str(path), "unet-resnet18-lite", 5, 3)
    assert torch.allclose(rgb.net.state_dict()["net.encoder.conv1.weight"].sum(1),
                          theirs["net.encoder.conv1.weight"][:, 0], atol=1e-6)
    with pytest.raises(InputError, match="is a unet-resnet18-lite, not a unet-resnet18"):
        start_network(str(path), "unet-resnet18", 5, 1)


def test_init_from_torchvision_state_dicts(tmp_path):
    from torchvision.models import resnet18
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    resnet = resnet18(weights=None).state_dict()
    torch.save(resnet, tmp_path / "resnet18.pth")
    start = start_network(tmp_path / "resnet18.pth", "unet-resnet18", 5, 1)
    own = start.net.state_dict()
    assert torch.allclose(own["net.encoder.conv1.weight"], resnet["conv1.weight"].sum(1,
                                                                                  keepdim=True))
    assert torch.equal(own["net.encoder.layer4.1.bn2.weight"], resnet["layer4.1.bn2.weight"])
    # torchvision's VGG16 naming, with fc6/fc7 of 64 instead of 4096 channels (small file)
    features = make_layers(cfgs["D"]).state_dict()
    vgg = {f"features.{k}": v for k, v in features.items()}
    vgg.update({"classifier.0.weight": torch.randn(64, 25088), "classifier.0.bias":
                torch.randn(64), "classifier.3.weight": torch.randn(64, 64),
                "classifier.3.bias": torch.randn(64), "classifier.6.weight":
                torch.randn(1000, 64), "classifier.6.bias": torch.randn(1000)})
    torch.save({"state_dict": vgg}, tmp_path / "vgg16.pt")
    light = create_model("fcn8s-vgg16", 5, 1, fc_channels=64)
    copied, total, notes = transfer(light, _read_tensors(tmp_path / "vgg16.pt"), "vgg16.pt",
                                    architecture("fcn8s-vgg16").head)
    own = light.state_dict()
    assert torch.equal(own["fc6.weight"], vgg["classifier.0.weight"].reshape(64, 512, 7, 7))
    assert torch.equal(own["fc7.weight"].flatten(1), vgg["classifier.3.weight"])
    assert torch.equal(own["features.28.weight"], vgg["features.28.weight"])
    assert torch.allclose(own["features.0.weight"], vgg["features.0.weight"].sum(1, True))
    assert copied == 30 and "reshaped" in notes[0]


def test_init_from_bare_safetensors_and_refusals(tmp_path):
    from safetensors.torch import save_file

    net = create_model("unet-resnet18-lite", 5)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "w.safetensors")
    start = start_network(tmp_path / "w.safetensors", "unet-resnet18-lite", 5, 1)
    assert start.source.startswith("w.safetensors")
    save_file({"something": torch.zeros(3)}, tmp_path / "other.safetensors")
    with pytest.raises(InputError, match="^other.safetensors: none of its weights fits"):
        start_network(tmp_path / "other.safetensors", "unet-resnet18-lite", 5, 1)
    (tmp_path / "bad.pth").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="^bad.pth: not a weights-only torch state dict"):
        start_network(tmp_path / "bad.pth", "unet-resnet18-lite", 5, 1)

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(InputError, match="^evil.pth: not a weights-only"):
        start_network(tmp_path / "evil.pth", "unet-resnet18-lite", 5, 1)
    with pytest.raises(InputError, match="not found"):
        start_network(tmp_path / "absent.pth", "unet-resnet18-lite", 5, 1)
    (tmp_path / "w.onnx").write_bytes(b"")
    with pytest.raises(InputError, match="must be a sem model"):
        start_network(tmp_path / "w.onnx", "unet-resnet18-lite", 5, 1)
