"""MetaImage headers parsed by hand before SimpleITK sees them: keys, sizes, data files,
geometry and the declared bytes against what the data file holds."""

from __future__ import annotations

import zlib

import pytest

from engines.core.errors import InputError
from engines.imaging.metaimage_header import (
    MAX_HEADER_BYTES,
    check_metaimage,
    parse_metaimage_header,
)

BASE = {"ObjectType": "Image", "NDims": "3", "DimSize": "4 3 2", "ElementType": "MET_SHORT",
        "ElementDataFile": "scan.raw"}


def _header(tmp_path, name="scan.mhd", data=None, order=None, **fields):
    """A header of BASE with ``fields`` (None drops a key; ElementDataFile stays last)."""
    merged = {k: v for k, v in {**BASE, **fields}.items() if v is not None}
    last = merged.pop("ElementDataFile", None)
    lines = [f"{k} = {v}" for k, v in merged.items()] + (
        [f"ElementDataFile = {last}"] if last is not None else [])
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1") + (data or b""))
    return path


def test_a_plain_header_and_its_data_file(tmp_path):
    path = _header(tmp_path, ElementSpacing="0.5 0.75 2", Offset="-10 0 1e3")
    (tmp_path / "scan.raw").write_bytes(b"\0" * 48)
    header = check_metaimage(path)
    assert header.dims == (4, 3, 2) and header.element_type == "MET_SHORT"
    assert header.channels == 1 and header.data_bytes == 48
    assert header.data_file == tmp_path / "scan.raw" and header.data_offset == 0
    assert not header.compressed and header.compressed_size is None
    assert header.fields["ElementSpacing"] == "0.5 0.75 2"
    (tmp_path / "scan.raw").write_bytes(b"\0" * 47)
    with pytest.raises(InputError, match="^scan.mhd: the header of the voxels in scan.raw "
                                         "declares 48 bytes but the file stores only 47 bytes"):
        check_metaimage(path)
    (tmp_path / "scan.raw").unlink()
    with pytest.raises(InputError, match="^scan.mhd: ElementDataFile scan.raw is missing$"):
        check_metaimage(path)


def test_local_data_header_size_and_2d(tmp_path):
    path = _header(tmp_path, "a.mha", data=b"\1" * 24, NDims="2", DimSize="4 3",
                   ElementType="met_uchar", ElementDataFile="LOCAL", ElementSpacing="1 1")
    header = check_metaimage(path)
    assert header.data_file == path and header.element_type == "MET_UCHAR"
    assert header.data_offset == path.stat().st_size - 24 and header.data_bytes == 12
    path = _header(tmp_path, "b.mha", data=b"\1" * 30, NDims="2", DimSize="4 3",
                   ElementType="MET_UCHAR", HeaderSize="7", ElementDataFile="Local")
    header = check_metaimage(path)
    assert header.data_offset == path.stat().st_size - 30 + 7
    path = _header(tmp_path, "c.mhd", HeaderSize="-1")
    assert parse_metaimage_header(path).data_offset is None
    (tmp_path / "scan.raw").write_bytes(b"\0" * 48)
    assert check_metaimage(path).data_offset is None
    assert parse_metaimage_header(_header(tmp_path, HeaderSize="16")).data_offset == 16
    assert parse_metaimage_header(_header(tmp_path, HeaderSize="-5")).data_offset == 0
    with pytest.raises(InputError, match="but the file stores only 32 bytes"):
        check_metaimage(_header(tmp_path, HeaderSize="16"))
    path = _header(tmp_path, "d.mha", data=b"\1" * 11, NDims="2", DimSize="4 3",
                   ElementType="MET_UCHAR", ElementDataFile="LOCAL")
    with pytest.raises(InputError, match="^d.mha: .*declares 12 bytes but the file stores only "
                                         "11 bytes"):
        check_metaimage(path)


def test_compressed_data_is_checked_at_the_best_ratio(tmp_path):
    stream = zlib.compress(b"\0" * 48)
    (tmp_path / "scan.zraw").write_bytes(stream + b"tail")
    path = _header(tmp_path, CompressedData="True", CompressedDataSize=str(len(stream)),
                   ElementDataFile="scan.zraw")
    header = check_metaimage(path)
    assert header.compressed and header.compressed_size == len(stream)
    path = _header(tmp_path, CompressedData="True", CompressedDataSize=str(len(stream) + 5),
                   ElementDataFile="scan.zraw")
    with pytest.raises(InputError, match=f"^scan.mhd: CompressedDataSize {len(stream) + 5} is "
                                         f"more than the {len(stream) + 4} bytes in scan.zraw$"):
        check_metaimage(path)
    path = _header(tmp_path, CompressedData=" true ", ElementDataFile="scan.zraw",
                   DimSize=f"{1032 * (len(stream) + 4) // 2} 1 1")
    assert check_metaimage(path).compressed  # exactly the best ratio
    path = _header(tmp_path, CompressedData="True", ElementDataFile="scan.zraw",
                   DimSize="1000000 1000 1")
    with pytest.raises(InputError, match="even at the best compression ratio"):
        check_metaimage(path)
    path = _header(tmp_path, CompressedData="True", CompressedDataSize="2",
                   ElementDataFile="scan.zraw", DimSize="1100 1 1")
    with pytest.raises(InputError, match="stores only 2 bytes for them even at the best"):
        check_metaimage(path)  # the stated stream size, not the file's, is what holds them
    assert not parse_metaimage_header(_header(tmp_path, CompressedData="False")).compressed
    path = _header(tmp_path, CompressedData="True", CompressedDataSize=str(len(stream) + 4),
                   ElementDataFile="scan.zraw")
    assert check_metaimage(path).compressed_size == len(stream) + 4  # the whole file


@pytest.mark.parametrize("fields, message", [
    ({"NDims": None}, "the header has no NDims$"),
    ({"DimSize": "4 x 2"}, r"DimSize is not a list of integers: '4 x 2'$"),
    ({"NDims": "1", "DimSize": "4"}, "NDims 1 with DimSize 4: only 2-D and 3-D images"),
    ({"NDims": "5", "DimSize": "1 1 1 1 1"}, "NDims 5 with DimSize"),
    ({"NDims": "3 3"}, "NDims 3 3 with DimSize 4 3 2"),
    ({"DimSize": "4 3"}, "NDims 3 with DimSize 4 3:"),
    ({"NDims": "4", "DimSize": "4 3 2 2"}, r"a 4-D image \(DimSize 4 3 2 2\); only 3-D"),
    ({"DimSize": "4 0 2"}, "DimSize 4 0 2 has an empty axis$"),
    ({"ElementType": "MET_BOOL"}, "unknown ElementType 'MET_BOOL'$"),
    ({"ElementType": None}, "unknown ElementType None$"),
    ({"ElementNumberOfChannels": "3"}, "3 channels per voxel; only scalar volumes"),
    ({"ElementNumberOfChannels": "x"}, "ElementNumberOfChannels is not a list of integers"),
    ({"ElementDataFile": "LIST"}, r"ElementDataFile 'LIST' \(a list of files\)"),
    ({"ElementDataFile": "list"}, "ElementDataFile 'list' .a list of files. is not supported"),
    ({"ElementDataFile": "s%03d.raw 1 5 1"}, "ElementDataFile 's%03d.raw 1 5 1' .a list"),
    ({"ElementDataFile": "a.raw b.raw"}, "ElementDataFile 'a.raw b.raw' .a list"),
    ({"ElementDataFile": None}, "no ElementDataFile line in the header$"),
    ({"HeaderSize": "big"}, "HeaderSize is not a list of integers"),
    ({"CompressedDataSize": "1.5"}, "CompressedDataSize is not a list of integers"),
    ({"ElementSpacing": "1 1"}, "ElementSpacing must be 3 finite numbers, not '1 1'$"),
    ({"ElementSize": "1 nan 1"}, "ElementSize must be 3 finite numbers"),
    ({"ElementSpacing": "1 1 0"}, "ElementSpacing '1 1 0': voxel sizes must lie from 1e-06 to "
                                  "1e.06 mm$"),
    ({"ElementSpacing": "1 1 2e6"}, "ElementSpacing '1 1 2e6': voxel sizes must lie"),
    ({"ElementSpacing": "1 one 1"}, "ElementSpacing is not a list of numbers: '1 one 1'$"),
    ({"Offset": "0 0 2e9"}, r"Offset '0 0 2e9' is beyond 1e\+09 mm$"),
    ({"Origin": "0 -1.5e9 0"}, "Origin '0 -1.5e9 0' is beyond"),
    ({"Position": "0 0"}, "Position must be 3 finite numbers"),
    ({"TransformMatrix": "1 0 0 0 1 0 0 0"}, "TransformMatrix must be 9 finite numbers"),
    ({"TransformMatrix": "1 0 0 0 2 0 0 0 1"}, "TransformMatrix '1 0 0 0 2 0 0 0 1' is not a "
                                            r"rotation \(orthonormal direction cosines\)$"),
    ({"Orientation": "1 0 0 1 0 0 0 0 1"}, "Orientation '1 0 0 1 0 0 0 0 1' is not a rotation"),
    ({"Rotation": "1 0 0 0 1 0 0 0 1.8e308"}, "Rotation must be 9 finite numbers"),
    ({"Rotation": "1 0 0 0 1 0 0 0 1e300"}, "Rotation '1 0 0 0 1 0 0 0 1e300' is not a rotation"),
])
def test_refused_headers_name_the_file_and_the_key(tmp_path, fields, message):
    with pytest.raises(InputError, match=f"^scan.mhd: {message}"):
        parse_metaimage_header(_header(tmp_path, **fields))


def test_accepted_geometry_at_its_limits(tmp_path):
    header = parse_metaimage_header(_header(
        tmp_path, ElementSpacing="1e-6 1e6 1", Offset="-1e9 1e9 0",
        TransformMatrix="0 1 0 -1 0 0 0 0 1.0005", ElementNumberOfChannels="1"))
    assert header.channels == 1 and header.dims == (4, 3, 2)
    header = parse_metaimage_header(_header(tmp_path, NDims="4", DimSize="4 3 2 1",
                                            ElementType="MET_DOUBLE"))
    assert header.data_bytes == 4 * 3 * 2 * 8
    assert parse_metaimage_header(_header(tmp_path, NDims="2", DimSize="1 1",
                                          ElementType="MET_CHAR")).data_bytes == 1


def test_lines_that_are_not_keys(tmp_path):
    path = tmp_path / "x.mhd"
    path.write_bytes(b"NDims = 3\n\n   \nthis is text\nElementDataFile = a.raw\n")
    with pytest.raises(InputError, match="^x.mhd: line 4 is not 'Key = Value': not a "
                                         "MetaImage header$"):
        parse_metaimage_header(path)
    path.write_bytes(b"  NDims=2 \r\nDimSize =  3  2\r\nElementType = MET_FLOAT\r\n"
                     b"ElementDataFile = a.raw\r\nElementType = junk after the data line\n")
    header = parse_metaimage_header(path)
    assert header.dims == (3, 2) and header.element_type == "MET_FLOAT"
    assert header.fields["DimSize"] == "3  2"
    path.write_bytes(b"NDims = 2\n" + b"Comment = " + b"x" * MAX_HEADER_BYTES + b"\n"
                     b"ElementDataFile = a.raw\n")
    with pytest.raises(InputError, match="^x.mhd: line 2 is not 'Key = Value'|no ElementData"):
        parse_metaimage_header(path)
    path.write_bytes(b"Comment = caf\xe9\nNDims = 2\nDimSize = 1 1\nElementType = MET_CHAR\n"
                     b"ElementDataFile = a.raw\n")
    assert parse_metaimage_header(path).fields["Comment"] == "caf\u00e9"
    with pytest.raises(InputError, match=r"^none.mhd: not a readable MetaImage header "
                                         r"\(FileNotFoundError"):
        parse_metaimage_header(tmp_path / "none.mhd")


def test_long_values_are_cut_to_80_characters_and_huge_directions_do_not_overflow(tmp_path):
    import warnings

    long = " ".join(["1"] * 60)  # 119 characters
    for key, message in (("ElementSpacing", "must be 3 finite numbers, not "),
                         ("Offset", "must be 3 finite numbers, not "),
                         ("TransformMatrix", "must be 9 finite numbers, not ")):
        with pytest.raises(InputError) as info:
            parse_metaimage_header(_header(tmp_path, **{key: long}))
        assert str(info.value) == f"scan.mhd: {key} {message}{long[:80]!r}"
    with pytest.raises(InputError) as info:
        parse_metaimage_header(_header(tmp_path, Offset="1 x " + long))
    assert str(info.value) == f"scan.mhd: Offset is not a list of numbers: {('1 x ' + long)[:80]!r}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in the check
        with pytest.raises(InputError, match="is not a rotation"):
            parse_metaimage_header(_header(tmp_path, TransformMatrix="1 0 0 0 1 0 0 0 1e300"))
    wide = "1.00000000000000000000 0 0 0 1.000000000000000000000 0 0 0 2.0000000000000000000000"
    with pytest.raises(InputError) as info:
        parse_metaimage_header(_header(tmp_path, TransformMatrix=wide))
    assert str(info.value) == f"scan.mhd: TransformMatrix {wide[:80]!r} is not a rotation " \
        "(orthonormal direction cosines)"
