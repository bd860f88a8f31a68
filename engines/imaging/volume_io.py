"""Reading and writing volumes: one entry point per direction, dispatching on what the path is.

======================  ===================================================================
path                    read by
======================  ===================================================================
folder of DICOM files   :mod:`engines.imaging.dicom_read` (pydicom; the largest series unless
                        ``series_uid`` picks one)
one DICOM file          the series it belongs to, from its folder
folder of TIFF slices   :mod:`engines.imaging.tiff_stack` (natural file-name order)
``.tif``/``.tiff``      :mod:`engines.imaging.tiff_stack` (multi-page, BigTIFF, memory-mapped)
``.nii``/``.nii.gz``    :mod:`engines.imaging.itk_io` (SimpleITK, LPS)
``.mhd``/``.mha``       :mod:`engines.imaging.itk_io` (SimpleITK, header checked first)
======================  ===================================================================

Every reader records its name in ``volume.metadata["reader"]`` and what it had to assume or
leave out in ``volume.metadata["warnings"]``; every failure on a bad file is an
:class:`~engines.core.errors.InputError` that starts with the file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, drive
from engines.imaging.dicom_series import SeriesInfo, list_series, read_header
from engines.imaging.itk_io import itk_format
from engines.imaging.tiff_stack import TIFF_SUFFIXES, tiff_slices
from engines.imaging.volume import Volume

__all__ = ["SeriesInfo", "list_series", "read_volume", "read_volume_task", "volume_format",
           "volume_info", "write_volume", "write_volume_task"]

#: ``write_volume`` formats and the options each accepts.
WRITE_OPTIONS = {
    "dicom": {"compression", "series_description", "patient_id", "patient_name",
              "series_number", "uid_seed"},
    "nifti": set(),
    "metaimage": {"compression"},
    "tiff": {"compression", "bigtiff"},
}


def volume_format(path: str | Path) -> str:
    """What ``read_volume`` sees in ``path``: ``"dicom"``, ``"dicom_file"``, ``"tiff_folder"``,
    ``"tiff"``, ``"nifti"`` or ``"metaimage"``.

    Raises
    ------
    InputError
        When nothing is at ``path`` or its suffix is not a volume format.
    """
    path = Path(path)
    if path.is_dir():
        return "tiff_folder" if tiff_slices(path) and all(
            p.suffix.lower() in TIFF_SUFFIXES for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".")) else "dicom"
    if not path.exists():
        raise InputError.for_file(path, "no such file or folder")
    kind = itk_format(path)
    if kind is not None:
        return kind
    if path.suffix.lower() in TIFF_SUFFIXES:
        return "tiff"
    if path.suffix.lower() in ("", ".dcm", ".dicom", ".ima"):
        return "dicom_file"
    raise InputError.for_file(path, "not a volume file: open a DICOM folder or file, a TIFF "
                                    "stack (.tif, .tiff or a folder of them), NIfTI (.nii, "
                                    ".nii.gz) or MetaImage (.mhd, .mha)")


def _single(volume: Volume) -> TaskGenerator[Volume]:
    yield Progress(1.0, "read")
    return volume


def read_volume_task(path: str | Path, *, series_uid: str | None = None,
                     spacing_xyz: tuple[float, float, float] | None = None
                     ) -> TaskGenerator[Volume]:
    """:func:`read_volume` as a generator yielding :class:`Progress` (for the task runner)."""
    from engines.imaging.dicom_read import read_dicom_series
    from engines.imaging.itk_io import read_itk
    from engines.imaging.tiff_stack import read_tiff_file, read_tiff_folder

    path = Path(path)
    kind = volume_format(path)
    if kind == "dicom_file":
        header = read_header(path)
        if isinstance(header, str):
            raise InputError.for_file(path, f"cannot be read as a DICOM image ({header})")
        volume = yield from read_dicom_series(path.parent,
                                              series_uid=series_uid or header.series_uid)
    elif kind == "dicom":
        volume = yield from read_dicom_series(path, series_uid=series_uid)
    elif kind == "tiff_folder":
        volume = yield from read_tiff_folder(path, spacing_xyz=spacing_xyz)
        volume.check_values()
        return volume
    elif kind == "tiff":
        volume = yield from _single(read_tiff_file(path, spacing_xyz=spacing_xyz))
        volume.check_values()
        return volume
    else:
        volume = yield from _single(read_itk(path))
    volume.check_values()
    if spacing_xyz is not None and not np.allclose(spacing_xyz, volume.spacing_xyz, rtol=1e-3):
        volume.metadata.setdefault("warnings", []).append(
            f"{path.name}: the file's voxel size {volume.spacing_xyz} is used; the spacing_xyz "
            f"given, {tuple(spacing_xyz)}, is only for files without one")
    return volume


def read_volume(path: str | Path, *, series_uid: str | None = None,
                spacing_xyz: tuple[float, float, float] | None = None) -> Volume:
    """Read a volume from a DICOM folder or file, a TIFF stack, NIfTI or MetaImage.

    Parameters
    ----------
    path
        File or folder (see the module's table).
    series_uid
        DICOM only: the SeriesInstanceUID to read (default: the largest series in the folder).
    spacing_xyz
        Voxel size (x, y, z mm) for files that carry none (TIFF without resolution tags);
        formats whose header has one keep it and warn when this differs.

    Returns
    -------
    Volume
        ``(nz, ny, nx)`` finite values (HU for CT: int16 when exact, else float32) with ITK
        geometry (voxel sizes within ``volume.SPACING_RANGE_MM``);
        ``metadata["reader"]`` and ``metadata["warnings"]`` say how it was read.

    Raises
    ------
    InputError
        For anything that is not a readable volume (the message starts with the file name).
    """
    return drive(read_volume_task(path, series_uid=series_uid, spacing_xyz=spacing_xyz))


def _write_format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in WRITE_OPTIONS:
            raise InputError(f"unknown volume format {format!r}; choose one of "
                             f"{', '.join(WRITE_OPTIONS)}")
        return format
    kind = itk_format(path)
    if kind is not None:
        return kind
    if path.suffix.lower() in TIFF_SUFFIXES:
        return "tiff"
    if path.suffix == "":
        return "dicom"
    raise InputError.for_file(path, "cannot tell the format from the name: use .nii, .nii.gz, "
                                    ".mhd, .mha, .tif, a folder name (DICOM) or format=")


def write_volume_task(volume: Volume, path: str | Path, *, format: str | None = None,
                      **options: Any) -> TaskGenerator[Path]:
    """:func:`write_volume` as a generator yielding :class:`Progress`."""
    from engines.imaging.dicom_write import write_dicom_series
    from engines.imaging.itk_io import write_itk
    from engines.imaging.tiff_stack import write_tiff

    path = Path(path)
    kind = _write_format(path, format)
    unknown = set(options) - WRITE_OPTIONS[kind]
    if unknown:
        raise InputError(f"{kind} writing has no option {', '.join(sorted(unknown))}; it takes "
                         f"{', '.join(sorted(WRITE_OPTIONS[kind])) or 'none'}")
    if kind == "dicom":
        yield from write_dicom_series(volume, path, **options)
    elif kind == "tiff":
        write_tiff(volume, path, **options)
    else:
        if kind != (itk_format(path) or kind):
            raise InputError.for_file(path, f"the name does not fit format={kind!r}")
        write_itk(volume, path, **options)
    yield Progress(1.0, f"{path.name} written")
    return path


def write_volume(volume: Volume, path: str | Path, *, format: str | None = None,
                 **options: Any) -> Path:
    """Write ``volume`` in the format of ``path``'s suffix (or ``format=``).

    Parameters
    ----------
    path
        ``.nii``/``.nii.gz``, ``.mhd`` (+ ``.raw``/``.zraw``), ``.mha``, ``.tif``/``.tiff``, or a
        folder (DICOM series, one file per slice).
    format
        ``"dicom"``, ``"nifti"``, ``"metaimage"`` or ``"tiff"`` when the name does not say.
    **options
        dicom: ``compression`` (None, "rle", "jpeg2000", "jpegls"), ``series_description``,
        ``patient_id``, ``patient_name``, ``series_number``, ``uid_seed``; metaimage:
        ``compression`` (bool, ``.zraw``); tiff: ``compression`` (None, "zlib"), ``bigtiff``.

    Returns
    -------
    Path
        What was written (a folder for DICOM). Every write goes to a temporary name first and
        is renamed into place.
    """
    return drive(write_volume_task(volume, path, format=format, **options))


def volume_info(path: str | Path, *, series_uid: str | None = None,
                spacing_xyz: tuple[float, float, float] | None = None) -> dict[str, Any]:
    """A JSON-ready summary of the volume at ``path`` (for the CLI ``info`` verbs).

    Returns
    -------
    dict
        ``shape_zyx``, ``spacing_mm_zyx``, ``origin_mm_xyz``, ``direction`` (3×3, columns the
        x, y, z axes), ``hu_min``, ``hu_max`` (value range, HU for CT), ``dtype``,
        ``modality``, ``series`` (DICOM: every series in the folder), ``reader``, ``warnings``.
    """
    volume = read_volume(path, series_uid=series_uid, spacing_xyz=spacing_xyz)
    return {
        "path": str(path),
        "shape_zyx": list(volume.shape),
        "spacing_mm_zyx": list(volume.spacing_zyx),
        "origin_mm_xyz": list(volume.origin_xyz),
        "direction": volume.direction.tolist(),
        "hu_min": float(np.min(volume.array)),
        "hu_max": float(np.max(volume.array)),
        "dtype": str(volume.array.dtype),
        "modality": volume.modality,
        "series": list(volume.metadata.get("series_in_folder", [])),
        "reader": volume.metadata.get("reader", ""),
        "warnings": list(volume.metadata.get("warnings", [])),
    }
