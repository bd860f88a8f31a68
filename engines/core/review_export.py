"""Export of a review as a CSV table or a JSON file (both written atomically).

One row per item, by increasing id::

    id, class, class_index, state, reviewed, score, mask_id, z0, y0, x0, z1, y1, x1,
    x_mm, y_mm, z_mm, size_x_mm, size_y_mm, size_z_mm, <extras, sorted by name>, note

Empty cells (CSV) or nulls (JSON) where an item has no such value.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from engines.core.files import atomic_write_bytes
from engines.core.review import ReviewDocument

BASE_COLUMNS = ("id", "class", "class_index", "state", "reviewed", "score", "mask_id",
                "z0", "y0", "x0", "z1", "y1", "x1", "x_mm", "y_mm", "z_mm",
                "size_x_mm", "size_y_mm", "size_z_mm")


def review_records(document: ReviewDocument,
                   only_reviewed: bool = False) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one flat record per item (reviewed items only if asked)."""
    items = [item for item in document if item.reviewed or not only_reviewed]
    extras = sorted({name for item in items for name in item.extras} - set(BASE_COLUMNS))
    columns = [*BASE_COLUMNS, *extras, "note"]
    records = []
    for item in items:
        box = item.box or (None,) * 6
        world = item.world_xyz or (None,) * 3
        size = item.size_mm or (None,) * 3
        values = (item.id, document.class_name(item.label), item.label, item.state.value,
                  item.reviewed, item.score, item.mask_id, *box, *world, *size)
        record = dict(zip(BASE_COLUMNS, values, strict=True))
        record.update({name: item.extras.get(name) for name in extras})
        record["note"] = item.note
        records.append(record)
    return columns, records


def export_review_csv(document: ReviewDocument, path: str | Path,
                      only_reviewed: bool = False) -> Path:
    """Write the review as CSV (booleans as true/false, None as an empty cell); returns the
    path."""
    columns, records = review_records(document, only_reviewed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([str(v).lower() if isinstance(v, bool) else v
                         for v in (record[c] for c in columns)])
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue().encode())
    return path


def export_review_json(document: ReviewDocument, path: str | Path,
                       only_reviewed: bool = False) -> Path:
    """Write ``{"kind", "class_names", "counts", "columns", "items": [records]}`` as JSON."""
    columns, records = review_records(document, only_reviewed)
    counts = document.counts()
    data = {"kind": document.kind, "class_names": list(document.class_names),
            "counts": {"total": counts.total, "reviewed": counts.reviewed,
                       **{s.value: n for s, n in counts.by_state.items()}},
            "columns": columns, "items": records}
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(data, indent=1, allow_nan=False) + "\n").encode())
    return path
