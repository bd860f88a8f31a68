"""``nodules batch``: detect nodules in every scan of a folder; each gets
``<seriesuid>_candidates.csv`` (the LUNA16 submission columns plus diameter_mm) beside the
results table, and a row with the fields of ``nodules detect --json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.batch import BatchJob


def _load(model: str, device: str):
    from engines.core.model import load_model
    from engines.nodules.model import NoduleDetector

    return load_model(NoduleDetector, model, "nodules", device)


def analyze_scan(model, path: Path, out: Path, config=None,
                 series_uid: str | None = None) -> dict[str, Any]:
    """Detect in the scan at ``path`` with ``config`` (a DetectConfig; default the model's
    settings) and write its candidates at the threshold in force as a LUNA16 submission CSV at
    ``out``; returns the summary fields. The one detection path of ``nodules detect`` and
    ``nodules batch``."""
    from engines.core.progress import drive
    from engines.nodules.candidates import export_submission
    from engines.nodules.detect import detect_config_for, iter_detect
    from engines.nodules.scan import open_scan

    scan = open_scan(path, series_uid)
    detections = drive(iter_detect(model, scan, config or detect_config_for(model)))
    export_submission(out, detections.findings(detections.threshold))
    return {**detections.summary(), "csv": str(out)}


def _analyze(model, path: Path, out_dir: Path) -> dict[str, Any]:
    from engines.nodules.scan import file_seriesuid

    name = path.name if path.is_dir() else file_seriesuid(path)
    return analyze_scan(model, path, out_dir / f"{name}_candidates.csv")


JOB = BatchJob("nodules", _load, _analyze, ("*.mhd", "*.mha", "*.nii", "*.nii.gz"))
