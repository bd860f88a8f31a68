"""Generator adapters the workspace hands to the task runner (no computation of their own).

The runner delivers at most the *latest* progress report every 50 ms, which is right for progress
bars but would drop points from training and evaluation curves; :func:`recording` keeps every
report's metrics so the plots can redraw the full history at the throttled rate.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator


def recording(task: TaskGenerator[Any], sink: list[dict[str, Any]],
              drop: tuple[str, ...] = ()) -> TaskGenerator[Any]:
    """Forward ``task``'s reports and return value, appending each report's metrics (without the
    keys in ``drop``, e.g. large arrays) to ``sink``.

    ``list.append`` is atomic, so the GUI thread may read ``sink`` while the worker appends.
    Closing this generator closes ``task`` (cancellation reaches the engine's cleanup).
    """
    try:
        while True:
            try:
                report = next(task)
            except StopIteration as stop:
                return stop.value
            if isinstance(report, Progress) and report.metrics:
                sink.append({k: v for k, v in report.metrics.items() if k not in drop})
            yield report
    finally:
        task.close()


def blocking(title: str, function, *args: Any) -> Generator[Progress, None, Any]:
    """Run a short blocking engine call (file read, model load) as a one-step task."""
    yield Progress(0.0, title)
    result = function(*args)
    yield Progress(1.0, f"{title}: done")
    return result


def load_classifier(path: Path, device_preference: str):
    """Load a spectrum classifier on the preferred device (imports torch; runs in a worker)."""
    from engines.core.device import pick_device
    from engines.spectrum.classifier import SpectrumClassifier

    return SpectrumClassifier.load(path, pick_device(device_preference))


def read_spectra(paths: list[Path], skip_bad: bool = False
                 ) -> TaskGenerator[tuple[list, list[InputError]]]:
    """Read spectrum files, one progress report per file.

    Returns the spectra and, with ``skip_bad``, the errors of the files that could not be read
    (without it the first such error is raised).
    """
    from engines.spectrum.readers import read_spectrum

    spectra, errors = [], []
    for index, path in enumerate(paths):
        yield Progress(index / len(paths), f"reading {path.name}")
        try:
            spectra.append(read_spectrum(path))
        except InputError as error:
            if not skip_bad:
                raise
            errors.append(error)
    yield Progress(1.0, f"read {len(spectra)} file(s)")
    return spectra, errors
