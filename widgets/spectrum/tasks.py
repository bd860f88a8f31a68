"""Engine calls the spectrum workspace runs as tasks (imports of torch stay in the worker)."""

from __future__ import annotations

from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator


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
