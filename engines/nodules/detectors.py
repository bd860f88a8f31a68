"""SSD detectors for nodules on axial slices, built from torchvision parts.

Every detector is torchvision's :class:`~torchvision.models.detection.SSD` with its parts
swapped, not a copied class:

* **backbone**: a torchvision classifier built with ``weights=None`` (nothing is downloaded),
  tapped at strides 4, 8 and 16 (and 2 when ``finest_stride`` is 2) by
  :class:`~torchvision.models.detection.backbone_utils.BackboneWithFPN` (a feature pyramid
  adds context to the fine levels, and its max-pool gives a stride-32 level);
* **head**: :class:`~torchvision.models.detection.ssdlite.SSDLiteHead` (depthwise separable)
  for the ``ssdlite_*`` names, :class:`~torchvision.models.detection.ssd.SSDHead` otherwise;
  2 classes (background, nodule);
* **default boxes**: :class:`SizedAnchors`, square boxes of fixed *millimetre* sizes
  (``min_box_mm`` … ``max_box_mm``, ``boxes_per_octave`` sizes per doubling, i.e. the 3–30 mm
  nodules and the smaller circles of slices that graze them) at the model's pixel size, each
  size on the coarsest pyramid level whose stride is at most size / ``box_stride_ratio``.
  With a ratio of 3 a true box at any position has a default box of about its size with
  IoU ≥ 0.5 (a same-size box shifted by half a stride in x and y keeps IoU ≥ 0.5 while the
  stride is ≤ 0.37 × its side), so SSD's IoU-0.5 matching has positives for every box of at
  least 3 strides (6 px = 4.2 mm at 0.7 mm with the stride-2 level), not only the one forced
  best match; torchvision's ``DefaultBoxGenerator`` scales boxes with the image
  size, which would change their size in mm with the crop of each scan;
* **transform**: :class:`PlainTransform`, which only normalises: slices arrive already
  resampled to the model's pixel size (:mod:`engines.nodules.preprocess`), so torchvision's
  resizing transform would distort them.

Matching is SSD's: a default box is a positive when its IoU with a true box is ≥ 0.5 (the
paper's threshold), and every true box gets its best default box; hard negatives 3:1; NMS on
the outputs. ``--init PATH`` loads local backbone weights, or a whole model to fine-tune
(:func:`load_backbone_weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.config import param, validate
from engines.core.errors import InputError, ModelError
from engines.core.registry import Registry

BACKBONES: Registry = Registry("nodule detector")
LEVEL_STRIDES = (4, 8, 16, 32)
#: the pyramid with a stride-2 level (``finest_stride=2``), for boxes of a few pixels
FINE_LEVEL_STRIDES = (2, 4, 8, 16, 32)
#: Input normalisation of the windowed [0, 1] images (lung ≈ 0.1, soft tissue ≈ 0.75).
IMAGE_MEAN, IMAGE_STD = 0.35, 0.3
#: Batch-norm momentum of every layer. torchvision's MobileNets use 0.01 (and the SSDlite head
#: 0.03), fit for ImageNet-length runs: after a few hundred steps their running statistics
#: are still near their initial values, so in eval mode every anchor scored the same (~0.3)
#: and a CPU-length training found nothing. 0.1 (PyTorch's default) follows within ~30 steps.
BN_MOMENTUM = 0.1


def _detector_names() -> tuple[str, ...]:
    return tuple(BACKBONES.names())


@dataclass(frozen=True)
class DetectorConfig:
    """The network: architecture, default boxes and output filtering (stored with the model)."""

    arch: str = param("ssdlite_mobilenet_v3_large", label="Architecture",
                      choices=_detector_names, help="SSD / SSDlite and its backbone")
    min_box_mm: float = param(2.0, label="Smallest default box", unit="mm",
                              range=(0.5, 20.0))
    max_box_mm: float = param(40.0, label="Largest default box", unit="mm",
                              range=(5.0, 100.0))
    boxes_per_octave: int = param(3, label="Box sizes per octave", range=(1, 8),
                                  help="default box sizes per doubling of the side (2: steps "
                                       "of √2)")
    box_stride_ratio: float = param(3.0, label="Box / stride", range=(1.0, 8.0), step=0.25,
                                    decimals=2, help="a box size goes to the coarsest level "
                                                     "whose stride is at most its side / this")
    finest_stride: int = param(2, label="Finest stride", unit="px", choices=(2, 4),
                               help="2 adds a stride-2 pyramid level for boxes of a few "
                                    "pixels")
    fpn_channels: int = param(64, label="Pyramid channels", range=(8, 512),
                              help="feature-pyramid width (64 suits the SSDlite models)")
    match_iou: float = param(0.5, label="Matching IoU", range=(0.1, 0.9), step=0.05,
                             decimals=2, help="default boxes with at least this IoU with a "
                                              "true box are trained as nodules (paper: 0.5)")
    nms_iou: float = param(0.3, label="NMS IoU", range=(0.05, 0.95), step=0.05, decimals=2,
                           help="non-maximum suppression of overlapping detections")
    score_floor: float = param(0.05, label="Lowest kept score", range=(0.0, 1.0),
                               help="slice detections below are dropped")
    max_per_slice: int = param(30, label="Detections per slice", range=(1, 500))

    def __post_init__(self) -> None:
        validate(self)
        if self.max_box_mm <= self.min_box_mm:
            raise InputError("the largest default box must exceed the smallest")

    @property
    def strides(self) -> tuple[int, ...]:
        """Strides of the pyramid levels, finest first."""
        return FINE_LEVEL_STRIDES if self.finest_stride == 2 else LEVEL_STRIDES

    def box_sizes_mm(self) -> np.ndarray:
        """Default box sides (mm), a geometric series of ``boxes_per_octave`` per doubling
        from ``min_box_mm`` to ``max_box_mm``."""
        step = 2.0 ** (1.0 / self.boxes_per_octave)
        count = int(np.floor(np.log(self.max_box_mm / self.min_box_mm) / np.log(step) + 1e-9))
        return self.min_box_mm * step ** np.arange(count + 1)

    def level_sizes(self, pixel_mm: float) -> list[list[float]]:
        """Default box sides (model pixels) per pyramid level (:attr:`strides`): a size goes to
        the coarsest level whose stride is at most size / ``box_stride_ratio`` (the finest
        when none is); an empty level gets one box ``box_stride_ratio`` strides wide."""
        sizes = self.box_sizes_mm() / pixel_mm
        levels: list[list[float]] = [[] for _ in self.strides]
        for size in sizes:
            fits = [i for i, s in enumerate(self.strides) if s <= size / self.box_stride_ratio]
            levels[fits[-1] if fits else 0].append(float(size))
        return [lv or [self.box_stride_ratio * self.strides[i]] for i, lv in enumerate(levels)]


def _module_classes():
    """torch modules defined lazily (torch is imported only when a detector is built)."""
    import torch
    from torch import nn
    from torchvision.models.detection.image_list import ImageList

    class SizedAnchors(nn.Module):
        """Square default boxes of fixed pixel sizes per feature level, centred on every cell
        (``forward`` gives one (A, 4) x0, y0, x1, y1 tensor per image, positions row-major,
        then sizes: the order of torchvision's SSD heads)."""

        def __init__(self, sizes: list[list[float]]) -> None:
            super().__init__()
            self.sizes = [list(map(float, s)) for s in sizes]
            self.aspect_ratios = [[] for _ in sizes]  # for SSD's length check
            self._cache: dict[Any, torch.Tensor] = {}

        def num_anchors_per_location(self) -> list[int]:
            return [len(s) for s in self.sizes]

        def _grid(self, image_hw, feature_hw, sizes, device, dtype):
            key = (image_hw, feature_hw, tuple(sizes), device, dtype)
            if key not in self._cache:
                (h, w), (fh, fw) = image_hw, feature_hw
                cy = (torch.arange(fh, dtype=dtype, device=device) + 0.5) * (h / fh)
                cx = (torch.arange(fw, dtype=dtype, device=device) + 0.5) * (w / fw)
                yy, xx = torch.meshgrid(cy, cx, indexing="ij")
                centres = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
                half = torch.tensor(sizes, dtype=dtype, device=device) / 2
                offsets = torch.stack([-half, -half, half, half], dim=-1)[None]
                self._cache[key] = (centres + offsets).reshape(-1, 4)
            return self._cache[key]

        def forward(self, image_list, feature_maps):
            image_hw = tuple(image_list.tensors.shape[-2:])
            device, dtype = feature_maps[0].device, torch.float32
            anchors = torch.cat([self._grid(image_hw, tuple(f.shape[-2:]), s, device, dtype)
                                 for f, s in zip(feature_maps, self.sizes, strict=True)])
            return [anchors for _ in range(image_list.tensors.shape[0])]

    class PlainTransform(nn.Module):
        """SSD's transform without resizing: normalise and batch equally sized images."""

        def __init__(self, mean: float, std: float) -> None:
            super().__init__()
            self.mean, self.std = float(mean), float(std)

        def normalise(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.mean) / self.std

        def forward(self, images, targets=None):
            batch = images if isinstance(images, torch.Tensor) else torch.stack(list(images))
            sizes = [tuple(batch.shape[-2:])] * batch.shape[0]
            return ImageList(self.normalise(batch), sizes), targets

        def postprocess(self, result, image_shapes, original_image_sizes):
            return result

    return SizedAnchors, PlainTransform


@dataclass(frozen=True)
class Backbone:
    """A torchvision classifier and where to tap it: ``build()`` → module whose named
    children run in order, ``layers`` the children giving strides 4, 8, 16, ``channels``;
    ``fine`` the child and channels at stride 2 (None: the backbone has no stride-2 tap)."""

    build: Callable[[], Any]
    layers: tuple[str, str, str]
    channels: tuple[int, int, int]
    lite: bool
    fine: tuple[str, int] | None = None


def _register(name: str, backbone: Backbone) -> None:
    BACKBONES.register(name)(lambda: backbone)


def _tv(model: str, features: bool = True):
    def build():
        import torchvision

        net = getattr(torchvision.models, model)(weights=None)
        return net.features if features else net

    return build


_register("ssdlite_mobilenet_v3_large",
          Backbone(_tv("mobilenet_v3_large"), ("3", "6", "12"), (24, 40, 112), True,
                   ("1", 16)))
_register("ssdlite_mobilenet_v3_small",
          Backbone(_tv("mobilenet_v3_small"), ("1", "3", "8"), (16, 24, 48), True,
                   ("0", 16)))
_register("ssdlite_mobilenet_v2",
          Backbone(_tv("mobilenet_v2"), ("3", "6", "13"), (24, 32, 96), True, ("1", 16)))
_register("ssd_resnet50",
          Backbone(_tv("resnet50", features=False), ("layer1", "layer2", "layer3"),
                   (256, 512, 1024), False, ("relu", 64)))
_register("ssd_vgg16", Backbone(_tv("vgg16"), ("15", "22", "29"), (256, 512, 512), False,
                                ("8", 128)))


def create_detector(config: DetectorConfig | None = None, pixel_mm: float = 0.7):
    """Build the SSD of ``config.arch`` for images of ``pixel_mm`` mm pixels (random weights).

    Raises
    ------
    InputError
        Unknown architecture (the message lists the valid names), or ``finest_stride`` 2 for
        a backbone without a stride-2 tap.
    """
    from torch import nn
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.ssd import SSD, SSDHead
    from torchvision.models.detection.ssdlite import SSDLiteHead

    config = config or DetectorConfig()
    spec: Backbone = BACKBONES.create(config.arch)
    SizedAnchors, PlainTransform = _module_classes()
    layers, channels = list(spec.layers), list(spec.channels)
    if config.finest_stride == 2:
        if spec.fine is None:
            raise InputError(f"{config.arch} has no stride-2 level; use a finest stride of 4")
        layers, channels = [spec.fine[0], *layers], [spec.fine[1], *channels]
    backbone = BackboneWithFPN(spec.build(), {name: str(i) for i, name in enumerate(layers)},
                               channels, config.fpn_channels)
    anchors = SizedAnchors(config.level_sizes(pixel_mm))
    levels = [config.fpn_channels] * len(config.strides)
    counts = anchors.num_anchors_per_location()
    if spec.lite:
        head = SSDLiteHead(levels, counts, 2, partial(nn.BatchNorm2d, eps=0.001, momentum=0.03))
    else:
        head = SSDHead(levels, counts, 2)
    model = SSD(backbone, anchors, (320, 320), 2, head=head, score_thresh=config.score_floor,
                nms_thresh=config.nms_iou, detections_per_img=config.max_per_slice,
                iou_thresh=config.match_iou, topk_candidates=10 * config.max_per_slice)
    model.transform = PlainTransform(IMAGE_MEAN, IMAGE_STD)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = BN_MOMENTUM
    return model


def _read_weights(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise ModelError(f"{path.name}: backbone weights not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to decode is a bad file
        raise ModelError(f"{path.name}: not readable as weights ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:120]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"],
                                                                        dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelError(f"{path.name}: expected a state dict of named tensors")
    return state


def load_backbone_weights(detector, path: str | Path) -> int:
    """Copy local weights into the detector; returns how many tensors were loaded.

    ``path``: a ``.safetensors`` file, or a ``torch.save`` state dict read with
    ``torch.load(weights_only=True)`` (never unpickling code). It may hold

    * a whole detector of the same architecture (a LabLens nodule model's ``.safetensors``):
      every weight is loaded, to fine-tune it;
    * a torchvision classifier (``features.0.0.weight``, ``layer1.0.conv1.weight``, ... — its
      head is ignored) or a detector's ``backbone.body.*``: the backbone is loaded.

    Raises
    ------
    ModelError
        An unreadable file, or one of which fewer than half of the backbone's tensors fit.
    """
    import torch

    path = Path(path)
    state = _read_weights(path)
    whole = detector.state_dict()
    if all(k in state and tuple(state[k].shape) == tuple(v.shape) for k, v in whole.items()):
        detector.load_state_dict({k: state[k].to(v.dtype) for k, v in whole.items()})
        return len(whole)
    body = detector.backbone.body.state_dict()
    loaded = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        for name in (key.removeprefix("backbone.body."), key.removeprefix("features.")):
            if name in body and body[name].shape == value.shape:
                loaded[name] = value.to(body[name].dtype)
                break
    if len(loaded) < len(body) / 2:
        raise ModelError(f"{path.name}: only {len(loaded)} of the {len(body)} backbone tensors "
                         f"fit this {type(detector.backbone.body).__name__} "
                         "(weights of another architecture?)")
    detector.backbone.body.load_state_dict(loaded, strict=False)
    return len(loaded)


def ssd_losses(model, images, targets, min_negatives: int = 0) -> dict[str, Any]:
    """SSD's training losses (``bbox_regression``, ``classification``) with hard negatives
    mined per image as ``max(3 × positives, min_negatives)``.

    torchvision's :meth:`~torchvision.models.detection.SSD.compute_loss` mines 3 negatives
    per positive default box *of the same image*, so a crop without a nodule (a negative slice,
    vessels in cross-section) adds nothing to the loss, and one with a tiny nodule (one or two
    matched boxes) only a handful. Here the same forward pass and matching run through the
    model's own parts, :meth:`compute_loss` gives its two terms, and the negatives ranked
    ``3p … max(3p, min_negatives)`` of each image (hardest first, none a positive) are added to
    the classification term with the same normalisation (the batch's positive count).
    ``min_negatives=0`` is torchvision's loss exactly.
    """
    import torch
    import torch.nn.functional as F
    from torchvision.ops import boxes as box_ops

    image_list, targets = model.transform(images, targets)
    features = list(model.backbone(image_list.tensors).values())
    head_outputs = model.head(features)
    anchors = model.anchor_generator(image_list, features)
    matched = []
    for anchors_per_image, target in zip(anchors, targets, strict=True):
        if target["boxes"].numel() == 0:
            matched.append(torch.full((anchors_per_image.size(0),), -1, dtype=torch.int64,
                                      device=anchors_per_image.device))
        else:
            matched.append(model.proposal_matcher(box_ops.box_iou(target["boxes"],
                                                                  anchors_per_image)))
    losses = model.compute_loss(targets, head_outputs, anchors, matched)
    if min_negatives <= 0:
        return losses
    foreground = torch.stack(matched) >= 0
    logits = head_outputs["cls_logits"]
    background = F.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                 torch.zeros(logits.shape[:2], dtype=torch.int64,
                                             device=logits.device).reshape(-1),
                                 reduction="none").view(logits.shape[:2])
    background = background.masked_fill(foreground, -float("inf"))
    ranked = background.sort(dim=1, descending=True).values
    mined = model.neg_to_pos_ratio * foreground.sum(dim=1, keepdim=True)
    rank = torch.arange(ranked.size(1), device=ranked.device)[None]
    extra = (rank >= mined) & (rank < torch.clamp(mined, min=min_negatives)) & ranked.isfinite()
    n = max(1, int(foreground.sum()))
    losses["classification"] = losses["classification"] + ranked[extra].sum() / n
    return losses
