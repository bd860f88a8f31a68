"""Label iso-surfaces land on their voxels in world mm, whatever the grid's orientation."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.imaging.surfaces import SurfaceConfig, label_surfaces
from engines.imaging.volume import Volume

FLIPPED = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def _ball_volume(radius_mm=6.0, centre_zyx=(10, 14, 18), shape=(20, 30, 36)):
    volume = Volume(np.zeros(shape, np.uint8), spacing_xyz=(0.6, 0.8, 1.5),
                    origin_xyz=(-5.0, 7.0, 40.0), direction=FLIPPED)
    zyx = np.argwhere(np.ones(shape, bool))
    world = volume.voxel_to_world(zyx)
    centre = volume.voxel_to_world(np.asarray(centre_zyx, float))
    ball = np.linalg.norm(world - centre, axis=1) <= radius_mm
    labels = np.zeros(shape, np.uint8)
    labels[tuple(zyx[ball].T)] = 3
    labels[0, 0, 0] = 5  # a single voxel at the corner
    return volume.with_array(labels), centre


@pytest.mark.parametrize("max_voxels", [1 << 22, 512])
def test_ball_surface_is_centred_round_and_faces_outwards(max_voxels):
    labels, centre = _ball_volume()
    surfaces = drive(label_surfaces(labels, config=SurfaceConfig(max_voxels=max_voxels)))
    assert [s.label for s in surfaces] == [3, 5]
    ball = surfaces[0]
    assert (ball.step == 1) == (max_voxels > 4096)
    assert np.allclose(ball.centroid, centre, atol=0.5)
    radii = np.linalg.norm(ball.vertices - centre, axis=1)
    assert abs(np.median(radii) - 6.0) < 1.0
    outward = np.einsum("ij,ij->i", ball.normals, ball.vertices - centre)
    assert (outward > 0).mean() > 0.95
    assert ball.faces.max() < len(ball.vertices) and ball.vertices.dtype == np.float32
    # the single corner voxel still closes into a small surface around its centre
    corner = surfaces[1]
    assert np.allclose(corner.centroid, labels.voxel_to_world([0, 0, 0]), atol=0.8)


def test_include_and_min_voxels_filter_labels():
    labels, _ = _ball_volume()
    assert [s.label for s in drive(label_surfaces(labels, include=[5]))] == [5]
    assert [s.label for s in drive(label_surfaces(labels, config=SurfaceConfig(min_voxels=2)))] \
        == [3]


def test_non_integer_or_negative_labels_are_refused():
    volume = Volume(np.zeros((4, 4, 4), np.float32))
    with pytest.raises(InputError, match="integer"):
        drive(label_surfaces(volume))
    with pytest.raises(InputError, match="non-negative"):
        drive(label_surfaces(volume.with_array(np.full((4, 4, 4), -1, np.int16))))
