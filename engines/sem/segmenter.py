"""The :class:`SemSegmenter` bundle: a segmentation network with its classes, preprocessing and
sliding-window defaults, optionally carrying the crop-and-classify peer; saved as safetensors
plus a JSON sidecar (never pickle).

Model file: ``MODEL.safetensors`` holds the network's weights (and the peer's under
``peer.``); ``MODEL.json`` holds ``kind``, ``arch`` and its options, the classes (names and
colours), the preprocessing (input channels, scale, levels), the training window, the
training configuration and history, measured figures and library versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.core.config import from_json, to_json
from engines.core.errors import InputError, ModelError
from engines.imaging.blend import SlidingWindowConfig
from engines.sem.labels import ClassTable
from engines.sem.models import architecture, create_model
from engines.sem.preprocessing import Preprocessing

if TYPE_CHECKING:
    import torch

    from engines.sem.peer import ObjectClassifier

KIND = "lablens.sem_segmenter"
PEER_PREFIX = "peer."


class SemSegmenter:
    """A trained micrograph segmenter.

    Parameters
    ----------
    net
        A segmentation network from :func:`engines.sem.models.create_model`.
    classes
        Names and colours; ``len(classes)`` must equal the network's class count.
    preprocessing
        Channels, scale and levels applied before the network.
    window
        Side of the square crops it was trained on (model px); the default analysis window.
    training, metrics
        JSON-able training record and measured figures for the sidecar.
    peer
        The crop-and-classify peer trained on the same data, when there is one.
    """

    def __init__(self, net, classes: ClassTable, preprocessing: Preprocessing | None = None,
                 window: int = 512, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None, peer: ObjectClassifier | None = None
                 ) -> None:
        preprocessing = preprocessing or Preprocessing()
        if net.n_classes != len(classes):
            raise ModelError(f"network has {net.n_classes} classes but {len(classes)} class "
                             "names were given")
        if net.in_channels != preprocessing.in_channels:
            raise ModelError(f"network takes {net.in_channels} channels but the preprocessing "
                             f"makes {preprocessing.in_channels}")
        self.net = net.eval()
        self.classes = classes
        self.preprocessing = preprocessing
        self.window = int(window)
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})
        self.peer = peer

    @property
    def arch(self) -> str:
        return self.net.arch

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> SemSegmenter:
        """Move the network (and the peer) to ``device``; returns self."""
        self.net.to(device)
        if self.peer is not None:
            self.peer.to(device)
        return self

    def sliding_window(self, **changes: Any) -> SlidingWindowConfig:
        """Analysis settings: the training window with a quarter overlap, unless changed."""
        window = int(changes.pop("window", self.window))
        values = {"window": window, "stride": max(1, window * 3 // 4), **changes}
        values["stride"] = min(values["stride"], window)
        return SlidingWindowConfig(**values)

    def describe(self) -> str:
        """Architecture, classes, input, training and validation figures."""
        spec = architecture(self.arch)
        p = self.preprocessing
        lines = [f"{self.arch}: {spec.description}",
                 f"Classes ({self.n_classes}): {', '.join(self.classes.names)}",
                 f"Input: {'grey' if p.in_channels == 1 else 'RGB'}, scale {p.scale:g}, "
                 f"window {self.window} px"]
        val = self.metrics.get("val") if isinstance(self.metrics, dict) else None
        if isinstance(val, dict) and "mean_iu" in val:
            lines.append(f"Validation: mean IU {val['mean_iu']:.4f}, pixel accuracy "
                         f"{val.get('pixel_accuracy', float('nan')):.4f}, object accuracy "
                         f"{val.get('object_accuracy', float('nan')):.4f}")
        test = self.metrics.get("test") if isinstance(self.metrics, dict) else None
        if isinstance(test, dict) and "object_accuracy" in test:
            lines.append(f"Test: object accuracy {test['object_accuracy']:.4f}, mean IU "
                         f"{test.get('mean_iu', float('nan')):.4f}")
        if self.training.get("data"):
            lines.append(f"Trained on {self.training['data']} ({self.training.get('images', '?')}"
                         f" images), {self.training.get('stop_reason', '')}")
        if self.peer is not None:
            lines.append(f"Peer: {self.peer.describe()}")
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        """The JSON sidecar content (without library versions)."""
        return {"kind": KIND, "arch": self.arch, "arch_options": self.net.options,
                **self.classes.to_json(), "preprocessing": to_json(self.preprocessing),
                "window": self.window, "training": self.training, "metrics": self.metrics,
                "peer": None if self.peer is None else self.peer.metadata()}

    def tensors(self) -> dict[str, Any]:
        tensors = dict(self.net.state_dict())
        if self.peer is not None:
            tensors.update({PEER_PREFIX + k: v for k, v in self.peer.net.state_dict().items()})
        return tensors

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; ``half`` stores fp16 weights."""
        from engines.core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.tensors(), self.metadata(), half=half)

    @classmethod
    def load(cls, path: str | Path, device: Any = "cpu") -> SemSegmenter:
        """Load a model file; ModelError when it is missing, malformed or not a sem model."""
        from engines.core.checkpoint import (
            check_described_network,
            load_checkpoint,
            load_state_dict_strict,
        )
        from engines.sem.peer import ObjectClassifier

        tensors, meta = load_checkpoint(path)
        name = Path(path).name
        if meta.get("kind") != KIND:
            raise ModelError(f"{name}: not a sem model (kind {meta.get('kind')!r})")
        try:
            classes = ClassTable.from_names(
                [c["name"] for c in meta["classes"]], [c["colour"] for c in meta["classes"]])
            preprocessing = from_json(Preprocessing, meta.get("preprocessing", {}),
                                      "preprocessing")
            own = {k: v for k, v in tensors.items() if not k.startswith(PEER_PREFIX)}
            net = check_described_network(
                lambda: create_model(meta["arch"], len(classes), preprocessing.in_channels,
                                     **meta.get("arch_options", {})), own, name)
        except (KeyError, TypeError, InputError) as exc:
            raise ModelError(f"{name}: model description is incomplete or wrong ({exc})"
                             ) from None
        load_state_dict_strict(net, own, name)
        peer = None
        if meta.get("peer"):
            peer = ObjectClassifier.from_parts(
                {k[len(PEER_PREFIX):]: v for k, v in tensors.items()
                 if k.startswith(PEER_PREFIX)}, meta["peer"], name)
        segmenter = cls(net, classes, preprocessing, int(meta.get("window", 512)),
                        meta.get("training"), meta.get("metrics"), peer)
        return segmenter.to(device)
