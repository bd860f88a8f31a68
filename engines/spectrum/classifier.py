"""The spectrum classifier bundle: network + classes + energy grid + preprocessing + templates.

Saved as ``MODEL.safetensors`` (weights ``model.*`` and, when known, ``templates``) plus a
``MODEL.json`` sidecar (architecture and its config, classes, grid, preprocessing, training
config, metrics, library versions). Loading never runs code from the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError, LabLensError, ModelError
from engines.spectrum.cam import ClassActivationMap, class_activation_maps, to_full_grid, upsample
from engines.spectrum.confidence import CountTemperature
from engines.spectrum.models.configs import config_to_json
from engines.spectrum.preprocessing import PreprocessConfig, check_counts, prepare_input
from engines.spectrum.spectrum import EnergyGrid

if TYPE_CHECKING:
    import torch

    from engines.spectrum.models.layers import GapClassifier

KIND = "lablens.spectrum_classifier"


class SpectrumClassifier:
    """A trained spectrum classifier ready for inference.

    Parameters
    ----------
    model
        A ``GapClassifier`` from :func:`engines.spectrum.models.create_model`.
    classes
        Class names, ``len == model.n_classes``.
    grid
        Energy grid the model expects (spectra are rebinned to it before classification).
    preprocess
        Discard ranges, normalisation, position channel.
    templates
        (n_classes, n_kept) class templates on the kept channels (rows sum to 1) for the
        classical peers (multinomial likelihood, NCC, chi-squared); optional.
    training, metrics
        JSON-able training settings/history and evaluation figures, stored in the sidecar.
    temperature
        Count-dependent confidence calibration (:mod:`engines.spectrum.confidence`); the
        identity when absent.

    Notes
    -----
    Inference is batched under ``torch.inference_mode()`` with bf16 autocast on CUDA and pinned
    host memory for the copies; the channels-last memory format is a 4-D (image) layout and
    does not apply to these 1-D networks.
    """

    def __init__(self, model: GapClassifier, classes: list[str], grid: EnergyGrid,
                 preprocess: PreprocessConfig, templates: np.ndarray | None = None,
                 training: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                 temperature: CountTemperature | None = None) -> None:
        classes = [str(c) for c in classes]
        if len(classes) != model.n_classes:
            raise ModelError(f"{len(classes)} class names for a model with "
                             f"{model.n_classes} outputs")
        if model.in_channels != preprocess.in_channels:
            raise ModelError(f"model takes {model.in_channels} input channels but the "
                             f"preprocessing makes {preprocess.in_channels}")
        self.model = model.eval()
        self.classes = classes
        self.grid = grid
        self.preprocess = preprocess
        n_kept = int(preprocess.keep_mask(grid.n_channels).sum())
        if templates is not None:
            templates = np.asarray(templates, dtype=np.float64)
            if templates.shape != (len(classes), n_kept):
                raise ModelError(f"templates have shape {templates.shape}, expected "
                                 f"({len(classes)}, {n_kept})")
        self.templates = templates
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})
        self.temperature = temperature or CountTemperature()

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def arch(self) -> str:
        return self.model.arch

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def keep_mask(self) -> np.ndarray:
        """(n_channels,) bool: channels the model sees."""
        return self.preprocess.keep_mask(self.grid.n_channels)

    def to(self, device: torch.device | str) -> SpectrumClassifier:
        """Move the network to ``device`` (in place); returns self."""
        self.model.to(device)
        return self

    def _batches(self, counts: np.ndarray, batch_size: int):
        """``(start, model input)`` per batch of validated counts, for the CAM (which needs the
        network's features as well as its output, so it cannot use the shared predictor)."""
        import torch

        from engines.core.device import autocast, to_device

        self.model.eval()
        with torch.inference_mode(), autocast(self.device):
            for start in range(0, counts.shape[0], max(1, int(batch_size))):
                chunk = to_device(counts[start:start + batch_size], self.device)
                yield start, prepare_input(chunk, self.preprocess)

    def predict_logits(self, counts: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits, shape (B, n_classes), float64, for counts (B, n_channels) or (n_channels,)."""
        from engines.core.inference import predict_array

        counts = check_counts(counts, self.grid.n_channels)
        if counts.shape[0] == 0:
            return np.zeros((0, self.n_classes))
        return predict_array(self.model, counts, batch_size,
                             prepare=lambda x: prepare_input(x, self.preprocess)
                             ).astype(np.float64)

    def predict_proba(self, counts: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities, shape (B, n_classes), rows sum to 1.

        Parameters
        ----------
        counts
            (B, n_channels) or (n_channels,) raw counts on :attr:`grid`.

        Raises
        ------
        InputError
            Wrong channel count, NaN or negative counts.
        """
        counts = check_counts(counts, self.grid.n_channels)
        return self._probabilities(self.predict_logits(counts, batch_size), counts)

    def _probabilities(self, logits: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Softmax of the count-calibrated logits; counts (B, n_channels) give each draw's k."""
        logits = self.temperature.apply(logits, counts[:, self.keep_mask].sum(axis=1))
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, counts: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Most probable class index, shape (B,), int64."""
        return self.predict_logits(counts, batch_size).argmax(axis=1)

    def cam(self, counts: np.ndarray, class_index: int | np.ndarray | None = None,
            batch_size: int = 256) -> ClassActivationMap:
        """Class activation maps on the full grid.

        Parameters
        ----------
        counts
            (B, n_channels) or (n_channels,) raw counts.
        class_index
            Class of each map: None = the predicted class, an int for all spectra, or (B,).

        Returns
        -------
        :class:`ClassActivationMap` with maps (B, n_channels), NaN in discarded channels.
        """
        import torch

        counts = check_counts(counts, self.grid.n_channels)
        keep = self.keep_mask
        n_kept = int(keep.sum())
        requested = None
        if class_index is not None:
            try:
                requested = np.broadcast_to(np.asarray(class_index, dtype=np.int64),
                                            counts.shape[:1])
            except ValueError:
                raise InputError(f"class_index must be an int or one per spectrum "
                                 f"({counts.shape[0]})") from None
            if requested.size and (requested.min() < 0 or requested.max() >= self.n_classes):
                raise InputError(f"class index must lie in [0, {self.n_classes})")
        maps, logits_out, chosen = [], [], []
        for start, x in self._batches(counts, batch_size):
            logits, class_maps = class_activation_maps(self.model, x)
            if requested is None:
                index = logits.argmax(dim=1)
            else:
                index = torch.from_numpy(requested[start:start + x.shape[0]].copy()).to(x.device)
            picked = class_maps[torch.arange(x.shape[0], device=x.device), index][:, None]
            maps.append(upsample(picked, n_kept)[:, 0].cpu().numpy())
            logits_out.append(logits.float().cpu().numpy())
            chosen.append(index.cpu().numpy())
        if not maps:
            maps, logits_out = [np.zeros((0, n_kept))], [np.zeros((0, self.n_classes))]
            chosen = [np.zeros(0)]
        return ClassActivationMap(
            energies_kev=self.grid.energies,
            maps=to_full_grid(np.concatenate(maps), keep),
            class_index=np.concatenate(chosen).astype(np.int64),
            probabilities=self._probabilities(np.concatenate(logits_out), counts),
            classes=list(self.classes),
        )

    def metadata(self) -> dict[str, Any]:
        """The JSON sidecar content (without library versions)."""
        return {
            "kind": KIND,
            "arch": self.arch,
            "model_config": config_to_json(self.model.config),
            "n_classes": self.n_classes,
            "in_channels": self.model.in_channels,
            "classes": list(self.classes),
            "grid": self.grid.to_json(),
            "preprocessing": self.preprocess.to_json(),
            "has_templates": self.templates is not None,
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
            "training": self.training,
            "metrics": self.metrics,
            "confidence": self.temperature.to_json(),
        }

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write ``path.safetensors`` + ``path.json``; returns the weights path.

        ``half`` stores the network's parameters as fp16 (BatchNorm statistics and templates
        stay fp32: running variances can exceed the fp16 range, template values underflow it).
        """
        import torch

        from engines.core.checkpoint import save_checkpoint

        tensors = {}
        for name, value in self.model.state_dict().items():
            is_parameter = not name.endswith(("running_mean", "running_var"))
            if half and is_parameter and value.is_floating_point():
                value = value.to(torch.float16)
            tensors[f"model.{name}"] = value
        if self.templates is not None:
            tensors["templates"] = torch.from_numpy(self.templates.astype(np.float32))
        metadata = {**self.metadata(), "stored_half": bool(half)}
        return save_checkpoint(path, tensors, metadata, half=False)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> SpectrumClassifier:
        """Rebuild a saved classifier on ``device``.

        Raises
        ------
        ModelError
            Missing/malformed files, or a sidecar that does not describe the weights.
        """
        from engines.core.checkpoint import (
            load_checkpoint,
            load_state_dict_strict,
            metadata_object,
            model_paths,
        )
        from engines.spectrum.models import create_model

        tensors, meta = load_checkpoint(path)
        source = model_paths(path)[1].name
        if meta.get("kind") != KIND:
            raise ModelError(f"{source}: not a spectrum classifier (kind={meta.get('kind')!r})")
        try:
            classes = meta["classes"]
            if not isinstance(classes, list) or not all(isinstance(c, str) and c.strip()
                                                        for c in classes):
                raise ModelError(f"{source}: 'classes' must be a list of names")
            if len(set(classes)) != len(classes):
                raise ModelError(f"{source}: 'classes' names a class twice")
            if meta["n_classes"] != len(classes):
                raise ModelError(f"{source}: n_classes={meta['n_classes']} but "
                                 f"{len(classes)} class names")
            grid = EnergyGrid.from_json(meta["grid"])
            preprocess = PreprocessConfig.from_json(meta["preprocessing"])
            model = create_model(meta["arch"], len(classes), int(meta["in_channels"]),
                                 **meta["model_config"])
            temperature = CountTemperature.from_json(meta.get("confidence"))
        except KeyError as exc:
            raise ModelError(f"{source}: missing entry {exc.args[0]!r}") from None
        except (LabLensError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{source}: invalid model description ({exc})") from None
        templates = tensors.pop("templates", None)
        weights = {k.removeprefix("model."): v for k, v in tensors.items()
                   if k.startswith("model.")}
        extra = sorted(k for k in tensors if not k.startswith("model."))
        if extra:
            raise ModelError(f"{source}: unexpected tensors in the weights file: {extra[:3]}")
        load_state_dict_strict(model, weights, source)
        if templates is not None:
            templates = templates.double().numpy()
        try:
            return cls(model.to(device), classes, grid, preprocess, templates,
                       training=metadata_object(meta, "training", source),
                       metrics=metadata_object(meta, "metrics", source),
                       temperature=temperature)
        except LabLensError as exc:  # the description does not fit the weights or the grid
            raise ModelError(f"{source}: {exc}") from None

    def describe(self) -> str:
        """Human-readable summary: architecture, size, classes, grid, preprocessing, metrics."""
        meta = self.metadata()
        kept = self.keep_mask
        energies = self.grid.energies[kept]
        config = ", ".join(f"{k}={v}" for k, v in meta["model_config"].items())
        lines = [
            f"Architecture: {self.arch} ({meta['parameters']:,} parameters; {config})",
            f"Classes ({self.n_classes}): {', '.join(self.classes)}",
            f"Energy grid: {self.grid.n_channels} channels, calibration "
            f"{self.grid.calibration.coefficients} keV",
            f"Input: {int(kept.sum())} kept channels ({energies[0]:.1f}-{energies[-1]:.1f} keV), "
            f"discarded {self.preprocess.discard}, normalisation '{self.preprocess.normalisation}'"
            f"{', position channel' if self.preprocess.coord_channel else ''}",
            f"Templates for classical peers: {'yes' if self.templates is not None else 'no'}",
            f"Device: {self.device}",
        ]
        if self.metrics:
            lines.append("Metrics: " + ", ".join(f"{k}={_short(v)}" for k, v in self.metrics.items()
                                                 if not isinstance(v, list | dict)))
        if self.training:
            lines.append("Training: " + ", ".join(f"{k}={_short(v)}" for k, v in
                                                  self.training.items() if not isinstance(v, dict)))
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
