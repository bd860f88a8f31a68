"""The SSD registry: every backbone builds from torchvision parts, default boxes in mm,
local backbone weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.core.box_metrics import box_iou
from engines.core.errors import InputError, ModelError
from engines.nodules.detectors import (
    BACKBONES,
    DetectorConfig,
    create_detector,
    load_backbone_weights,
)

NAMES = ("ssd_resnet50", "ssd_vgg16", "ssdlite_mobilenet_v2", "ssdlite_mobilenet_v3_large",
         "ssdlite_mobilenet_v3_small")


def test_registry_lists_the_architectures():
    assert tuple(BACKBONES.names()) == NAMES
    with pytest.raises(InputError, match="yolo.*ssd_resnet50"):
        DetectorConfig(arch="yolo")


@pytest.mark.parametrize("name", NAMES)
def test_each_detector_trains_and_detects(name):
    torch.manual_seed(0)
    model = create_detector(DetectorConfig(arch=name), pixel_mm=0.7)
    from torchvision.models.detection.ssd import SSD

    assert type(model) is SSD                      # torchvision's class, parts swapped
    model.train()
    images = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[20.0, 20.0, 30.0, 30.0]]),
                "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    losses = model(images, targets)
    assert set(losses) == {"bbox_regression", "classification"}
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 96, 64)])[0]      # any size: fully convolutional
    assert out["boxes"].shape[1] == 4 and torch.all(out["scores"] >= 0.05)


def test_default_boxes_are_millimetres_at_the_pixel_size():
    config = DetectorConfig(min_box_mm=2.5, max_box_mm=40.0)
    sizes = config.box_sizes_mm()
    np.testing.assert_allclose(sizes[[0, -1]], [2.5, 40.0])
    for pixel_mm in (0.5, 0.7, 1.4):
        levels = config.level_sizes(pixel_mm)
        assert len(levels) == len(config.strides) and all(levels)
        flat = sorted(s for level in levels for s in level)
        assert flat[0] == pytest.approx(2.5 / pixel_mm) or pixel_mm == 1.4
    model = create_detector(config, 0.7)
    from torchvision.models.detection.image_list import ImageList

    features = [torch.zeros(1, 1, 64 // s, 64 // s) for s in config.strides]
    anchors = model.anchor_generator(ImageList(torch.zeros(1, 3, 64, 64), [(64, 64)]),
                                     features)[0]
    first = anchors[:len(config.level_sizes(0.7)[0])]
    np.testing.assert_allclose(((first[:, 0] + first[:, 2]) / 2).numpy(),
                               config.strides[0] / 2, rtol=1e-6)  # cell centre
    np.testing.assert_allclose((first[:, 2] - first[:, 0]).numpy(), config.level_sizes(0.7)[0],
                               rtol=1e-5)


def _default_boxes(config: DetectorConfig, pixel_mm: float, size: int = 128) -> np.ndarray:
    model = create_detector(config, pixel_mm)
    from torchvision.models.detection.image_list import ImageList

    features = [torch.zeros(1, 1, size // s, size // s) for s in config.strides]
    return model.anchor_generator(ImageList(torch.zeros(1, 3, size, size), [(size, size)]),
                                  features)[0].numpy()


def test_every_nodule_box_has_a_default_box_at_the_matching_iou():
    """With sizes 2^(1/3) apart, strides of at most a third of a box and a stride-2 level, a
    true box of 3.5–35 mm anywhere has a default box with IoU ≥ 0.5, so SSD's matching has real
    positives; the old √2 sizes with strides up to size / 1.25 (no stride-2 level) left most
    small boxes without one."""
    rng = np.random.default_rng(0)
    pixel_mm = 0.7
    new = _default_boxes(DetectorConfig(min_box_mm=2.0), pixel_mm)
    old = _default_boxes(DetectorConfig(min_box_mm=2.5, boxes_per_octave=2,
                                        box_stride_ratio=1.25, finest_stride=4), pixel_mm)
    for side_mm in (3.5, 4.5, 7.0, 12.0, 20.0, 33.0):
        side = side_mm / pixel_mm
        centres = 64 + rng.uniform(0, 16, (50, 2))
        truth = np.c_[centres - side / 2, centres + side / 2]
        assert box_iou(truth, new).max(axis=1).min() >= 0.5, side_mm
        if side_mm <= 3.5:
            assert np.mean(box_iou(truth, old).max(axis=1) >= 0.5) < 0.6, side_mm


def test_the_stride_2_level_needs_a_backbone_tap():
    for name in NAMES:
        spec = BACKBONES.create(name)
        assert spec.fine is not None
    model = create_detector(DetectorConfig(arch="ssdlite_mobilenet_v3_small"), 0.7)
    features = model.backbone(torch.zeros(1, 3, 64, 64))
    assert [f.shape[-1] for f in features.values()] == [32, 16, 8, 4, 2]


def test_local_backbone_weights(tmp_path):
    import torchvision
    from safetensors.torch import save_file

    classifier = torchvision.models.mobilenet_v3_small(weights=None)
    torch.save(classifier.state_dict(), tmp_path / "mnv3s.pth")
    save_file({k: v.contiguous() for k, v in classifier.state_dict().items()},
              str(tmp_path / "mnv3s.safetensors"))
    model = create_detector(DetectorConfig(arch="ssdlite_mobilenet_v3_small"))
    for path in (tmp_path / "mnv3s.pth", tmp_path / "mnv3s.safetensors"):
        assert load_backbone_weights(model, path) > 20
        np.testing.assert_array_equal(model.backbone.body["0"][0].weight.detach().numpy(),
                                      classifier.features[0][0].weight.detach().numpy())
    other = torchvision.models.resnet18(weights=None)
    torch.save(other.state_dict(), tmp_path / "r18.pth")
    with pytest.raises(ModelError, match="r18.pth: only"):
        load_backbone_weights(model, tmp_path / "r18.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="bad.pth: not readable"):
        load_backbone_weights(model, tmp_path / "bad.pth")


def test_batch_norm_statistics_follow_a_short_training():
    """After 30 train-mode batches the running means are those of the data (with
    torchvision's momentum 0.01 they stayed near their start, and eval mode scored every
    anchor alike)."""
    from engines.nodules.detectors import BN_MOMENTUM

    torch.manual_seed(0)
    net = create_detector(DetectorConfig(arch="ssdlite_mobilenet_v3_small"), 1.5)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == BN_MOMENTUM for m in norms)
    first = norms[0]
    seen = []
    first.register_forward_hook(lambda _m, args, _out: seen.append(args[0].mean(dim=(0, 2, 3))))
    net.train()
    with torch.no_grad():
        for _ in range(30):
            net.backbone(net.transform.normalise(torch.rand(2, 3, 64, 64) * 0.2 + 0.6))
    data_mean = torch.stack(seen).mean(dim=0)
    assert data_mean.abs().max() > 0.05  # the start (0) is far from the data
    assert torch.allclose(first.running_mean, data_mean, atol=0.1 * data_mean.abs().max())


def test_hard_negatives_reach_crops_without_a_nodule():
    """``ssd_losses`` is torchvision's SSD loss at ``min_negatives=0``; with a minimum, a crop
    without any nodule (torchvision mines 3 negatives per positive of the same crop: none
    there) adds its hardest background boxes to the classification loss."""
    from engines.nodules.detectors import ssd_losses

    torch.manual_seed(0)
    model = create_detector(DetectorConfig(arch="ssdlite_mobilenet_v3_small"), 0.7).train()
    images = torch.rand(2, 3, 64, 64)
    nodule = {"boxes": torch.tensor([[20.0, 20.0, 30.0, 30.0]]), "labels": torch.tensor([1])}
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    reference = model(images, [dict(nodule), dict(empty)])
    plain = ssd_losses(model, images, [dict(nodule), dict(empty)], 0)
    for key in reference:
        assert float(plain[key]) == pytest.approx(float(reference[key]), rel=1e-5)
    only_nodule = ssd_losses(model, images[:1], [dict(nodule)], 64)
    both = ssd_losses(model, images, [dict(nodule), dict(empty)], 64)
    assert float(both["classification"]) > float(only_nodule["classification"])
    assert float(both["bbox_regression"]) == pytest.approx(float(plain["bbox_regression"]))
    both["classification"].backward()
