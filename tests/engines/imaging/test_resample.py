"""Resampling keeps the box in the world: the corner stays, direction and modality are kept,
a linear function of world position is reproduced exactly by linear interpolation, and labels
stay labels."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.resample import resampled_grid
from engines.imaging.volume import Volume


def _linear_in_world(volume: Volume) -> np.ndarray:
    """Values ``a · world + b`` at every voxel centre of ``volume``."""
    zyx = np.stack(np.meshgrid(*map(np.arange, volume.shape), indexing="ij"), axis=-1)
    world = volume.voxel_to_world(zyx)
    return (world @ np.array([0.5, -0.25, 0.1]) + 7.0).astype(np.float32)


def test_linear_resampling_reproduces_a_linear_field(ct_volume):
    source = ct_volume.with_array(_linear_in_world(ct_volume))
    result = source.resample((1.4, 0.35, 1.25))
    assert result.shape == (24, 80, 24)
    assert result.array.dtype == np.float32
    assert np.allclose(result.direction, ct_volume.direction)
    corner = np.asarray(ct_volume.origin_xyz) - ct_volume.direction @ (np.array((0.7, 0.7, 2.5)) / 2)
    assert np.allclose(result.voxel_to_world([-0.5, -0.5, -0.5]), corner)
    expected = _linear_in_world(result)
    inner = (slice(1, -1), slice(1, -1), slice(1, -1))   # outermost half voxels extrapolate
    assert np.allclose(result.array[inner], expected[inner], atol=1e-3)
    assert result.metadata["resampled_from_spacing_xyz"] == [0.7, 0.7, 2.5]
    assert result.modality == "CT"


def test_same_spacing_gives_the_same_voxels(ct_volume):
    result = ct_volume.resample(ct_volume.spacing_xyz)
    assert result.shape == ct_volume.shape
    assert np.allclose(result.array, ct_volume.array, atol=1e-3)
    assert np.allclose(result.origin_xyz, ct_volume.origin_xyz)


def test_labels_use_nearest_neighbour_and_keep_their_type(ct_volume):
    labels = (ct_volume.array > 0).astype(np.uint8) + (ct_volume.array < -900).astype(np.uint8) * 2
    result = ct_volume.with_array(labels).resample((0.35, 0.35, 2.5), labels=True)
    assert result.array.dtype == np.uint8
    assert set(np.unique(result.array)) <= {0, 1, 2}
    assert np.array_equal(result.array[:, ::2, ::2], labels)
    mask = ct_volume.with_array(labels == 1).resample((1.4, 1.4, 5.0), labels=True)
    assert mask.array.dtype == bool and mask.shape == (6, 20, 24)


def test_grid_size_is_rounded_and_at_least_one(ct_volume):
    size, _ = resampled_grid(ct_volume, (100.0, 1.0, 2.0))
    assert size == (1, 28, 15)


@pytest.mark.parametrize("spacing", [(1.0, 0.0, 1.0), (1.0, -2.0, 1.0), (1.0, float("nan"), 1),
                                     (1.0, 1.0)])
def test_bad_spacing_is_an_input_error(ct_volume, spacing):
    with pytest.raises(InputError, match="three positive spacings"):
        ct_volume.resample(spacing)
