"""The sem workspace's sample datasets: seeded synthetic steel micrographs with masks and
labels (File ▸ Open sample data)."""

from __future__ import annotations

from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import TaskGenerator
from engines.core.samples import SampleDataset
from engines.sem.dataset import open_dataset
from engines.sem.synthetic_dataset import iter_write_dataset

SEED = 7
DEFAULT = "steel3"
_SETS = {  # name: (label, folder, images, (height, width))
    "steel3": ("Synthetic steel micrographs: 3 × 2000 × 2000 px with masks and labels",
               "sem_steel3", 3, (2000, 2000)),
    "steel-large": ("Synthetic steel micrograph: one 8000 × 7000 px image with mask and label",
                    "sem_steel_large", 1, (7000, 8000)),
}


def _writer(images: int, size: tuple[int, int]):
    def write(path: Path) -> TaskGenerator[Path]:
        return (yield from iter_write_dataset(path, images, size, SEED))

    return write


def _complete(images: int):
    def complete(path: Path) -> bool:
        try:
            dataset = open_dataset(path)
        except (InputError, OSError):
            return False
        return len(dataset.samples) == images and all(
            s.label is not None and s.mask is not None for s in dataset.samples.values())

    return complete


SAMPLES = tuple(SampleDataset(name, label, folder, _writer(n, size), _complete(n))
                for name, (label, folder, n, size) in _SETS.items())
