"""The CDC workspace's sample datasets: seeded synthetic event files at 20, 40 and 60 %
background occupancy."""

from __future__ import annotations

from pathlib import Path

from engines.cdc.synthetic import iter_write_sample_file
from engines.core.progress import TaskGenerator
from engines.core.samples import SampleDataset

OCCUPANCIES = (0.2, 0.4, 0.6)
DEFAULT = "occupancy40"
EVENTS = 200
SEED = 11


def _writer(occupancy: float):
    def write(path: Path) -> TaskGenerator[Path]:
        return (yield from iter_write_sample_file(path, EVENTS, occupancy, SEED))

    return write


def _label(occupancy: float) -> str:
    return f"Synthetic events, {round(100 * occupancy)} % occupancy ({EVENTS} events)"


SAMPLES = tuple(
    SampleDataset(f"occupancy{round(100 * o):02d}", _label(o), f"cdc_occupancy{round(100 * o):02d}.h5",
                  _writer(o), Path.is_file)
    for o in OCCUPANCIES)
