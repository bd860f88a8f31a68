"""Generator adapters the CDC workspace hands to the task runner (no computation of their own).

:func:`recording` keeps every report's metrics for live curves (the runner delivers only the
latest report every 50 ms); :func:`blocking` runs a short engine call as a one-step task.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from engines.core.progress import Progress, TaskGenerator


def recording(task: TaskGenerator[Any], sink: list[dict[str, Any]]) -> TaskGenerator[Any]:
    """Forward ``task``'s reports and result, appending each report's metrics to ``sink``
    (``list.append`` is atomic, so the GUI thread may read ``sink`` meanwhile)."""
    try:
        while True:
            try:
                report = next(task)
            except StopIteration as stop:
                return stop.value
            if isinstance(report, Progress) and report.metrics:
                sink.append(dict(report.metrics))
            yield report
    finally:
        task.close()


def blocking(title: str, function, *args: Any) -> Generator[Progress, None, Any]:
    """Run a short blocking engine call (model load, file write) as a one-step task."""
    yield Progress(0.0, title)
    result = function(*args)
    yield Progress(1.0, f"{title}: done")
    return result


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
