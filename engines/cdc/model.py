"""The CDC segmentation network and the :class:`CdcSegmenter` bundle that saves, loads and runs it.

Network (paper Sec. 4–5): segmentation_models_pytorch ``Unet`` with an EfficientNet-b0…b7
encoder built with ``encoder_weights=None`` (nothing is downloaded). :class:`CdcNet` takes
images on the cell grid (71×71 or 128×128), resizes them with nearest interpolation to the
input size, pads them with black (no-cell) to a multiple of 32 for the encoder, and brings the
logits back to the grid with bilinear ("linear") interpolation.

Model file: ``MODEL.safetensors`` (network weights, fp16 for the bundled demo) plus
``MODEL.json`` (encoder, image configuration, signal-density table, decision threshold,
training configuration and history, metrics, library versions).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.images import ImageConfig, build_images, cell_scores, pixel_scores_to_hits
from engines.cdc.signal_density import SignalDensity
from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress, drive
from engines.core.registry import Registry

if TYPE_CHECKING:
    import torch

KIND = "lablens.cdc_segmenter"
ENCODERS = tuple(f"efficientnet-b{i}" for i in range(8))
MODELS: Registry = Registry("cdc model")


def _net_class():
    """Build the torch module class lazily (torch is not imported at module import)."""
    import torch
    import torch.nn.functional as F

    class CdcNet(torch.nn.Module):
        """U-Net on cell-grid images.

        ``forward(x)``: x (N, C, H, W) float in [0, 1] on the grid -> logits (N, H, W).
        """

        def __init__(self, encoder: str, in_channels: int, input_size: int,
                     grid_shape: tuple[int, int]) -> None:
            import segmentation_models_pytorch as smp

            super().__init__()
            self.encoder_name = encoder
            self.in_channels = int(in_channels)
            self.input_size = int(input_size)
            self.grid_shape = tuple(int(v) for v in grid_shape)
            self.unet = smp.Unet(encoder, encoder_weights=None, in_channels=self.in_channels,
                                 classes=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            size = self.input_size
            x = F.interpolate(x, size=(size, size), mode="nearest")
            padded = -(-size // 32) * 32
            if padded != size:
                x = F.pad(x, (0, padded - size, 0, padded - size), value=0.0)
            logits = self.unet(x)[:, :, :size, :size]
            logits = F.interpolate(logits.float(), size=self.grid_shape, mode="bilinear",
                                   align_corners=False)
            return logits[:, 0]

    return CdcNet


@MODELS.register("unet")
def _make_unet(encoder: str = "efficientnet-b2", in_channels: int = 3, input_size: int = 288,
               grid_shape: tuple[int, int] = (71, 71)):
    if encoder not in ENCODERS:
        raise InputError(f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)}")
    return _net_class()(encoder, in_channels, input_size, grid_shape)


def create_model(name: str = "unet", **kwargs: Any):
    """Build a CDC network by registry name (``"unet"``); unknown names list the valid ones.

    Keyword arguments: ``encoder`` (``efficientnet-b0`` … ``b7``, default b2),
    ``in_channels`` (2 or 3), ``input_size`` (px), ``grid_shape`` ((71, 71) or (128, 128)).
    """
    return MODELS.create(name, **kwargs)


@dataclass
class Prediction:
    """Scores of N events.

    Attributes
    ----------
    cell_scores : (N, 4986) float32
        Signal probability of every cell (the model's pixel output on the cell grid).
    hit_scores : list of N (n_hits,) float32 arrays
        Per-hit scores (see :func:`engines.cdc.images.pixel_scores_to_hits`).
    """

    cell_scores: np.ndarray
    hit_scores: list[np.ndarray]


class CdcSegmenter:
    """A trained CDC hit-filtering model ready for inference.

    Parameters
    ----------
    net
        A ``CdcNet`` from :func:`create_model`.
    image_config
        How events become images (must match the network's channels, grid and input size).
    density
        (time, ADC) signal density of the training data (hit selection, hit scores).
    threshold
        Default decision threshold on scores (chosen on validation data).
    training, metrics
        JSON-able training settings/history and measured figures for the sidecar.
    """

    def __init__(self, net, image_config: ImageConfig, density: SignalDensity | None,
                 threshold: float = 0.5, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> None:
        if net.in_channels != image_config.channels:
            raise ModelError(f"network takes {net.in_channels} channels but the image "
                             f"configuration makes {image_config.channels}")
        if tuple(net.grid_shape) != image_config.grid_shape:
            raise ModelError("network grid and image format differ")
        if image_config.hit_selection == "density" and density is None:
            raise ModelError("model uses density hit selection but carries no density table")
        self.net = net.eval()
        self.image_config = image_config
        self.density = density
        self.threshold = float(threshold)
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})

    @property
    def encoder(self) -> str:
        return self.net.encoder_name

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> CdcSegmenter:
        """Move the network to ``device`` (channels_last on CUDA); returns self."""
        import torch

        device = torch.device(device)
        self.net.to(device)
        if device.type == "cuda":
            self.net.to(memory_format=torch.channels_last)
        return self

    def predict_images(self, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Signal probability per pixel, (N, H, W) float32, for grid images (N, C, H, W)."""
        from engines.core.inference import predict_array

        if len(images) == 0:
            return np.zeros((0, *self.image_config.grid_shape), np.float32)
        return predict_array(self.net, images, batch_size, output=lambda x: x.float().sigmoid())

    def iter_predict(self, events: Sequence[Event], batch_size: int = 16
                     ) -> Generator[Progress, None, Prediction]:
        """Score events batch by batch; yields Progress, returns a :class:`Prediction`."""
        n = len(events)
        cells, hits = [], []
        for start in range(0, n, max(1, int(batch_size))):
            chunk = list(events[start:start + batch_size])
            batch = build_images(chunk, self.image_config, self.density)
            pixels = self.predict_images(batch.images, batch_size)
            cells.append(cell_scores(pixels, self.image_config).astype(np.float32))
            hits.extend(pixel_scores_to_hits(chunk, pixels, self.image_config, self.density))
            done = min(n, start + batch_size)
            yield Progress(done / max(1, n), f"event {done}/{n}", events=done)
        cell_array = np.concatenate(cells) if cells else np.zeros((0, 4986), np.float32)
        return Prediction(cell_array, hits)

    def predict_events(self, events: Sequence[Event], batch_size: int = 16) -> list[np.ndarray]:
        """Per-hit signal scores, one (n_hits,) float32 array in [0, 1] per event."""
        return drive(self.iter_predict(events, batch_size)).hit_scores

    def describe(self) -> str:
        """Architecture, image settings, threshold, validation figures and training data."""
        config = self.image_config
        lines = [f"U-Net with {self.encoder} encoder (segmentation_models_pytorch)",
                 f"Image: {config.format} {config.grid_shape[0]}×{config.grid_shape[1]} resized "
                 f"to {config.input_size} px, {config.scaling} scaling, {config.bits} bits, "
                 f"{config.hit_selection} hit selection, {config.channels} channels",
                 f"Threshold: {self.threshold:.4f}"]
        val = self.metrics.get("val") if isinstance(self.metrics, dict) else None
        if isinstance(val, dict) and "auc" in val:
            lines.append(f"Validation: AUC {val['auc']:.4f}, purity "
                         f"{val.get('purity_at_retention_0.9', float('nan')):.4f} at retention "
                         "0.9")
        training = self.training if isinstance(self.training, dict) else {}
        if "events" in training:
            lines.append(f"Trained on {training['events']} events"
                         f" ({training.get('data', 'this session')}), best epoch "
                         f"{training.get('best_epoch', '?')}")
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        """The JSON sidecar content (without library versions)."""
        return {
            "kind": KIND, "arch": "unet", "encoder": self.encoder,
            "in_channels": self.net.in_channels, "image_config": self.image_config.to_json(),
            "threshold": self.threshold, "training": self.training, "metrics": self.metrics,
            "signal_density": None if self.density is None else self.density.to_json(),
        }

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; ``half`` stores fp16 weights."""
        from engines.core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.net.state_dict(), self.metadata(), half=half)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> CdcSegmenter:
        """Load a model file; ModelError when it is missing, malformed or not a CDC model."""
        from engines.core.checkpoint import load_checkpoint, load_state_dict_strict, metadata_object

        tensors, meta = load_checkpoint(path)
        name = Path(path).name
        if meta.get("kind") != KIND:
            raise ModelError(f"{name}: not a CDC model (kind {meta.get('kind')!r})")
        if not isinstance(meta.get("image_config"), dict):
            raise ModelError(f"{name}: model description lacks the image configuration")
        config = ImageConfig.from_json(meta["image_config"])
        density = meta.get("signal_density")
        density = None if density is None else SignalDensity.from_json(density)
        try:
            net = create_model(meta.get("arch", "unet"), encoder=meta.get("encoder"),
                               in_channels=config.channels, input_size=config.input_size,
                               grid_shape=config.grid_shape)
        except InputError as exc:
            raise ModelError(f"{name}: {exc}") from None
        load_state_dict_strict(net, tensors, name)
        try:
            threshold = float(meta.get("threshold", 0.5))
        except (TypeError, ValueError):
            raise ModelError(f"{name}: threshold is not a number") from None
        segmenter = cls(net, config, density, threshold, metadata_object(meta, "training", name),
                        metadata_object(meta, "metrics", name))
        return segmenter.to(device)
