"""Label images (grey, palette, RGB with equal channels, colour-coded), masks, class tables and
per-object class tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engines.core.errors import InputError
from engines.sem.labels import (
    IGNORE,
    ClassTable,
    read_class_table,
    read_label,
    read_mask,
    read_object_table,
)
from engines.sem.maxvote import label_objects
from engines.sem.writers import write_label_png

LABELS = np.random.default_rng(1).integers(0, 4, (30, 40)).astype(np.uint8)
CLASSES = ClassTable.from_names(["matrix", "a", "b", "c"])


def test_grey_palette_and_equal_rgb_labels_read_as_indices(tmp_path):
    Image.fromarray(LABELS).save(tmp_path / "grey.png")
    write_label_png(tmp_path / "palette.png", LABELS, CLASSES.colours)
    Image.fromarray(np.repeat(LABELS[:, :, None], 3, axis=2)).save(tmp_path / "rgb.png")
    for name in ("grey.png", "palette.png", "rgb.png"):
        labels, _ = read_label(tmp_path / name, CLASSES)
        np.testing.assert_array_equal(labels, LABELS)


def test_colour_coded_labels_need_the_class_colours(tmp_path):
    colours = np.array(CLASSES.colours, dtype=np.uint8)[LABELS]
    Image.fromarray(colours).save(tmp_path / "c.png")
    labels, _ = read_label(tmp_path / "c.png", CLASSES)
    np.testing.assert_array_equal(labels, LABELS)
    with pytest.raises(InputError, match="^c.png: colour label image"):
        read_label(tmp_path / "c.png")
    colours[3, 5] = (1, 2, 3)
    Image.fromarray(colours).save(tmp_path / "c.png")
    with pytest.raises(InputError, match=r"c.png: colour \(1, 2, 3\) at \(x 5, y 3\)"):
        read_label(tmp_path / "c.png", CLASSES)


def test_unknown_indices_are_named_and_255_is_unlabelled(tmp_path):
    labels = LABELS.copy()
    labels[0, :5] = IGNORE
    Image.fromarray(labels).save(tmp_path / "ok.png")
    assert (read_label(tmp_path / "ok.png", CLASSES)[0] == IGNORE).sum() == 5
    labels[1, :3] = 7
    Image.fromarray(labels).save(tmp_path / "bad.png")
    with pytest.raises(InputError, match="^bad.png: class index 7 in 3 pixels, but there are "
                                         "only 4 classes"):
        read_label(tmp_path / "bad.png", CLASSES)
    Image.fromarray(np.full((4, 4), 300, np.int32).astype(np.uint16)).save(tmp_path / "w.png")
    with pytest.raises(InputError, match="^w.png: class indices from 300"):
        read_label(tmp_path / "w.png")


def test_masks(tmp_path):
    Image.fromarray(np.where(LABELS > 0, 255, 0).astype(np.uint8)).save(tmp_path / "m.png")
    mask, warnings = read_mask(tmp_path / "m.png")
    np.testing.assert_array_equal(mask, LABELS > 0)
    assert not warnings
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "empty.png")
    assert "no object" in read_mask(tmp_path / "empty.png")[1][0]


@pytest.mark.parametrize("content", [
    {"classes": [{"name": "m", "colour": [1, 2, 3]}, {"name": "x", "colour": "#ff0010"}]},
    {"names": ["m", "x"], "colours": [[1, 2, 3], [255, 0, 16]]},
    ["m", "x"],
])
def test_class_table_forms(tmp_path, content):
    (tmp_path / "classes.json").write_text(json.dumps(content))
    table = read_class_table(tmp_path / "classes.json")
    assert table.names == ("m", "x")
    if not isinstance(content, list):
        assert table.colours == ((1, 2, 3), (255, 0, 16))
    assert table.index("X", "t") == 1 and table.index("0", "t") == 0


def test_bad_class_tables(tmp_path):
    path = tmp_path / "classes.json"
    for text, message in (("{", "not valid JSON"), ("[" * 50_000 + "]" * 50_000, "nested"),
                          ('{"names": ["a", "b"], "colours": ["#00ff00", "#zzzzzz"]}', "colour"),
                          ('["matrix", "Pore", "pore"]', "'pore' is named twice"),
                          ('{"names": ["a", "b"], "colours": [[1, 2, 3], "#010203"]}',
                           "same colour"), ('{"classes": [1, 2]}', "class names"),
                          ('["only"]', "2…127 classes"),
                          ('{"names": ["a", "b"], "colours": [[1, 2]]}', "1 colours"),
                          ('{"names": ["a", "b"], "colours": [[1,2,3], [1,2,999]]}', "colour")):
        path.write_text(text)
        with pytest.raises(InputError, match=f"^classes.json: .*{message}"):
            read_class_table(path)
    with pytest.raises(InputError, match="unknown class 'zz'"):
        CLASSES.index("zz", "t.csv")
    path.write_bytes(b" " * (2 << 20))
    with pytest.raises(InputError, match="^classes.json: file of .* too large"):
        read_class_table(path)


@pytest.mark.parametrize("row", ["inf,1", "1e300,1", "2.5,1", "nan,1", "-3e9,1"])
def test_object_tables_refuse_numbers_that_are_no_ids(tmp_path, row):
    path = tmp_path / "o.csv"
    path.write_text(f"id,class\n1,1\n{row}\n")
    with pytest.raises(InputError, match="^o.csv: column 'id': .* is not a whole number"):
        read_object_table(path, CLASSES)


def test_object_table_errors_name_the_table(tmp_path):
    path = tmp_path / "objects.csv"
    path.write_text("x,y,class\n0,0,a\n")
    table = read_object_table(path, CLASSES)
    objects = np.zeros((4, 5), dtype=np.int32)
    objects[2:, 2:] = 1
    with pytest.raises(InputError, match=r"^objects.csv: the point \(x 0, y 0\) is not inside"):
        table.object_classes(objects, 1, "image.tif")
    path.write_text("id,class\n2,a\n")
    with pytest.raises(InputError, match="^objects.csv: object id 2 but the mask has 1"):
        read_object_table(path, CLASSES).object_classes(objects, 1, "image.tif")


def test_object_tables_by_id_and_by_point(tmp_path):
    objects, n = label_objects(LABELS > 1)
    (tmp_path / "ids.csv").write_text("id,class\n1,a\n2,c\n")
    truth = read_object_table(tmp_path / "ids.csv", CLASSES).object_classes(objects, n, "ids.csv")
    assert truth[1] == 1 and truth[2] == 3 and (truth[3:] == -1).all() and truth[0] == -1
    y, x = np.argwhere(objects == 3)[0]
    (tmp_path / "pts.csv").write_text(f"x,y,class\n{x},{y},b\n")
    truth = read_object_table(tmp_path / "pts.csv", CLASSES).object_classes(objects, n, "pts")
    assert truth[3] == 2
    y, x = np.argwhere(objects == 0)[0]
    (tmp_path / "off.csv").write_text(f"x,y,class\n{x},{y},b\n")
    with pytest.raises(InputError, match="not inside an object"):
        read_object_table(tmp_path / "off.csv", CLASSES).object_classes(objects, n, "off")
    (tmp_path / "bad.csv").write_text("name,kind\n1,2\n")
    with pytest.raises(InputError, match="^bad.csv: needs a 'class' column"):
        read_object_table(tmp_path / "bad.csv", CLASSES)
    (tmp_path / "nan.csv").write_text("id,class\nx,a\n")
    with pytest.raises(InputError, match="^nan.csv: column 'id' holds a non-number"):
        read_object_table(tmp_path / "nan.csv", CLASSES)
