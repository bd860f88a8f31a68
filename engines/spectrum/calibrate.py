"""After training (or later, on a grown library): choose the hybrid's fallback level and
calibrate the open-set test of a classifier on its reference library.

:func:`train` ends with :func:`iter_calibrate`; ``spectrum calibrate`` runs it on a saved model
(same seed, same result), e.g. after adding reference files, or for a model trained before
these calibrations existed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, forward
from engines.spectrum.evaluation import references_on_grid

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier


def iter_calibrate(classifier: SpectrumClassifier, references: Any,
                   count_range: tuple[int, int] | None = None, seed: int = 0,
                   hybrid: bool = True, open_set: bool = True
                   ) -> TaskGenerator[SpectrumClassifier]:
    """Set ``classifier.fallback_counts`` (hybrid) and ``classifier.open_set`` in place; a
    generator returning the classifier.

    Parameters
    ----------
    references
        The classifier's reference library (its classes, in its order; any grid).
    count_range
        Counts the network was trained on (default: the training config's, else 2000-200000).
    """
    from engines.spectrum.hybrid import iter_fit_fallback
    from engines.spectrum.openset_calibration import iter_calibrate_open_set

    if classifier.templates is None:
        raise InputError("the model stores no class templates, which both calibrations need")
    refs = references_on_grid(references, classifier.grid)
    if list(refs.classes) != list(classifier.classes):
        raise InputError(f"the library's classes ({', '.join(refs.classes)}) are not the "
                         f"model's ({', '.join(classifier.classes)})")
    if count_range is None:
        counts = classifier.training.get("config", {}).get("counts", (2000, 200_000))
        count_range = tuple(counts) if isinstance(counts, list | tuple) else (counts, counts)
    started = time.monotonic()
    if hybrid:
        level, table = yield from forward(iter_fit_fallback(classifier, refs, seed), 0.0, 0.4,
                                          "")
        classifier.fallback_counts = level
        classifier.metrics["hybrid"] = {"fallback_counts": level, "levels": table}
    if open_set:
        classifier.open_set = yield from forward(
            iter_calibrate_open_set(classifier, refs, count_range, seed), 0.4, 0.6, "")
    classifier.training["calibration_seconds"] = round(time.monotonic() - started, 2)
    where = (f"ML peer below {classifier.fallback_counts:,} counts"
             if classifier.fallback_counts else "the network at every level")
    yield Progress(1.0, f"calibrated: {where}; open set "
                        f"{'calibrated' if classifier.open_set else 'off'}")
    return classifier
