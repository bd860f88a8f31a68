"""Cores as training data: slices across the core → 3-channel inputs, per-slice porosity → targets.

Inputs (the paper's Fig. 10): three channels per slice, made of the object bands 1+2, 3+4 and
5+6 (with the paper's bands: shifted values [0, 2048), [2048, 4096), [4096, 6144]; the last
channel takes every band from the fifth up). A voxel outside a channel's range is 0 in it;
inside, the channel is 0.5 + 0.5 × (position within the range), so both the band membership
and the value survive. Targets: the porosity per slice of each object from the analysis
(:func:`engines.soil.analysis.iter_analyze`), i.e. after trimming in 3-D.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import TaskGenerator, forward
from engines.soil.preprocess import CropBox, PreprocessConfig

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mhd", ".mha", ".tif", ".tiff")


def slice_channels(hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Network inputs for slices.

    Parameters
    ----------
    hu : (n, H, W)
        HU of n slices across the core.

    Returns
    -------
    (n, 3, H, W) float32
    """
    hu = np.asarray(hu)
    out = np.zeros((hu.shape[0], 3, *hu.shape[1:]), dtype=np.float32)
    full = config.clip_high - config.clip_low
    pair = 2 * config.band_width
    for n0 in range(0, hu.shape[0], 64):
        shifted = np.clip(hu[n0:n0 + 64].astype(np.float32), config.clip_low, config.clip_high)
        shifted -= np.float32(config.clip_low)
        for c in range(3):
            low = min(c * pair, full)
            high = full if c == 2 else min((c + 1) * pair, full)
            if high <= low:
                continue
            # the channel that reaches the clip maximum holds it (with 4 bands or fewer that
            # is not the last channel, which is then empty)
            top = high >= full
            inside = (shifted >= low) & ((shifted <= high) if top else (shifted < high))
            out[n0:n0 + 64, c][inside] = 0.5 + 0.5 * (shifted[inside] - low) / (high - low)
    return out


@dataclass
class CoreSlices:
    """The slices of one analysed core along its depth.

    Attributes
    ----------
    name
        The core's name (folder or file name).
    hu : (n, H, W)
        The crop, depth first (a copy).
    targets : (n, n_objects) float32
        Porosity of every object per slice.
    slice_index, depth_mm : (n,)
        Volume slice index along the depth and depth of the slice centre, mm.
    crop, depth_axis
        The analysed box and depth axis in the volume.
    """

    name: str
    source: Path | None
    hu: np.ndarray
    targets: np.ndarray
    slice_index: np.ndarray
    depth_mm: np.ndarray
    crop: CropBox
    depth_axis: int
    preprocess: PreprocessConfig

    def __len__(self) -> int:
        return len(self.hu)

    def channels(self, indices=None) -> np.ndarray:
        """Inputs (m, 3, H, W) float32 of the slices ``indices`` (default all)."""
        hu = self.hu if indices is None else self.hu[np.asarray(indices)]
        return slice_channels(hu, self.preprocess)

    def target(self, k: int) -> np.ndarray:
        """Porosity of object ``k`` per slice, (n,) float32."""
        return self.targets[:, self.preprocess.check_object(k) - 1]


def core_slices(analysis, name: str | None = None) -> CoreSlices:
    """:class:`CoreSlices` of an HU :class:`~engines.soil.analysis.Analysis`."""
    from engines.soil.preprocess import preprocessing_of

    if analysis.segmented:
        raise InputError("a segmented stack has no object bands to train on")
    depth = analysis.depth_axis
    hu = np.ascontiguousarray(np.moveaxis(np.asarray(analysis.volume.array[analysis.crop.slices]),
                                          depth, 0))
    names = analysis.config.object_names
    targets = np.stack([analysis.profile.porosity[n] for n in names], axis=1).astype(np.float32)
    source = analysis.source
    return CoreSlices(name or (source.name if source else "core"), source, hu, targets,
                      analysis.profile.slice_index, analysis.profile.depth_mm, analysis.crop,
                      depth, preprocessing_of(analysis.config))


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM" or path.suffix.lower() == ".dcm"


def _is_volume_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not name.startswith(".") and name.endswith(VOLUME_SUFFIXES)


def find_cores(path: str | Path) -> list[Path]:
    """The cores at ``path``: a volume file, a DICOM series folder (or a folder of TIFF slices),
    or a folder holding such volumes in it or below (sorted by path).

    Raises
    ------
    InputError
        When no volume is found.
    """
    path = Path(path)
    if not path.exists():
        raise InputError.for_file(path, "no such file or folder")
    if path.is_file():
        return [path]
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
    tiffs = [p for p in files if p.suffix.lower() in (".tif", ".tiff")]
    if any(_is_dicom(p) for p in files[:8]) or (tiffs and len(tiffs) == len(files) > 1):
        return [path]
    found = [p for p in files if _is_volume_file(p)]
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found += find_cores(sub)
        except InputError:
            continue
    if not found:
        raise InputError.for_file(path, "no core found (a DICOM series folder, NIfTI, "
                                        "MetaImage or TIFF stack, or a folder of them)")
    return found


def core_name(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", *VOLUME_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def iter_load_cores(paths, config: PreprocessConfig | None = None
                    ) -> TaskGenerator[list[CoreSlices]]:
    """Read and analyse each core (the analysis gives the targets); yields Progress."""
    from engines.soil.analysis import AnalysisConfig, iter_analyze_path

    paths = [Path(p) for p in paths]
    settings = AnalysisConfig.of(config or PreprocessConfig())
    cores = []
    for i, path in enumerate(paths):
        span = 1.0 / max(1, len(paths))
        analysis = yield from forward(iter_analyze_path(path, settings), i * span, span,
                                      f"{path.name}: ")
        cores.append(core_slices(analysis, core_name(path)))
    return cores


def split_slices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random split of ``n`` slices into train and validation indices (sorted), by slice."""
    order = np.random.default_rng([seed, 0x5B117]).permutation(n)
    n_val = int(round(n * val_fraction))
    if n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@dataclass
class SliceSet:
    """Slices of several cores pooled at one size.

    Attributes
    ----------
    inputs : (N, 3, S, S) float16
    targets : (N, n_objects) float32
    core : (N,) int
        Index into ``names``.
    names : list of str
    """

    inputs: np.ndarray
    targets: np.ndarray
    core: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.inputs)


def pool_slices(cores: list[CoreSlices], size: int) -> SliceSet:
    """Every slice of ``cores`` as inputs of ``size`` × ``size`` px (bilinear, as the network
    resizes)."""
    import torch

    from engines.soil.models import resize_channels

    if not cores:
        raise InputError("no cores to train on")
    inputs = []
    for core in cores:
        for n0 in range(0, len(core), 64):
            x = torch.from_numpy(core.channels(np.arange(n0, min(len(core), n0 + 64))))
            inputs.append(resize_channels(x, size).numpy().astype(np.float16))
    targets = np.concatenate([c.targets for c in cores])
    index = np.concatenate([np.full(len(c), i) for i, c in enumerate(cores)])
    return SliceSet(np.concatenate(inputs), targets, index, [c.name for c in cores])
