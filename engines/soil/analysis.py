"""Analyze a CT core: find the axis, crop, band, trim, and measure porosity per object.

:func:`iter_analyze` is the one analysis: the GUI's Analyze, the CLI's ``soil analyze``, the
batch job and the training data all run it. For a volume in HU it returns, per object k, the
porosity of the whole crop and per slice along the depth (:mod:`engines.soil.porosity`), the
crop box, and the band label volume after trimming (for the 3-D view). For a segmented stack
(``segmented=True``: 0 = pore, anything else = solid) it counts the pores directly, slab by
slab, with no banding or trimming.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.config import param, to_json
from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, forward
from engines.imaging.volume import Volume
from engines.soil.bands import band_labels, iter_trim_objects
from engines.soil.core_axis import CoreAxis, choose_crop, find_core_axis
from engines.soil.pore_metrics import PoreMetrics, iter_pore_metrics
from engines.soil.porosity import (
    Profile,
    depth_positions,
    iter_segmented_profile,
    object_porosity,
    object_profile,
)
from engines.soil.preprocess import AXES, CropBox, PreprocessConfig

SEGMENTED = "segmented"


@dataclass(frozen=True)
class AnalysisConfig(PreprocessConfig):
    """What Analyze does: the paper's preprocessing plus the input kind and further metrics."""

    segmented: bool = param(False, label="Segmented stack",
                            help="the volume is already segmented: 0 = pore, anything else = "
                                 "solid; its porosity is counted directly (no bands, no "
                                 "trimming)")
    pore_metrics: bool = param(False, label="Pore metrics",
                               help="also pore size distribution, connected porosity and "
                                    "specific surface area (slow on large crops)")
    metrics_object: int = param(4, label="Metrics object", range=(1, 64),
                                help="HU volumes: the metrics describe the void of this "
                                     "object (its complement after trimming)")
    psd_bins: int = param(10, label="Pore size bins", range=(2, 200))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.segmented:
            self.check_object(self.metrics_object)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def of(cls, preprocess: PreprocessConfig, **changes: Any) -> AnalysisConfig:
        """The analysis of a model's or a dataset's preprocessing (plus ``changes``)."""
        values = {f.name: getattr(preprocess, f.name) for f in dataclasses.fields(preprocess)}
        return cls(**{**values, **changes})


@dataclass
class Analysis:
    """The result of :func:`iter_analyze`.

    Attributes
    ----------
    source
        File or folder read (None for an in-memory volume).
    shape_zyx, spacing_mm_zyx
        Of the whole volume.
    crop
        The box analysed, in volume indices.
    depth_axis
        Array axis of the depth (0 = z).
    porosity
        ``{"object1": p1, ...}`` (HU) or ``{"segmented": p}``.
    profile
        Porosity per slice along the depth, with depth in mm.
    labels : (crop z, y, x) uint8 or None
        Band label volume after trimming (k = solid of object k, 0 = trimmed cluster), in the
        volume's orientation; None for a segmented stack (its own values are the labels).
    core
        The core axis found (None when not searched: no crop, or ``centre="array"``).
    notes
        What was assumed or changed (crop clipped, shrunk, shifted; axis not found).
    trimmed
        Voxels trimmed per object.
    pore_metrics
        :class:`~engines.soil.pore_metrics.PoreMetrics`, when asked for.
    config
        The settings used.
    volume
        The volume analysed (the caller's, not a copy).
    """

    source: Path | None
    shape_zyx: tuple[int, int, int]
    spacing_mm_zyx: tuple[float, float, float]
    crop: CropBox
    depth_axis: int
    porosity: dict[str, float]
    profile: Profile
    labels: np.ndarray | None
    core: CoreAxis | None
    config: AnalysisConfig
    notes: list[str] = field(default_factory=list)
    trimmed: dict[str, int] = field(default_factory=dict)
    pore_metrics: PoreMetrics | None = None
    volume: Volume | None = field(default=None, repr=False)

    @property
    def segmented(self) -> bool:
        return SEGMENTED in self.porosity

    def to_json(self) -> dict[str, Any]:
        """The ``soil analyze`` JSON: ``porosity``, ``profile``, ``shape`` (volume z, y, x),
        ``spacing_mm`` (z, y, x), ``crop`` (``[z0, y0, x0, z1, y1, x1]``, ends exclusive),
        plus ``crop_size_zyx``, ``depth_axis``, ``objects`` (HU range of each), ``core``,
        ``trimmed``, ``notes``, ``settings`` and, when computed, ``pore_metrics``."""
        config = self.config
        out: dict[str, Any] = {
            "source": None if self.source is None else str(self.source),
            "porosity": {k: float(v) for k, v in self.porosity.items()},
            "profile": self.profile.to_json(),
            "shape": list(self.shape_zyx), "spacing_mm": list(self.spacing_mm_zyx),
            "crop": self.crop.to_list(), "crop_size_zyx": list(self.crop.size_zyx),
            "depth_axis": AXES[self.depth_axis],
        }
        if not self.segmented:
            out["objects"] = {name: {"hu": list(config.object_range(k, shifted=False)),
                                     "shifted": list(config.object_range(k))}
                              for k, name in enumerate(config.object_names, 1)}
            out["trimmed"] = dict(self.trimmed)
        out["core"] = None if self.core is None else self.core.to_json()
        out["notes"] = list(self.notes)
        out["settings"] = config.to_json()
        if self.pore_metrics is not None:
            out["pore_metrics"] = self.pore_metrics.to_json()
        return out


def _segmented_note(volume: Volume, box: CropBox) -> list[str]:
    step = max(1, int(np.ceil((box.n_voxels / 200_000) ** (1 / 3))))
    sample = np.asarray(volume.array[box.slices][::step, ::step, ::step])
    distinct = np.unique(sample)
    if distinct.size > 2:
        return [f"the volume holds more than two values ({distinct.size} in a sample); "
                "as a segmented stack 0 counts as pore and every other value as solid"]
    return []


def iter_analyze(volume: Volume, config: AnalysisConfig | None = None,
                 crop: CropBox | None = None) -> TaskGenerator[Analysis]:
    """Analyze a core; yields Progress, returns an :class:`Analysis`.

    Parameters
    ----------
    volume
        HU (or a segmented stack with ``config.segmented``), ``[z, y, x]``.
    config
        Preprocessing and options (default: the paper's).
    crop
        An explicit box (e.g. drawn in the slice view), used as given; default: chosen from
        ``config`` (:func:`engines.soil.core_axis.choose_crop`).
    """
    config = config or AnalysisConfig()
    depth = AXES.index(config.core_axis)
    spacing = tuple(float(s) for s in volume.spacing_zyx)
    notes: list[str] = []
    core = None
    if crop is None:
        if config.crop is not None and config.centre == "core":
            yield Progress(0.0, "finding the core axis")
            core = find_core_axis(volume.array, spacing, depth,
                                  None if config.segmented else config.core_threshold)
        crop, notes = choose_crop(volume.shape, spacing, config, core)
    elif any(e > n for e, n in zip(crop.stop_zyx, volume.shape, strict=True)):
        raise InputError(f"crop box {crop.to_list()} does not fit in a volume of shape "
                         f"{volume.shape}")
    index, depth_mm = depth_positions(crop, depth, spacing[depth])
    profile = Profile(depth, index, depth_mm)
    common = dict(source=volume.source, shape_zyx=tuple(volume.shape), spacing_mm_zyx=spacing,
                  crop=crop, depth_axis=depth, profile=profile, core=core, config=config,
                  volume=volume)
    if config.segmented:
        notes += _segmented_note(volume, crop)
        porosity, per_slice = yield from forward(
            iter_segmented_profile(volume.array, crop, depth), 0.05, 0.9, "pores: ")
        profile.porosity[SEGMENTED] = per_slice
        result = Analysis(porosity={SEGMENTED: porosity}, labels=None, notes=notes, **common)
        if config.pore_metrics:
            void = np.asarray(volume.array[crop.slices]) == 0
            result.pore_metrics = yield from forward(
                iter_pore_metrics(void, spacing, depth, SEGMENTED, config.psd_bins), 0.95, 0.05)
        return result
    yield Progress(0.05, f"object bands of {crop.n_voxels:,} voxels")
    labels = band_labels(volume.array[crop.slices], config)
    trimmed = yield from forward(iter_trim_objects(labels, config), 0.1, 0.5, "")
    porosity = {}
    names = config.object_names
    for k, name in enumerate(names, 1):
        porosity[name] = object_porosity(labels, k)
        profile.porosity[name] = object_profile(labels, k, depth)
        yield Progress(0.6 + 0.3 * k / len(names), f"porosity of {name}: {porosity[name]:.4f}")
    result = Analysis(porosity=porosity, labels=labels, notes=notes, trimmed=trimmed, **common)
    if config.pore_metrics:
        k = config.metrics_object
        result.pore_metrics = yield from forward(
            iter_pore_metrics(labels != k, spacing, depth, names[k - 1], config.psd_bins),
            0.9, 0.1)
    return result


def iter_analyze_path(path: str | Path, config: AnalysisConfig | None = None
                      ) -> TaskGenerator[Analysis]:
    """Read a volume (any format :func:`engines.imaging.volume_io.read_volume` reads) and
    analyze it; the reader's warnings come first in the notes."""
    from engines.imaging.volume_io import read_volume_task

    volume = yield from forward(read_volume_task(Path(path)), 0.0, 0.2, "reading: ")
    result = yield from forward(iter_analyze(volume, config), 0.2, 0.8)
    result.notes[:0] = list(volume.metadata.get("warnings", []))
    return result


def write_outputs(result: Analysis, json_path: Path | None = None,
                  csv_path: Path | None = None) -> dict[str, Any]:
    """Write the analysis JSON and/or the profile CSV atomically; returns the JSON dict."""
    import json

    from engines.core.files import atomic_write_bytes

    report = result.to_json()
    for path, data in ((json_path, lambda: json.dumps(report, indent=2)),
                       (csv_path, result.profile.to_csv)):
        if path is None:
            continue
        try:
            atomic_write_bytes(Path(path), data().encode())
        except OSError as exc:
            raise InputError(f"{Path(path).name}: cannot write ({exc.strerror})") from None
    return report


def iter_analyze_file(path: str | Path, config: AnalysisConfig | None = None,
                      json_path: Path | None = None, csv_path: Path | None = None
                      ) -> TaskGenerator[Analysis]:
    """:func:`iter_analyze_path` and :func:`write_outputs`: what ``soil analyze`` and the batch
    job run for one file."""
    result = yield from iter_analyze_path(path, config)
    write_outputs(result, json_path, csv_path)
    return result
