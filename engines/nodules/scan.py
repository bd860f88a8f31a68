"""Opening a chest CT for the nodule engine, in one orientation.

Every other module of the workspace works on axial slices ``array[z]`` of a volume whose index
axes run along the patient's left (x), posterior (y) and superior (z) directions: the ITK/LPS
identity orientation, which is also how a radiologist looks at an axial slice (anterior at the
top, the patient's right on the left of the image). :func:`axial_lps` brings any volume there
by permuting and flipping its index axes — a view of the same voxels, no resampling — and
moving the origin to the new first voxel, so every voxel keeps its world position. A scan
stored with a negative direction cosine (z running downwards, x mirrored) therefore gives the
same slices, boxes and world coordinates as the same scan stored the usual way.

A :class:`Scan` is that volume plus its series UID (LUNA16's ``seriesuid``): the
SeriesInstanceUID of a DICOM series, the file stem of a .mhd / .nii file.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, drive
from engines.imaging.volume import Volume

#: Largest in-plane matrix and slice count accepted (a hostile header cannot make us allocate
#: more; real chest CT is 512 × 512 × 100…1000).
MAX_SLICE_PIXELS = 2048 * 2048
MAX_SLICES = 4000


@dataclass(frozen=True, eq=False)
class Scan:
    """A chest CT in the axial LPS orientation.

    Attributes
    ----------
    volume : Volume
        ``(nz, ny, nx)`` HU with direction ≈ identity (see :func:`axial_lps`).
    seriesuid : str
        The LUNA16 series identifier.
    source : Path or None
        The file or folder it was read from.
    reoriented : tuple of str
        What :func:`axial_lps` did (``"flip z"``, ``"swap x/y"``, ...); empty when nothing.
    warnings : list of str
        What the reader had to assume.
    """

    volume: Volume
    seriesuid: str
    source: Path | None = None
    reoriented: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.volume.shape

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        return self.volume.spacing_zyx

    def describe(self) -> str:
        text = f"{self.seriesuid}: {self.volume.describe()}"
        return text + (f" (reoriented: {', '.join(self.reoriented)})" if self.reoriented else "")


def _best_permutation(direction: np.ndarray) -> tuple[int, int, int]:
    """``perm[j]`` = the index axis (0 x, 1 y, 2 z) that runs closest to world axis ``j``."""
    magnitude = np.abs(direction)
    return max(itertools.permutations(range(3)),
               key=lambda perm: sum(magnitude[j, perm[j]] for j in range(3)))


def axial_lps(volume: Volume) -> tuple[Volume, tuple[str, ...]]:
    """The volume with its index axes permuted and flipped to run along +x, +y, +z (LPS).

    Returns
    -------
    (Volume, changes)
        A view of the same voxels with direction column ``j`` the old axis that runs closest to
        world axis ``j``, sign-corrected; the origin is the world position of the new voxel
        [0, 0, 0]. ``changes`` lists what was done (empty when the volume was already so).
        An oblique scan (e.g. gantry tilt) keeps its small residual rotation in ``direction``.
    """
    direction = volume.direction
    perm = _best_permutation(direction)
    signs = [1 if direction[j, perm[j]] >= 0 else -1 for j in range(3)]
    if perm == (0, 1, 2) and signs == [1, 1, 1]:
        return volume, ()
    names = "xyz"
    changes = []
    if perm != (0, 1, 2):
        changes.append("axes " + "".join(names[p] for p in perm) + " → xyz")
    changes += [f"flip {names[j]}" for j in range(3) if signs[j] < 0]
    # array axes are (z, y, x): new array axis for world j is old array axis 2 - perm[j]
    array = np.transpose(volume.array, [2 - perm[2], 2 - perm[1], 2 - perm[0]])
    flips = tuple(a for a in range(3) if signs[2 - a] < 0)
    if flips:
        array = np.flip(array, axis=flips)
    old_shape_xyz = volume.shape[::-1]
    corner_ijk = np.zeros(3)  # old (x, y, z) index of the new voxel [0, 0, 0]
    for j in range(3):
        if signs[j] < 0:
            corner_ijk[perm[j]] = old_shape_xyz[perm[j]] - 1
    origin = volume.voxel_to_world(corner_ijk[::-1])
    new_direction = np.column_stack([direction[:, perm[j]] * signs[j] for j in range(3)])
    spacing = tuple(volume.spacing_xyz[perm[j]] for j in range(3))
    return replace(volume, array=array, spacing_xyz=spacing,
                   origin_xyz=tuple(float(v) for v in origin), direction=new_direction), \
        tuple(changes)


def file_seriesuid(path: Path) -> str:
    """The seriesuid of a scan file: its name without the volume suffix (``1.3.6...mhd`` →
    ``1.3.6...``; ``scan.nii.gz`` → ``scan``)."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".mhd", ".mha", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem or name


def seriesuid_of(path: Path, volume: Volume) -> str:
    """LUNA16's ``seriesuid``: the SeriesInstanceUID of a DICOM series, else
    :func:`file_seriesuid`."""
    uid = volume.metadata.get("series_uid")
    return str(uid) if uid else file_seriesuid(path)


def _check_size(path: Path, volume: Volume) -> None:
    nz, ny, nx = volume.shape
    if ny * nx > MAX_SLICE_PIXELS or nz > MAX_SLICES:
        raise InputError.for_file(path, f"{nx}×{ny}×{nz} voxels is not a chest CT this tool "
                                        f"reads (at most {MAX_SLICES} slices of "
                                        f"{MAX_SLICE_PIXELS} pixels)")
    if min(ny, nx) < 16:
        raise InputError.for_file(path, f"slices of {nx}×{ny} pixels are too small for nodule "
                                        "detection")
    if volume.modality and volume.modality not in ("CT", "OT"):
        raise InputError.for_file(path, f"modality {volume.modality!r} is not CT")


def scan_from_volume(volume: Volume, seriesuid: str | None = None) -> Scan:
    """A :class:`Scan` of a volume already in memory (synthetic data, tests)."""
    source = volume.source
    uid = seriesuid or (seriesuid_of(source, volume) if source else "scan")
    oriented, changes = axial_lps(volume)
    return Scan(oriented, uid, source, changes, list(volume.metadata.get("warnings", [])))


def open_scan_task(path: str | Path, series_uid: str | None = None) -> TaskGenerator[Scan]:
    """:func:`open_scan` as a generator yielding :class:`Progress` (for the task runner)."""
    from engines.imaging.volume_io import read_volume_task

    path = Path(path)
    volume = yield from read_volume_task(path, series_uid=series_uid)
    _check_size(path, volume)
    scan = scan_from_volume(volume, seriesuid_of(path, volume))
    yield Progress(1.0, f"{path.name} opened")
    return scan


def open_scan(path: str | Path, series_uid: str | None = None) -> Scan:
    """Read a chest CT: a .mhd/.mha, a NIfTI file, or a DICOM folder or file.

    Parameters
    ----------
    series_uid
        DICOM only: which series of the folder (default: the one with the most slices).

    Raises
    ------
    InputError
        A file that is not a readable CT volume (the message starts with its name).
    """
    return drive(open_scan_task(path, series_uid))


def scan_info(path: str | Path) -> dict[str, Any]:
    """A JSON-ready summary of a scan (``nodules info``): the imaging summary plus the
    ``seriesuid`` and the reorientation."""
    scan = open_scan(path)
    volume = scan.volume
    return {"path": str(path), "seriesuid": scan.seriesuid, "shape_zyx": list(volume.shape),
            "spacing_mm_zyx": list(volume.spacing_zyx), "origin_mm_xyz": list(volume.origin_xyz),
            "direction": volume.direction.tolist(), "reoriented": list(scan.reoriented),
            "hu_min": float(np.min(volume.array)), "hu_max": float(np.max(volume.array)),
            "reader": volume.metadata.get("reader", ""), "warnings": scan.warnings}
