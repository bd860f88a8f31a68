"""The spectrum workspace's sample datasets: the synthetic reference libraries (seed 0)."""

from __future__ import annotations

from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import TaskGenerator
from engines.core.samples import SampleDataset
from engines.spectrum.library import find_dataset_files
from engines.spectrum.synthetic import iter_sample_library, library_spec

MEASUREMENTS_PER_CLASS = 2
SEED = 0
LABELS = {"materials12": "Materials: 12 substances (paper Exp. I)",
          "aluminium4": "Aluminium alloys: 4 classes (Exp. II/IIIa)",
          "copper5": "Copper alloys: 5 classes (Exp. IIIb)"}


def _writer(name: str):
    def write(path: Path) -> TaskGenerator[Path]:
        return (yield from iter_sample_library(path.parent, name, SEED, MEASUREMENTS_PER_CLASS))

    return write


def _complete(name: str):
    def complete(path: Path) -> bool:
        try:
            found = find_dataset_files(path)
        except InputError:
            return False
        classes = library_spec(name).class_names
        return sorted(found) == sorted(classes) and all(
            len(files) >= MEASUREMENTS_PER_CLASS for files in found.values())

    return complete


SAMPLES = tuple(SampleDataset(name, label, name, _writer(name), _complete(name))
                for name, label in LABELS.items())
