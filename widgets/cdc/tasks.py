"""Engine calls the CDC workspace runs as tasks (imports of torch stay in the worker)."""

from __future__ import annotations

from pathlib import Path


def load_segmenter(path: Path, device_preference: str):
    """Load a CDC model on the preferred device (imports torch; runs in a worker)."""
    from engines.cdc.model import CdcSegmenter
    from engines.core.device import pick_device

    return CdcSegmenter.load(path, pick_device(device_preference))


def open_sample(path: Path, n_events: int, occupancy: float, seed: int):
    """Write the synthetic sample file ``path`` (if absent), then open it."""
    from engines.cdc.analysis import iter_open_events
    from engines.cdc.synthetic import iter_write_sample_file

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        yield from iter_write_sample_file(path, n_events, occupancy, seed)
    return (yield from iter_open_events(path))


def train(events, image_config, train_config):
    """Train on ``events`` (read whole in the worker: a lazy file is loaded here)."""
    from engines.cdc.training import train_segmenter

    return (yield from train_segmenter(list(events), image_config, train_config))
