"""``cdc batch``: score every event file of a folder; each gets ``<stem>_predictions.h5``
beside the results table, and a row with the fields of ``cdc analyze``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.cdc.analysis import iter_analyze_file
from engines.core.batch import BatchJob
from engines.core.progress import drive


def _load(model: str, device: str):
    from engines.cdc.model import CdcSegmenter
    from engines.core.model import load_model

    return load_model(CdcSegmenter, model, "cdc", device)


def _analyze(segmenter, path: Path, out_dir: Path) -> dict[str, Any]:
    return drive(iter_analyze_file(segmenter, path, out_dir / f"{path.stem}_predictions.h5"))


JOB = BatchJob("cdc", _load, _analyze, ("*.h5", "*.hdf5", "*.root"))
