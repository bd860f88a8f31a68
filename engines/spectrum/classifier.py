"""The spectrum classifier bundle: network + classes + energy grid + preprocessing + templates.

Saved as ``MODEL.safetensors`` (weights ``model.*`` and, when known, ``templates``) plus a
``MODEL.json`` sidecar (architecture and its config, classes, grid, preprocessing, training
config, metrics, library versions). Loading never runs code from the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError, LabLensError, ModelError
from engines.spectrum.cam import (
    ClassActivationMap,
    class_activation_maps,
    likelihood_maps,
    to_full_grid,
    upsample,
)
from engines.spectrum.confidence import CountTemperature
from engines.spectrum.models.configs import config_to_json
from engines.spectrum.openset import OpenSet, OpenSetScores
from engines.spectrum.preprocessing import PreprocessConfig, check_counts, prepare_input
from engines.spectrum.spectrum import EnergyGrid

if TYPE_CHECKING:
    import torch

    from engines.spectrum.models.layers import GapClassifier

KIND = "lablens.spectrum_classifier"


@dataclass
class Assessment:
    """What the classifier says about a batch of spectra (arrays of length B).

    Attributes
    ----------
    probabilities
        (B, n_classes) of the call: the network's (count-calibrated), or the multinomial ML
        posterior where the hybrid falls back to the ML peer.
    method
        (B,) ``"cnn"`` or ``"ml"``: which made the call.
    open_set
        Open-set scores, None when the model has no open-set calibration.
    """

    probabilities: np.ndarray
    method: np.ndarray
    open_set: OpenSetScores | None


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
    open_set
        Calibrated "is it in the library at all" test (:mod:`engines.spectrum.openset`).
    fallback_counts
        The hybrid: spectra with fewer counts than this on the grid are called by the
        multinomial ML peer on the templates, where validation showed the network less accurate
        (None: the network always calls). Needs templates.

    Notes
    -----
    Inference is batched under ``torch.inference_mode()`` with bf16 autocast on CUDA and pinned
    host memory for the copies; the channels-last memory format is a 4-D (image) layout and
    does not apply to these 1-D networks.
    """

    def __init__(self, model: GapClassifier, classes: list[str], grid: EnergyGrid,
                 preprocess: PreprocessConfig, templates: np.ndarray | None = None,
                 training: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                 temperature: CountTemperature | None = None, open_set: OpenSet | None = None,
                 fallback_counts: int | None = None) -> None:
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
        if model.likelihood is not None and templates is None:
            raise ModelError("a network with a likelihood head needs its class templates")
        if (open_set is not None or fallback_counts is not None) and templates is None:
            raise ModelError("the open-set test and the ML fallback need the class templates")
        if open_set is not None and open_set.smoothing.size != len(classes):
            raise ModelError("the open-set calibration is for another number of classes")
        if open_set is not None and open_set.has_network and (
                open_set.means.shape != (len(classes), model.n_features)):
            raise ModelError("the open-set feature model does not match the network")
        self.open_set = open_set
        self.fallback_counts = None if fallback_counts is None else int(fallback_counts)

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
        return self.assess(counts, batch_size, open_set=False).probabilities

    def forward(self, counts: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Logits (B, n_classes) and pooled features (B, n_features), float64, of validated
        counts (B, n_channels)."""
        import torch

        logits, pooled = [], []
        for _, x in self._batches(counts, batch_size):
            features = self.model.features(x).float().mean(dim=-1)
            with torch.autocast(features.device.type, enabled=False):
                out = self.model.classifier(features.float())
                if self.model.likelihood is not None:
                    out = out + self.model.likelihood(x)
                logits.append(out.cpu().numpy())
            pooled.append(features.cpu().numpy())
        if not logits:
            return np.zeros((0, self.n_classes)), np.zeros((0, self.model.n_features))
        return (np.concatenate(logits).astype(np.float64),
                np.concatenate(pooled).astype(np.float64))

    def ml_logits(self, counts: np.ndarray) -> np.ndarray:
        """Multinomial log-likelihoods (B, n_classes) of the kept counts under the templates
        (the ML peer, :func:`engines.spectrum.peers.ml_scores`)."""
        from engines.spectrum.peers import ml_scores

        if self.templates is None:
            raise ModelError("the model stores no class templates")
        return ml_scores(counts[:, self.keep_mask], self.templates)

    def uses_ml(self, counts: np.ndarray) -> np.ndarray:
        """(B,) bool: the hybrid calls these validated counts with the ML peer (fewer than
        :attr:`fallback_counts` counts on the grid, the count level of the evaluation)."""
        if self.fallback_counts is None:
            return np.zeros(counts.shape[0], dtype=bool)
        return counts.sum(axis=1) < self.fallback_counts

    def assess(self, counts: np.ndarray, batch_size: int = 256, open_set: bool = True,
               alpha: float | None = None) -> Assessment:
        """Probabilities of the call (hybrid), who made it, and the open-set scores.

        Parameters
        ----------
        counts
            (B, n_channels) or (n_channels,) raw counts on :attr:`grid`.
        open_set
            Compute the open-set scores (when the model has an open-set calibration).
        alpha
            Significance of the open-set test (default: the model's).
        """
        counts = check_counts(counts, self.grid.n_channels)
        probabilities = self._probabilities(self.predict_logits(counts, batch_size), counts)
        ml = self.uses_ml(counts)
        if ml.any():
            probabilities[ml] = _softmax(self.ml_logits(counts[ml]))
        scores = None
        if open_set and self.open_set is not None:
            pooled = self.forward(counts, batch_size)[1] if self.open_set.has_network else None
            scores = self.open_set.scores(counts[:, self.keep_mask], self.templates, pooled,
                                          alpha)
        return Assessment(probabilities, np.where(ml, "ml", "cnn"), scores)

    def _probabilities(self, logits: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Softmax of the count-calibrated logits; counts (B, n_channels) give each draw's k."""
        return _softmax(self.temperature.apply(logits, counts[:, self.keep_mask].sum(axis=1)))

    def predict(self, counts: np.ndarray, batch_size: int = 256, hybrid: bool = True
                ) -> np.ndarray:
        """Most probable class index, shape (B,), int64: of the hybrid (the ML peer below
        :attr:`fallback_counts`), or of the network alone with ``hybrid=False``."""
        counts = check_counts(counts, self.grid.n_channels)
        called = self.predict_logits(counts, batch_size).argmax(axis=1)
        ml = self.uses_ml(counts) if hybrid else np.zeros(counts.shape[0], bool)
        if ml.any():
            called[ml] = self.ml_logits(counts[ml]).argmax(axis=1)
        return called

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
            picked = upsample(picked, n_kept)[:, 0]
            head = likelihood_maps(self.model, x, index)
            maps.append((picked if head is None else picked + head).cpu().numpy())
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
            "likelihood_head": (None if self.model.likelihood is None
                                else self.model.likelihood.describe()),
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
            "training": self.training,
            "metrics": self.metrics,
            "confidence": self.temperature.to_json(),
            "open_set": None if self.open_set is None else self.open_set.to_json(),
            "fallback_counts": self.fallback_counts,
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
        if self.open_set is not None:
            tensors.update({k: torch.from_numpy(v) for k, v in self.open_set.tensors().items()})
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
            check_described_network,
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
            model = check_described_network(
                lambda: create_model(meta["arch"], len(classes), int(meta["in_channels"]),
                                     **meta["model_config"]),
                {k.removeprefix("model."): v for k, v in tensors.items()
                 if k.startswith("model.")}, source)
            temperature = CountTemperature.from_json(meta.get("confidence"))
            open_set_tensors = {k: tensors.pop(k).double().numpy() for k in list(tensors)
                                if k.startswith("open_set.")}
            open_set = OpenSet.from_json(meta.get("open_set"), open_set_tensors)
            fallback = meta.get("fallback_counts")
            if fallback is not None and (isinstance(fallback, bool) or not isinstance(
                    fallback, int) or fallback < 1):
                raise ModelError(f"{source}: fallback_counts must be a positive integer")
        except KeyError as exc:
            raise ModelError(f"{source}: missing entry {exc.args[0]!r}") from None
        except (LabLensError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            if isinstance(exc, ModelError) and str(exc).startswith(f"{source}: "):
                raise
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else \
                type(exc).__name__
            raise ModelError(f"{source}: invalid model description ({first})") from None
        templates = tensors.pop("templates", None)
        weights = {k.removeprefix("model."): v for k, v in tensors.items()
                   if k.startswith("model.")}
        extra = sorted(k for k in tensors if not k.startswith("model."))
        if extra:
            raise ModelError(f"{source}: unexpected tensors in the weights file: {extra[:3]}")
        if templates is not None:
            templates = templates.double().numpy()
        head = meta.get("likelihood_head")
        if head is not None:
            if templates is None or not isinstance(head, dict):
                raise ModelError(f"{source}: a likelihood head needs the stored templates")
            try:
                model.add_likelihood_head(templates, str(head["normalisation"]),
                                          head.get("count_index"),
                                          float(head["reference_counts"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelError(f"{source}: invalid likelihood head ({exc})") from None
        load_state_dict_strict(model, weights, source)
        try:
            return cls(model.to(device), classes, grid, preprocess, templates,
                       training=metadata_object(meta, "training", source),
                       metrics=metadata_object(meta, "metrics", source),
                       temperature=temperature, open_set=open_set, fallback_counts=fallback)
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
            f"Templates for classical peers: {'yes' if self.templates is not None else 'no'}"
            f"{'; likelihood head on them' if self.model.likelihood is not None else ''}",
            "Calls: " + (f"the multinomial ML peer below {self.fallback_counts:,} counts, the "
                         "network above" if self.fallback_counts else "the network"),
            "Open-set test: " + (f"goodness of fit{' + feature distance' if self.open_set.has_network else ''}"
                                 f", alpha {self.open_set.alpha:g}" if self.open_set else "none"),
            f"Device: {self.device}",
        ]
        if self.metrics:
            lines.append("Metrics: " + ", ".join(f"{k}={_short(v)}" for k, v in self.metrics.items()
                                                 if not isinstance(v, list | dict)))
        if self.training:
            lines.append("Training: " + ", ".join(f"{k}={_short(v)}" for k, v in
                                                  self.training.items() if not isinstance(v, dict)))
        return "\n".join(lines)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
