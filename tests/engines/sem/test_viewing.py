"""What the workspace shows: opening an image with its truth, the editable object map, and the
object review restored only when it fits the objects."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from engines.core.autosave import RestoreStatus, sidecar_path
from engines.core.errors import InputError
from engines.core.progress import drive
from engines.core.review import ItemState, ReviewItem
from engines.core.review_commands import decide
from engines.sem.maxvote import label_objects, object_geometry
from engines.sem.viewing import (
    ObjectMap,
    iter_open_micrograph,
    iter_restore_review,
    open_object_review,
    refresh_proposals,
    review_classes,
)


def test_a_folder_opens_its_first_image_with_mask_label_and_pyramid(tiny_dataset):
    opened = drive(iter_open_micrograph(tiny_dataset))
    assert opened.dataset is not None and opened.has_truth
    assert opened.mask.shape == opened.truth.labels.shape == opened.shape == (256, 288)
    assert opened.pyramid[0] is opened.micrograph.array or \
        np.array_equal(opened.pyramid[0], opened.micrograph.array)
    assert opened.levels is None  # uint8: no display levels needed
    assert len(opened.image_paths()) == 4 and opened.path in opened.image_paths()
    assert "mask and label" in opened.describe()


def test_an_image_outside_a_data_set_finds_its_mask_beside_it(tiny_dataset, tmp_path):
    image = sorted((tiny_dataset / "images").iterdir())[1]
    mask = next((tiny_dataset / "masks").glob(f"{image.stem}.*"))
    alone = shutil.copy(image, tmp_path / "alone.tif")
    shutil.copy(mask, tmp_path / f"alone_mask{mask.suffix}")
    opened = drive(iter_open_micrograph(alone))
    assert opened.dataset is None and not opened.has_truth and opened.mask is not None
    assert opened.image_paths() == [opened.path]
    (tmp_path / "broken.tif").write_bytes(b"II*\x00nonsense")
    with pytest.raises(InputError, match="broken.tif"):
        drive(iter_open_micrograph(tmp_path / "broken.tif"))


def _map():
    objects = np.zeros((6, 8), dtype=np.int32)
    objects[1:3, 1:3] = 1
    objects[3:6, 5:8] = 2
    geometry = object_geometry(objects, 2)
    return ObjectMap(objects, geometry.boxes, np.array([0, 1, 2], dtype=np.uint8))


def test_the_object_map_recolours_one_object_and_says_which_rows():
    m = _map()
    assert m.image[1, 1] == 1 and m.image[4, 6] == 2 and m.image[0, 0] == 0
    assert m.set_classes({2: 4}) == [(3, 6)]
    assert (m.image[m.objects == 2] == 4).all() and (m.image[m.objects == 1] == 1).all()
    assert m.set_classes({2: 4}) == []  # unchanged: nothing to redraw
    assert m.follow(np.array([0, 3, 4])) == [(1, 3)]
    with pytest.raises(ValueError, match="no object 3"):
        m.set_classes({3: 1})


def test_review_classes_draw_a_rejected_object_as_matrix():
    items = [ReviewItem(1, 2, mask_id=1), ReviewItem(2, 3, ItemState.REJECTED, mask_id=2)]
    np.testing.assert_array_equal(review_classes(items, 2), [0, 2, 0])
    with pytest.raises(InputError, match="object 5"):
        review_classes([ReviewItem(1, 1, mask_id=5)], 2)


def test_a_saved_review_is_restored_only_when_it_has_the_same_objects(tiny_dataset, tmp_path):
    folder = shutil.copytree(tiny_dataset, tmp_path / "set")
    opened = drive(iter_open_micrograph(folder))
    objects, n = label_objects(opened.mask)
    names = opened.classes.names
    items = [ReviewItem(i, 1, score=0.5, mask_id=i) for i in range(1, n + 1)]
    review = open_object_review(opened.path, names, items, n)
    review.document.execute(decide([1], label=3, state=ItemState.ACCEPTED))
    found = drive(iter_restore_review(opened, names))
    assert found is not None
    restored, object_map = found
    assert restored.status is RestoreStatus.RESTORED
    assert (object_map.image[objects == 1] == 3).all()
    # another analysis with other objects: the saved review is set aside, not applied
    other = open_object_review(opened.path, names, items[:-1], n - 1)
    assert other.status is RestoreStatus.OTHER_SOURCE and other.kept_as.is_file()
    assert len(other.document) == n - 1 and not sidecar_path(opened.path).exists()


def test_a_new_analysis_refreshes_only_the_untouched_proposals(tiny_dataset, tmp_path):
    folder = shutil.copytree(tiny_dataset, tmp_path / "set")
    opened = drive(iter_open_micrograph(folder))
    _, n = label_objects(opened.mask)
    names = opened.classes.names
    old = [ReviewItem(i, 1, score=0.5, mask_id=i) for i in range(1, n + 1)]
    review = open_object_review(opened.path, names, old, n)
    review.document.execute(decide([1], label=3, state=ItemState.ACCEPTED))
    restored = open_object_review(opened.path, names, [], n).document
    new = [ReviewItem(i, 4, score=0.9, mask_id=i) for i in range(1, n + 1)]
    assert refresh_proposals(restored, new) == n - 1
    assert restored.get(1).label == 3 and restored.get(1).reviewed  # the decision stays
    assert all(restored.get(i).label == 4 and restored.get(i).score == 0.9
               for i in range(2, n + 1))
    again = open_object_review(opened.path, names, [], n).document  # and it was saved
    assert again.get(2).label == 4 and again.get(1).label == 3
