"""The paper's preprocessing: settings, clip/shift, object bands, trimming, the crop box."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.soil.bands import band_labels, iter_trim_objects, trim_object
from engines.soil.preprocess import (
    CropBox,
    PreprocessConfig,
    crop_size_zyx,
    format_crop,
    parse_crop,
    preprocessing_of,
    shifted_values,
)


def test_paper_bands_after_the_shift():
    config = PreprocessConfig()
    assert config.shift == 2048 and config.n_objects == 6
    assert config.object_range(1) == (0, 1024)  # [0, 1023] for integers
    assert config.object_range(6) == (5120, 6144)  # closed at the clip maximum
    assert config.object_range(2, shifted=False) == (-1024, 0)
    with pytest.raises(InputError, match="objects are 1…6"):
        config.object_range(7)


def test_clip_and_shift():
    np.testing.assert_array_equal(shifted_values(np.array([-5000, -2048, 0, 4096, 9000]),
                                                 PreprocessConfig()), [0, 0, 2048, 6144, 6144])


def test_band_of_every_edge():
    hu = np.array([[[-9000, -2048, -1025, -1024, -1, 0, 1023, 1024, 3071, 3072, 4096, 9000,
                     -1024.5, 1023.9]]])
    expected = [1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 6, 6, 1, 3]
    np.testing.assert_array_equal(band_labels(hu, PreprocessConfig()).ravel(), expected)


def test_band_labels_in_chunks(monkeypatch):
    import engines.soil.bands as bands

    rng = np.random.default_rng(0)
    hu = rng.integers(-3000, 5000, (9, 7, 5)).astype(np.int16)
    whole = band_labels(hu, PreprocessConfig())
    monkeypatch.setattr(bands, "CHUNK_VOXELS", 40)  # one slice at a time
    np.testing.assert_array_equal(band_labels(hu, PreprocessConfig()), whole)
    edges = np.array([-1024, 0, 1024, 2048, 3072])
    np.testing.assert_array_equal(whole, np.searchsorted(edges, hu, side="right") + 1)


def test_trim_small_clusters_keeps_61_removes_60():
    """porespy 3.2 trims clusters of min_size voxels or fewer, face connectivity ('min')."""
    labels = np.full((10, 20, 20), 4, dtype=np.uint8)
    labels[2:5, 2:6, 2:7] = 5            # 3 × 4 × 5 = 60 voxels: trimmed
    labels[6:9, 10:14, 10:15] = 5        # 60 ...
    labels[9, 10, 10] = 5                # ... + 1 face neighbour = 61: kept
    labels[0, 0, 0] = labels[1, 1, 1] = 6  # two single voxels touching only at a corner
    removed = trim_object(labels, 5, PreprocessConfig())
    assert removed == 60
    assert (labels[2:5, 2:6, 2:7] == 0).all() and (labels[6:9, 10:14, 10:15] == 5).all()
    assert trim_object(labels, 6, PreprocessConfig()) == 2
    corner = np.zeros((3, 3, 3), np.uint8)
    corner[0, 0, 0] = corner[1, 1, 1] = 6
    assert trim_object(corner, 6, PreprocessConfig(min_cluster=1, connectivity="max")) == 0
    assert trim_object(corner, 6, PreprocessConfig(min_cluster=1)) == 2


def test_trim_every_object_reports_counts():
    labels = np.full((6, 6, 6), 4, dtype=np.uint8)
    labels[0, 0, :3] = 2
    from engines.core.progress import drive

    removed = drive(iter_trim_objects(labels, PreprocessConfig()))
    assert removed == {"object1": 0, "object2": 3, "object3": 0, "object4": 0, "object5": 0,
                       "object6": 0}
    assert (labels[0, 0, :3] == 0).all()
    untouched = np.full((4, 4, 4), 2, np.uint8)
    untouched[0, 0, 0] = 3
    assert trim_object(untouched, 3, PreprocessConfig(min_cluster=0)) == 0


def test_settings_are_checked():
    assert parse_crop("400,200,200") == (400, 200, 200) and parse_crop("None") is None
    assert format_crop((1, 2, 3)) == "1,2,3" and format_crop(None) == "none"
    for bad in ("400,200", "a,b,c"):
        with pytest.raises(InputError, match="crop"):
            parse_crop(bad)
    with pytest.raises(InputError, match="Crop X, Y, Z"):
        PreprocessConfig(crop=(0, 10, 10))
    with pytest.raises(InputError, match="at most 64"):
        PreprocessConfig(band_width=10.0)
    with pytest.raises(InputError, match="Core axis"):
        PreprocessConfig(core_axis="w")


def test_crop_axes_and_box():
    assert crop_size_zyx((400, 200, 100), 0) == [400, 200, 100]
    assert crop_size_zyx((400, 200, 100), 1) == [200, 400, 100]
    assert crop_size_zyx((400, 200, 100), 2) == [200, 100, 400]
    box = CropBox.from_list([1, 2, 3, 11, 22, 33], (20, 30, 40))
    assert box.size_zyx == (10, 20, 30) and box.to_list() == [1, 2, 3, 11, 22, 33]
    assert box.n_voxels == 6000 and CropBox.whole((2, 3, 4)).to_list() == [0, 0, 0, 2, 3, 4]
    with pytest.raises(InputError, match="does not fit"):
        CropBox.from_list([0, 0, 0, 21, 1, 1], (20, 30, 40))


def test_preprocessing_part_of_an_analysis_config():
    from engines.soil.analysis import AnalysisConfig

    config = AnalysisConfig(segmented=True, crop=None, min_cluster=10)
    part = preprocessing_of(config)
    assert type(part) is PreprocessConfig and part.min_cluster == 10 and part.crop is None
    assert AnalysisConfig.of(part, pore_metrics=True).pore_metrics


def test_crop_spellings_and_whole_messages():
    for whole in ("none", " Full ", "WHOLE", "whole"):
        assert parse_crop(whole) is None
    assert parse_crop("400x200X100") == (400, 200, 100)
    assert parse_crop(" 40 , 20 ,, 10 ") == (40, 20, 10)
    with pytest.raises(InputError) as caught:
        parse_crop("4,b,1")
    assert str(caught.value) == ("crop '4,b,1': expected X,Y,Z voxel counts (e.g. 400,200,200) "
                                 "or none")
    with pytest.raises(InputError) as caught:
        parse_crop("4x5")
    assert str(caught.value) == "crop '4x5': expected three voxel counts X,Y,Z or none"


def test_at_most_64_object_bands():
    assert PreprocessConfig(band_width=96.0).n_objects == 64  # 6144 / 96
    with pytest.raises(InputError) as caught:
        PreprocessConfig(band_width=95.0)
    assert str(caught.value) == "65 object bands; widen the band width (at most 64 bands)"


def test_shifted_values_are_float32_whatever_the_input():
    out = shifted_values(np.array([[-3000, 100, 5000]], np.int16), PreprocessConfig())
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 2148, 6144]])
    assert shifted_values(np.array([1.5]), PreprocessConfig()).dtype == np.float32


def test_crop_box_limits_and_messages():
    assert CropBox.from_list([0, 0, 0, 1, 1, 1], (1, 1, 1)).size_zyx == (1, 1, 1)
    assert CropBox.from_list([0, 0, 0, 20, 30, 40], (20, 30, 40)).stop_zyx == (20, 30, 40)
    assert CropBox.from_list([5, 6, 7, 8, 9, 10]).size_zyx == (3, 3, 3)
    for values in ([0, 0, 0, 0, 1, 1], [2, 0, 0, 1, 1, 1], [-1, 0, 0, 1, 1, 1]):
        with pytest.raises(InputError) as caught:
            CropBox.from_list(values, (20, 30, 40))
        assert str(caught.value) == (f"crop box {values} does not fit in a volume of shape "
                                     "(20, 30, 40)")
    with pytest.raises(InputError) as caught:
        CropBox.from_list([0, 0, -1, 1, 1, 1])
    assert str(caught.value) == "crop box [0, 0, -1, 1, 1, 1] does not fit in a volume of shape ?"
    with pytest.raises(InputError) as caught:
        CropBox.from_list([1, 2, 3, 4, 5])
    assert str(caught.value) == "a crop box needs z0,y0,x0,z1,y1,x1, got [1, 2, 3, 4, 5]"


def test_settings_for_segmented_stacks_and_the_preprocessing_part():
    from engines.soil.preprocess import for_segmented

    assert for_segmented().crop is None and for_segmented().min_cluster == 60
    given = PreprocessConfig(crop=(4, 5, 6), min_cluster=7, core_axis="x")
    segmented = for_segmented(given)
    assert segmented.crop is None and segmented.min_cluster == 7 and segmented.core_axis == "x"
    assert given.crop == (4, 5, 6)  # a copy: the given settings are unchanged
    assert preprocessing_of(given) is given


class _Reads:
    """A volume that records the z ranges read from it (as a memory map would be read)."""

    def __init__(self, array):
        self.array, self.shape, self.reads = array, array.shape, []

    def __getitem__(self, key):
        self.reads.append((key.start, key.stop))
        return self.array[key]


@pytest.mark.parametrize("shape, chunk, reads", [
    ((4, 3, 5), 30, [(0, 2), (2, 4)]),          # 15 voxels a slice: two slices a chunk
    ((5, 3, 5), 15, [(z, z + 1) for z in range(5)]),
    ((3, 3, 5), 7, [(0, 1), (1, 2), (2, 3)]),   # a chunk under one slice: still one slice
    ((4, 1, 1), 2, [(0, 2), (2, 4)]),
    ((3, 1, 1), 100, [(0, 100)]),
])
def test_band_labels_read_whole_slices_up_to_the_chunk(monkeypatch, shape, chunk, reads):
    import engines.soil.bands as bands

    hu = np.random.default_rng(5).integers(-3000, 5000, shape).astype(np.int16)
    monkeypatch.setattr(bands, "CHUNK_VOXELS", chunk)
    volume = _Reads(hu)
    labels = band_labels(volume, PreprocessConfig())
    assert volume.reads == reads
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, band_labels(hu, PreprocessConfig()))


def test_trim_reports_each_object():
    from engines.core.progress import Progress

    labels = np.full((5, 5, 5), 1, dtype=np.uint8)
    labels[0, 0, :2] = 2
    config = PreprocessConfig(clip_low=-1000.0, clip_high=1000.0, band_width=1000.0,
                              min_cluster=3)
    task = iter_trim_objects(labels, config)
    reports = [next(task), next(task)]
    assert [(r.fraction, r.message) for r in reports] == [
        (0.5, "trimmed object1 (0 voxels in clusters of 3 or fewer)"),
        (1.0, "trimmed object2 (2 voxels in clusters of 3 or fewer)")]
    assert all(type(r) is Progress for r in reports)
