"""What the soil workspace shows for one core: the analysis, the surrogate's prediction along the
depth, grad-CAM, and both placed on the whole volume's grid for the slice and 3-D views.

:func:`iter_inspect_core` is the workspace's Analyze: :func:`engines.soil.analysis.iter_analyze`
(crop, bands, trimming, porosity, profiles, optional pore metrics), then with a model
:func:`engines.soil.matrix.iter_predict_core` and :func:`engines.soil.gradcam.iter_heat_volume`.
The label and heat volumes cover the whole volume (the views overlay the volume's grid): inside
the crop label k is the solid of object k and ``n_objects + 1`` a cluster removed by trimming;
outside the crop everything is 0 (not analysed) and the heat is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.progress import Progress, TaskGenerator, forward
from engines.imaging.volume import Volume
from engines.soil.analysis import Analysis, AnalysisConfig, iter_analyze
from engines.soil.gradcam import HeatVolume
from engines.soil.matrix import CorePrediction
from engines.soil.preprocess import CropBox

HEAT_PERCENTILE = 99.5
HOT_FRACTION = 0.5


def embed(array: np.ndarray, crop: CropBox, shape_zyx, fill=0) -> np.ndarray:
    """``array`` (the crop's shape) placed at ``crop`` in a new array of ``shape_zyx``."""
    out = np.full(tuple(shape_zyx), fill, dtype=array.dtype)
    out[crop.slices] = array
    return out


def object_labels(analysis: Analysis) -> tuple[np.ndarray, dict[int, str]]:
    """The band labels on the volume's grid and a name per label.

    Returns
    -------
    labels : (z, y, x) uint8
        0 outside the crop, k = solid of object k (``objectk``), ``n_objects + 1`` = trimmed.
    names : {label: name}
        ``"object2 (-1024…-1 HU)"`` …, ``"trimmed (≤ 60 voxels)"``.
    """
    config = analysis.config
    n = config.n_objects
    inside = np.where(analysis.labels == 0, n + 1, analysis.labels).astype(np.uint8)
    labels = embed(inside, analysis.crop, analysis.shape_zyx)
    names = {}
    for k, name in enumerate(config.object_names, 1):
        low, high = config.object_range(k, shifted=False)
        names[k] = f"{name} [{low:g}, {high:g}) HU"
    names[n + 1] = f"trimmed (≤ {config.min_cluster} voxels)"
    return labels, names


def only_objects(labels: np.ndarray, keep) -> np.ndarray:
    """``labels`` with every label not in ``keep`` set to 0 (e.g. the surfaces of the 3-D
    view: pores and stones, not the matrix that encloses them)."""
    lut = np.zeros(max(256, int(labels.max()) + 1), dtype=labels.dtype)
    for k in keep:
        lut[int(k)] = k
    return lut[labels]


@dataclass
class CoreView:
    """The result of :func:`iter_inspect_core`.

    Attributes
    ----------
    name
        The core's name.
    analysis
        Porosity, profiles, crop, band labels and (when asked) pore metrics.
    labels : (z, y, x) uint8
        :func:`object_labels` of the analysis; None for a segmented stack.
    label_names
    prediction
        The model's porosity along the depth beside the computed one (None without a model).
    heat
        Grad-CAM over the crop (None without a model or when not asked).
    heat_volume : (z, y, x) float32 in [0, 1] or None
        ``heat`` on the volume's grid.
    heat_levels
        Display range of the heat: 0 to its 99.5th percentile over the crop (grad-CAM is
        sparse: scaled to its single maximum, most slices would look empty).
    """

    name: str
    analysis: Analysis
    labels: np.ndarray | None
    label_names: dict[int, str]
    prediction: CorePrediction | None = None
    heat: HeatVolume | None = None
    heat_volume: np.ndarray | None = None
    heat_levels: tuple[float, float] = (0.0, 1.0)

    @property
    def volume(self) -> Volume:
        return self.analysis.volume

    def heat_region(self, fraction: float = HOT_FRACTION) -> np.ndarray | None:
        """1 where the heat reaches ``fraction`` of its display maximum, else 0 (uint8, the
        volume's grid): grad-CAM as a surface in the 3-D view. None without grad-CAM."""
        if self.heat_volume is None:
            return None
        return (self.heat_volume >= fraction * self.heat_levels[1]).astype(np.uint8)

    def porosity_rows(self) -> list[tuple[str, str, float, float | None]]:
        """``(object, HU range, porosity of the crop, model RMSE or None)`` per object."""
        config = self.analysis.config
        rows = []
        for key, value in self.analysis.porosity.items():
            if self.analysis.segmented:
                rows.append((key, "0 = pore", value, None))
                continue
            k = config.object_names.index(key) + 1
            low, high = config.object_range(k, shifted=False)
            rmse = (self.prediction.rmse if self.prediction is not None
                    and self.prediction.target == k else None)
            rows.append((key, f"[{low:g}, {high:g})", value, rmse))
        return rows

    def metric_rows(self) -> list[tuple[str, str, str]]:
        """``(metric, value, unit)`` of the pore metrics (empty when not computed)."""
        metrics = self.analysis.pore_metrics
        if metrics is None:
            return []
        psd = metrics.pore_size
        rows = [("void of", metrics.what, ""),
                ("mean pore radius (local thickness)", f"{psd.mean_radius_mm:.3f}", "mm"),
                ("connected porosity (top to bottom)", f"{metrics.connected_porosity:.4f}", ""),
                ("specific surface area", f"{metrics.specific_surface_area_per_mm:.4f}",
                 "mm²/mm³")]
        for r, f in zip(psd.radius_mm, psd.volume_fraction, strict=True):
            rows.append((f"pore volume, radius {r:.2f} mm", f"{f:.4f}", "share"))
        return rows


def iter_inspect_core(volume: Volume, name: str, config: AnalysisConfig | None = None,
                      model=None, gradcam: bool = True, layer: str | None = None,
                      ) -> TaskGenerator[CoreView]:
    """Analyze ``volume`` and, with ``model`` (a
    :class:`~engines.soil.models.SoilSurrogate`), predict its porosity per slice and
    grad-CAM; yields Progress, returns a :class:`CoreView`."""
    from engines.soil.dataset import core_slices
    from engines.soil.gradcam import iter_heat_volume
    from engines.soil.matrix import iter_predict_core

    if model is not None and config is None:
        config = AnalysisConfig.of(model.preprocess)
    with_model = model is not None and not (config and config.segmented)
    span = 0.7 if with_model else 1.0
    analysis = yield from forward(iter_analyze(volume, config), 0.0, span)
    if analysis.segmented:
        return CoreView(name, analysis, None, {})
    labels, names = object_labels(analysis)
    view = CoreView(name, analysis, labels, names)
    if not with_model:
        return view
    slices = core_slices(analysis, name)
    view.prediction = yield from forward(iter_predict_core(model, slices), 0.7, 0.1,
                                         "surrogate: ")
    if gradcam:
        view.heat = yield from forward(iter_heat_volume(model, slices, layer), 0.8, 0.2, "")
        view.heat_volume = embed(view.heat.heat, analysis.crop, analysis.shape_zyx, 0.0)
        heat = view.heat.heat
        top = float(np.percentile(heat, HEAT_PERCENTILE)) if heat.size else 0.0
        view.heat_levels = (0.0, top if top > 0 else 1.0)
    yield Progress(1.0, f"{name}: RMSE of the surrogate {view.prediction.rmse:.4f}")
    return view


def iter_core_slices(cores, preprocess=None, span: float = 1.0):
    """:class:`~engines.soil.dataset.CoreSlices` of cores of the workspace's list; yields
    Progress over ``[0, span]``.

    Parameters
    ----------
    cores
        ``(name, path, analysis or None)`` per core: an HU analysis made with ``preprocess``
        is used as it is, any other core is read and analysed first.
    preprocess
        :class:`~engines.soil.preprocess.PreprocessConfig` of the inputs and targets (default:
        the paper's).
    """
    from engines.soil.analysis import iter_analyze_path
    from engines.soil.dataset import core_slices
    from engines.soil.preprocess import PreprocessConfig, preprocessing_of

    preprocess = preprocessing_of(preprocess or PreprocessConfig())
    cores = list(cores)
    slices = []
    for i, (name, path, analysis) in enumerate(cores):
        usable = (analysis is not None and not analysis.segmented
                  and preprocessing_of(analysis.config) == preprocess)
        if not usable:
            analysis = yield from forward(
                iter_analyze_path(path, AnalysisConfig.of(preprocess)),
                span * i / len(cores), span / len(cores), f"{name}: ")
        slices.append(core_slices(analysis, name))
    return slices


def iter_train_on_cores(cores, config=None, preprocess=None):
    """Train a surrogate on ``cores`` (as :func:`iter_core_slices` takes them); yields Progress
    (the training's curve metrics kept), returns a
    :class:`~engines.soil.training.TrainResult`."""
    from engines.soil.training import iter_train

    slices = yield from iter_core_slices(cores, preprocess, 0.3)
    return (yield from forward(iter_train(slices, config), 0.3, 0.7))


def iter_matrix_on_cores(models, cores, threshold: float | None = None):
    """The paper's model-transfer matrix: every model of ``models`` (``(name, SoilSurrogate)``;
    they share the first one's preprocessing) on every core of ``cores`` (as
    :func:`iter_core_slices` takes them), with the greedy selection; yields Progress, returns a
    :class:`~engines.soil.matrix.TransferMatrix`."""
    from engines.core.errors import InputError
    from engines.soil.matrix import THRESHOLD, iter_matrix

    models = list(models)
    if not models:
        raise InputError("the matrix needs at least one model")
    slices = yield from iter_core_slices(cores, models[0][1].preprocess, 0.4)
    return (yield from forward(iter_matrix(models, slices, THRESHOLD if threshold is None
                                           else threshold), 0.4, 0.6))


def iter_load_models(paths, device: str = "auto"):
    """Load surrogate model files; yields Progress, returns ``[(name, SoilSurrogate)]`` named
    after the files."""
    from pathlib import Path

    from engines.core.model import load_model
    from engines.soil.models import SoilSurrogate

    models = []
    paths = [Path(p) for p in paths]
    for i, path in enumerate(paths):
        yield Progress(i / max(1, len(paths)), f"loading {path.name}")
        models.append((path.with_suffix("").name, load_model(SoilSurrogate, path, "soil",
                                                              device)))
    return models


def model_files(folder) -> list:
    """The model files (``*.safetensors`` with their JSON) in ``folder``, sorted."""
    from pathlib import Path

    from engines.core.errors import InputError

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError.for_file(folder, "is not a folder of models")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise InputError.for_file(folder, "holds no model (*.safetensors + .json)")
    return files


def iter_open_cores(path) -> TaskGenerator[tuple[list, Volume]]:
    """The cores at ``path`` (:func:`engines.soil.dataset.find_cores`) and the first one read;
    yields Progress. Nothing is returned for a path whose first core does not read
    (InputError naming the file), so a bad file never reaches the core list."""
    from pathlib import Path

    from engines.imaging.volume_io import read_volume_task
    from engines.soil.dataset import find_cores

    yield Progress(0.0, f"looking for cores in {Path(path).name}")
    paths = find_cores(path)
    volume = yield from forward(read_volume_task(paths[0]), 0.05, 0.95,
                                f"{paths[0].name}: ")
    return paths, volume


def iter_transfer_on_cores(model, cores, config=None):
    """Transfer learning (:func:`engines.soil.transfer.iter_transfer`: ``model``'s frozen
    convolutional layers, its dense head retrained on ``config.target``) on ``cores`` (as
    :func:`iter_core_slices` takes them, analysed with the model's preprocessing); yields
    Progress, returns a :class:`~engines.soil.training.TrainResult`."""
    from engines.soil.transfer import iter_transfer

    slices = yield from iter_core_slices(cores, model.preprocess, 0.3)
    return (yield from forward(iter_transfer(model, slices, config), 0.3, 0.7))
