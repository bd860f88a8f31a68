"""The :class:`NoduleDetector` bundle: an SSD of :mod:`engines.nodules.detectors` with its
preprocessing and operating thresholds, saved as ``MODEL.safetensors`` + ``MODEL.json``.

The sidecar holds the detector configuration (architecture, default boxes, NMS), the
preprocessing (HU window, pixel size, neighbour distance), the two thresholds chosen on
validation scans — ``slice_threshold`` for 2-D boxes and ``threshold`` for 3-D candidates —,
the detection settings it was validated with, the training record and the measured figures.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.config import from_json, to_json
from engines.core.errors import InputError, ModelError
from engines.nodules.detectors import DetectorConfig, create_detector
from engines.nodules.preprocess import PreprocessConfig

KIND = "lablens.nodule_detector"


def _slice_net(ssd):
    """A module ``(N, 3, H, W) → (N, K, 5)``: each image's detections as rows ``x0, y0, x1,
    y1, score`` (model pixels), padded with score −1; SSD's own backbone, head, default boxes
    and post-processing, the latter in float32 (outside any autocast)."""
    import torch
    from torchvision.models.detection.image_list import ImageList

    class SliceNet(torch.nn.Module):
        def __init__(self, detector) -> None:
            super().__init__()
            self.detector = detector

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ssd = self.detector
            features = list(ssd.backbone(ssd.transform.normalise(x)).values())
            head = ssd.head(features)
            images = ImageList(x, [tuple(x.shape[-2:])] * x.shape[0])
            with torch.autocast(x.device.type, enabled=False):
                anchors = ssd.anchor_generator(images, features)
                found = ssd.postprocess_detections({k: v.float() for k, v in head.items()},
                                                   anchors, images.image_sizes)
            out = torch.full((x.shape[0], ssd.detections_per_img, 5), -1.0, device=x.device)
            for i, d in enumerate(found):
                n = len(d["scores"])
                out[i, :n, :4] = d["boxes"]
                out[i, :n, 4] = d["scores"]
            return out

    return SliceNet(ssd)


class NoduleDetector:
    """A trained nodule detector ready for inference.

    Parameters
    ----------
    net
        The SSD from :func:`engines.nodules.detectors.create_detector`.
    detector, preprocess
        Its configuration and the preprocessing it was trained with.
    slice_threshold, threshold
        Default score thresholds of 2-D slice boxes and of 3-D candidates.
    detect_settings
        Settings of :class:`engines.nodules.detect.DetectConfig` the thresholds were chosen
        with (JSON; empty = its defaults).
    training, metrics
        JSON-able training record and measured figures.
    """

    def __init__(self, net, detector: DetectorConfig, preprocess: PreprocessConfig,
                 slice_threshold: float = 0.5, threshold: float = 0.5,
                 detect_settings: dict[str, Any] | None = None,
                 training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.detector = detector
        self.preprocess = preprocess
        self.slice_threshold = float(slice_threshold)
        self.threshold = float(threshold)
        self.detect_settings = dict(detect_settings or {})
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})
        self._slice_net = _slice_net(self.net)

    @classmethod
    def untrained(cls, detector: DetectorConfig | None = None,
                  preprocess: PreprocessConfig | None = None) -> NoduleDetector:
        """A detector with random weights (the start of training, and tests)."""
        detector = detector or DetectorConfig()
        preprocess = preprocess or PreprocessConfig()
        return cls(create_detector(detector, preprocess.pixel_mm), detector, preprocess)

    @property
    def arch(self) -> str:
        return self.detector.arch

    @property
    def device(self):
        return next(self.net.parameters()).device

    def to(self, device) -> NoduleDetector:
        """Move the network to ``device``; returns self."""
        import torch

        self.net.to(torch.device(device))
        return self

    def iter_predict(self, images: np.ndarray, batch_size: int = 8
                     ) -> Generator[tuple[int, list[np.ndarray]], None, None]:
        """Detections batch by batch: ``(images done, [(k, 5) x0, y0, x1, y1, score per
        image])`` in model pixels, score ≥ the detector's floor, after NMS."""
        from engines.core.inference import Predictor

        self.net.eval()
        predictor = Predictor(self._slice_net, batch_size)
        for done, out in predictor.batches(images):
            yield done, [rows[rows[:, 4] >= 0] for rows in out]

    def predict(self, images: np.ndarray, batch_size: int = 8) -> list[np.ndarray]:
        """All detections of images (N, 3, H, W) float32 in [0, 1] (see :meth:`iter_predict`)."""
        found: list[np.ndarray] = []
        for _, rows in self.iter_predict(images, batch_size):
            found.extend(rows)
        return found

    def describe(self) -> str:
        p, d = self.preprocess, self.detector
        lines = [f"{d.arch} (torchvision SSD parts), default boxes {d.min_box_mm:g}–"
                 f"{d.max_box_mm:g} mm, NMS IoU {d.nms_iou:g}",
                 f"Input: HU {p.hu_window[0]:g}…{p.hu_window[1]:g} → 0…1, {p.pixel_mm:g} mm "
                 f"pixels, 2.5-D neighbours "
                 + ("z±1" if p.context_mm <= 0 else f"≈{p.context_mm:g} mm away"),
                 f"Thresholds: slice boxes {self.slice_threshold:.3f}, candidates "
                 f"{self.threshold:.3f}"]
        val = self.metrics.get("validation")
        if isinstance(val, dict) and "cpm" in val:
            lines.append(f"Validation: per-slice recall {val.get('recall', float('nan')):.3f} "
                         f"at precision {val.get('precision', float('nan')):.3f}; CPM "
                         f"{val['cpm']:.3f}")
        if "scans" in self.training:
            lines.append(f"Trained on {self.training['scans']} scans "
                         f"({self.training.get('data', 'this session')}), "
                         f"{self.training.get('steps_run', '?')} steps")
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        return {"kind": KIND, "detector": to_json(self.detector),
                "preprocess": to_json(self.preprocess),
                "slice_threshold": self.slice_threshold, "threshold": self.threshold,
                "detect": self.detect_settings, "training": self.training,
                "metrics": self.metrics}

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; ``half`` stores fp16 weights."""
        from engines.core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.net.state_dict(), self.metadata(), half=half)

    @classmethod
    def load(cls, path: str | Path, device: Any = "cpu") -> NoduleDetector:
        """Load a model file; ModelError when missing, malformed or not a nodule model."""
        from engines.core.checkpoint import (
            check_described_network,
            load_checkpoint,
            load_state_dict_strict,
        )

        tensors, meta = load_checkpoint(path)
        name = Path(path).name
        if meta.get("kind") != KIND:
            raise ModelError(f"{name}: not a nodule detector (kind {meta.get('kind')!r})")
        try:
            detector = from_json(DetectorConfig, meta.get("detector"), f"{name} detector")
            preprocess = from_json(PreprocessConfig, meta.get("preprocess"),
                                   f"{name} preprocessing")
            slice_threshold = float(meta.get("slice_threshold", 0.5))
            threshold = float(meta.get("threshold", 0.5))
        except (InputError, TypeError, ValueError) as exc:
            raise ModelError(f"{name}: bad model description ({exc})") from None
        if not (0 <= slice_threshold <= 1 and 0 <= threshold <= 1):
            raise ModelError(f"{name}: thresholds must lie in 0…1")
        net = check_described_network(lambda: create_detector(detector, preprocess.pixel_mm),
                                      tensors, name)
        load_state_dict_strict(net, tensors, name)
        model = cls(net, detector, preprocess, slice_threshold, threshold,
                    meta.get("detect") if isinstance(meta.get("detect"), dict) else None,
                    meta.get("training") if isinstance(meta.get("training"), dict) else None,
                    meta.get("metrics") if isinstance(meta.get("metrics"), dict) else None)
        return model.to(device)
