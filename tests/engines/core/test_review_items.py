"""Review items: how each field is normalised and what a bad value is told."""

import math

import numpy as np
import pytest

from engines.core.review_items import ItemState, ReviewItem, box_from_2d, box_world


@pytest.mark.parametrize(("fields", "message"), [
    ({"score": float("inf")}, r"^item 7: score must be finite, got inf$"),
    ({"box": (0, 0, 0, 1, 1)}, r"^item 7: box needs 6 numbers, got 5$"),
    ({"box": (0, 0, 0, 1, 1, float("nan"))}, r"^item 7: box must be finite, got nan$"),
    ({"box": (0, 3, 0, 1, 2, 1)}, r"^item 7: box needs z0, y0, x0, z1, y1, x1 with each start "
                                  r"<= its end, got \(0\.0, 3\.0, 0\.0, 1\.0, 2\.0, 1\.0\)$"),
    ({"box": (0, 0, 5, 1, 1, 4)}, r"each start <= its end"),  # only x is reversed
    ({"world_xyz": (1, 2)}, r"^item 7: world_xyz needs 3 numbers, got 2$"),
    ({"size_mm": (1, -0.5, 2)}, r"^item 7: size_mm must not be negative, got "
                                r"\(1\.0, -0\.5, 2\.0\)$"),
    ({"size_mm": (1, 2)}, r"^item 7: size_mm needs 3 numbers, got 2$"),
    ({"size_mm": (1, float("-inf"), 2)}, r"^item 7: size_mm must be finite, got -inf$"),
    ({"mask_id": "x"}, r"invalid literal"),
    ({"label": -1}, r"^item 7: class index must be >= 0, got -1$"),
    ({"extras": {"a": 1, "bad": [1]}}, r"^item 7: extras\['bad'\] must be a string, number, "
                                       r"bool or None, got list$"),
    ({"extras": {"x": np.float32("nan")}}, r"^item 7: extras\['x'\] must be finite"),
    ({"note": 5}, r"^item 7: note must be text$"),
])
def test_bad_fields_are_named_with_the_item(fields, message):
    with pytest.raises(ValueError, match=message):
        ReviewItem(**{"id": 7, "label": 0, **fields})


def test_fields_are_normalised_to_plain_python_values():
    item = ReviewItem(np.int64(2), np.uint8(1), state="accepted", reviewed=np.bool_(True),
                      score=np.float32(0.25), mask_id=np.int32(9), box=(1, 2, 3, 4, 5, 6),
                      world_xyz=[np.float64(1.5), 2, 3], size_mm=(0, 0, 0),
                      extras={3: np.bool_(False), "n": np.int16(-4), "f": np.float32(0.5),
                              "s": "x", "none": None, "i": 12})
    assert type(item.id) is int and type(item.label) is int and item.label == 1
    assert item.state is ItemState.ACCEPTED and item.reviewed is True
    assert type(item.score) is float and item.score == 0.25
    assert type(item.mask_id) is int and item.mask_id == 9
    assert item.box == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0) and type(item.box[0]) is float
    assert item.world_xyz == (1.5, 2.0, 3.0) and item.size_mm == (0.0, 0.0, 0.0)
    assert dict(item.extras) == {"3": False, "n": -4, "f": 0.5, "s": "x", "none": None, "i": 12}
    assert [type(item.extras[k]) for k in ("3", "n", "f")] == [bool, int, float]
    plain = ReviewItem(0, 0)
    assert (plain.score, plain.mask_id, plain.box, plain.world_xyz, plain.size_mm) == \
        (None, None, None, None, None)


@pytest.mark.parametrize(("value", "reviewed"), [
    (True, True), (False, False), (0, False), (1, True), (np.bool_(False), False), ("", False),
])
def test_reviewed_is_a_bool(value, reviewed):
    assert ReviewItem(0, 0, reviewed=value).reviewed is reviewed


def test_edited_checks_only_the_changes_and_refuses_unknown_fields():
    item = ReviewItem(4, 1, score=0.5, note="a")
    copy = item.edited(label=np.int64(2), reviewed=1)
    assert (copy.id, copy.label, copy.reviewed, copy.score, copy.note) == (4, 2, True, 0.5, "a")
    assert type(copy.label) is int and item.label == 1 and not item.reviewed
    with pytest.raises(ValueError, match=r"^item 4: class index must be >= 0, got -2$"):
        item.edited(label=-2)
    with pytest.raises(ValueError, match=r"^cannot edit \['colour', 'id'\]$"):
        item.edited(id=5, colour=1)
    with pytest.raises(ValueError, match=r"^cannot edit \['id'\]$"):
        item.edited(id=5)
    with pytest.raises(ValueError, match=r"^cannot edit \['colour'\]$"):
        item.edited(colour=5)


def test_slices_of_fractional_and_thin_boxes():
    assert ReviewItem(0, 0, box=(2.5, 0, 0, 4.2, 1, 1)).slices == range(2, 5)
    assert ReviewItem(0, 0, box=(3, 0, 0, 3, 1, 1)).slices == range(3, 3)
    assert ReviewItem(0, 0).slices == range(0)


class _Geometry:
    spacing_xyz = (0.5, 0.8, 2.0)

    def voxel_to_world(self, zyx):
        z, y, x = zyx
        return (10 + x * 0.5, -5 + y * 0.8, 100 + z * 2.0)


def test_box_world_of_an_anisotropic_box():
    box = box_from_2d(y0=1, x0=2, y1=5, x1=10, z0=3, z1=4)
    assert box == (3.0, 1.0, 2.0, 4.0, 5.0, 10.0)
    centre, size = box_world(box, _Geometry())
    # voxel-edge centre (3.5, 3, 6) is voxel index (3, 2.5, 5.5)
    assert all(math.isclose(a, b) for a, b in zip(centre, (12.75, -3.0, 106.0), strict=True))
    assert size == (4.0, 3.2, 2.0)
    assert all(type(v) is float for v in (*centre, *size))
