"""TIFF stacks: multi-page files (ImageJ, BigTIFF, OME, compressed) and folders of slices, their
voxel size from the file, the argument or a warned default, and memory mapping."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.volume import Volume
from engines.imaging.volume_io import read_volume, write_volume


def _memory_mapped(array) -> bool:
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_our_imagej_stack_read_by_tifffile_and_memory_mapped_by_ours(tmp_path, dtype):
    import tifffile

    values = (np.arange(5 * 6 * 7) % 200).reshape(5, 6, 7).astype(dtype)
    path = write_volume(Volume(values, spacing_xyz=(0.02, 0.025, 0.05)), tmp_path / "s.tif")
    with tifffile.TiffFile(path) as tif:
        assert np.array_equal(tif.asarray(), values)
        assert tif.imagej_metadata["spacing"] == 0.05 and tif.imagej_metadata["unit"] == "mm"
        x_resolution, y_resolution = tif.pages.first.get_resolution()
        assert (1 / x_resolution, 1 / y_resolution) == pytest.approx((0.02, 0.025))
    volume = read_volume(path)
    assert _memory_mapped(volume.array) and volume.array.dtype == dtype
    assert np.array_equal(volume.array, values)
    assert volume.spacing_xyz == pytest.approx((0.02, 0.025, 0.05))
    assert volume.metadata["reader"] == "tifffile (memory-mapped)"
    assert volume.metadata["spacing_source"] == "ImageJ" and volume.metadata["warnings"] == []


def test_imagej_micron_units(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "um.tif", np.zeros((3, 4, 4), np.uint16), imagej=True,
                     resolution=(1 / 12.5, 1 / 12.5), metadata={"spacing": 25.0, "unit": "um"})
    assert read_volume(tmp_path / "um.tif").spacing_xyz == pytest.approx((0.0125, 0.0125, 0.025))


def test_bigtiff_with_resolution_tags_and_json_spacing(tmp_path):
    import tifffile

    values = np.random.default_rng(0).random((4, 9, 11)).astype(np.float32)
    tifffile.imwrite(tmp_path / "big.tif", values, bigtiff=True, photometric="minisblack",
                     resolution=(10 / 0.4, 10 / 0.5),
                     resolutionunit="CENTIMETER", metadata={"spacing": 0.6, "unit": "mm"})
    volume = read_volume(tmp_path / "big.tif")
    assert volume.metadata["bigtiff"] is True
    assert np.array_equal(volume.array, values)
    assert volume.spacing_xyz == pytest.approx((0.4, 0.5, 0.6))
    ours = write_volume(volume, tmp_path / "ours.tif", bigtiff=True)
    again = read_volume(ours)
    assert again.metadata["bigtiff"] and again.spacing_xyz == pytest.approx((0.4, 0.5, 0.6))


def test_ome_physical_sizes_in_microns(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "o.ome.tif", np.ones((3, 5, 6), np.uint16), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 7.5, "PhysicalSizeY": 7.5,
                               "PhysicalSizeZ": 15.0})
    volume = read_volume(tmp_path / "o.ome.tif")
    assert volume.spacing_xyz == pytest.approx((0.0075, 0.0075, 0.015))
    assert volume.metadata["spacing_source"] == "OME-XML"


def test_compressed_stack_is_decoded_not_mapped(tmp_path):
    values = np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8)
    path = write_volume(Volume(values, spacing_xyz=(1.0, 1.0, 2.0)), tmp_path / "z.tif",
                        compression="zlib")
    volume = read_volume(path)
    assert not _memory_mapped(volume.array)
    assert np.array_equal(volume.array, values) and volume.metadata["reader"] == "tifffile"


def test_voxel_size_from_the_argument_else_one_mm_with_a_warning(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((3, 4, 4), np.uint8),
                     photometric="minisblack")
    assert read_volume(tmp_path / "plain.tif",
                       spacing_xyz=(0.1, 0.1, 0.3)).spacing_xyz == (0.1, 0.1, 0.3)
    volume = read_volume(tmp_path / "plain.tif")
    assert volume.spacing_xyz == (1.0, 1.0, 1.0)
    assert any("1 mm assumed" in w for w in volume.metadata["warnings"])


def test_placeholder_dpi_is_no_voxel_size(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "dpi.tif", np.zeros((2, 4, 4), np.uint8), resolution=(72, 72),
                     photometric="minisblack",
                     resolutionunit="INCH")
    assert read_volume(tmp_path / "dpi.tif").metadata["spacing_source"] == "assumed"


def test_the_files_voxel_size_beats_the_argument_with_a_warning(tmp_path):
    path = write_volume(Volume(np.zeros((2, 3, 3), np.uint8), spacing_xyz=(0.5, 0.5, 1.0)),
                        tmp_path / "s.tif")
    volume = read_volume(path, spacing_xyz=(2.0, 2.0, 2.0))
    assert volume.spacing_xyz == pytest.approx((0.5, 0.5, 1.0))
    assert any("used instead" in w for w in volume.metadata["warnings"])


def test_folder_of_slices_in_natural_order(tmp_path):
    import tifffile

    folder = tmp_path / "slices"
    folder.mkdir()
    for k in range(12):
        tifffile.imwrite(folder / f"slice_{k}.tif", np.full((5, 6), k, np.uint16),
                         resolution=(10 / 0.05, 10 / 0.05), resolutionunit="CENTIMETER")
    volume = read_volume(folder, spacing_xyz=(0.05, 0.05, 0.1))
    assert volume.shape == (12, 5, 6)
    assert [int(volume.array[k, 0, 0]) for k in range(12)] == list(range(12))   # 2 before 10
    assert volume.spacing_xyz == pytest.approx((0.05, 0.05, 0.1))
    assert "z from the spacing_xyz argument" in volume.metadata["spacing_source"]
    assert volume.metadata["reader"] == "tifffile (folder of slices)"


def test_folder_slices_of_different_sizes_are_an_input_error(tmp_path):
    import tifffile

    folder = tmp_path / "slices"
    folder.mkdir()
    tifffile.imwrite(folder / "a1.tif", np.zeros((5, 6), np.uint16))
    tifffile.imwrite(folder / "a2.tif", np.zeros((5, 7), np.uint16))
    with pytest.raises(InputError, match=r"^a2\.tif: slice of \(5, 7\)"):
        read_volume(folder)


def test_colour_pages_are_an_input_error(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((2, 4, 4, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match=r"^rgb\.tif: 3 samples per pixel"):
        read_volume(tmp_path / "rgb.tif")


def test_unknown_compression_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown TIFF compression"):
        write_volume(Volume(np.zeros((1, 2, 2), np.uint8)), tmp_path / "s.tif",
                     compression="lzma")


def test_compressed_pages_declaring_more_than_their_strips_can_hold_are_refused_unread(tmp_path):
    """A few hundred bytes of DEFLATE cannot decode to the 15 MB a damaged ImageLength claims
    (at most 1032 to 1); the fuzzer's 1.4 KB case made tifffile allocate 600 MB."""
    import tifffile

    path = write_volume(Volume(np.zeros((2, 64, 64), np.uint16)), tmp_path / "bomb.tif",
                        compression="zlib")
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags["ImageLength"].overwrite(60_000)
    with pytest.raises(InputError, match=r"^bomb\.tif: .*even at the best compression ratio"):
        read_volume(path)
