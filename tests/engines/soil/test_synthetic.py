"""Synthetic cores: the generator knows every voxel's object, and the analysis of the DICOM
series it writes finds the true porosities (within 0.005)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.soil import site_types as st
from engines.soil.analysis import iter_analyze_path
from engines.soil.preprocess import PreprocessConfig
from engines.soil.synthetic import SyntheticConfig, generate_core, object_of_materials

from .conftest import SMALL, TINY


def test_every_material_lies_in_one_object_band():
    objects = object_of_materials(PreprocessConfig(), noise_hu=15.0)
    expected = {st.OUTSIDE: 2, st.WALL: 3, st.HEADSPACE: 2, st.MATRIX: 4, st.AIR: 2,
                st.WATER: 3, st.ORGANIC: 2, st.ROOT: 2, st.STONE: 5, st.DENSE_STONE: 6,
                st.BURROW: 2}
    assert {code: int(objects[code]) for code in expected} == expected
    with pytest.raises(ValueError, match="straddles"):
        object_of_materials(PreprocessConfig(band_width=512.0), noise_hu=12.0)


def test_values_noise_and_geometry(tiny_cores):
    core = tiny_cores[0]
    hu, materials = core.volume.array, core.materials
    assert hu.dtype == np.int16 and core.volume.spacing_xyz == (0.351, 0.351, 0.25)
    assert hu.min() >= st.SCANNER_FLOOR_HU
    for code, material in enumerate(st.MATERIALS):
        values = hu[materials == code]
        if values.size:
            assert values.min() >= max(material.hu[0] - 36, -1024) - 1
            assert values.max() <= material.hu[1] + 36 + 1
    air = hu[materials == st.OUTSIDE].astype(float)
    assert 8 < air[air > -1024].std() < 14  # CT noise of 12 HU, cut at 3 sigma
    assert np.abs(np.array(core.axis_yx) - 31.5).max() <= 1.0 / 0.351 + 1e-6


def test_seeded_and_sites_differ():
    a = drive(generate_core("arable", 5, TINY))
    b = drive(generate_core("arable", 5, TINY))
    np.testing.assert_array_equal(a.volume.array, b.volume.array)
    assert not np.array_equal(drive(generate_core("arable", 6, TINY)).volume.array,
                              a.volume.array)
    forest, grass = (drive(generate_core(s, 5, TINY)) for s in ("forest", "grassland"))
    roots = [np.mean(c.materials == st.ROOT) for c in (forest, grass, a)]
    assert roots[1] > roots[2]  # grassland: dense root mat; arable: few roots
    assert np.mean(forest.materials == st.ORGANIC) > np.mean(a.materials == st.ORGANIC)


def test_plough_pan_is_compacted():
    core = drive(generate_core("arable", 3, SMALL))
    layers = core.parameters["layers"]
    assert [layer["name"] for layer in layers] == ["plough layer", "plough pan", "subsoil"]
    box = core.volume.centred_crop((80, 30, 30), (40, *core.axis_yx))
    from engines.soil.preprocess import CropBox

    crop = CropBox(tuple(box.metadata["crop_start_zyx"]), box.shape)
    profile = core.true_profile(crop, 4)
    depth = (np.arange(80) - 80 * 0.03) / (80 * 0.97)
    pan = (depth > layers[1]["top"] + 0.03) & (depth < layers[2]["top"] - 0.03)
    plough = (depth > 0.05) & (depth < layers[1]["top"] - 0.05)
    assert profile[pan].mean() < 0.5 * profile[plough].mean()


def test_config_is_checked():
    with pytest.raises(InputError, match="field of view"):
        SyntheticConfig(shape=(10, 50, 50), diameter_mm=20.0)
    with pytest.raises(InputError, match="unknown site type 'desert'; valid names: arable"):
        drive(generate_core("desert", 0, TINY))


@pytest.mark.parametrize("site", ["forest", "grassland", "arable"])
def test_analysis_of_the_dicom_series_finds_the_true_porosity(tmp_path, site):
    from engines.imaging.volume_io import write_volume

    core = drive(generate_core(site, 41, SMALL))
    folder = write_volume(core.volume, tmp_path / site, format="dicom", uid_seed=site)
    result = drive(iter_analyze_path(folder))
    centre = np.array(result.crop.start_zyx[1:]) + (np.array(result.crop.size_zyx[1:]) - 1) / 2
    assert np.abs(centre - np.array(core.axis_yx)).max() <= 1.0
    truth = core.true_porosity(result.crop)
    for name, value in result.porosity.items():
        assert value == pytest.approx(truth[name], abs=0.005), name
    for k, name in enumerate(result.config.object_names, 1):
        per_slice = core.true_profile(result.crop, k)
        assert np.abs(result.profile.porosity[name] - per_slice).mean() < 0.005, name
    assert len({round(v, 3) for v in result.porosity.values()}) >= 4  # the bands differ
