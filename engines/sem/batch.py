"""``sem batch``: analyze every micrograph of a folder; each gets ``<stem>_labels.png``,
``<stem>_objects.png`` and ``<stem>_objects.csv`` beside the results table, and a row with the
fields of ``sem analyze`` (a mask is used when :func:`engines.sem.analysis.find_mask` finds
one: ``../masks/<stem>.png`` in a data-set folder, or ``<stem>_mask.png`` beside the image)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.batch import BatchJob
from engines.core.progress import drive
from engines.sem.analysis import iter_analyze_file


def _load(model: str, device: str):
    from engines.core.model import load_model
    from engines.sem.segmenter import SemSegmenter

    return load_model(SemSegmenter, model, "sem", device)


def _analyze(segmenter, path: Path, out_dir: Path) -> dict[str, Any]:
    return drive(iter_analyze_file(segmenter, path, out_dir))


JOB = BatchJob("sem", _load, _analyze, ("*.tif", "*.tiff", "*.png", "*.jpg", "*.jpeg"))
