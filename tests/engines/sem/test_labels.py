"""Label images (grey, palette, RGB with equal channels, colour-coded), masks, class tables and
per-object class tables."""

from __future__ import annotations

import json
import re

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


def test_class_table_checks_and_lookups():
    with pytest.raises(InputError, match="^a class table needs 2…127 classes, got 1$"):
        ClassTable(("a",), ((1, 2, 3),))
    with pytest.raises(InputError, match="got 128$"):
        ClassTable.numbered(128)
    assert len(ClassTable.numbered(127)) == 127
    with pytest.raises(InputError, match="^2 class names but 1 colours$"):
        ClassTable(("a", "b"), ((1, 2, 3),))
    with pytest.raises(InputError, match="^class 'Pore' is named twice"):
        ClassTable.from_names(["m", "pore", "x", "Pore"])
    table = ClassTable.numbered(3)
    assert table.names == ("class 0", "class 1", "class 2")
    assert table.index(" 2 ", "t") == 2 and table.index(1, "t") == 1
    assert table.index("CLASS 1", "t") == 1
    for bad in ("3", "-1", "class 3", ""):
        with pytest.raises(InputError, match=f"^t.csv: unknown class '{bad}'; classes are "
                                             "class 0, class 1, class 2$"):
            table.index(bad, "t.csv")
    assert table.to_json() == {"classes": [
        {"name": "class 0", "colour": [150, 150, 150]}, {"name": "class 1", "colour":
                                                         [230, 40, 40]},
        {"name": "class 2", "colour": [40, 180, 60]}]}


def test_default_colours_then_a_fixed_palette():
    from engines.sem.labels import DEFAULT_COLOURS

    names = [f"n{i}" for i in range(12)]
    table = ClassTable.from_names(names)
    assert table.colours[:10] == DEFAULT_COLOURS
    assert table.colours == ClassTable.from_names(names).colours  # the same every time
    assert all(40 <= v < 256 for c in table.colours[10:] for v in c)
    assert len(set(table.colours)) == 12
    given = ClassTable.from_names(("a", 5), [(1.0, 2.9, 3), [4, 5, 6]])
    assert given.names == ("a", "5") and given.colours == ((1, 2, 3), (4, 5, 6))


@pytest.mark.parametrize("content, names, colours", [
    ({"classes": [{"name": "m", "color": [9, 8, 7]}, {"name": "x", "color": "#0A0b0C"}]},
     ("m", "x"), ((9, 8, 7), (10, 11, 12))),
    ({"classes": [{"name": "m", "colour": [9, 8, 7]}, {"name": "x"}]}, ("m", "x"),
     ((150, 150, 150), (230, 40, 40))),
    ({"classes": ["m", "x", "y"]}, ("m", "x", "y"), None),
    ({"names": ["m", "x"], "colors": ["#000000", [255, 255, 255]]}, ("m", "x"),
     ((0, 0, 0), (255, 255, 255))),
    ({"names": ["m", "x"]}, ("m", "x"), ((150, 150, 150), (230, 40, 40))),
])
def test_class_table_spellings(tmp_path, content, names, colours):
    (tmp_path / "classes.json").write_text(json.dumps(content))
    table = read_class_table(tmp_path / "classes.json")
    assert table.names == names
    if colours is not None:
        assert table.colours == colours


@pytest.mark.parametrize("text, message", [
    ('{"names": ["a", ""]}', "expected class names"),
    ('{"names": ["a", 3]}', "expected class names"),
    ('{"classes": []}', "expected class names"),
    ('{"other": ["a", "b"]}', "expected class names"),
    ('"ab"', "expected class names"),
    ('{"names": ["a", "b"], "colours": ["#12345", "#000000"]}', "colour '#12345' is not"),
    ('{"names": ["a", "b"], "colours": ["#00000g", "#000000"]}', "colour '#00000g'"),
    ('{"names": ["a", "b"], "colours": ["000000", "#000001"]}', "colour '000000'"),
    ('{"names": ["a", "b"], "colours": [[0, 0, -1], "#000001"]}', r"colour \[0, 0, -1\]"),
    ('{"names": ["a", "b"], "colours": [[0, 0, 256], "#000001"]}', r"colour \[0, 0, 256\]"),
    ('{"names": ["a", "b"], "colours": [[0, 0, "1"], "#000001"]}', "colour"),
    ('{"names": ["a", "b"], "colours": [[0, 0, 0, 0], "#000001"]}', "colour"),
    ('{"names": ["a", "b", "c"], "colours": [[0, 0, 0], [0, 0, 1]]}', "3 names but 2 colours"),
    ('["a", "A"]', "class 'A' is named twice"),
])
def test_class_table_refusals_name_the_file(tmp_path, text, message):
    path = tmp_path / "classes.json"
    path.write_text(text)
    with pytest.raises(InputError, match=f"^classes.json: .*{message}"):
        read_class_table(path)


def test_colour_masks_and_palette_masks(tmp_path):
    rgb = np.zeros((6, 7, 3), np.uint8)
    rgb[1, 2, 2] = 9
    rgb[4, 5] = (3, 3, 3)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    mask, warnings = read_mask(tmp_path / "c.png")
    assert mask.sum() == 2 and mask[1, 2] and mask[4, 5]
    assert warnings == ["c.png: colour mask; any non-zero channel is an object"]
    grey_rgb = np.repeat((LABELS == 2)[:, :, None].astype(np.uint8) * 7, 3, axis=2)
    Image.fromarray(grey_rgb).save(tmp_path / "g.png")
    mask, warnings = read_mask(tmp_path / "g.png")
    np.testing.assert_array_equal(mask, LABELS == 2)
    assert warnings == []
    write_label_png(tmp_path / "p.png", LABELS, CLASSES.colours)  # palette: the indices
    np.testing.assert_array_equal(read_mask(tmp_path / "p.png")[0], LABELS > 0)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "e.png")
    assert read_mask(tmp_path / "e.png")[1] == ["e.png: the mask holds no object"]


def test_colour_decoding_with_unsorted_colours_names_the_first_bad_pixel(tmp_path):
    classes = ClassTable(("m", "a", "b"), ((200, 0, 0), (0, 0, 9), (0, 50, 0)))
    labels = np.array([[0, 1, 2, 2], [1, 0, 2, 1], [2, 2, 0, 0]], np.uint8)
    colours = np.array(classes.colours, np.uint8)[labels]
    Image.fromarray(colours).save(tmp_path / "c.png")
    decoded, _ = read_label(tmp_path / "c.png", classes)
    np.testing.assert_array_equal(decoded, labels)
    assert decoded.dtype == np.uint8
    colours[2, 1] = (0, 0, 10)
    colours[1, 3] = (250, 0, 0)  # beyond every colour: still named
    Image.fromarray(colours).save(tmp_path / "c.png")
    with pytest.raises(InputError, match=r"^c.png: colour \(250, 0, 0\) at \(x 3, y 1\) is not "
                                         "one of the class colours$"):
        read_label(tmp_path / "c.png", classes)


def test_float_and_negative_label_images(tmp_path):
    import tifffile

    whole = LABELS.astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", whole)
    labels, _ = read_label(tmp_path / "f.tif", CLASSES)
    np.testing.assert_array_equal(labels, LABELS)
    whole[3, 4] = 1.5
    tifffile.imwrite(tmp_path / "f.tif", whole)
    with pytest.raises(InputError, match="^f.tif: label image holds fractional values"):
        read_label(tmp_path / "f.tif")
    signed = LABELS.astype(np.int16)
    signed[0, 0] = -2
    tifffile.imwrite(tmp_path / "s.tif", signed)
    with pytest.raises(InputError, match="^s.tif: class indices from -2 to 3; expected 0…126$"):
        read_label(tmp_path / "s.tif")
    signed[0, 0] = IGNORE
    tifffile.imwrite(tmp_path / "s.tif", signed)
    assert read_label(tmp_path / "s.tif")[0][0, 0] == IGNORE
    signed[0, 0] = 256
    tifffile.imwrite(tmp_path / "s.tif", signed)
    with pytest.raises(InputError, match="^s.tif: class indices from 0 to 256"):
        read_label(tmp_path / "s.tif")


def test_check_indices_counts_the_pixels_of_the_first_bad_index():
    from pathlib import Path

    from engines.sem.labels import check_indices

    labels = np.array([[0, 3, 3, 2], [5, IGNORE, 3, 2]], np.uint8)
    check_indices(Path("l.png"), labels, 6)
    check_indices(Path("l.png"), np.array([[0, 3, IGNORE]], np.uint8), 4)
    with pytest.raises(InputError, match=r"^l.png: class index 3 in 4 pixels, but there are "
                                         r"only 3 classes \(0…2\)$"):
        check_indices(Path("l.png"), labels, 3)
    with pytest.raises(InputError, match="class index 5 in 1 pixels"):
        check_indices(Path("l.png"), labels, 5)


def test_object_table_columns_bom_and_names(tmp_path):
    objects = np.array([[1, 1, 0, 2], [0, 0, 0, 2], [3, 0, 0, 0]], np.int32)
    path = tmp_path / "t.csv"
    path.write_text("\ufeff Object_ID ,Class\n3,B\n1,0\n", encoding="utf-8")
    table = read_object_table(path, CLASSES)
    assert table.source == "t.csv" and table.points is None
    assert table.object_classes(objects, 3, "img").tolist() == [-1, 0, -1, 2]
    path.write_text("object,class\n2,c\n")
    assert read_object_table(path, CLASSES).object_classes(objects, 3, "i").tolist() == \
        [-1, -1, 3, -1]
    path.write_text("X,Y,class\n3,1,a\n0,2,c\n")
    points = read_object_table(path, CLASSES)
    assert points.points.tolist() == [[1, 3], [2, 0]]
    assert points.object_classes(objects, 3, "img").tolist() == [-1, -1, 1, 3]
    for row, message in (("4,0,a", r"a point lies outside the 4 × 3 image"),
                         ("0,3,a", r"a point lies outside the 4 × 3 image"),
                         ("2,2,a", r"the point \(x 2, y 2\) is not inside an object")):
        path.write_text(f"x,y,class\n0,0,a\n{row}\n")
        with pytest.raises(InputError, match=f"^t.csv: {message}$"):
            read_object_table(path, CLASSES).object_classes(objects, 3, "img")
    path.write_text("x,y,class\n-1,0,a\n")
    with pytest.raises(InputError, match="^t.csv: negative pixel coordinates$"):
        read_object_table(path, CLASSES)
    path.write_text("id,class\n1,a\n0,b\n9,c\n")
    with pytest.raises(InputError, match="^t.csv: object id 0 but the mask has 3 objects$"):
        read_object_table(path, CLASSES).object_classes(objects, 3, "img")
    unnamed = read_object_table(path, CLASSES).__class__(np.array([4]), None, np.array([1]))
    with pytest.raises(InputError, match="^img.png: object id 4 but the mask has 3 objects$"):
        unnamed.object_classes(objects, 3, "img.png")
    path.write_text("id,class\n1,zz\n")
    with pytest.raises(InputError, match="^t.csv: unknown class 'zz'"):
        read_object_table(path, CLASSES)
    path.write_text("id,class\n")
    with pytest.raises(InputError, match="^t.csv: no rows$"):
        read_object_table(path, CLASSES)
    path.write_bytes(b"id,class\n1,\xff\n")
    with pytest.raises(InputError, match="^t.csv: not a readable CSV table"):
        read_object_table(path, CLASSES)
    path.write_text("x,class\n1,a\n")
    with pytest.raises(InputError, match="^t.csv: needs a 'class' column"):
        read_object_table(path, CLASSES)
    path.write_text("id,y\n1,1\n")
    with pytest.raises(InputError, match="^t.csv: needs a 'class' column"):
        read_object_table(path, CLASSES)
    path.write_text("id,class\n1,a\n2.0,b\n")
    assert read_object_table(path, CLASSES).ids.tolist() == [1, 2]
    path.write_text(f"id,class\n{2**31},a\n")
    assert read_object_table(path, CLASSES).ids.tolist() == [2**31]
    path.write_text(f"id,class\n{2**31 + 1},a\n")
    with pytest.raises(InputError, match="is not a whole number"):
        read_object_table(path, CLASSES)


def test_class_numbers_int_would_refuse_are_unknown_classes_not_crashes(tmp_path):
    """``"--1"`` and ``"²"`` passed the digit test before and made ``int()`` raise ValueError
    out of an object table; a name that looks like a number is still found by name."""
    table = ClassTable.from_names(["m", "-1", "x"])
    assert table.index("-1", "t") == 1 and table.index("2", "t") == 2
    for bad in ("--1", "²", "1-", "+1", "3"):
        with pytest.raises(InputError, match=f"^t.csv: unknown class {re.escape(repr(bad))}"):
            table.index(bad, "t.csv")
    path = tmp_path / "o.csv"
    path.write_text("id,class\n1,--1\n", encoding="utf-8")
    with pytest.raises(InputError, match="^o.csv: unknown class '--1'"):
        read_object_table(path, CLASSES)


def test_the_fixed_palette_after_the_papers_colours():
    names = [f"n{i}" for i in range(12)]
    assert ClassTable.from_names(names).colours[10:] == ((104, 137, 220), (141, 199, 240))
    assert ClassTable.from_names(names[:11]).colours[10:] == ((115, 210, 93),)


@pytest.mark.parametrize("colour", ["#X01020", "#g01020", "#0g1020"])
def test_hex_colours_with_a_non_hex_digit_anywhere(tmp_path, colour):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"names": ["a", "b"], "colours": [colour, "#000001"]}))
    with pytest.raises(InputError, match=f"^classes.json: colour '{colour}' is not"):
        read_class_table(path)


def test_whole_refusal_messages(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text('{"names": ["a", 3]}')
    with pytest.raises(InputError) as caught:
        read_class_table(path)
    assert str(caught.value) == ('classes.json: expected class names (a list of strings, or '
                                 '{"classes": [{"name": ...}, ...]})')
    path.write_text('{"names": ["a", "b"], "colours": [[1, 2, 3], "#010203"]}')
    with pytest.raises(InputError) as caught:
        read_class_table(path)
    assert str(caught.value) == ("classes.json: two classes have the same colour "
                                 "(colour-coded labels could not tell them apart)")
    colours = np.array(CLASSES.colours, dtype=np.uint8)[LABELS]
    Image.fromarray(colours).save(tmp_path / "c.png")
    with pytest.raises(InputError) as caught:
        read_label(tmp_path / "c.png")
    assert str(caught.value) == ("c.png: colour label image whose channels differ, and no "
                                 "class colours (classes.json) to decode it")
    import tifffile

    tifffile.imwrite(tmp_path / "f.tif", np.array([[0.0, 2.25]], np.float32))
    with pytest.raises(InputError) as caught:
        read_label(tmp_path / "f.tif")
    assert str(caught.value) == ("f.tif: label image holds fractional values; expected "
                                 "class indices")
    (tmp_path / "o.csv").write_text("x,class\n1,a\n")
    with pytest.raises(InputError) as caught:
        read_object_table(tmp_path / "o.csv", CLASSES)
    assert str(caught.value) == ("o.csv: needs a 'class' column and an 'id' column or 'x' "
                                 "and 'y' columns")


def test_palette_labels_are_their_indices_without_a_class_table(tmp_path):
    """The palette's colours (deliberately not the class colours) are not decoded."""
    palette = [(9, 9, 200), (250, 0, 0), (0, 77, 0), (1, 2, 3)]
    write_label_png(tmp_path / "p.png", LABELS, palette)
    labels, warnings = read_label(tmp_path / "p.png")
    np.testing.assert_array_equal(labels, LABELS)
    assert warnings == []
    np.testing.assert_array_equal(read_label(tmp_path / "p.png", CLASSES)[0], LABELS)


def test_a_class_name_with_a_line_break_in_a_quoted_csv_field(tmp_path):
    classes = ClassTable.from_names(["m", "lath\r\nbainite"])
    path = tmp_path / "o.csv"
    path.write_bytes(b'id,class\r\n1,"lath\r\nbainite"\r\n2,m\r\n')
    assert read_object_table(path, classes).classes.tolist() == [1, 0]
