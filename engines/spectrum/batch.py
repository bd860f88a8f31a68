"""``spectrum batch``: classify every spectrum file of a folder, one results row per file with
the fields of ``spectrum classify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.batch import BatchJob
from engines.core.progress import drive
from engines.spectrum.analysis import analyze_spectra, classification_record
from engines.spectrum.readers import SUPPORTED_SUFFIXES, read_spectrum


def _load(model: str, device: str):
    from engines.core.model import load_model
    from engines.spectrum.classifier import SpectrumClassifier

    return load_model(SpectrumClassifier, model, "spectrum", device)


def _analyze(classifier, path: Path, out_dir: Path) -> dict[str, Any]:
    analysis = drive(analyze_spectra(classifier, [read_spectrum(path)]))[0]
    record = classification_record(analysis)
    record.pop("file")
    return record


JOB = BatchJob("spectrum", _load, _analyze, tuple(f"*{s}" for s in SUPPORTED_SUFFIXES))
