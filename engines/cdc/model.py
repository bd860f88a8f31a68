"""The CDC segmentation networks and the :class:`CdcSegmenter` bundle that saves, loads and runs
them.

Networks (registry :data:`MODELS`):

``unet`` (paper Sec. 4–5)
    segmentation_models_pytorch ``Unet`` with an EfficientNet-b0…b7 encoder built with
    ``encoder_weights=None`` (nothing is downloaded). Images on the cell grid (71×71 or
    128×128) are resized with nearest interpolation to the input size and padded with black
    (no-cell) to a multiple of 32; the logits are brought back to the grid with bilinear
    ("linear") interpolation.
``light_unet``
    A plain U-Net at the grid's native resolution (the paper's "signal size ratio" 1 without
    EfficientNet's stride-2 stem, which is what makes ratio 1 lose hits there): four levels of
    two 3×3 convolutions + batch norm + ReLU with ``width``, 2·, 4·, 8·``width`` channels,
    max-pooling down, nearest up-sampling and skip connections, a 1×1 head. The grid is
    padded with black to multiples of 8 (no resize); on the ``polar`` grid the azimuth is first
    padded circularly by 16 columns on each side, so the wrap-around is seamless. Plain
    convolutions run fast on CPUs, in bf16 where the CPU has native bf16 (``cpu_bf16``).

Model file: ``MODEL.safetensors`` (network weights, fp16 for the bundled demo) plus
``MODEL.json``: architecture, image configuration, signal-density table, decision threshold,
the track-fit settings, what the model expects of a file (``expects``: the feature ranges and
trigger share of its training data, see :mod:`engines.cdc.features`), training configuration
and history, metrics, library versions.
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
#: the input features this code builds (:mod:`engines.cdc.features`); older models are refused
FEATURE_SET = "unit-free-v2"
ENCODERS = tuple(f"efficientnet-b{i}" for i in range(8))
ARCHS = ("unet", "light_unet")
MODELS: Registry = Registry("cdc model")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bf16 convolutions natively (oneDNN, AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _net_class():
    """Build the torch module classes lazily (torch is not imported at module import)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Sequential):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class LightUNet(nn.Module):
        """Plain 4-level U-Net: (N, C, H, W) -> logits (N, 1, H, W), H and W multiples of 8."""

        def __init__(self, in_channels: int, width: int) -> None:
            super().__init__()
            widths = [width * 2**i for i in range(4)]
            self.encoder = nn.ModuleList(
                Block(in_channels if i == 0 else widths[i - 1], w) for i, w in enumerate(widths))
            self.decoder = nn.ModuleList(Block(widths[i] + widths[i + 1], widths[i])
                                         for i in range(3))
            self.head = nn.Conv2d(widths[0], 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for i, block in enumerate(self.encoder):
                x = block(x if i == 0 else F.max_pool2d(x, 2))
                skips.append(x)
            for i in reversed(range(3)):
                x = F.interpolate(x, size=skips[i].shape[-2:], mode="nearest")
                x = self.decoder[i](torch.cat([x, skips[i]], dim=1))
            return self.head(x)

    class CdcNet(nn.Module):
        """A segmentation network on cell-grid images.

        ``forward(x)``: x (N, C, H, W) float in [0, 1] on the grid -> logits (N, H, W).
        """

        def __init__(self, arch: str, in_channels: int, input_size: int,
                     grid_shape: tuple[int, int], encoder: str = "efficientnet-b2",
                     width: int = 32, cpu_bf16: bool = False, circular: bool = False) -> None:
            super().__init__()
            self.arch = arch
            self.circular = bool(circular)
            self.in_channels = int(in_channels)
            self.input_size = int(input_size)
            self.grid_shape = tuple(int(v) for v in grid_shape)
            self.width = int(width)
            self.cpu_bf16 = bool(cpu_bf16)
            if arch == "unet":
                import segmentation_models_pytorch as smp

                self.encoder_name = encoder
                self.pad_multiple = 32
                self.unet = smp.Unet(encoder, encoder_weights=None,
                                     in_channels=self.in_channels, classes=1)
            else:
                self.encoder_name = f"light-w{self.width}"
                self.pad_multiple = 8
                self.unet = LightUNet(self.in_channels, self.width)

        @property
        def options(self) -> dict[str, Any]:
            """What :func:`create_model` needs besides the image configuration."""
            if self.arch == "unet":
                return {"encoder": self.encoder_name}
            return {"width": self.width}

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.arch == "unet":  # resized to the square input size
                size = self.input_size
                if x.shape[-2:] != (size, size):
                    x = F.interpolate(x, size=(size, size), mode="nearest")
            wrap = 16 if self.circular else 0
            if wrap:
                x = torch.cat([x[..., -wrap:], x, x[..., :wrap]], dim=-1)
            height, width = x.shape[-2:]
            m = self.pad_multiple
            pad_h, pad_w = -(-height // m) * m - height, -(-width // m) * m - width
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), value=0.0)
            with torch.autocast("cpu", dtype=torch.bfloat16,
                                enabled=self.cpu_bf16 and x.device.type == "cpu"):
                logits = self.unet(x)[:, :, :height, wrap:width - wrap]
            logits = logits.float()
            if logits.shape[-2:] != self.grid_shape:
                logits = F.interpolate(logits, size=self.grid_shape, mode="bilinear",
                                       align_corners=False)
            return logits[:, 0]

    return CdcNet


@MODELS.register("unet")
def _make_unet(encoder: str = "efficientnet-b2", in_channels: int = 3, input_size: int = 288,
               grid_shape: tuple[int, int] = (71, 71), cpu_bf16: bool = False):
    if encoder not in ENCODERS:
        raise InputError(f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)}")
    return _net_class()("unet", in_channels, input_size, grid_shape, encoder=encoder,
                        cpu_bf16=cpu_bf16)


@MODELS.register("light_unet")
def _make_light_unet(width: int = 32, in_channels: int = 3, input_size: int = 71,
                     grid_shape: tuple[int, int] = (71, 71), cpu_bf16: bool = False,
                     circular: bool = False):
    if not 4 <= int(width) <= 256:
        raise InputError(f"light U-Net width {width} is outside 4…256")
    return _net_class()("light_unet", in_channels, input_size, grid_shape, width=int(width),
                        cpu_bf16=cpu_bf16, circular=circular)


def create_model(name: str = "unet", **kwargs: Any):
    """Build a CDC network by registry name (``"unet"`` or ``"light_unet"``); unknown names
    list the valid ones.

    Keyword arguments: ``encoder`` (unet: ``efficientnet-b0`` … ``b7``, default b2) or
    ``width`` and ``circular`` (light_unet: channels of its first level, default 32; wrap the
    last axis, for the polar grid), ``in_channels`` (2 or 3), ``input_size`` (unet: px),
    ``grid_shape`` (the image format's), ``cpu_bf16`` (bf16 autocast on CPU).
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
    expects
        What the model was trained on: :func:`engines.cdc.features.feature_summary` of its
        training events plus ``occupancy_range``; ``cdc info`` compares files with it.
    track_fit
        Settings of the track fit and re-scoring (:class:`engines.cdc.trackfit.TrackFitConfig`
        as JSON), tuned on validation events; None uses the defaults.
    """

    def __init__(self, net, image_config: ImageConfig, density: SignalDensity | None,
                 threshold: float = 0.5, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None, expects: dict[str, Any] | None = None,
                 track_fit: dict[str, Any] | None = None) -> None:
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
        self.expects = dict(expects or {})
        self.track_fit = dict(track_fit or {})

    @property
    def encoder(self) -> str:
        """The encoder (``efficientnet-b0`` …) or, for the light U-Net, ``light-w<width>``."""
        return self.net.encoder_name

    @property
    def arch(self) -> str:
        return self.net.arch

    def fit_config(self):
        """The track-fit settings as a :class:`engines.cdc.trackfit.TrackFitConfig`."""
        from engines.cdc.trackfit import TrackFitConfig

        return TrackFitConfig.from_json(self.track_fit)

    def rescorer(self):
        """The re-scoring trees (:class:`engines.core.boosted_trees.BoostedTrees`) of the
        sidecar's ``track_fit``, None when it has none (combined score = U-Net score)."""
        from engines.cdc.rescoring import FEATURE_NAMES
        from engines.core.boosted_trees import BoostedTrees

        data = self.track_fit.get("rescorer")
        if not data:
            return None
        trees = BoostedTrees.from_json(data)
        if trees.feature_names != FEATURE_NAMES:
            raise ModelError("the model's re-scoring trees were fitted on other features than "
                             "this version computes; re-tune them with `cdc tune-fit`")
        return trees

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> CdcSegmenter:
        """Move the network to ``device`` (channels_last on CUDA); returns self."""
        import torch

        device = torch.device(device)
        self.net.to(device)
        if device.type == "cuda" or self.net.cpu_bf16:
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
        network = (f"U-Net with {self.encoder} encoder (segmentation_models_pytorch)"
                   if self.arch == "unet" else
                   f"light U-Net, width {self.net.width}, at the grid's native resolution")
        size = (f" resized to {config.input_size} px" if self.arch == "unet" else "")
        lines = [network + (", bf16 on this CPU" if self.net.cpu_bf16 else ""),
                 f"Image: {config.format} {config.grid_shape[0]}×{config.grid_shape[1]}{size}, "
                 f"{config.scaling} scaling, {config.bits} bits, "
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
        expects = self.expects
        if expects.get("time_from_reference_ns"):
            t, q = expects["time_from_reference_ns"], expects.get("log10_charge_from_median")
            lines.append(f"Expects (1/50/99 % of its training hits): time from the reference "
                         f"{t[0]:g}/{t[1]:g}/{t[2]:g} ns"
                         + (f", log10 charge from the median {q[0]:g}/{q[1]:g}/{q[2]:g}"
                            if q else "")
                         + f"; {100 * expects.get('trigger_time_fraction', 0):.0f} % of events "
                           "with a trigger time")
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        """The JSON sidecar content (without library versions)."""
        return {
            "kind": KIND, "arch": self.arch, "arch_options": self.net.options,
            "encoder": self.encoder, "feature_set": FEATURE_SET,
            "in_channels": self.net.in_channels, "image_config": self.image_config.to_json(),
            "threshold": self.threshold, "track_fit": self.track_fit, "expects": self.expects,
            "training": self.training, "metrics": self.metrics,
            "signal_density": None if self.density is None else self.density.to_json(),
        }

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; ``half`` stores fp16 weights."""
        from engines.core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.net.state_dict(), self.metadata(), half=half)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> CdcSegmenter:
        """Load a model file; ModelError when it is missing, malformed or not a CDC model."""
        from engines.core.checkpoint import (
            check_described_network,
            load_checkpoint,
            load_state_dict_strict,
        )

        tensors, meta = load_checkpoint(path)
        name = Path(path).name
        config = _image_config(meta, name)
        try:
            density = meta.get("signal_density")
            density = None if density is None else SignalDensity.from_json(density)
        except ModelError as exc:
            raise ModelError(f"{name}: {exc}") from None
        arch = meta.get("arch", "unet")
        options = meta.get("arch_options")
        if not isinstance(options, dict) or not set(options) <= {"encoder", "width"}:
            raise ModelError(f"{name}: model description has no valid arch_options")
        if arch == "light_unet":
            options = {**options, "circular": config.format == "polar"}
        try:
            net = check_described_network(lambda: create_model(
                arch, **options, in_channels=config.channels, input_size=config.input_size,
                grid_shape=config.grid_shape,
                cpu_bf16=str(device).startswith("cpu") and cpu_bf16_supported()), tensors, name)
        except (InputError, TypeError) as exc:
            raise ModelError(f"{name}: {exc}") from None
        load_state_dict_strict(net, tensors, name)
        try:
            threshold = float(meta.get("threshold", 0.5))
        except (TypeError, ValueError):
            raise ModelError(f"{name}: threshold is not a number") from None
        for key in ("training", "metrics", "expects", "track_fit"):
            if meta.get(key) is not None and not isinstance(meta[key], dict):
                raise ModelError(f"{name}: {key} in the model description is not an object")
        segmenter = cls(net, config, density, threshold, meta.get("training"),
                        meta.get("metrics"), meta.get("expects"), meta.get("track_fit"))
        return segmenter.to(device)

    @staticmethod
    def expectations(path: str | Path) -> tuple[ImageConfig, dict[str, Any] | None]:
        """The image configuration and the ``expects`` block (the feature ranges of its
        training data) of a model file, read from its sidecar alone (no torch import)."""
        from engines.core.checkpoint import load_metadata

        meta = load_metadata(path)
        config = _image_config(meta, Path(path).name)
        expects = meta.get("expects")
        return config, expects if isinstance(expects, dict) else None


def _image_config(meta: dict[str, Any], name: str) -> ImageConfig:
    """The validated image configuration of a CDC model description; ModelError otherwise."""
    if meta.get("kind") != KIND:
        raise ModelError(f"{name}: not a CDC model (kind {meta.get('kind')!r})")
    if meta.get("feature_set") != FEATURE_SET:
        raise ModelError(f"{name}: made for the input features "
                         f"{meta.get('feature_set', 'of ADC counts and trigger times')!r}, "
                         f"this version builds {FEATURE_SET!r}; retrain the model")
    if not isinstance(meta.get("image_config"), dict):
        raise ModelError(f"{name}: model description lacks the image configuration")
    try:
        return ImageConfig.from_json(meta["image_config"])
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from None
