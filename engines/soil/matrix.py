"""The model-transfer matrix (the paper's Sec. 3 and Table 2).

Every model is applied to every core: ``rmse[m, c]`` is the RMSE, over all slices of core c,
between model m's predicted porosity and the computed porosity of model m's own target object.
Then the paper's iterative selection: take the model that fits the most remaining cores with
RMSE below the threshold (0.04), remove those cores, and repeat until no model fits a remaining
core. Ties go to the lower mean RMSE on the cores it would take, then to the earlier model.
The selected models and their counts are Table 2; cores no model fits are listed apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engines.core.progress import Progress, TaskGenerator, drive
from engines.soil.dataset import CoreSlices
from engines.soil.models import SoilSurrogate

THRESHOLD = 0.04


@dataclass
class SelectionStep:
    """One row of Table 2: a model and the cores it fits (RMSE below the threshold)."""

    model: str
    cores: list[str]
    rmse: list[float]

    @property
    def count(self) -> int:
        return len(self.cores)

    def to_json(self) -> dict:
        return {"model": self.model, "count": self.count, "cores": self.cores,
                "rmse": [float(r) for r in self.rmse]}


def greedy_selection(rmse: np.ndarray, models: Sequence[str], cores: Sequence[str],
                     threshold: float = THRESHOLD) -> tuple[list[SelectionStep], list[str]]:
    """The paper's iterative selection on an (M, N) RMSE matrix.

    Returns
    -------
    steps
        In the order chosen; each model at most once.
    uncovered
        Cores no model fits.
    """
    rmse = np.asarray(rmse, dtype=np.float64)
    fits = np.nan_to_num(rmse, nan=np.inf) < threshold
    remaining = np.ones(rmse.shape[1], dtype=bool)
    available = np.ones(rmse.shape[0], dtype=bool)
    steps = []
    while remaining.any() and available.any():
        covered = fits & remaining & available[:, None]
        counts = covered.sum(axis=1)
        best_count = int(counts.max())
        if best_count == 0:
            break
        candidates = np.flatnonzero(counts == best_count)
        means = [rmse[m, covered[m]].mean() for m in candidates]
        chosen = int(candidates[int(np.argmin(means))])
        taken = np.flatnonzero(covered[chosen])
        steps.append(SelectionStep(models[chosen], [cores[c] for c in taken],
                                   [float(rmse[chosen, c]) for c in taken]))
        remaining[taken] = False
        available[chosen] = False
    return steps, [cores[c] for c in np.flatnonzero(remaining)]


@dataclass
class TransferMatrix:
    """The RMSE of every model on every core, with the greedy selection.

    Attributes
    ----------
    models, cores
        Row and column names.
    targets
        Target object of each model.
    rmse : (M, N) float
    threshold
    selection, uncovered
        :func:`greedy_selection`'s result.
    """

    models: list[str]
    cores: list[str]
    targets: list[int]
    rmse: np.ndarray
    threshold: float
    selection: list[SelectionStep] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"models": self.models, "cores": self.cores, "targets": self.targets,
                "rmse": [[float(v) for v in row] for row in self.rmse],
                "threshold": self.threshold,
                "selection": [s.to_json() for s in self.selection],
                "uncovered": self.uncovered}

    def table(self) -> list[tuple[str, int]]:
        """Table 2: ``(model, number of cores fitted)`` in the order chosen."""
        return [(s.model, s.count) for s in self.selection]


def core_rmse(model: SoilSurrogate, core: CoreSlices, channels: np.ndarray | None = None,
              batch_size: int = 32) -> float:
    """RMSE of ``model``'s prediction over every slice of ``core`` (its own target object);
    ``channels`` are the core's inputs when already computed."""
    channels = core.channels() if channels is None else channels
    predicted = model.predict_channels(channels, batch_size)
    return float(np.sqrt(np.mean((predicted - core.target(model.target)) ** 2)))


@dataclass
class CorePrediction:
    """A model's porosity along a core's depth beside the computed one.

    Attributes
    ----------
    slice_index, depth_mm : (n,)
        As in the core's profile.
    predicted, computed : (n,) float
        The network's and the analysis' porosity of the model's object per slice.
    rmse
    """

    core: str
    target: int
    slice_index: np.ndarray
    depth_mm: np.ndarray
    predicted: np.ndarray
    computed: np.ndarray
    rmse: float


def iter_predict_core(model: SoilSurrogate, core: CoreSlices, batch_size: int = 32
                      ) -> TaskGenerator[CorePrediction]:
    """Predict every slice of ``core`` in batches (yields Progress); returns the prediction
    beside the computed porosity."""
    parts = []
    for n0 in range(0, len(core), batch_size):
        rows = np.arange(n0, min(len(core), n0 + batch_size))
        parts.append(model.predict_channels(core.channels(rows), batch_size))
        yield Progress(rows[-1] / max(1, len(core) - 1), f"{core.name}: slice {rows[-1] + 1}"
                                                         f"/{len(core)}")
    predicted = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    computed = core.target(model.target)
    rmse = float(np.sqrt(np.mean((predicted - computed) ** 2))) if len(core) else float("nan")
    return CorePrediction(core.name, model.target, core.slice_index, core.depth_mm, predicted,
                          computed, rmse)


def evaluate_cores(model: SoilSurrogate, cores: Sequence[CoreSlices], batch_size: int = 32
                   ) -> dict:
    """RMSE of ``model`` on whole cores it never saw: ``{"rmse": pooled over every slice,
    "cores": {name: RMSE}, "slices": n}``."""
    errors, per_core = [], {}
    for core in cores:
        prediction = drive(iter_predict_core(model, core, batch_size))
        per_core[core.name] = prediction.rmse
        errors.append(prediction.predicted - prediction.computed)
    pooled = np.concatenate(errors) if errors else np.zeros(0)
    return {"rmse": float(np.sqrt(np.mean(pooled ** 2))) if pooled.size else float("nan"),
            "cores": per_core, "slices": int(pooled.size)}


def iter_matrix(models: Sequence[tuple[str, SoilSurrogate]], cores: Sequence[CoreSlices],
                threshold: float = THRESHOLD, batch_size: int = 32
                ) -> TaskGenerator[TransferMatrix]:
    """Apply every model to every core; yields Progress per (model, core), returns the
    :class:`TransferMatrix` with its selection."""
    models, cores = list(models), list(cores)
    rmse = np.full((len(models), len(cores)), np.nan)
    total = max(1, len(models) * len(cores))
    for c, core in enumerate(cores):
        channels = core.channels()
        for m, (name, model) in enumerate(models):
            rmse[m, c] = core_rmse(model, core, channels, batch_size)
            done = c * len(models) + m + 1
            yield Progress(done / total, f"{name} on {core.name}: RMSE {rmse[m, c]:.4f}",
                           model=m, core=c, rmse=rmse[m, c])
    names = [name for name, _ in models]
    core_names = [core.name for core in cores]
    steps, uncovered = greedy_selection(rmse, names, core_names, threshold)
    return TransferMatrix(names, core_names, [model.target for _, model in models], rmse,
                          float(threshold), steps, uncovered)
