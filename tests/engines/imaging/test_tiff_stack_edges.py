"""TIFF stacks at their edges: the IFD chain walk on hand-made files (loops, page limits,
BigTIFF, big-endian), the voxel size chosen between file and argument, damaged tags, strips
past the end, shapes that are not a greyscale Z×Y×X stack, folders of slices, and what the
writer turns into which type. Files are a few kB; each test runs in well under a second."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.imaging.tiff_spacing import FileSpacing
from engines.imaging.tiff_stack import (
    _check_compression,
    _check_strips,
    _shaped,
    _stack_shape,
    _tag_number,
    check_ifd_chain,
    read_tiff_file,
    read_tiff_folder,
    resolve_spacing,
    tiff_slices,
    write_tiff,
)
from engines.imaging.volume import Volume


def _chain(path: Path, tags: list[int], nexts: list[int] | None = None, *, big: bool = False,
           order: str = "<", tail: int = 8) -> Path:
    """A file of IFDs only (``tags[k]`` zeroed entries each), one after the other from byte
    8 (16 for BigTIFF); IFD k points at IFD k + 1 (the last at 0) unless ``nexts`` says where.
    ``tail`` zero bytes follow the last IFD."""
    count, entry, offset = ("Q", 20, "Q") if big else ("H", 12, "I")
    start = 16 if big else 8
    sizes = [struct.calcsize(count) + n * entry + struct.calcsize(offset) for n in tags]
    starts = [start + sum(sizes[:k]) for k in range(len(tags))]
    nexts = nexts if nexts is not None else [*starts[1:], 0]
    mark = b"II" if order == "<" else b"MM"
    head = mark + (struct.pack(order + "HHHQ", 43, 8, 0, starts[0]) if big
                   else struct.pack(order + "HI", 42, starts[0]))
    body = b"".join(struct.pack(order + count, n) + bytes(n * entry) +
                    struct.pack(order + offset, nxt) for n, nxt in zip(tags, nexts, strict=True))
    path.write_bytes(head + body + bytes(tail))
    return path


# ---------------------------------------------------------------- the IFD chain

@pytest.mark.parametrize("big, order", [(False, "<"), (False, ">"), (True, "<"), (True, ">")])
def test_ifd_chain_of_three_pages(tmp_path, big, order):
    path = _chain(tmp_path / "c.tif", [1, 3, 2], big=big, order=order)
    assert check_ifd_chain(path) == 3
    assert check_ifd_chain(path, max_pages=3) == 3
    with pytest.raises(InputError, match=r"^c.tif: more than 2 pages$"):
        check_ifd_chain(path, max_pages=2)


def test_ifd_chain_that_loops_names_both_pages(tmp_path):
    # pages at 8, 26, 68 (1, 3 and 2 entries); the third points back at the second
    path = _chain(tmp_path / "loop.tif", [1, 3, 2], [26, 68, 26])
    with pytest.raises(InputError, match=r"^loop.tif: the chain of pages loops \(page 2 points "
                                         r"back at page 1\)$"):
        check_ifd_chain(path)
    itself = _chain(tmp_path / "self.tif", [2], [8])
    with pytest.raises(InputError, match=r"page 0 points back at page 0\)$"):
        check_ifd_chain(itself)


def test_what_the_walk_cannot_follow_is_left_to_tifffile(tmp_path):
    assert check_ifd_chain(_chain(tmp_path / "a.tif", [1, 1], [26, 10_000])) == 2   # past end
    size = (tmp_path / "a.tif").stat().st_size
    assert check_ifd_chain(_chain(tmp_path / "b.tif", [1, 1], [26, size])) == 2     # at the end
    assert check_ifd_chain(_chain(tmp_path / "b.tif", [1, 1], [26, size - 1])) == 3  # 1 byte
    # IFD 1 is cut inside its entries: it counts, and nothing after it is followed
    assert check_ifd_chain(_chain(tmp_path / "c.tif", [1, 5], tail=0)) == 2
    # IFD 1 is whole but the file ends 2 bytes into its next-page offset
    cut = _chain(tmp_path / "h.tif", [1, 1], tail=0)
    cut.write_bytes(cut.read_bytes()[:-2])
    assert check_ifd_chain(cut) == 2
    # a first IFD at byte 1 is visited (its 10,825 entries end the walk)
    (tmp_path / "i.tif").write_bytes(b"II*\0\x01\0\0\0" + bytes(40))
    assert check_ifd_chain(tmp_path / "i.tif") == 1
    (tmp_path / "d.tif").write_bytes(b"II*\0\x08\0\0")     # 7 bytes: no first offset
    assert check_ifd_chain(tmp_path / "d.tif") == 0
    (tmp_path / "e.tif").write_bytes(b"II\x2b\0\x08\0\0\0\0\0\0\0\x10\0\0")  # BigTIFF of 15
    assert check_ifd_chain(tmp_path / "e.tif") == 0
    (tmp_path / "f.tif").write_bytes(b"II\x2c\0\x08\0\0\0" + bytes(40))     # version 44
    assert check_ifd_chain(tmp_path / "f.tif") == 0
    (tmp_path / "g.tif").write_bytes(b"XX*\0\x08\0\0\0" + bytes(40))
    assert check_ifd_chain(tmp_path / "g.tif") == 0


def test_ifd_entry_count_limit_is_tifffiles(tmp_path):
    assert check_ifd_chain(_chain(tmp_path / "a.tif", [4096, 1])) == 2
    assert check_ifd_chain(_chain(tmp_path / "b.tif", [4097, 1])) == 1
    # 65,535 entries (an unsigned count) end the walk; the bytes 10 before that IFD's end of
    # entries, were the count read as -1, would point back at page 0
    ifd0 = struct.pack("<H", 1) + bytes(6) + struct.pack("<I", 8) + bytes(2) + \
        struct.pack("<I", 26)
    path = tmp_path / "c.tif"
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd0 + b"\xff\xff" + bytes(64))
    assert check_ifd_chain(path) == 2


# ---------------------------------------------------------------- voxel size

def test_spacing_from_the_file_argument_or_assumed():
    found = FileSpacing(0.5, None, 2.0, "ImageJ", ["resolution unit guessed"])
    assert resolve_spacing(found, None, "s.tif") == (
        (0.5, 0.5, 2.0), ["s.tif: resolution unit guessed"], "ImageJ")
    assert resolve_spacing(FileSpacing(None, 0.25, None, "TIFF tags"), (9.0, 9.0, 3.0),
                           "s.tif") == ((0.25, 0.25, 3.0), [
                               "s.tif: the file gives 0.25×0.25×3 mm, used instead of the "
                               "spacing_xyz given (9.0, 9.0, 3.0)"],
                           "TIFF tags (z from the spacing_xyz argument)")
    assert resolve_spacing(FileSpacing(0.25, 0.125, None, "TIFF tags"), None, "s.tif") == (
        (0.25, 0.125, 0.25),
        ["s.tif: no slice spacing in the file; 0.25 mm (the pixel size) assumed"], "TIFF tags")
    assert resolve_spacing(FileSpacing(z=2.0, notes=["odd"]), (1, 2, 3), "s.tif") == (
        (1.0, 2.0, 3.0), ["s.tif: odd"], "spacing_xyz argument")
    assert resolve_spacing(FileSpacing(z=2.0), None, "s.tif") == (
        (1.0, 1.0, 1.0), ["s.tif: no voxel size in the file; 1 mm assumed"], "assumed")
    assert resolve_spacing(FileSpacing(0.0, None, 2.0, "TIFF tags"), None, "s.tif") == (
        (1.0, 1.0, 1.0), ["s.tif: no voxel size in the file; 1 mm assumed"], "assumed")


def test_an_argument_within_a_thousandth_of_the_file_is_silent():
    found = FileSpacing(0.5, 0.25, 2.0, "ImageJ")
    assert resolve_spacing(found, (0.5004, 0.25, 2.0), "s.tif")[1] == []
    assert resolve_spacing(found, (0.5006, 0.25, 2.0), "s.tif")[1] == [
        "s.tif: the file gives 0.5×0.25×2 mm, used instead of the spacing_xyz given "
        "(0.5006, 0.25, 2.0)"]


# ---------------------------------------------------------------- tags, shapes, strips

def test_tag_numbers_and_compressions():
    assert _tag_number(Path("s.tif"), np.uint16(5), "Compression") == 5
    with pytest.raises(InputError, match=r"^s.tif: the Compression tag holds 2 values, not one "
                                         r"\(damaged IFD\)$"):
        _tag_number(Path("s.tif"), (1, 5), "Compression")
    with pytest.raises(InputError, match=r"^s.tif: the SamplesPerPixel tag holds str "
                                         r"'abcdefghijklmnopqrst', not a number \(damaged IFD\)$"):
        _tag_number(Path("s.tif"), "abcdefghijklmnopqrstuvwxyz", "SamplesPerPixel")
    with pytest.raises(InputError, match=r"holds float '1.5', not a number"):
        _tag_number(Path("s.tif"), 1.5, "Compression")
    page = SimpleNamespace(compression=32773)
    assert _check_compression(Path("s.tif"), page) == 64.0
    assert _check_compression(Path("s.tif"), SimpleNamespace(compression=5)) == 4096 * 8 / 9
    with pytest.raises(InputError, match=r"^s.tif: TIFF compression 7 cannot be decoded here "
                                         r"\(supported: none, LZW, deflate, PackBits, LZMA\)$"):
        _check_compression(Path("s.tif"), SimpleNamespace(compression=7))
    with pytest.raises(InputError, match=r"^s.tif: the Compression tag holds 2 values"):
        _check_compression(Path("s.tif"), SimpleNamespace(compression=(1, 5)))


@pytest.mark.parametrize("shape, expected", [
    ((5, 6), (1, 5, 6)), ((3, 5, 6), (3, 5, 6)), ((4, 1, 6), (4, 1, 6)),
    ((1, 3, 1, 5, 6), (3, 5, 6)), ((1, 1, 5, 6), (1, 5, 6)),
])
def test_stack_shapes(shape, expected):
    assert _stack_shape(Path("s.tif"), shape, 1) == expected


def test_shapes_that_are_no_greyscale_stack():
    with pytest.raises(InputError, match=r"^s.tif: 3 samples per pixel \(colour\); a volume "
                                         r"needs greyscale pages$"):
        _stack_shape(Path("s.tif"), (2, 4, 4), 3)
    with pytest.raises(InputError, match=r"^s.tif: image of shape \(2, 3, 5, 6\); a volume needs "
                                         r"Z×Y×X greyscale pages$"):
        _stack_shape(Path("s.tif"), (2, 3, 5, 6), 1)
    with pytest.raises(InputError, match=r"image of shape \(7,\)"):
        _stack_shape(Path("s.tif"), (7,), 1)
    np.testing.assert_array_equal(_shaped(Path("s.tif"), np.arange(6), (1, 2, 3)),
                                  [[[0, 1, 2], [3, 4, 5]]])
    with pytest.raises(InputError, match=r"^s.tif: the pages decode to 5 values, the header "
                                         r"declares 6 \(damaged pixel data\)$"):
        _shaped(Path("s.tif"), np.arange(5), (1, 2, 3))


def _page(offsets, counts, compression=1):
    return SimpleNamespace(compression=compression, dataoffsets=offsets, databytecounts=counts)


def test_strips_inside_the_file_and_their_best_ratio(tmp_path):
    path = tmp_path / "s.tif"
    path.write_bytes(bytes(100))
    _check_strips(path, [None, _page((0, 60), (60, 40))], 100)      # ends exactly at the end
    _check_strips(path, [_page((0, 60, 99), (60, 40))], 100)        # an offset without count
    with pytest.raises(InputError, match=r"^s.tif: TIFF compression 7 cannot be decoded"):
        _check_strips(path, [_page((0,), (60,)), _page((0,), (60,), compression=7)], 100)
    with pytest.raises(InputError, match=r"^s.tif: pixel data runs past the end of the file "
                                         r"\(truncated\)$"):
        _check_strips(path, [_page((10,), (40,)), _page((0, 61), (60, 40))], 100)
    with pytest.raises(InputError, match=r"^s.tif: the header of the pages declares 101 bytes"):
        _check_strips(path, [_page((0, 60), (60, 40))], 101)
    # 10 + 20 bytes of PackBits (64 to 1 at best) beside raw pages: 1920 bytes at most
    pages = [_page((0,), (10,)), _page((50,), (20,), compression=32773)]
    _check_strips(path, pages, 1920)
    with pytest.raises(InputError, match="declares 1,921 bytes .* even at the best"):
        _check_strips(path, pages, 1921)


# ---------------------------------------------------------------- files and folders

def test_an_ome_file_of_two_images_reads_the_first(tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "two.ome.tif", ome=True) as tif:
        tif.write(np.full((2, 4, 5), 7, np.uint16), metadata={"axes": "ZYX"})
        tif.write(np.zeros((3, 6, 6), np.uint8), metadata={"axes": "ZYX"})
    volume = read_tiff_file(tmp_path / "two.ome.tif")
    assert volume.shape == (2, 4, 5) and int(volume.array.min()) == 7
    assert volume.metadata["warnings"][0] == "two.ome.tif: 2 images in the OME file; read the first"
    assert volume.metadata["bigtiff"] is False


def test_pages_of_two_sizes_are_listed(tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "mixed.tif") as tif:
        tif.write(np.zeros((8, 8), np.uint16), photometric="minisblack")
        tif.write(np.zeros((9, 8), np.float32), photometric="minisblack")
    with pytest.raises(InputError, match=r"^mixed.tif: pages of different sizes or types "
                                         r"\(\(8, 8\) uint16, \(9, 8\) float32\); a volume needs "
                                         r"equal pages$"):
        read_tiff_file(tmp_path / "mixed.tif")


def test_a_tiff_without_pages_has_no_image(tmp_path):
    (tmp_path / "z.tif").write_bytes(b"II*\0\0\0\0\0" + bytes(32))     # first IFD at 0: none
    with pytest.raises(InputError, match=r"^z.tif: no image in the TIFF file$"):
        read_tiff_file(tmp_path / "z.tif")


def test_five_page_sizes_list_four(tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "five.tif") as tif:
        for k in range(5):
            tif.write(np.zeros((3 + k, 4), np.uint8), photometric="minisblack")
    with pytest.raises(InputError, match=r"^five.tif: pages of different sizes or types \(\(3, 4\) "
                                         r"uint8, \(4, 4\) uint8, \(5, 4\) uint8, \(6, 4\) uint8\); "):
        read_tiff_file(tmp_path / "five.tif")


def test_a_mapped_stack_cut_short_is_refused_and_a_whole_one_is_copy_on_write(tmp_path):
    import tifffile

    path = tmp_path / "v.tif"
    values = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
    tifffile.imwrite(path, values, photometric="minisblack")   # data: the file's last 64 bytes
    volume = read_tiff_file(path)
    assert volume.source == path and volume.metadata["reader"] == "tifffile (memory-mapped)"
    assert volume.metadata["warnings"] == ["v.tif: no voxel size in the file; 1 mm assumed"]
    volume.array[0, 0, 0] = 200                                # changes the copy, not the file
    assert int(read_tiff_file(path).array[0, 0, 0]) == 0
    del volume
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match=r"^v.tif: the header of the pages declares 64 bytes but "
                                         r"the file stores only 54 bytes for them \(damaged or "
                                         r"hostile header\)$"):
        read_tiff_file(path)


def test_a_broken_page_chain_is_a_truncated_file(tmp_path):
    import tifffile

    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        second = tif.pages[1].offset
    data = bytearray(path.read_bytes())
    data[second:second + 2] = b"\xff\xff"      # 65,535 entries: tifffile gives up on page 1
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^cut.tif: corrupt or truncated TIFF \("):
        read_tiff_file(path)


def _slices(folder: Path, n: int, dtype=np.uint16, shape=(3, 4)) -> Path:
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        tifffile.imwrite(folder / f"s{k}.tif", np.full(shape, k, dtype), photometric="minisblack")
    return folder


def test_folder_reading_reports_progress_and_metadata(tmp_path):
    folder = _slices(tmp_path / "slices", 33)
    (folder / "notes.txt").write_text("not a slice")
    (folder / ".s99.tif").write_bytes(b"hidden")
    (folder / "sub.tif").mkdir()
    reports: list[Progress] = []
    volume = drive(read_tiff_folder(folder, spacing_xyz=(0.5, 0.5, 2.0)), reports.append)
    assert [r.message for r in reports] == ["33 TIFF headers read", "slice 16/33",
                                            "slice 32/33"]
    assert [r.fraction for r in reports] == pytest.approx([0.05, 0.05 + 0.95 * 16 / 33,
                                                           0.05 + 0.95 * 32 / 33])
    assert volume.shape == (33, 3, 4) and volume.array.dtype == np.uint16
    assert [int(v) for v in volume.array[:, 2, 3]] == list(range(33))
    assert volume.spacing_xyz == (0.5, 0.5, 2.0) and volume.source == folder
    assert volume.metadata == {"reader": "tifffile (folder of slices)", "files": 33,
                               "spacing_source": "spacing_xyz argument", "warnings": []}


def test_folder_slices_must_match_and_be_single_pages(tmp_path):
    import tifffile

    with pytest.raises(InputError, match=r"^empty: no TIFF slices in the folder$"):
        drive(read_tiff_folder(_slices(tmp_path / "empty", 0)))
    folder = _slices(tmp_path / "types", 2)
    tifffile.imwrite(folder / "s2.tif", np.zeros((3, 4), np.float32), photometric="minisblack")
    with pytest.raises(InputError, match=r"^s2.tif: slice of \(3, 4\) float32, but s0.tif is "
                                         r"\(3, 4\) uint16$"):
        drive(read_tiff_folder(folder))
    folder = _slices(tmp_path / "pages", 1)
    tifffile.imwrite(folder / "s1.tif", np.zeros((2, 3, 4), np.uint16), photometric="minisblack")
    with pytest.raises(InputError, match=r"^s1.tif: 2 pages; a folder stack needs one 2-D slice "
                                         r"per file$"):
        drive(read_tiff_folder(folder))
    folder = _slices(tmp_path / "sizes", 1)
    with tifffile.TiffWriter(folder / "s1.tif") as tif:    # two pages, two series: (3, 4) first
        tif.write(np.zeros((3, 4), np.uint16), photometric="minisblack")
        tif.write(np.zeros((5, 4), np.uint16), photometric="minisblack")
    with pytest.raises(InputError, match=r"^s1.tif: 2 pages; a folder stack"):
        drive(read_tiff_folder(folder))
    folder = _slices(tmp_path / "colour", 1)
    tifffile.imwrite(folder / "s1.tif", np.zeros((3, 4, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match=r"^s1.tif: 3 samples per pixel"):
        drive(read_tiff_folder(folder))


def test_a_slice_declaring_more_rows_than_its_strips_hold_is_refused(tmp_path):
    import tifffile

    folder = _slices(tmp_path / "tall", 2)
    with tifffile.TiffFile(folder / "s1.tif", mode="r+b") as tif:
        tif.pages[0].tags["ImageLength"].overwrite(6)       # 6 × 4 × 2 bytes in a 24-byte strip
    with pytest.raises(InputError, match=r"^s1.tif: the header of the pages declares 48 bytes but "
                                         r"the file stores only 24 bytes"):
        drive(read_tiff_folder(folder))


def test_a_slice_whose_deflate_stream_is_damaged_is_named(tmp_path):
    import tifffile

    folder = tmp_path / "z"
    folder.mkdir()
    for k in range(2):
        tifffile.imwrite(folder / f"s{k}.tif", np.full((6, 8), k, np.uint16),
                         photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(folder / "s1.tif") as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    data = bytearray((folder / "s1.tif").read_bytes())
    data[offset:offset + count] = b"\xff" * count         # the headers still pass
    (folder / "s1.tif").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^s1.tif: not a readable TIFF file \(.*decompress"):
        drive(read_tiff_folder(folder))


def test_a_folder_without_voxel_size_assumes_one_mm(tmp_path):
    volume = drive(read_tiff_folder(_slices(tmp_path / "plain", 2)))
    assert volume.spacing_xyz == (1.0, 1.0, 1.0)
    assert volume.metadata["warnings"] == ["plain: no voxel size in the file; 1 mm assumed"]


def test_slices_in_natural_order_whatever_the_case(tmp_path):
    for name in ("b10.TIF", "B2.tiff", "ab.tif", "a_1.tif", "b1.tif", "c.png"):
        (tmp_path / name).write_bytes(b"")
    # compared in lower case: "_" (0x5F) sorts before "b", though after "B"
    assert [p.name for p in tiff_slices(tmp_path)] == ["a_1.tif", "ab.tif", "b1.tif", "B2.tiff",
                                                       "b10.TIF"]


@pytest.mark.parametrize("values, dtype", [
    (np.array([[[True, False], [False, True]]]), np.uint8),
    (np.array([[[-128, 5], [127, 0]]], np.int8), np.int16),
    (np.array([[[70_000, -3], [0, 1]]], np.int64), np.float32),
])
def test_the_writer_stores_types_tiff_readers_know(tmp_path, values, dtype):
    path = write_tiff(Volume(values, spacing_xyz=(0.5, 0.25, 2.0)),
                      tmp_path / "sub" / "deeper" / "v.tif")
    assert [p.name for p in path.parent.iterdir()] == ["v.tif"]   # no temporary left
    volume = read_tiff_file(path)
    assert volume.array.dtype == dtype
    np.testing.assert_array_equal(volume.array, values.astype(dtype))
    assert volume.spacing_xyz == pytest.approx((0.5, 0.25, 2.0))


def test_bigtiff_written_in_pixels_per_centimetre(tmp_path):
    import tifffile

    path = write_tiff(Volume(np.zeros((2, 3, 4), np.uint16), spacing_xyz=(0.5, 0.25, 2.0)),
                      tmp_path / "big.tif", bigtiff=True, compression="zlib")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff and tif.pages.first.compression == 8
        assert tif.pages.first.get_resolution() == pytest.approx((20.0, 40.0))
        assert tif.pages.first.tags["ResolutionUnit"].value == 3
        assert tif.shaped_metadata[0]["spacing"] == 2.0
        assert tif.shaped_metadata[0]["unit"] == "mm"
    with pytest.raises(InputError, match=r"^unknown TIFF compression 'lzw'; choose None or "
                                         r"'zlib'$"):
        write_tiff(Volume(np.zeros((1, 2, 2), np.uint8)), tmp_path / "s.tif", compression="lzw")
