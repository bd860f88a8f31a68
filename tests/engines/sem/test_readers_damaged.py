"""Micrograph readers on damaged TIFF fields, lying PNG headers and odd but valid shapes,
modes and resolutions: exact messages, exact pixels."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from engines.core.errors import InputError
from engines.core.safe_read import MAX_COMPRESSION_RATIO
from engines.sem.readers import (
    channels_equal,
    crop_rows,
    read_image_array,
    read_micrograph,
)

RNG = np.random.default_rng(4)
GREY8 = RNG.integers(0, 256, (40, 56), dtype=np.uint8)
RGB = RNG.integers(0, 256, (40, 56, 3), dtype=np.uint8)


def _patched(src, dst, code, value, count=None):
    """``src`` (a little-endian classic TIFF) with the first IFD's entry ``code`` given SHORT
    ``value`` (a tuple packed into the entry) and, optionally, another ``count``."""
    data = bytearray(src.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == code:
            if count is not None:
                struct.pack_into("<I", data, entry + 4, count)
            struct.pack_into(f"<{len(value)}H", data, entry + 8, *value)
            dst.write_bytes(bytes(data))
            return dst
    raise KeyError(code)


def _no_pages(tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"II*\x00\x00\x00\x00\x00" + bytes(64))  # first IFD at offset 0: none
    return path


def _float8(tmp_path):  # SampleFormat float with 8 bits per sample: no numpy type
    tifffile.imwrite(tmp_path / "f.tif", GREY8.astype(np.float32))
    return _patched(tmp_path / "f.tif", tmp_path / "f8.tif", 258, (8,))


def _jpeg_code(tmp_path):  # compression 7 (JPEG) that no codec here decodes
    tifffile.imwrite(tmp_path / "b.tif", GREY8)
    return _patched(tmp_path / "b.tif", tmp_path / "c7.tif", 259, (7,))


def _two_planar_configs(tmp_path):
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(RGB, 2, 0).copy(),
                     planarconfig="separate", photometric="rgb")
    return _patched(tmp_path / "p.tif", tmp_path / "pc.tif", 284, (2, 2), count=2)


def _truncated16(tmp_path):  # 10 bytes of pixel data missing (fewer than its header's)
    path = tmp_path / "t16.tif"
    tifffile.imwrite(path, GREY8.astype(np.uint16) * 257)
    path.write_bytes(path.read_bytes()[:-10])
    return path


@pytest.mark.parametrize(("make", "message"), [
    (_no_pages, "no image in the TIFF file"),
    (_float8, "no decodable image in the first page (shape (40, 56); damaged IFD)"),
    (_jpeg_code, "TIFF compression 7 cannot be decoded here (supported: none, LZW, deflate, "
                 "PackBits, LZMA)"),
    (_two_planar_configs, "the PlanarConfiguration tag holds 2 values, not one (damaged IFD)"),
    (_truncated16, "the image declares 4,480 bytes but the file stores only 4.37 KiB for them "
                   "(damaged or hostile header)"),
])
def test_damaged_tiff_fields(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        read_micrograph(path)
    assert str(info.value) == f"{path.name}: {message}"


def test_planar_and_three_row_images_against_the_pixel_cap(tmp_path, monkeypatch):
    import engines.sem.readers as readers

    planar = tmp_path / "planar.tif"
    tifffile.imwrite(planar, np.moveaxis(RGB, 2, 0).copy(), planarconfig="separate",
                     photometric="rgb")
    rgba = tmp_path / "rgba.tif"
    tifffile.imwrite(rgba, np.moveaxis(np.dstack([RGB, GREY8]), 2, 0).copy(),
                     planarconfig="separate", photometric="rgb", extrasamples=["unassalpha"])
    short = tmp_path / "short.tif"  # 3 rows of RGB, stored contiguous: (3, 56, 3)
    tifffile.imwrite(short, RGB[:3], photometric="rgb")
    monkeypatch.setattr(readers, "MAX_PIXELS", 40 * 56)
    np.testing.assert_array_equal(read_micrograph(planar).array, RGB)
    np.testing.assert_array_equal(read_micrograph(rgba).array, RGB)
    monkeypatch.setattr(readers, "MAX_PIXELS", 40 * 56 - 1)
    for path in (planar, rgba):
        with pytest.raises(InputError, match=f"^{path.name}: 40 × 56 px is more than the "
                                             "2,239 px this reader opens$"):
            read_micrograph(path)
    monkeypatch.setattr(readers, "MAX_PIXELS", 3 * 56)
    np.testing.assert_array_equal(read_micrograph(short).array, RGB[:3])
    monkeypatch.setattr(readers, "MAX_PIXELS", 3 * 56 - 1)
    with pytest.raises(InputError, match="^short.tif: 3 × 56 px is more than the 167 px"):
        read_micrograph(short)


def test_odd_shapes_read_as_stored(tmp_path):
    tifffile.imwrite(tmp_path / "row.tif", GREY8[:1])
    np.testing.assert_array_equal(read_micrograph(tmp_path / "row.tif").array, GREY8[:1])
    rgba = np.dstack([RGB, GREY8])
    tifffile.imwrite(tmp_path / "p4.tif", np.moveaxis(rgba, 2, 0).copy(),
                     planarconfig="separate", photometric="rgb", extrasamples=["unassalpha"])
    planar = read_micrograph(tmp_path / "p4.tif")
    np.testing.assert_array_equal(planar.array, RGB)
    assert planar.warnings == ["p4.tif: alpha channel ignored"]
    Image.fromarray(RGB[:3]).save(tmp_path / "three.png")  # (3, 56, 3): rows, not channels
    np.testing.assert_array_equal(read_micrograph(tmp_path / "three.png").array, RGB[:3])
    Image.fromarray(rgba[:4]).save(tmp_path / "four.png")  # (4, 56, 4)
    four = read_micrograph(tmp_path / "four.png")
    np.testing.assert_array_equal(four.array, RGB[:4])
    assert four.warnings == ["four.png: alpha channel ignored"]
    tifffile.imwrite(tmp_path / "five.tif", RNG.integers(0, 9, (40, 56, 5), dtype=np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.raises(InputError, match=r"^five.tif: image of shape \(40, 56, 5\); expected a "
                                         "grey or RGB image$"):
        read_micrograph(tmp_path / "five.tif")


def test_nan_on_the_first_row_of_a_block(tmp_path):
    image = np.zeros((1100, 3), np.float32)
    image[1024, 1] = np.nan
    tifffile.imwrite(tmp_path / "f.tif", image)
    with pytest.raises(InputError, match=r"^f.tif: pixels that are NaN or infinite \(from row "
                                         r"1024\); a micrograph needs finite values$"):
        read_micrograph(tmp_path / "f.tif")


def test_how_each_tiff_was_read(tmp_path):
    tifffile.imwrite(tmp_path / "m.tif", GREY8)
    mapped = read_micrograph(tmp_path / "m.tif")
    assert mapped.reader == "tifffile (memory-mapped)" and not mapped.array.flags.writeable
    smooth = np.tile(np.arange(56, dtype=np.uint16), (40, 1))  # deflates to far fewer bytes
    tifffile.imwrite(tmp_path / "z.tif", smooth, compression="zlib")
    packed = read_micrograph(tmp_path / "z.tif")
    assert packed.reader == "tifffile" and (tmp_path / "z.tif").stat().st_size < smooth.nbytes
    np.testing.assert_array_equal(packed.array, smooth)
    tifffile.imwrite(tmp_path / "big.tif", GREY8, bigtiff=True)
    assert read_micrograph(tmp_path / "big.tif").reader == "tifffile (memory-mapped), BigTIFF"
    with tifffile.TiffWriter(tmp_path / "two.tif") as tif:  # two series of one page each
        tif.write(GREY8)
        tif.write(np.zeros((10, 10), np.uint8))
    first = read_micrograph(tmp_path / "two.tif")
    np.testing.assert_array_equal(first.array, GREY8)
    assert first.warnings == ["two.tif: several pages; the first image was read"]


def _png(path, width, height, bit_depth=8, colour=0):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                     chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def test_png_headers_are_sized_by_bands_and_depth(tmp_path):
    size = _png(tmp_path / "probe.png", 1, 1).stat().st_size  # the same for any header
    room = size * MAX_COMPRESSION_RATIO  # most bytes these files can decode to
    side = int((room * 0.9) ** 0.5)  # side² 8-bit grey values fit, twice as many do not
    refused = ("the image declares {:,} bytes but the file stores only {} bytes for them even "
               "at the best compression ratio (damaged or hostile header)")
    for name, bit_depth, colour, declared in (("g16.png", 16, 0, 2 * side * side),
                                              ("rgb.png", 8, 2, 3 * side * side)):
        path = _png(tmp_path / name, side, side, bit_depth, colour)
        with pytest.raises(InputError) as info:
            read_micrograph(path)
        assert str(info.value) == f"{name}: " + refused.format(declared, size)
    # one band of 8 bits fits: refused only when the missing pixel data is decoded
    with pytest.raises(InputError, match="^g8.png: not a readable image"):
        read_micrograph(_png(tmp_path / "g8.png", side, side))


def test_pillow_modes_palettes_and_resolutions(tmp_path):
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    cmyk = read_micrograph(tmp_path / "c.jpg")
    with Image.open(tmp_path / "c.jpg") as image:
        np.testing.assert_array_equal(cmyk.array, np.asarray(image.convert("RGB")))
    assert cmyk.warnings == []
    Image.fromarray(RGB).quantize(8).save(tmp_path / "pal.png")
    with Image.open(tmp_path / "pal.png") as image:
        assert image.mode == "P"
        colours, indices = np.asarray(image.convert("RGB")), np.asarray(image)
    np.testing.assert_array_equal(read_micrograph(tmp_path / "pal.png").array, colours)
    kept, _, reader, _ = read_image_array(tmp_path / "pal.png", palette_indices=True)
    np.testing.assert_array_equal(kept, indices)
    assert reader == "Pillow" and kept.max() == 7
    Image.fromarray(GREY8).save(tmp_path / "d.jpg", dpi=(254, 2540))  # x and y differ
    assert read_micrograph(tmp_path / "d.jpg").pixel_size_um == pytest.approx(100.0, rel=1e-9)
    Image.fromarray(GREY8).save(tmp_path / "coarse.png", dpi=(0.5, 0.5))  # 5 cm per pixel
    assert read_micrograph(tmp_path / "coarse.png").pixel_size_um == pytest.approx(5e4, rel=1e-3)


def test_crop_to_the_full_height_changes_nothing(tmp_path):
    tifffile.imwrite(tmp_path / "m.tif", GREY8)
    image = read_micrograph(tmp_path / "m.tif")
    crop_rows(image, 40, "a data bar")
    assert image.shape == (40, 56) and image.warnings == []


def test_channels_that_differ_only_at_the_edges():
    same = np.repeat(GREY8[:, :, None], 3, axis=2)
    first_row = same.copy()
    first_row[0, 3, 0] ^= 1  # the first channel of the first row
    assert not channels_equal(first_row)
    tall = same[:, :2].copy()  # 40 rows of 2 columns
    tall[30, 1, 2] ^= 1
    assert not channels_equal(tall, rows_per_block=4) and channels_equal(same[:, :2], 4)
