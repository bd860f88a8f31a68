"""Review exports byte by byte: every item unless asked otherwise, CSV cells and line ends,
the JSON layout."""

from __future__ import annotations

import json

from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.core.review_export import export_review_csv, export_review_json, review_records


def _doc():
    return ReviewDocument(("pore", "Grain"), [
        ReviewItem(2, 1, state=ItemState.ACCEPTED, reviewed=True, score=0.5,
                   extras={"area": 12}, note="Big Grain"),
        ReviewItem(1, 0, box=(0, 1, 2, 3, 4, 5))], kind="sem")


def test_records_hold_every_item_by_default():
    columns, records = review_records(_doc())
    assert [r["id"] for r in records] == [1, 2]
    assert columns[-2:] == ["area", "note"]
    assert records[0]["z1"] == 3 and records[0]["area"] is None and records[1]["area"] == 12
    assert [r["id"] for r in review_records(_doc(), only_reviewed=True)[1]] == [2]


def test_csv_cells_and_line_ends(tmp_path):
    path = export_review_csv(_doc(), tmp_path / "review.csv")
    lines = path.read_bytes().decode().split("\n")
    assert "\r" not in path.read_bytes().decode() and lines[-1] == ""
    assert lines[1] == "1,pore,0,proposed,false,,,0.0,1.0,2.0,3.0,4.0,5.0,,,,,,,,"
    assert lines[2] == "2,Grain,1,accepted,true,0.5,,,,,,,,,,,,,,12,Big Grain"
    assert len(lines) == 4  # header, two items, the end
    reviewed = export_review_csv(_doc(), tmp_path / "r.csv", only_reviewed=True)
    assert reviewed.read_text().count("\n") == 2


def test_json_layout(tmp_path):
    path = export_review_json(_doc(), tmp_path / "review.json")
    text = path.read_text()
    assert text.startswith('{\n "kind": "sem",\n "class_names": [\n  "pore",\n  "Grain"\n ],')
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["counts"] == {"total": 2, "reviewed": 1, "proposed": 1, "accepted": 1,
                              "rejected": 0, "uncertain": 0}
    assert data["columns"][:3] == ["id", "class", "class_index"]
    assert [item["id"] for item in data["items"]] == [1, 2]
    assert data["items"][0]["reviewed"] is False and data["items"][1]["note"] == "Big Grain"
