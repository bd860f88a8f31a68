"""What the workspace shows of a core: labels and heat on the volume's grid, table rows, and the
helpers that analyse listed cores for training and the matrix."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.soil.analysis import iter_analyze
from engines.soil.core_view import (
    embed,
    iter_core_slices,
    iter_inspect_core,
    iter_matrix_on_cores,
    model_files,
    object_labels,
    only_objects,
)
from engines.soil.preprocess import CropBox


def test_embed_places_the_crop_and_fills_the_rest():
    box = CropBox((1, 2, 3), (2, 2, 2))
    out = embed(np.full((2, 2, 2), 7, np.uint8), box, (4, 5, 6))
    assert out.shape == (4, 5, 6) and out.dtype == np.uint8
    assert out[1:3, 2:4, 3:5].min() == 7 and out.sum() == 7 * 8


def test_object_labels_mark_trimmed_clusters_and_leave_outside_the_crop_empty(tiny_cores):
    analysis = drive(iter_analyze(tiny_cores[0].volume))
    labels, names = object_labels(analysis)
    n = analysis.config.n_objects
    assert labels.shape == tiny_cores[0].volume.shape
    inside = labels[analysis.crop.slices]
    assert inside.min() >= 1  # every analysed voxel is an object's solid or trimmed
    np.testing.assert_array_equal(inside == n + 1, analysis.labels == 0)
    assert labels.sum() == inside.sum()  # 0 outside the crop
    assert names[2] == "object2 [-1024, 0) HU" and names[n + 1] == "trimmed (≤ 60 voxels)"
    kept = only_objects(labels, (2, 5))
    assert set(np.unique(kept)) <= {0, 2, 5}
    np.testing.assert_array_equal(kept == 2, labels == 2)


def test_inspect_with_a_model_predicts_and_maps_grad_cam_onto_the_volume(tiny_cores,
                                                                        demo_or_skip):
    volume = tiny_cores[1].volume
    view = drive(iter_inspect_core(volume, "core", model=demo_or_skip))
    a = view.analysis
    assert view.prediction.predicted.shape == (len(a.profile),)
    assert view.heat_volume.shape == volume.shape
    outside = np.ones(volume.shape, bool)
    outside[a.crop.slices] = False
    assert not view.heat_volume[outside].any()
    assert 0 < view.heat_levels[1] <= 1.0
    hot = view.heat_region(0.5)
    assert hot.dtype == np.uint8 and hot.shape == volume.shape and 0 < hot.sum()
    np.testing.assert_array_equal(hot == 1, view.heat_volume >= 0.5 * view.heat_levels[1])
    rows = view.porosity_rows()
    assert [r[0] for r in rows] == list(a.porosity)
    assert rows[demo_or_skip.target - 1][3] == pytest.approx(view.prediction.rmse)
    assert all(r[3] is None for i, r in enumerate(rows) if i != demo_or_skip.target - 1)
    assert view.metric_rows() == []  # pore metrics were not asked for


def test_core_slices_reuse_analyses_with_the_same_preprocessing(tiny_cores, tmp_path):
    from engines.imaging.volume_io import write_volume

    analysis = drive(iter_analyze(tiny_cores[0].volume))
    path = tmp_path / "second.nii.gz"
    write_volume(tiny_cores[1].volume, path)
    slices = drive(iter_core_slices([("first", None, analysis), ("second", path, None)]))
    assert [s.name for s in slices] == ["first", "second"]
    np.testing.assert_allclose(slices[0].targets[:, 3], analysis.profile.porosity["object4"])
    again = drive(iter_analyze(tiny_cores[1].volume))
    np.testing.assert_allclose(slices[1].targets[:, 3], again.profile.porosity["object4"],
                               atol=1e-6)


def test_matrix_on_cores_and_model_files(tiny_cores, demo_or_skip, tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        model_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no model"):
        model_files(tmp_path / "empty")
    analyses = [("c1", None, drive(iter_analyze(c.volume))) for c in tiny_cores[:2]]
    matrix = drive(iter_matrix_on_cores([("demo", demo_or_skip)], analyses, 0.5))
    assert matrix.models == ["demo"] and matrix.cores == ["c1", "c1"]
    assert matrix.rmse.shape == (1, 2) and np.isfinite(matrix.rmse).all()
    assert matrix.selection[0].model == "demo" and matrix.selection[0].count == 2
    with pytest.raises(InputError, match="at least one model"):
        drive(iter_matrix_on_cores([], analyses))
