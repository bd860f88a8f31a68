"""Finding and naming cores on disk (hand-made files: only names and headers are read), the
slice split, channel batches and CoreSlices from an analysis, without a synthetic core."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.soil.dataset import (
    CoreSlices,
    core_name,
    core_slices,
    find_cores,
    iter_load_cores,
    pool_slices,
    slice_channels,
    split_slices,
)
from engines.soil.preprocess import CropBox, PreprocessConfig

DICM = bytes(128) + b"DICM" + b"\x02\x00"


def _touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_file_or_a_missing_path(tmp_path):
    core = _touch(tmp_path / "core.raw")
    assert find_cores(core) == [core]  # a file is taken as given
    with pytest.raises(InputError) as caught:
        find_cores(tmp_path / "nowhere")
    assert str(caught.value) == "nowhere: no such file or folder"


def test_dicom_series_folders_by_preamble_or_suffix(tmp_path):
    series = tmp_path / "series"
    _touch(series / "a.txt", b"notes")
    _touch(series / "IM0002", DICM)  # no suffix: the DICM preamble says it
    assert find_cores(series) == [series]
    by_suffix = tmp_path / "by_suffix"
    _touch(by_suffix / "b.DCM", b"short")
    assert find_cores(by_suffix) == [by_suffix]
    short = tmp_path / "short"
    _touch(short / "x", DICM[:131])  # 131 bytes: not a preamble
    _touch(short / "y.nii", b"")
    assert find_cores(short) == [short / "y.nii"]


def test_only_the_first_eight_files_are_looked_at_for_dicom(tmp_path):
    folder = tmp_path / "many"
    for i in range(8):
        _touch(folder / f"f{i}.txt", b"text")
    _touch(folder / "z9", DICM)  # ninth in sorted order
    _touch(folder / "zz.mha", b"")
    assert find_cores(folder) == [folder / "zz.mha"]
    _touch(folder / "f0.txt", DICM)
    assert find_cores(folder) == [folder]


def test_tiff_slice_folders_and_single_tiffs(tmp_path):
    stack = tmp_path / "stack"
    for i in range(3):
        _touch(stack / f"s{i}.TIF")
    assert find_cores(stack) == [stack]
    one = tmp_path / "one"
    _touch(one / "only.tiff")
    assert find_cores(one) == [one / "only.tiff"]  # one TIFF is a volume file, not slices
    mixed = tmp_path / "mixed"
    _touch(mixed / "a.tif")
    _touch(mixed / "b.tif")
    _touch(mixed / "readme.md")
    assert find_cores(mixed) == [mixed / "a.tif", mixed / "b.tif"]


def test_folders_of_volumes_sorted_hidden_ones_left_out(tmp_path):
    root = tmp_path / "set"
    _touch(root / "B.NII.GZ")
    _touch(root / "a.mhd")
    _touch(root / "a.raw")
    _touch(root / ".hidden.nii")
    _touch(root / ".cache" / "c.nii")
    _touch(root / "z" / "deep.mha")
    _touch(root / "m" / "notes.txt")  # a subfolder without a core is passed over
    _touch(root / "k" / "s1.tif")
    _touch(root / "k" / "s2.tif")
    (root / "folder.nii").mkdir()  # a folder named like a volume is not a file
    assert find_cores(root) == [root / "B.NII.GZ", root / "a.mhd", root / "k",
                                root / "z" / "deep.mha"]
    empty = tmp_path / "empty"
    _touch(empty / ".only.nii")
    with pytest.raises(InputError) as caught:
        find_cores(empty)
    assert str(caught.value) == ("empty: no core found (a DICOM series folder, NIfTI, "
                                 "MetaImage or TIFF stack, or a folder of them)")


def test_core_names_drop_the_volume_suffix():
    assert [core_name(Path(p)) for p in ("a.nii.gz", "B.NII.GZ", "c.nii", "d.MHD", "e.mha",
                                         "f.tif", "g.tiff", "series", "h.raw")] == [
        "a", "B", "c", "d", "e", "f", "g", "series", "h.raw"]


def test_the_slice_split_is_seeded_and_keeps_one_of_each():
    train, val = split_slices(10, 0.25, seed=7)
    assert len(val) == 2 and len(train) == 8  # round(2.5) = 2
    assert sorted([*train, *val]) == list(range(10))
    assert list(train) == sorted(train) and list(val) == sorted(val)
    assert np.array_equal(split_slices(10, 0.25, 7)[1], val)
    assert not np.array_equal(split_slices(10, 0.25, 8)[1], val)
    assert [len(v) for _, v in (split_slices(10, 0.0, 1), split_slices(10, 1.0, 1))] == [1, 9]
    train, val = split_slices(1, 0.5, 0)
    assert train.tolist() == [0] and val.tolist() == []
    train, val = split_slices(3, 0.5, 0)
    assert len(val) == 2 and len(train) == 1


def test_channels_of_more_slices_than_one_batch():
    hu = np.zeros((130, 1, 2), np.int16)
    hu[:, 0, 0] = np.arange(130) * 40 - 2048  # shifted 0 … 5160
    hu[:, 0, 1] = 4096
    x = slice_channels(hu, PreprocessConfig())
    assert x.shape == (130, 3, 1, 2) and x.dtype == np.float32
    shifted = np.arange(130) * 40.0
    for c in range(3):
        low, high = 2048.0 * c, 2048.0 * (c + 1)
        inside = (shifted >= low) & (shifted < high)
        np.testing.assert_allclose(x[:, c, 0, 0], np.where(
            inside, 0.5 + 0.5 * (shifted - low) / 2048, 0), rtol=1e-6)
    np.testing.assert_allclose(x[:, :, 0, 1], np.tile([0, 0, 1.0], (130, 1)))


def _analysis(segmented=False, source=Path("/data/core7.nii.gz")):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    config = PreprocessConfig(clip_low=-1000.0, clip_high=1000.0, band_width=1000.0)
    porosity = {"object1": np.array([0.1, 0.2, 0.3]), "object2": np.array([0.9, 0.8, 0.7])}
    profile = SimpleNamespace(porosity=porosity, slice_index=np.array([1, 2, 3]),
                              depth_mm=np.array([0.75, 1.25, 1.75]))
    return SimpleNamespace(segmented=segmented, depth_axis=1, volume=SimpleNamespace(
        array=array), crop=CropBox((1, 1, 2), (2, 3, 4)), config=config, profile=profile,
        source=source)


def test_core_slices_of_an_analysis_put_the_depth_first():
    analysis = _analysis()
    core = core_slices(analysis)
    assert core.name == "core7.nii.gz" and core.source == Path("/data/core7.nii.gz")
    assert core.hu.shape == (3, 2, 4) and core.hu.flags.c_contiguous
    np.testing.assert_array_equal(core.hu, np.moveaxis(analysis.volume.array[1:3, 1:4, 2:6],
                                                       1, 0))
    assert core.targets.dtype == np.float32
    np.testing.assert_allclose(core.targets, [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]], rtol=1e-6)
    np.testing.assert_allclose(core.target(2), [0.9, 0.8, 0.7], rtol=1e-6)
    assert core.depth_axis == 1 and core.crop == analysis.crop and len(core) == 3
    assert core.slice_index.tolist() == [1, 2, 3] and core.depth_mm.tolist() == [0.75, 1.25,
                                                                                  1.75]
    assert core.preprocess is analysis.config
    assert core_slices(analysis, "mine").name == "mine"
    assert core_slices(_analysis(source=None)).name == "core"
    with pytest.raises(InputError) as caught:
        core_slices(_analysis(segmented=True))
    assert str(caught.value) == "a segmented stack has no object bands to train on"


def test_pooled_slices_of_two_cores():
    def core(n, value):
        hu = np.full((n, 4, 4), value, np.int16)
        return CoreSlices(f"c{n}", None, hu, np.full((n, 6), n / 100, np.float32),
                          np.arange(n), np.arange(n) * 0.5, CropBox.whole((n, 4, 4)), 0,
                          PreprocessConfig())

    pooled = pool_slices([core(2, -2048), core(70, 4096)], 8)
    assert len(pooled) == 72 and pooled.inputs.shape == (72, 3, 8, 8)
    assert pooled.inputs.dtype == np.float16 and pooled.names == ["c2", "c70"]
    assert pooled.core.tolist() == [0, 0, *[1] * 70]
    np.testing.assert_allclose(pooled.inputs[0, :, 3, 3], [0.5, 0, 0])
    np.testing.assert_allclose(pooled.inputs[71, :, 3, 3], [0, 0, 1.0])
    np.testing.assert_allclose(pooled.targets[:, 0], [0.02] * 2 + [0.7] * 70, rtol=1e-6)
    with pytest.raises(InputError, match="^no cores to train on$"):
        pool_slices([], 8)


def test_the_clip_maximum_is_in_the_channel_that_reaches_it():
    """Four bands (clip at ±2048 HU): bands 3+4 end at the clip maximum, so everything at or
    above it is in channel 1 (it was in none: channel 2 is empty and channel 1 was open)."""
    four = PreprocessConfig(clip_low=-2048.0, clip_high=2048.0)
    x = slice_channels(np.array([[[-3000, -2048, 0, 2047, 2048, 3000]]], np.int16), four)
    np.testing.assert_allclose(x[0, 0, 0], [0.5, 0.5, 0, 0, 0, 0])  # shifted 0, 0, 2048, …
    np.testing.assert_allclose(x[0, 1, 0], [0, 0, 0.5, 0.5 + 0.5 * 2047 / 2048, 1.0, 1.0])
    np.testing.assert_allclose(x[0, 2, 0], 0)
    two = PreprocessConfig(clip_low=-1000.0, clip_high=1000.0, band_width=1000.0)
    x = slice_channels(np.array([[[-1000, 0, 1000]]], np.int16), two)
    np.testing.assert_allclose(x[0, :, 0], [[0.5, 0.75, 1.0], [0, 0, 0], [0, 0, 0]])


def test_narrow_bands_leave_the_rest_to_the_last_channel():
    """Bands of 512: channels 0 and 1 hold bands 1+2 and 3+4 ([0, 1024) and [1024, 2048));
    channel 2 every band from the fifth up, [2048, 6144]."""
    config = PreprocessConfig(band_width=512.0)
    x = slice_channels(np.array([[[-1536, -1024, 3000, 4096]]], np.int16), config)
    np.testing.assert_allclose(x[0, :, 0], [[0.75, 0, 0, 0], [0, 0.5, 0, 0],
                                            [0, 0, 0.5 + 0.5 * 3000 / 4096, 1.0]])


def test_channels_of_every_slice_by_default():
    analysis = _analysis()
    core = core_slices(analysis)
    assert core.channels().shape == (3, 3, 2, 4)
    np.testing.assert_array_equal(core.channels(), core.channels([0, 1, 2]))


def test_loading_cores_forwards_each_analysis(monkeypatch):
    import engines.soil.analysis as analysis_module
    from engines.soil.analysis import AnalysisConfig

    seen = []

    def analyse(path, settings):
        seen.append((path, settings))
        yield Progress(0.5, "half")
        return _analysis(source=path)

    monkeypatch.setattr(analysis_module, "iter_analyze_path", analyse)
    task = iter_load_cores(["/x/a.nii.gz", Path("/x/b.mhd")], PreprocessConfig(min_cluster=7))
    reports = []
    cores = drive(task, reports.append)
    assert [(r.fraction, r.message) for r in reports] == [(0.25, "a.nii.gz: half"),
                                                          (0.75, "b.mhd: half")]
    assert [c.name for c in cores] == ["a", "b"]
    assert [p for p, _ in seen] == [Path("/x/a.nii.gz"), Path("/x/b.mhd")]
    assert all(type(s) is AnalysisConfig and s.min_cluster == 7 for _, s in seen)
    seen.clear()
    assert [c.name for c in drive(iter_load_cores([Path("/y/c.tif")]))] == ["c"]
    assert seen[0][1] == AnalysisConfig.of(PreprocessConfig())
    assert drive(iter_load_cores([])) == []


def test_tiff_slice_folders_beside_hidden_files_and_subfolders(tmp_path):
    stack = tmp_path / "stack"
    _touch(stack / "s1.tiff")
    _touch(stack / "s2.tiff")
    _touch(stack / ".DS_Store", b"finder")  # hidden: not a slice, not a reason to split
    (stack / "thumbs").mkdir()  # a subfolder is not a slice either
    assert find_cores(stack) == [stack]


def test_one_core_spans_the_whole_progress_and_the_split_is_pinned(monkeypatch):
    import engines.soil.analysis as analysis_module
    from engines.core.progress import Progress

    def analyse(path, settings):
        yield Progress(0.5, "half")
        return _analysis(source=path)

    monkeypatch.setattr(analysis_module, "iter_analyze_path", analyse)
    task = iter_load_cores([Path("/y/c.tif")])
    assert (next(task).fraction, next(task, None)) == (0.5, None)
    # the split is seeded by (seed, 0x5B117): the same slices on every machine
    train, val = split_slices(10, 0.25, 7)
    assert train.tolist() == [0, 1, 3, 4, 5, 7, 8, 9] and val.tolist() == [2, 6]
