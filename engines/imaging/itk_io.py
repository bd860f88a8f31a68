"""NIfTI (``.nii``, ``.nii.gz``) and MetaImage (``.mhd``/``.raw``/``.zraw``, ``.mha``) through
SimpleITK, which gives the geometry in LPS as :class:`Volume` keeps it.

Declared sizes are checked before SimpleITK reads anything: MetaImage headers by hand
(:mod:`engines.imaging.metaimage_header`), NIfTI headers with nibabel's lazy loader (header
dims × data type against the file size for ``.nii``; for ``.nii.gz`` against the deflate ratio
and :data:`~engines.core.safe_read.MAX_ALLOCATION_BYTES`).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import shutil
import struct
import uuid
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import (
    MAX_COMPRESSION_RATIO,
    check_declared,
    native_stderr_captured,
    reading,
)
from engines.imaging.metaimage_header import check_metaimage, parse_metaimage_header
from engines.imaging.volume import Volume, compact_values

#: SimpleITK ImageIO per format, so the file's content cannot pick another reader.
IMAGE_IO = {"nifti": "NiftiImageIO", "metaimage": "MetaImageIO"}


def itk_format(path: str | Path) -> str | None:
    """``"nifti"``, ``"metaimage"`` or ``None`` from the file name."""
    name = Path(path).name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if name.endswith((".mhd", ".mha")):
        return "metaimage"
    return None


def to_sitk(volume: Volume):
    """The volume as a ``SimpleITK.Image`` with the same spacing, origin and direction."""
    import SimpleITK as sitk

    array = volume.array.astype(np.uint8) if volume.array.dtype == bool else volume.array
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(volume.spacing_xyz)
    image.SetOrigin(volume.origin_xyz)
    image.SetDirection(tuple(float(v) for v in volume.direction.reshape(-1)))
    return image


def from_sitk(image, *, source: Path | None = None, metadata: dict | None = None) -> Volume:
    """A :class:`Volume` of a 2-D or 3-D scalar ``SimpleITK.Image`` (2-D becomes one slice).

    Raises
    ------
    InputError
        For vector (multi-channel) images or other dimensions.
    """
    import SimpleITK as sitk

    name = source.name if source else "image"
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{name}: {image.GetNumberOfComponentsPerPixel()} channels per voxel; "
                         "only scalar volumes are read")
    dimension = image.GetDimension()
    if dimension not in (2, 3):
        raise InputError(f"{name}: a {dimension}-D image; only 2-D and 3-D are read")
    array = compact_values(sitk.GetArrayFromImage(image))
    spacing, origin = list(image.GetSpacing()), list(image.GetOrigin())
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dimension, dimension)
    if dimension == 2:
        array = array[np.newaxis]
        spacing, origin = spacing + [1.0], origin + [0.0]
        direction = np.block([[direction, np.zeros((2, 1))], [np.zeros((1, 2)), np.ones((1, 1))]])
    return Volume(array, spacing_xyz=tuple(spacing), origin_xyz=tuple(origin),
                  direction=direction, source=source, metadata=dict(metadata or {}))


def check_nifti(path: str | Path) -> tuple[int, ...]:
    """The data shape a NIfTI header declares, after checking the file can hold it.

    Raises
    ------
    InputError
        Not NIfTI, a 4-D (time series) image, or more data declared than the file holds.
    """
    import nibabel

    path = Path(path)
    log = logging.getLogger("nibabel.global")  # it prints each header field it "fixes", and
    level = log.level                          # the error it then raises (which we report)
    log.setLevel(logging.CRITICAL + 1)
    try:
        with reading(path, "NIfTI file"):
            image = nibabel.load(path)          # the header only; data stay on disk
            if not isinstance(image, nibabel.Nifti1Image | nibabel.Nifti2Image):
                raise InputError.for_file(path, f"a {type(image).__name__}, not NIfTI")
            shape = tuple(int(n) for n in image.header.get_data_shape())
            itemsize = image.header.get_data_dtype().itemsize
            # the loaded image's header has its vox_offset reset to 0; the data proxy keeps
            # where the voxels start in the file
            offset = int(image.dataobj.offset)
            geometry = np.concatenate([np.ravel(image.header.get_sform()),
                                       np.ravel(image.header.get_qform()),
                                       np.ravel(image.header["pixdim"])])
    finally:
        log.setLevel(level)
    if not np.all(np.isfinite(geometry)):  # ITK's SVD of a NaN matrix prints pages of it
        raise InputError.for_file(path, "NaN or infinite voxel size or orientation in the "
                                        "header (pixdim, qform or sform)")
    if len(shape) > 3 and math.prod(shape[3:]) > 1:
        raise InputError.for_file(path, f"a {len(shape)}-D image of shape {shape}; only 3-D "
                                        "volumes are read")
    declared = math.prod(shape) * itemsize
    size = path.stat().st_size
    if path.name.lower().endswith(".gz"):
        check_declared(declared, 1, path, available=size, ratio=MAX_COMPRESSION_RATIO,
                       what="the header of the voxels")
        check_gzip_complete(path, offset + declared)
    else:
        check_declared(declared, 1, path, available=size - offset,
                       what="the header of the voxels")
    return shape


def check_gzip_complete(path: Path, expected: int) -> None:
    """Refuse a gzip file that does not decompress to ``expected`` bytes.

    ITK's NIfTI reader fills what a truncated ``.nii.gz`` lacks without an error, so the gzip
    trailer (uncompressed size modulo 2³²) is compared first; when it differs (a truncated
    file, or several gzip members) the stream is decompressed once, in 1 MiB chunks that are
    thrown away, up to ``expected`` bytes.
    """
    with reading(path, "gzip file"), open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        (trailer,) = struct.unpack("<I", handle.read(4))
    if trailer == expected % 2**32:
        return
    total = 0
    with reading(path, "gzip file"), gzip.open(path, "rb") as stream:
        while total < expected:
            chunk = stream.read(min(2**20, expected - total))
            if not chunk:
                break
            total += len(chunk)
    if total < expected:
        raise InputError.for_file(path, f"decompresses to {total:,} bytes, the header declares "
                                        f"{expected:,} (truncated)")


def read_itk(path: str | Path) -> Volume:
    """Read a NIfTI or MetaImage file (geometry in LPS, as ITK gives it).

    Raises
    ------
    InputError
        An unknown suffix, a header whose declared size the file cannot hold, or any file
        SimpleITK cannot read.
    """
    import SimpleITK as sitk

    path = Path(path)
    kind = itk_format(path)
    if kind is None:
        raise InputError.for_file(path, "not a NIfTI (.nii, .nii.gz) or MetaImage (.mhd, .mha) "
                                        "file")
    if not path.is_file():
        raise InputError.for_file(path, "no such file")
    metadata: dict = {"reader": f"SimpleITK ({IMAGE_IO[kind]})", "warnings": []}
    modality = ""
    if kind == "metaimage":
        header = check_metaimage(path)
        metadata["metaimage"] = {k: header.fields[k] for k in
                                 ("ElementType", "ElementDataFile") if k in header.fields}
        modality = header.fields.get("Modality", "").upper().replace("MET_MOD_", "")
        modality = "" if modality == "UNKNOWN" else modality
    else:
        check_nifti(path)
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # no ITK warnings on stderr (the CLI)
    try:
        with native_stderr_captured() as printed, reading(path, "image file"):
            image = sitk.ReadImage(str(path), imageIO=IMAGE_IO[kind])
    except InputError as exc:  # what the C library printed says more than ITK's exception
        if not printed:
            raise
        raise InputError.for_file(path, f"not a readable image file ({printed[0][:160]})"
                                  ) from exc
    if any("Uncompress failed" in line for line in printed):
        # MetaIO prints this and returns the image anyway, its voxels uninitialised memory
        raise InputError.for_file(path, "the compressed voxels do not decompress (damaged "
                                        "data)")
    metadata["warnings"] += [f"{path.name}: {line[:160]}" for line in printed[:3]]
    volume = from_sitk(image, source=path, metadata=metadata)
    spacing, origin = volume.spacing_xyz, volume.origin_xyz
    if kind == "nifti":   # NIfTI stores float32: give back the decimal that was written
        spacing, origin = (tuple(float(str(np.float32(v))) for v in values)
                           for values in (spacing, origin))
    return Volume(volume.array, spacing, origin, volume.direction, modality=modality,
                  source=path, metadata=volume.metadata)


def _temporary_sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{suffix}")


def write_itk(volume: Volume, path: str | Path, *, compression: bool | None = None) -> Path:
    """Write ``volume`` as NIfTI or MetaImage, chosen by the suffix of ``path``.

    Parameters
    ----------
    path
        ``.nii`` / ``.nii.gz`` (gzip-compressed), ``.mha`` (one file) or ``.mhd`` (header plus a
        ``.raw`` data file, or ``.zraw`` when compressed).
    compression
        MetaImage only: zlib-compress the voxels (default: no). ``.nii.gz`` is always gzipped.

    Returns
    -------
    Path
        The written file (the header for ``.mhd``). Files are written under a temporary name
        and renamed into place.
    """
    import SimpleITK as sitk

    path = Path(path)
    kind = itk_format(path)
    if kind is None:
        raise InputError.for_file(path, "choose a .nii, .nii.gz, .mhd or .mha file name")
    if compression and kind == "nifti":
        raise InputError.for_file(path, "NIfTI compression is chosen by the name: use .nii.gz")
    image = to_sitk(volume)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".mhd":
        temporary = _temporary_sibling(path, "")
        temporary.mkdir()
        try:
            sitk.WriteImage(image, str(temporary / path.name), useCompression=bool(compression))
            data = parse_metaimage_header(temporary / path.name).data_file
            for stale in (".raw", ".zraw"):
                if path.with_suffix(stale).name != data.name:
                    path.with_suffix(stale).unlink(missing_ok=True)
            os.replace(data, path.parent / data.name)
            os.replace(temporary / path.name, path)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        return path
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix
    temporary = _temporary_sibling(path, suffix)
    try:
        sitk.WriteImage(image, str(temporary), useCompression=bool(compression))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
