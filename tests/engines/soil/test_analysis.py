"""The analysis on real-like files written by other libraries (tifffile, SimpleITK, pydicom),
checked against independent computations under the paper's definition."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.imaging.volume import Volume
from engines.soil.analysis import (
    AnalysisConfig,
    iter_analyze,
    iter_analyze_file,
    iter_analyze_path,
)
from engines.soil.preprocess import CropBox


def independent_porosity(hu: np.ndarray, min_size: int = 60) -> dict[str, float]:
    """Clip to [-2048, 4096], add 2048, bands of 1024, face-connected clusters of band k with
    more than ``min_size`` voxels are solid: 1 - solid / all (scipy only, no porespy)."""
    from scipy import ndimage

    shifted = np.clip(hu.astype(np.float64), -2048, 4096) + 2048
    band = np.minimum(np.floor(shifted / 1024), 5).astype(int) + 1
    out = {}
    for k in range(1, 7):
        labels, _ = ndimage.label(band == k)
        sizes = np.bincount(labels.ravel())
        solid = (labels > 0) & (sizes[labels] > min_size)
        out[f"object{k}"] = 1.0 - solid.sum() / hu.size
    return out


def _sediment_core(rng, shape=(40, 70, 60), centre=(33.0, 27.0), radius=22.0):
    """A horizontal sediment core cut across: liner, muddy matrix, shells, gas voids, noise."""
    nz, ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    r2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    hu = np.full(shape, -1000.0)
    inside = np.broadcast_to(r2 <= radius ** 2, shape)
    hu[inside] = 900 + rng.normal(0, 180, inside.sum())  # mud across object3/object4
    hu[np.broadcast_to((r2 > radius ** 2) & (r2 <= (radius + 2) ** 2), shape)] = 300
    for _ in range(40):  # shells (object5/6) and gas voids (object2) of many sizes
        z, y, x = rng.uniform([0, centre[0] - 15, centre[1] - 15], [nz, centre[0] + 15,
                                                                    centre[1] + 15])
        size = rng.uniform(0.7, 4)
        zz, ry, rx = np.ogrid[:nz, :ny, :nx]
        blob = (zz - z) ** 2 + (ry - y) ** 2 + (rx - x) ** 2 <= size ** 2
        hu[blob] = rng.choice([-900.0, 2600.0, 3500.0])
    return hu.astype(np.float32)


def test_hu_core_written_by_simpleitk_matches_an_independent_computation(tmp_path):
    import SimpleITK as sitk

    hu = _sediment_core(np.random.default_rng(1))
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing((0.5, 0.5, 1.0))
    image.SetOrigin((10.0, -20.0, 5.0))
    path = tmp_path / "sediment.nii.gz"
    sitk.WriteImage(image, str(path))
    config = AnalysisConfig(crop=(30, 24, 24), fit_inside_core=False)
    result = drive(iter_analyze_path(path, config))
    assert result.core.found and result.core.centre == pytest.approx((33.0, 27.0), abs=0.5)
    assert result.crop.to_list() == [5, 21, 15, 35, 45, 39]
    reference = independent_porosity(hu[result.crop.slices])
    for name, value in result.porosity.items():
        assert value == pytest.approx(reference[name], abs=1e-9), name
    assert sum(result.trimmed.values()) > 0  # the check covers trimming
    whole = drive(iter_analyze_path(path, AnalysisConfig(crop=None)))
    assert whole.porosity == pytest.approx(independent_porosity(hu), abs=1e-9)
    assert whole.labels.shape == hu.shape and whole.labels.dtype == np.uint8


def test_dicom_with_a_fractional_rescale(tmp_path):
    from tests.engines.imaging.dicom_factory import write_series

    hu = np.rint(_sediment_core(np.random.default_rng(2)) * 2) / 2  # half-HU steps
    volume = Volume(hu, spacing_xyz=(0.5, 0.5, 1.0))
    write_series(tmp_path / "series", volume, rescales=[(0.5, -2048.0)] * hu.shape[0])
    result = drive(iter_analyze_path(tmp_path / "series", AnalysisConfig(crop=None)))
    assert result.porosity == pytest.approx(independent_porosity(hu), abs=1e-9)


@pytest.mark.parametrize("values", [(0, 255), (0, 1)])
def test_segmented_tiff_stack_written_by_tifffile(tmp_path, values, monkeypatch):
    import tifffile

    import engines.soil.porosity as porosity

    rng = np.random.default_rng(values[1])
    stack = np.where(rng.uniform(size=(37, 45, 33)) < 0.23, values[0], values[1]).astype(np.uint8)
    path = tmp_path / "rock.tif"
    tifffile.imwrite(path, stack)  # plain multi-page TIFF, no spacing
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 3000)  # several slabs
    result = drive(iter_analyze_path(path, AnalysisConfig(segmented=True, crop=None)))
    assert not result.volume.array.flags.owndata  # memory-mapped: streamed from the file
    assert result.porosity["segmented"] == pytest.approx(np.mean(stack == 0), abs=1e-12)
    np.testing.assert_allclose(result.profile.porosity["segmented"],
                               (stack == 0).mean(axis=(1, 2)), atol=1e-12)
    assert result.labels is None and result.crop.to_list() == [0, 0, 0, 37, 45, 33]
    assert any("1 mm assumed" in note for note in result.notes)


def test_segmented_with_a_crop_and_more_values(tmp_path):
    stack = np.zeros((20, 20, 20), np.uint16)
    stack[:, :, 10:] = 3
    stack[:, :, 15:] = 7
    config = AnalysisConfig(segmented=True, crop=(20, 20, 14), centre="array", pore_metrics=True)
    result = drive(iter_analyze(Volume(stack), config))
    assert result.crop.to_list() == [0, 0, 3, 20, 20, 17]
    assert result.porosity == {"segmented": 0.5}
    assert "more than two values" in result.notes[0]
    assert result.pore_metrics.connected_porosity == pytest.approx(0.5)


def test_result_json_csv_and_explicit_crop(tmp_path, tiny_cores):
    volume = tiny_cores[1].volume
    box = CropBox((4, 20, 22), (30, 18, 16))
    result = drive(iter_analyze(volume, AnalysisConfig(pore_metrics=True), crop=box))
    assert result.crop == box and result.core is None and result.labels.shape == (30, 18, 16)
    json_path, csv_path = tmp_path / "a.json", tmp_path / "p.csv"
    drive(iter_analyze_file(volume.source or _write(volume, tmp_path), AnalysisConfig(),
                            json_path, csv_path))
    report = json.loads(json_path.read_text())
    assert set(report) >= {"porosity", "profile", "shape", "spacing_mm", "crop", "notes"}
    assert list(report["porosity"]) == [f"object{k}" for k in range(1, 7)]
    assert report["shape"] == [48, 64, 64] and report["spacing_mm"] == [0.25, 0.351, 0.351]
    profile = report["profile"]
    assert len(profile["slice"]) == len(profile["depth_mm"]) == len(profile["object4"]) == 48
    assert profile["depth_mm"][0] == 0.125
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "slice,depth_mm,object1,object2,object3,object4,object5,object6"
    assert len(lines) == 49
    metrics = result.to_json()["pore_metrics"]
    assert metrics["void_of"] == "object4" and 0 <= metrics["connected_porosity"] <= 1
    with pytest.raises(InputError, match="does not fit"):
        drive(iter_analyze(volume, crop=CropBox((0, 0, 0), (49, 5, 5))))


def _write(volume, folder):
    from engines.imaging.volume_io import write_volume

    return write_volume(volume, folder / "core.nii.gz")


def test_bad_files_name_themselves(tmp_path):
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a volume")
    with pytest.raises(InputError, match="^junk.nii.gz"):
        drive(iter_analyze_path(junk))
    with pytest.raises(InputError, match="^missing"):
        drive(iter_analyze_path(tmp_path / "missing"))
