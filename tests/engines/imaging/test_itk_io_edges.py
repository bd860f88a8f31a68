"""Edge cases of the NIfTI / MetaImage reader and writer: what mutation testing showed untested."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.itk_io import (
    check_gzip_complete,
    check_nifti,
    from_sitk,
    itk_format,
    read_itk,
    to_sitk,
    write_itk,
)
from engines.imaging.volume import Volume

#: rows are the x, y, z axes' world directions transposed: columns x -> -y, y -> +x, z -> +z
TURNED = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _small(dtype=np.int16) -> Volume:
    array = (np.arange(2 * 3 * 4) * 7 - 40).astype(dtype).reshape(2, 3, 4)
    return Volume(array, spacing_xyz=(0.5, 0.75, 2.0), origin_xyz=(10.0, -20.5, 3.25),
                  direction=TURNED)


def _nifti(path: Path, shape, *, pixdim=None) -> Path:
    import nibabel

    image = nibabel.Nifti1Image(np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape),
                                np.eye(4))
    image.header.set_data_offset(352)
    if pixdim is not None:
        image.header["pixdim"] = pixdim
    nibabel.save(image, path)
    return path


@pytest.mark.parametrize("name, kind", [
    ("a.nii", "nifti"), ("A.NII", "nifti"), ("a.nii.gz", "nifti"), ("b.NII.GZ", "nifti"),
    ("a.mhd", "metaimage"), ("a.MHA", "metaimage"), ("a.gz", None), ("a.nii.bz2", None),
    ("a.raw", None), ("nii", None), ("a.mhdx", None), ("dir.nii/a.tif", None),
])
def test_format_from_the_name(name, kind):
    assert itk_format(name) == kind
    assert itk_format(Path(name)) == kind


def test_to_sitk_keeps_geometry_and_turns_bool_into_bytes():
    image = to_sitk(_small())
    assert image.GetSpacing() == (0.5, 0.75, 2.0) and image.GetOrigin() == (10.0, -20.5, 3.25)
    assert image.GetDirection() == tuple(TURNED.reshape(-1))
    assert image.GetSize() == (4, 3, 2)
    mask = Volume(np.eye(3, 4, dtype=bool)[np.newaxis].repeat(2, 0))
    import SimpleITK as sitk

    as_bytes = to_sitk(mask)
    assert as_bytes.GetPixelID() == sitk.sitkUInt8
    assert sitk.GetArrayFromImage(as_bytes).tolist() == mask.array.astype(np.uint8).tolist()


def test_from_sitk_refuses_channels_and_other_dimensions():
    import SimpleITK as sitk

    rgb = sitk.Image([4, 3], sitk.sitkVectorUInt8, 3)
    with pytest.raises(InputError, match=r"^image: 3 channels per voxel; only scalar volumes "
                                         r"are read$"):
        from_sitk(rgb)
    with pytest.raises(InputError, match=r"^v\.nii: 3 channels"):
        from_sitk(rgb, source=Path("/d/v.nii"))
    four = sitk.Image([2, 2, 2, 2], sitk.sitkUInt8)
    with pytest.raises(InputError, match=r"^image: a 4-D image; only 2-D and 3-D are read$"):
        from_sitk(four)


def test_from_sitk_two_dimensional_geometry_and_metadata():
    import SimpleITK as sitk

    flat = sitk.GetImageFromArray(np.arange(6, dtype=np.int32).reshape(2, 3) * 1000)
    flat.SetSpacing((0.5, 0.25))
    flat.SetOrigin((4.0, -3.0))
    flat.SetDirection((0.0, -1.0, 1.0, 0.0))
    metadata = {"reader": "x"}
    volume = from_sitk(flat, source=Path("/d/f.mha"), metadata=metadata)
    assert volume.shape == (1, 2, 3) and volume.array.dtype == np.int16   # compacted
    assert volume.array[0].tolist() == [[0, 1000, 2000], [3000, 4000, 5000]]
    assert volume.spacing_xyz == (0.5, 0.25, 1.0) and volume.origin_xyz == (4.0, -3.0, 0.0)
    assert volume.direction.tolist() == [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert volume.source == Path("/d/f.mha") and volume.metadata == {"reader": "x"}
    assert volume.metadata is not metadata
    assert from_sitk(flat).metadata == {} and from_sitk(flat).source is None


def test_from_sitk_three_dimensional_direction_is_row_major():
    volume = from_sitk(to_sitk(_small()))
    assert volume.direction.tolist() == TURNED.tolist()
    assert volume.origin_xyz == (10.0, -20.5, 3.25) and volume.spacing_xyz == (0.5, 0.75, 2.0)


def test_check_nifti_gives_the_declared_shape_and_restores_logging(tmp_path):
    log = logging.getLogger("nibabel.global")
    log.setLevel(logging.INFO)
    try:
        assert check_nifti(_nifti(tmp_path / "a.nii", (4, 3, 2))) == (4, 3, 2)
        assert log.level == logging.INFO
        assert check_nifti(str(_nifti(tmp_path / "b.nii.gz", (4, 3, 2, 1)))) == (4, 3, 2, 1)
        assert check_nifti(_nifti(tmp_path / "c.nii", (4, 3))) == (4, 3)
    finally:
        log.setLevel(logging.NOTSET)


@pytest.mark.parametrize("shape, words", [
    ((4, 3, 2, 2), r"^a\.nii: a 4-D image of shape \(4, 3, 2, 2\); only 3-D volumes are read$"),
    ((2, 2, 2, 1, 3), r"^a\.nii: a 5-D image of shape \(2, 2, 2, 1, 3\)"),
])
def test_check_nifti_refuses_time_series(tmp_path, shape, words):
    with pytest.raises(InputError, match=words):
        check_nifti(_nifti(tmp_path / "a.nii", shape))


def test_check_nifti_refuses_non_finite_geometry(tmp_path):
    path = _nifti(tmp_path / "a.nii", (4, 3, 2), pixdim=[1, 1, np.nan, 1, 1, 1, 1, 1])
    with pytest.raises(InputError, match=r"^a\.nii: NaN or infinite voxel size or orientation "
                                         r"in the header \(pixdim, qform or sform\)$"):
        check_nifti(path)


def test_check_nifti_counts_the_data_after_the_offset(tmp_path):
    # 24 two-byte voxels after the 352-byte header: one byte less is refused
    import nibabel

    image = nibabel.Nifti1Image(np.arange(24, dtype=np.int16).reshape(4, 3, 2), np.eye(4))
    nibabel.save(image, tmp_path / "a.nii")
    data = (tmp_path / "a.nii").read_bytes()
    assert len(data) == 352 + 48
    (tmp_path / "a.nii").write_bytes(data[:-1])
    with pytest.raises(InputError, match=r"^a\.nii: the header of the voxels declares 48 bytes "
                                         r"but the file stores only 47 bytes"):
        check_nifti(tmp_path / "a.nii")
    with pytest.raises(InputError, match=r"^a\.nii: the header of the voxels declares 48 bytes"):
        read_itk(tmp_path / "a.nii")       # ITK itself would fill the missing byte with 0


def test_nifti2_is_nifti(tmp_path):
    import nibabel

    image = nibabel.Nifti2Image(np.arange(24, dtype=np.int16).reshape(4, 3, 2), np.eye(4))
    nibabel.save(image, tmp_path / "two.nii")
    assert check_nifti(tmp_path / "two.nii") == (4, 3, 2)
    data = (tmp_path / "two.nii").read_bytes()
    (tmp_path / "two.nii").write_bytes(data[:-2])
    with pytest.raises(InputError, match=r"^two\.nii: the header of the voxels declares 48 byt"):
        check_nifti(tmp_path / "two.nii")


def test_check_nifti_refuses_other_formats(tmp_path):
    import nibabel

    image = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    nibabel.save(nibabel.MGHImage(image.get_fdata().astype(np.uint8), np.eye(4)),
                 tmp_path / "a.mgz")
    with pytest.raises(InputError, match=r"^a\.mgz: a MGHImage, not NIfTI$"):
        check_nifti(tmp_path / "a.mgz")


def test_check_nifti_gz_must_decompress_to_what_it_declares(tmp_path):
    plain = _nifti(tmp_path / "a.nii", (4, 3, 2)).read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(plain[:-5]))
    with pytest.raises(InputError, match=r"^cut\.nii\.gz: decompresses to 371 bytes, the header "
                                         r"declares 376 \(truncated\)$"):
        check_nifti(tmp_path / "cut.nii.gz")


def test_gzip_completeness_by_trailer_or_by_decompressing(tmp_path):
    data = bytes(range(256)) * 4100   # 1,049,600 bytes: more than one 1 MiB chunk
    one = tmp_path / "one.gz"
    one.write_bytes(gzip.compress(data))
    check_gzip_complete(one, len(data))
    check_gzip_complete(one, len(data) + 2**32)    # the trailer holds the size modulo 2³²
    two = tmp_path / "two.gz"
    two.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    check_gzip_complete(two, len(data))
    check_gzip_complete(two, len(data) - 7)        # more than declared is not truncated
    with pytest.raises(InputError, match=r"^two\.gz: decompresses to 1,049,600 bytes, the "
                                         r"header declares 1,049,601 \(truncated\)$"):
        check_gzip_complete(two, len(data) + 1)
    with pytest.raises(InputError, match=r"^one\.gz: decompresses to 1,049,600 bytes, the "
                                         r"header declares 2,000,000 \(truncated\)$"):
        check_gzip_complete(one, 2_000_000)


def test_read_itk_refusals(tmp_path):
    with pytest.raises(InputError, match=r"^a\.tif: not a NIfTI \(\.nii, \.nii\.gz\) or "
                                         r"MetaImage \(\.mhd, \.mha\) file$"):
        read_itk(tmp_path / "a.tif")
    with pytest.raises(InputError, match=r"^gone\.nii: no such file$"):
        read_itk(tmp_path / "gone.nii")
    (tmp_path / "dir.mha").mkdir()
    with pytest.raises(InputError, match=r"^dir\.mha: no such file$"):
        read_itk(tmp_path / "dir.mha")


def _mhd(path: Path, *extra: str) -> Path:
    lines = ["ObjectType = Image", "NDims = 3", "BinaryData = True",
             "BinaryDataByteOrderMSB = False", "DimSize = 4 3 2", "ElementSpacing = 0.5 0.75 2",
             *extra, "ElementType = MET_UCHAR", f"ElementDataFile = {path.stem}.raw", ""]
    path.write_text("\n".join(lines))
    path.with_suffix(".raw").write_bytes(bytes(range(24)))
    return path


@pytest.mark.parametrize("line, modality", [
    ("Modality = MET_MOD_CT", "CT"), ("Modality = met_mod_mr", "MR"),
    ("Modality = MET_MOD_UNKNOWN", ""), ("Modality = PET", "PET"), (None, ""),
])
def test_metaimage_modality_and_metadata(tmp_path, line, modality):
    path = _mhd(tmp_path / "v.mhd", *([line] if line else []))
    volume = read_itk(str(path))
    assert volume.modality == modality
    assert volume.metadata["reader"] == "SimpleITK (MetaImageIO)"
    assert volume.metadata["metaimage"] == {"ElementType": "MET_UCHAR",
                                            "ElementDataFile": "v.raw"}
    assert volume.metadata["warnings"] == []
    assert volume.source == path and volume.array.ravel().tolist() == list(range(24))
    assert volume.spacing_xyz == (0.5, 0.75, 2.0)


def test_nifti_read_gives_the_written_decimals_and_no_modality(tmp_path):
    volume = Volume(np.zeros((2, 3, 4), np.int16), spacing_xyz=(0.7, 0.3, 1.1),
                    origin_xyz=(-0.1, 12.3, 7.7))
    read = read_itk(write_itk(volume, tmp_path / "v.nii"))
    assert read.spacing_xyz == (0.7, 0.3, 1.1) and read.origin_xyz == (-0.1, 12.3, 7.7)
    assert read.modality == "" and "metaimage" not in read.metadata
    assert read.metadata == {"reader": "SimpleITK (NiftiImageIO)", "warnings": []}
    # MetaImage keeps full doubles: no rounding through float32
    mha = read_itk(write_itk(volume, tmp_path / "v.mha"))
    assert mha.spacing_xyz == (0.7, 0.3, 1.1)


def test_write_itk_refusals(tmp_path):
    with pytest.raises(InputError, match=r"^a\.tif: choose a \.nii, \.nii\.gz, \.mhd or \.mha "
                                         r"file name$"):
        write_itk(_small(), tmp_path / "a.tif")
    with pytest.raises(InputError, match=r"^a\.nii: NIfTI compression is chosen by the name: "
                                         r"use \.nii\.gz$"):
        write_itk(_small(), tmp_path / "a.nii", compression=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, compression, files", [
    ("sub/deeper/V.NII.GZ", None, ["V.NII.GZ"]),
    ("sub/deeper/v.nii", False, ["v.nii"]),
    ("sub/deeper/v.mha", True, ["v.mha"]),
    ("sub/deeper/v.mhd", True, ["v.mhd", "v.zraw"]),
    ("sub/deeper/v.mhd", None, ["v.mhd", "v.raw"]),
])
def test_write_itk_creates_folders_and_leaves_only_its_files(tmp_path, name, compression, files):
    path = write_itk(_small(), str(tmp_path / name), compression=compression)
    assert path == tmp_path / name
    assert sorted(p.name for p in path.parent.iterdir()) == files
    back = read_itk(path)
    assert back.array.tolist() == _small().array.tolist()
    assert np.array_equal(back.direction, TURNED)


def test_compression_of_metaimage_is_chosen_by_the_flag(tmp_path):
    big = Volume(np.zeros((8, 32, 32), np.int16))
    plain = write_itk(big, tmp_path / "p.mha").stat().st_size
    packed = write_itk(big, tmp_path / "c.mha", compression=True).stat().st_size
    assert plain > 16384 > packed
    gz = write_itk(big, tmp_path / "g.nii.gz").read_bytes()
    assert gz[:2] == b"\x1f\x8b" and len(gz) < 16384
    assert write_itk(big, tmp_path / "n.nii").read_bytes()[:2] != b"\x1f\x8b"


def test_rewriting_zraw_as_raw_removes_the_stale_zraw_and_keeps_other_files(tmp_path):
    (tmp_path / "other.raw").write_bytes(b"keep")
    write_itk(_small(), tmp_path / "v.mhd", compression=True)
    write_itk(_small(), tmp_path / "v.mhd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.raw", "v.mhd", "v.raw"]
    assert "ElementDataFile = v.raw" in (tmp_path / "v.mhd").read_text()


def test_what_nibabel_logs_about_a_header_stays_off_stderr(tmp_path, capfd):
    import struct

    data = bytearray(_nifti(tmp_path / "a.nii", (2, 2, 2)).read_bytes())
    data[40:42] = struct.pack("<h", 9)    # dim[0] = 9: nibabel reads the header byte-swapped
    (tmp_path / "a.nii").write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(InputError, match=r"^a\.nii: not a readable NIfTI file \("):
        check_nifti(tmp_path / "a.nii")
    assert capfd.readouterr().err == ""


def test_a_nii_gz_declaring_more_than_deflate_can_hold(tmp_path):
    import nibabel

    header = nibabel.Nifti1Header()
    header.set_data_shape((1000, 1000, 1000))
    header.set_data_dtype(np.uint8)
    header.set_data_offset(352)
    (tmp_path / "v.nii.gz").write_bytes(gzip.compress(header.binaryblock + b"\0" * 4))
    size = (tmp_path / "v.nii.gz").stat().st_size
    with pytest.raises(InputError, match=r"^v\.nii\.gz: the header of the voxels declares "
                                         r"1,000,000,000 bytes but the file stores only "
                                         rf"{size} bytes for them even at the best "
                                         r"compression ratio"):
        check_nifti(tmp_path / "v.nii.gz")


def test_a_nii_gz_within_the_deflate_ratio_is_decompressed_to_be_checked(tmp_path):
    # about (file size × 1032) / 1.5 bytes declared: within the ratio even counted twice over,
    # refused only as truncated
    import nibabel

    header = nibabel.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_offset(352)
    for n in range(100_000, 30_000, -5_000):   # the compressed size depends a little on n
        header.set_data_shape((n, 1, 1))
        packed = gzip.compress(header.binaryblock + b"\0" * 4)
        if 1.3 * n <= len(packed) * 1032 < 1.7 * n:
            break
    assert 1.3 * n <= len(packed) * 1032 < 1.7 * n
    (tmp_path / "v.nii.gz").write_bytes(packed)
    with pytest.raises(InputError, match=rf"^v\.nii\.gz: decompresses to 352 bytes, the header "
                                         rf"declares {352 + n:,} \(truncated\)$"):
        check_nifti(tmp_path / "v.nii.gz")


def test_gzip_faults_are_named_gzip_files(tmp_path):
    (tmp_path / "tiny.gz").write_bytes(b"\x1f\x8b")           # cannot even seek to a trailer
    with pytest.raises(InputError, match=r"^tiny\.gz: not a readable gzip file \("):
        check_gzip_complete(tmp_path / "tiny.gz", 10)
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all, 24 b.")
    with pytest.raises(InputError, match=r"^plain\.gz: not a readable gzip file \("):
        check_gzip_complete(tmp_path / "plain.gz", 10)


def test_the_gzip_trailer_is_an_unsigned_size(tmp_path):
    import struct

    expected = 2**31 + 5
    data = bytearray(gzip.compress(b"abc"))
    data[-4:] = struct.pack("<I", expected)
    (tmp_path / "big.gz").write_bytes(bytes(data))
    check_gzip_complete(tmp_path / "big.gz", expected)   # the trailer agrees: not decompressed


def test_a_vector_metaimage_is_refused_by_its_own_name(tmp_path):
    path = tmp_path / "rgb.mha"
    path.write_bytes(b"ObjectType = Image\nNDims = 3\nBinaryData = True\nDimSize = 2 2 2\n"
                     b"ElementNumberOfChannels = 3\nElementType = MET_UCHAR\n"
                     b"ElementDataFile = LOCAL\n" + bytes(24))
    with pytest.raises(InputError, match=r"^rgb\.mha: 3 channels per voxel; only scalar volumes "
                                         r"are read$"):
        read_itk(path)


@pytest.mark.parametrize("data", [
    b"\x78\x9c" + bytes(range(40, 68)),                       # not a deflate stream
    __import__("zlib").compress(bytes(range(24)))[:12],      # cut short
])
def test_compressed_voxels_that_do_not_inflate_are_refused(tmp_path, data):
    """MetaIO printed 'Uncompress failed' and returned uninitialised memory as voxels."""
    (tmp_path / "z.mha").write_bytes(
        b"ObjectType = Image\nNDims = 3\nBinaryData = True\nCompressedData = True\n"
        b"DimSize = 4 3 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n" + data)
    with pytest.raises(InputError, match=r"^z\.mha: the compressed voxels do not decompress "
                                         r"\(damaged data\)$"):
        read_itk(tmp_path / "z.mha")
