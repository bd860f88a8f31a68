"""A DICOM slice series as a :class:`Volume` in HU: slices ordered by position, never by name.

Slices are sorted by ImagePositionPatient projected on the slice normal (the cross product of
the two ImageOrientationPatient directions), as ITK does; the spacing between slices comes from
those positions (not SliceThickness), and the direction matrix is ``[row, column, normal]``
(LPS). Values are ``stored × RescaleSlope + RescaleIntercept`` per slice, int16 when that is
exact and float32 otherwise. Each file's pixel data is read once, after the sort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.core.safe_read import reading
from engines.imaging.dicom_series import SliceHeader, choose_series, group_series, scan_folder
from engines.imaging.volume import Volume

#: Decoders to prefer where installed, being several times faster than pydicom's first choice
#: (pyjpegls: CharLS, about 4× pylibjpeg-libjpeg on JPEG-LS).
PREFERRED_PLUGINS = {"1.2.840.10008.1.2.4.80": "pyjpegls", "1.2.840.10008.1.2.4.81": "pyjpegls"}

#: Slice spacing that varies by less than this (relative) passes silently ...
SPACING_SILENT = 1e-3
#: ... by less than this with a warning; beyond it the series is refused.
SPACING_TOLERATED = 1e-2


@dataclass
class SeriesGeometry:
    """Slice order and ITK geometry of a series."""

    headers: list[SliceHeader]
    spacing_xyz: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    direction: np.ndarray
    warnings: list[str] = field(default_factory=list)


def _only(folder: Path, headers: list[SliceHeader], attribute: str, what: str,
          tolerance: float = 1e-4):
    """The value of ``attribute`` shared by every header; InputError when they differ."""
    values = [getattr(h, attribute) for h in headers]
    first = values[0]
    for header, value in zip(headers, values, strict=True):
        same = (value is None and first is None) or (
            value is not None and first is not None
            and np.allclose(value, first, rtol=0, atol=tolerance))
        if not same:
            raise InputError.for_file(
                folder, f"the series mixes {what}: {first} in {headers[0].path.name} but "
                        f"{value} in {header.path.name}")
    return first


def _drop_duplicates(headers: list[SliceHeader]) -> tuple[list[SliceHeader], list[str]]:
    """Keep one file per SOPInstanceUID (copies of a file in the folder)."""
    seen: dict[str, SliceHeader] = {}
    for header in headers:
        if not header.sop_uid or header.sop_uid not in seen:
            seen[header.sop_uid or str(header.path)] = header
    dropped = len(headers) - len(seen)
    notes = [f"{dropped} duplicate file{'s' * (dropped != 1)} of the same instance ignored"]
    return list(seen.values()), notes if dropped else []


def _slice_spacing(folder: Path, offsets: np.ndarray, headers: list[SliceHeader],
                   warnings: list[str]) -> float:
    """The spacing between slices at sorted positions ``offsets`` along the normal, mm."""
    if len(offsets) == 1:
        thickness = headers[0].slice_thickness
        if thickness and thickness > 0:
            return float(thickness)
        warnings.append(f"{folder.name}: one slice without SliceThickness; 1 mm assumed")
        return 1.0
    steps = np.diff(offsets)
    duplicate = np.flatnonzero(steps < 1e-3)
    if duplicate.size:
        i = int(duplicate[0])
        raise InputError.for_file(
            folder, f"{headers[i].path.name} and {headers[i + 1].path.name} lie at the same "
                    f"position ({duplicate.size} such pairs): several acquisitions in one series?")
    typical = float(np.median(steps))
    deviation = np.abs(steps - typical) / typical
    worst = int(np.argmax(deviation))
    if deviation[worst] > SPACING_TOLERATED:
        ratio = steps[worst] / typical
        where = f"between {headers[worst].path.name} and {headers[worst + 1].path.name}"
        if round(ratio) >= 2 and abs(ratio - round(ratio)) < 0.1:
            missing = int(round(ratio)) - 1
            raise InputError.for_file(
                folder, f"missing slices: a gap of {steps[worst]:.4g} mm {where} where slices "
                        f"are {typical:.4g} mm apart (about {missing} slice"
                        f"{'s' * (missing != 1)} missing)")
        raise InputError.for_file(
            folder, f"uneven slice spacing: {steps.min():.4g} to {steps.max():.4g} mm "
                    f"({steps[worst]:.4g} mm {where})")
    if deviation[worst] > SPACING_SILENT:
        warnings.append(f"{folder.name}: slice spacing varies by up to "
                        f"{100 * deviation[worst]:.2g} % ({steps.min():.5g} to "
                        f"{steps.max():.5g} mm); the mean is used")
    return float((offsets[-1] - offsets[0]) / (len(offsets) - 1))


def series_geometry(folder: Path, headers: list[SliceHeader]) -> SeriesGeometry:
    """Sort ``headers`` along the slice normal and derive spacing, origin and direction.

    Raises
    ------
    InputError
        Mixed slice sizes, orientations or pixel spacings; slices without position; two
        slices at one position; missing slices or uneven spacing beyond 1 %.
    """
    warnings: list[str] = []
    _only(folder, headers, "rows", "slice heights (rows)", 0)
    _only(folder, headers, "columns", "slice widths (columns)", 0)
    orientation = _only(folder, headers, "orientation", "orientations")
    pixel_spacing = _only(folder, headers, "pixel_spacing", "pixel spacings")
    if pixel_spacing is None:
        pixel_spacing = (1.0, 1.0)
        warnings.append(f"{folder.name}: no PixelSpacing; 1 mm assumed")
    if min(pixel_spacing) <= 0:
        raise InputError.for_file(folder, f"PixelSpacing {pixel_spacing} is not positive")
    missing = [h.path.name for h in headers if h.position is None]
    if orientation is None or missing:
        if len(headers) > 1:
            raise InputError.for_file(
                folder, f"{missing[0] if missing else headers[0].path.name}: no "
                        "ImagePositionPatient/ImageOrientationPatient, so the slices cannot be "
                        "ordered")
        warnings.append(f"{folder.name}: the slice has no position; identity geometry assumed")
        orientation = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    row, column = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    if abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(column) - 1) > 1e-3 \
            or abs(row @ column) > 1e-3:
        raise InputError.for_file(folder, f"ImageOrientationPatient {orientation} is not two "
                                          "orthogonal unit vectors")
    row = row / np.linalg.norm(row)
    column = column - (column @ row) * row
    column = column / np.linalg.norm(column)
    normal = np.cross(row, column)
    positions = np.array([h.position if h.position is not None else (0.0, 0.0, 0.0)
                          for h in headers])
    offsets = positions @ normal
    order = np.argsort(offsets, kind="stable")
    headers, positions, offsets = [headers[i] for i in order], positions[order], offsets[order]
    spacing_z = _slice_spacing(folder, offsets, headers, warnings)
    drift = positions - positions[0] - np.outer(offsets - offsets[0], normal)
    drift_mm = float(np.max(np.linalg.norm(drift, axis=1)))
    if drift_mm > 0.01 * min(pixel_spacing):
        warnings.append(f"{folder.name}: slice positions drift {drift_mm:.3g} mm within the "
                        "slice plane over the stack (gantry tilt?); the geometry ignores it")
    return SeriesGeometry(headers=headers,
                          spacing_xyz=(float(pixel_spacing[1]), float(pixel_spacing[0]),
                                       spacing_z),
                          origin_xyz=tuple(float(v) for v in positions[0]),
                          direction=np.column_stack([row, column, normal]), warnings=warnings)


def _choose_decoders(folder: Path, headers: list[SliceHeader]) -> dict[str, str]:
    """The pydicom decoding plugin per transfer syntax of ``headers`` (``""``: pydicom's
    choice); InputError when a syntax cannot be decoded here."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    plugins = {}
    for syntax in sorted({h.transfer_syntax for h in headers}):
        uid = UID(syntax)
        try:
            decoder = get_decoder(uid)
        except NotImplementedError:
            decoder = None
        if decoder is None or not decoder.is_available:
            example = next(h.path.name for h in headers if h.transfer_syntax == syntax)
            raise InputError.for_file(folder, f"{example}: pixel data in transfer syntax "
                                              f"{uid.name or syntax} cannot be decoded here")
        preferred = PREFERRED_PLUGINS.get(syntax, "")
        plugins[syntax] = preferred if preferred in decoder.available_plugins else ""
    return plugins


def _decode(header: SliceHeader, plugin: str) -> np.ndarray:
    """Stored values of one slice, ``(rows, columns)``."""
    import pydicom
    from pydicom.pixels import pixel_array

    with reading(header.path, "DICOM file"):
        ds = pydicom.dcmread(header.path, force=True)
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            raise InputError.for_file(header.path, "no pixel data (a truncated file?)")
        stored = pixel_array(ds, decoding_plugin=plugin)
    if stored.shape != (header.rows, header.columns):
        raise InputError.for_file(header.path, f"pixel data of shape {stored.shape}, expected "
                                               f"{(header.rows, header.columns)}")
    return stored


def _integer_rescale(headers: list[SliceHeader]) -> bool:
    return all(float(s).is_integer() and float(i).is_integer() for s, i in
               (h.rescale for h in headers))


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None
                      ) -> TaskGenerator[Volume]:
    """Read one series of a DICOM folder; yields :class:`Progress`, returns the :class:`Volume`.

    Parameters
    ----------
    folder
        Folder of DICOM files (searched recursively).
    series_uid
        SeriesInstanceUID to read; default the series with the most slices (a warning in
        ``metadata["warnings"]`` says so when there are several).

    Returns
    -------
    Volume
        ``(n_slices, rows, columns)`` in HU (int16 when exact, else float32), ITK geometry.
    """
    from pydicom.uid import UID

    folder = Path(folder)
    scan = scan_folder(folder)
    headers, warnings = choose_series(scan, series_uid)
    yield Progress(0.05, f"{len(scan.headers)} DICOM headers read")
    headers, notes = _drop_duplicates(headers)
    geometry = series_geometry(folder, headers)
    plugins = _choose_decoders(folder, geometry.headers)
    shape = (len(geometry.headers), geometry.headers[0].rows, geometry.headers[0].columns)
    array = np.empty(shape, np.int16 if _integer_rescale(geometry.headers) else np.float32)
    for k, header in enumerate(geometry.headers):
        slope, intercept = header.rescale
        stored = _decode(header, plugins[header.transfer_syntax])
        if array.dtype == np.int16:
            values = stored.astype(np.int64) * int(slope) + int(intercept)
            if values.size and (values.min() < -32768 or values.max() > 32767):
                array = array.astype(np.float32)
            array[k] = values
        else:
            array[k] = stored.astype(np.float64) * slope + intercept
        if k % 16 == 15:
            yield Progress(0.05 + 0.95 * (k + 1) / shape[0], f"slice {k + 1}/{shape[0]}")
    first = geometry.headers[0]
    rescales = sorted({h.rescale for h in geometry.headers})
    if len(rescales) > 1:
        notes.append(f"rescale varies between slices ({len(rescales)} different); applied "
                     "per slice")
    metadata = {
        "reader": "pydicom", "series_uid": first.series_uid, "study_uid": first.study_uid,
        "series_description": first.description, "series_number": first.series_number,
        "transfer_syntaxes": [UID(uid).name or uid for uid in plugins], "slice_thickness_mm": first.slice_thickness,
        "files": len(geometry.headers),
        "series_in_folder": [s.to_dict() for s in group_series(scan.headers)],
        "warnings": warnings + geometry.warnings + [f"{folder.name}: {n}" for n in notes],
    }
    return Volume(array, spacing_xyz=geometry.spacing_xyz, origin_xyz=geometry.origin_xyz,
                  direction=geometry.direction, modality=first.modality,
                  rescale=first.rescale, source=folder, metadata=metadata)
