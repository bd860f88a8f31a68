"""Micrograph readers: TIFF (8/16-bit, BigTIFF, RGB, planar, compressed, memory-mapped), PNG,
JPEG, pixel sizes, grey conversion, and hostile files that must give an InputError naming the
file without allocating what a header claims."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from engines.core.errors import InputError
from engines.sem.readers import MAX_PIXELS, channels_equal, read_micrograph, to_grey
from engines.sem.writers import write_micrograph

RNG = np.random.default_rng(0)
GREY8 = RNG.integers(0, 256, (40, 56), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (40, 56), dtype=np.uint16)
RGB = RNG.integers(0, 256, (40, 56, 3), dtype=np.uint8)


@pytest.mark.parametrize("array", [GREY8, GREY16, RGB], ids=["8-bit", "16-bit", "rgb"])
def test_uncompressed_tiff_is_memory_mapped_and_exact(tmp_path, array):
    path = write_micrograph(tmp_path / "m.tif", array, pixel_size_um=0.03)
    image = read_micrograph(path)
    assert isinstance(image.array, np.memmap) and "memory-mapped" in image.reader
    np.testing.assert_array_equal(image.array, array)
    assert image.pixel_size_um == pytest.approx(0.03)
    assert image.shape == (40, 56) and image.channels == (3 if array.ndim == 3 else 1)


def test_bigtiff_compressed_and_planar_tiffs(tmp_path):
    tifffile.imwrite(tmp_path / "big.tif", GREY16, bigtiff=True)
    image = read_micrograph(tmp_path / "big.tif")
    assert "BigTIFF" in image.reader
    np.testing.assert_array_equal(image.array, GREY16)
    tifffile.imwrite(tmp_path / "z.tif", GREY8, compression="zlib")
    assert "memory" not in read_micrograph(tmp_path / "z.tif").reader
    np.testing.assert_array_equal(read_micrograph(tmp_path / "z.tif").array, GREY8)
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(RGB, 2, 0).copy(), planarconfig="separate",
                     photometric="rgb")
    np.testing.assert_array_equal(read_micrograph(tmp_path / "p.tif").array, RGB)


def test_fei_pixel_size_and_placeholder_dpi(tmp_path):
    tifffile.imwrite(tmp_path / "dpi.tif", GREY8, resolution=(72, 72), resolutionunit="INCH")
    assert read_micrograph(tmp_path / "dpi.tif").pixel_size_um is None
    write_micrograph(tmp_path / "p.png", GREY8, pixel_size_um=0.05)
    assert read_micrograph(tmp_path / "p.png").pixel_size_um == pytest.approx(0.05, rel=1e-3)


def test_png_jpeg_palette_rgba_and_16_bit(tmp_path):
    Image.fromarray(GREY16).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(read_micrograph(tmp_path / "g16.png").array, GREY16)
    Image.fromarray(np.dstack([RGB, np.full((40, 56), 255, np.uint8)])).save(tmp_path / "a.png")
    rgba = read_micrograph(tmp_path / "a.png")
    assert rgba.array.shape == (40, 56, 3) and any("alpha" in w for w in rgba.warnings)
    Image.fromarray(GREY8).quantize(16).save(tmp_path / "pal.png")
    assert read_micrograph(tmp_path / "pal.png").array.shape == (40, 56, 3)
    Image.fromarray(GREY8).save(tmp_path / "g.jpg", quality=95)
    jpeg = read_micrograph(tmp_path / "g.jpg")
    assert jpeg.array.dtype == np.uint8 and np.abs(jpeg.array.astype(int) - GREY8).mean() < 12


def test_data_bar_setting_crops_rows(tmp_path):
    path = write_micrograph(tmp_path / "m.tif", GREY8)
    image = read_micrograph(path, crop_bottom=10)
    assert image.shape == (30, 56) and "10 rows cropped" in image.warnings[0]
    with pytest.raises(InputError, match="m.tif: cropping 40 rows"):
        read_micrograph(path, crop_bottom=40)


def test_grey_conversion():
    same = np.repeat(GREY8[:, :, None], 3, axis=2)
    assert channels_equal(same) and to_grey(same).base is not None      # a view
    np.testing.assert_array_equal(to_grey(same), GREY8)
    grey = to_grey(RGB, rows_per_block=7)
    expected = np.round(RGB.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    np.testing.assert_array_equal(grey, expected.astype(np.uint8))
    assert to_grey(GREY16) is GREY16


def _png_with_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not a tiff at all" * 10), "not a readable TIFF"),
    (lambda p: p.write_bytes(tifffile_bytes()[:300]), "truncated|past the end|but the file stores only"),
], ids=["garbage", "truncated"])
def test_broken_tiffs(tmp_path, make, message):
    path = tmp_path / "bad.tif"
    make(path)
    with pytest.raises(InputError, match=f"^bad.tif: .*({message})"):
        read_micrograph(path)


def tifffile_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, RNG.integers(0, 256, (64, 64), dtype=np.uint8))
    return buffer.getvalue()


def test_hostile_png_headers_are_refused_before_decoding(tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_with_header(100_000, 100_000))
    with pytest.raises(InputError, match="huge.png: .*(more than|exceeds limit)"):
        read_micrograph(huge)
    side = int(np.sqrt(MAX_PIXELS)) - 10
    lying = tmp_path / "lying.png"
    lying.write_bytes(_png_with_header(side, side))
    with pytest.raises(InputError, match="lying.png: .*even at the best compression ratio"):
        read_micrograph(lying)


def test_truncated_jpeg_missing_file_and_wrong_type(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="^t.jpg: not a readable image"):
        read_micrograph(tmp_path / "t.jpg")
    with pytest.raises(InputError, match="^none.tif: file not found"):
        read_micrograph(tmp_path / "none.tif")
    (tmp_path / "x.bmp").write_bytes(b"BM")
    with pytest.raises(InputError, match="^x.bmp: unsupported image type"):
        read_micrograph(tmp_path / "x.bmp")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_float_micrographs_must_be_finite(tmp_path, value):
    image = np.linspace(0, 1, 30 * 1100, dtype=np.float32).reshape(1100, 30)
    image[1050, 7] = value  # in the second block of rows
    tifffile.imwrite(tmp_path / "f.tif", image)
    with pytest.raises(InputError, match="^f.tif: pixels that are NaN or infinite .from row "
                                         "1024"):
        read_micrograph(tmp_path / "f.tif")
    image[1050, 7] = 0.5
    tifffile.imwrite(tmp_path / "f.tif", image)
    assert read_micrograph(tmp_path / "f.tif").array.dtype == np.float32


def test_implausible_stated_pixel_sizes_are_not_kept():
    from engines.sem.readers import _um_per_pixel

    assert _um_per_pixel("5e-9", "m") == pytest.approx(0.005)  # an FEI PixelWidth
    assert _um_per_pixel(2.0, "mm") == pytest.approx(2000.0)
    for value, unit in ((1e-300, "m"), (1e-10, "um"), (2e6, "um"), (1e3, "m"), ("inf", "m"),
                        (0, "nm"), (-1, "um"), (1.0, "furlong")):
        assert _um_per_pixel(value, unit) is None, (value, unit)
    assert _um_per_pixel(1e-6, "um") == 1e-6 and _um_per_pixel(1e6, "um") == 1e6


def _sem_tiff(path, tag, text, resolution=None):
    options = {"resolution": resolution, "resolutionunit": "CENTIMETER"} if resolution else {}
    tifffile.imwrite(path, GREY8, extratags=[(tag, "s", 0, text, True)], **options)
    return path


def test_sem_metadata_comes_before_the_resolution_tags(tmp_path):
    fei = _sem_tiff(tmp_path / "fei.tif", 34682, "[Beam]\r\nHV=5000\r\n[Scan]\r\n"
                    "PixelWidth=7.5e-09\r\nPixelHeight=7.5e-09\r\n", resolution=(1e4, 1e4))
    assert read_micrograph(fei).pixel_size_um == pytest.approx(0.0075)
    silent = _sem_tiff(tmp_path / "s.tif", 34682, "[Beam]\r\nHV=5000\r\n", resolution=(5e3, 5e3))
    assert read_micrograph(silent).pixel_size_um == pytest.approx(2.0)  # 5000 px/cm
    zeiss = _sem_tiff(tmp_path / "z.tif", 34118, "\r\nAP_WD\r\nWD = 5 mm\r\nAP_IMAGE_PIXEL_SIZE"
                      "\r\nImage Pixel Size = 2.5 nm\r\n", resolution=(1e4, 1e4))
    assert read_micrograph(zeiss).pixel_size_um == pytest.approx(0.0025)
    odd = _sem_tiff(tmp_path / "o.tif", 34118, "\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = "
                    "2.5\r\n", resolution=(1e4, 1e4))  # no unit: the resolution tags
    assert read_micrograph(odd).pixel_size_um == pytest.approx(1.0)
    tifffile.imwrite(tmp_path / "none.tif", GREY8)
    assert read_micrograph(tmp_path / "none.tif").pixel_size_um is None
    tifffile.imwrite(tmp_path / "far.tif", GREY8, resolution=(1e-9, 1e-9),
                     resolutionunit="CENTIMETER")  # 1e13 µm per pixel: not kept
    assert read_micrograph(tmp_path / "far.tif").pixel_size_um is None


def test_units_of_stated_pixel_sizes():
    from engines.sem.readers import _um_per_pixel

    assert _um_per_pixel("3", " nm ") == pytest.approx(0.003)
    assert _um_per_pixel(4, "µm") == 4.0 and _um_per_pixel(4, "um") == 4.0
    assert _um_per_pixel(None, "m") is None and _um_per_pixel([1], "m") is None
    assert _um_per_pixel(1e-12, "m") == pytest.approx(1e-6)


def test_pillow_dpi_gives_the_pixel_size_unless_a_default(tmp_path):
    for dpi, expected in ((96, None), (72, None), (96.2, 264.033), (254, 100.0), (25400, 1.0), (0.001, None)):
        Image.fromarray(GREY8).save(tmp_path / "d.png", dpi=(dpi, dpi))
        found = read_micrograph(tmp_path / "d.png").pixel_size_um
        assert found == (None if expected is None else pytest.approx(expected, rel=1e-3)), dpi
    Image.fromarray(GREY8).save(tmp_path / "n.png")
    assert read_micrograph(tmp_path / "n.png").pixel_size_um is None


def test_pages_channels_and_types(tmp_path):
    tifffile.imwrite(tmp_path / "two.tif", np.stack([GREY8, GREY8[::-1]]))
    image = read_micrograph(tmp_path / "two.tif")
    np.testing.assert_array_equal(image.array, GREY8)
    assert image.warnings == ["two.tif: several pages; the first image was read"]
    tifffile.imwrite(tmp_path / "one.tif", GREY8[None, :, :, None])  # (1, H, W, 1)
    one = read_micrograph(tmp_path / "one.tif")
    assert one.array.shape == (40, 56) and one.warnings == []
    grey_alpha = np.dstack([GREY8, np.full_like(GREY8, 255)])
    Image.fromarray(grey_alpha, mode="LA").save(tmp_path / "la.png")
    la = read_micrograph(tmp_path / "la.png")
    np.testing.assert_array_equal(la.array, GREY8)
    assert la.warnings == ["la.png: alpha channel ignored"] and la.channels == 1
    tifffile.imwrite(tmp_path / "five.tif", RNG.integers(0, 9, (40, 56, 5), dtype=np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.raises(InputError, match=r"^five.tif: image of shape \(40, 56, 5\); expected"):
        read_micrograph(tmp_path / "five.tif")
    tifffile.imwrite(tmp_path / "f64.tif", GREY8.astype(np.float64))
    with pytest.raises(InputError, match="^f64.tif: pixels of type float64 are not supported"):
        read_micrograph(tmp_path / "f64.tif")
    tifffile.imwrite(tmp_path / "i32.tif", GREY8.astype(np.int32) - 100)
    assert read_micrograph(tmp_path / "i32.tif").array.min() == -100


def test_pillow_modes_become_grey_or_rgb(tmp_path):
    bits = GREY8 > 128
    Image.fromarray(bits).save(tmp_path / "b.png")
    one_bit = read_micrograph(tmp_path / "b.png")
    assert one_bit.array.dtype == np.uint8
    np.testing.assert_array_equal(one_bit.array, np.where(bits, 255, 0))
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert read_micrograph(tmp_path / "c.jpg").array.shape == (40, 56, 3)
    Image.fromarray(GREY16).save(tmp_path / "g16.png")  # Pillow's I;16
    wide = read_micrograph(tmp_path / "g16.png")
    assert wide.array.dtype == np.uint16 and wide.reader == "Pillow"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.filterwarnings("ignore:.*zero-size array:UserWarning")
def test_names_sizes_and_crops_in_the_messages(tmp_path, monkeypatch):
    import engines.sem.readers as readers

    (tmp_path / "dir.tif").mkdir()
    with pytest.raises(InputError, match="^dir.tif: not a file$"):
        read_micrograph(tmp_path / "dir.tif")
    (tmp_path / "noext").write_bytes(b"x")
    with pytest.raises(InputError, match=r"^noext: unsupported image type '\(none\)'; use "
                                         r"\.tif, \.tiff, \.png, \.jpg, \.jpeg$"):
        read_micrograph(tmp_path / "noext")
    (tmp_path / "UP.PNG").write_bytes(b"x")  # the suffix in any case
    with pytest.raises(InputError, match="^UP.PNG: not a readable image"):
        read_micrograph(tmp_path / "UP.PNG")
    path = write_micrograph(tmp_path / "m.tif", GREY8)
    monkeypatch.setattr(readers, "MAX_PIXELS", 40 * 56)
    assert read_micrograph(path).shape == (40, 56)  # at the cap
    monkeypatch.setattr(readers, "MAX_PIXELS", 40 * 56 - 1)
    with pytest.raises(InputError, match="^m.tif: 40 × 56 px is more than the 2,239 px"):
        read_micrograph(path)
    with pytest.raises(InputError, match="^m.png: 40 × 56 px is more than"):
        read_micrograph(write_micrograph(tmp_path / "m.png", GREY8))
    monkeypatch.undo()
    tifffile.imwrite(tmp_path / "empty.tif", np.zeros((0, 5), np.uint8))
    with pytest.raises(InputError, match="^empty.tif: "):
        read_micrograph(tmp_path / "empty.tif")
    image = read_micrograph(path, crop_bottom=39)
    assert image.shape == (1, 56)
    assert image.warnings == ["m.tif: bottom 39 rows cropped (a data bar setting); 1 rows kept"]
    np.testing.assert_array_equal(image.array, GREY8[:1])
    assert read_micrograph(path, crop_bottom=0).warnings == []
    with pytest.raises(InputError, match=r"^m.tif: cropping 41 rows \(a data bar setting\) "
                                         "leaves nothing of 40$"):
        read_micrograph(path, crop_bottom=41)


def test_check_pixels_refuses_empty_sides():
    from pathlib import Path

    from engines.sem.readers import _check_pixels

    for h, w in ((0, 5), (5, 0)):
        with pytest.raises(InputError, match=f"^e.png: empty image .{h} × {w} px.$"):
            _check_pixels(Path("e.png"), h, w)
    _check_pixels(Path("e.png"), 1, 1)


def test_grey_of_16_bit_and_float_rgb_and_late_differences():
    rgb16 = RNG.integers(0, 65536, (9, 4, 3), dtype=np.uint16)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    expected = np.round(rgb16.astype(np.float32) @ weights).astype(np.uint16)
    np.testing.assert_array_equal(to_grey(rgb16, rows_per_block=2), expected)
    rgbf = RNG.random((5, 3, 3)).astype(np.float32)
    grey = to_grey(rgbf, rows_per_block=2)
    assert grey.dtype == np.float32
    np.testing.assert_allclose(grey, rgbf @ weights, rtol=1e-6)
    assert not np.array_equal(grey, np.round(grey))
    same = np.repeat(GREY8[:, :, None], 3, axis=2)
    same[37, 5, 2] ^= 1  # the last channel of a row in the last block
    assert not channels_equal(same, rows_per_block=8)
    assert not channels_equal(same)
    same[37, 5, 2] ^= 1
    same[37, 5, 1] ^= 1
    assert not channels_equal(same, rows_per_block=8)
    assert channels_equal(np.repeat(GREY8[:, :, None], 2, axis=2), rows_per_block=8)
