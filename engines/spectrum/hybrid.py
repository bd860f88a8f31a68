"""The hybrid call: the network where it is at the multinomial ML bound, the ML peer below.

After training, the network and the ML peer classify the same fresh RSM-3 draws from the
reference files at a ladder of count levels. The ML peer is scored as it would do on a new
measurement: a draw from file ``j`` is compared with its class template built *without* file
``j`` (leave one file out, for classes with two or more files; the other classes' templates
are the classifier's), otherwise the ML peer would be judged on its own templates. The fallback
level is the lowest level from which on the network is within ``margin`` of the ML peer at
*every* higher level; below it the classifier calls with the ML peer and says so. When the
network is within the margin at every level there is no fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.spectrum.evaluation import KeptSampler, full_grid, pick_references, references_on_grid
from engines.spectrum.peers import DEFAULT_FLOOR

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier

FALLBACK_LEVELS: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10_000, 19_650, 50_000,
                                    100_000)
FALLBACK_DRAWS = 96  # per class and level
FALLBACK_MARGIN = 0.005  # the network may trail the ML peer by half a point


def fallback_level(levels: np.ndarray, network: np.ndarray, ml: np.ndarray,
                   margin: float = FALLBACK_MARGIN) -> int | None:
    """The lowest level from which on ``network >= ml - margin`` at every level, or None when
    that holds everywhere; ``levels`` (L,) increasing, accuracies (L,)."""
    ok = np.asarray(network) >= np.asarray(ml) - margin
    if ok.all():
        return None
    bad = int(np.flatnonzero(~ok)[-1])
    if bad == len(levels) - 1:
        return int(levels[-1]) * 10  # the network trails even at the top: ML up to 10x beyond
    return int(levels[bad + 1])


def leave_one_out(kept: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per reference (n_refs, n_kept): its class template (mean normalised kept spectrum, as the
    classifier stores) built without it; a class's only file keeps its own template."""
    rows = np.asarray(kept, dtype=np.float64)
    rows = rows / rows.sum(axis=1, keepdims=True)
    out = np.empty_like(rows)
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        total = rows[members].sum(axis=0)
        for j in members:
            others = total - rows[j] if members.size > 1 else total
            out[j] = others / others.sum()
    return out


def iter_fit_fallback(classifier: SpectrumClassifier, references: Any, seed: int = 0,
                      levels: tuple[int, ...] = FALLBACK_LEVELS, draws: int = FALLBACK_DRAWS,
                      margin: float = FALLBACK_MARGIN
                      ) -> TaskGenerator[tuple[int | None, list[dict[str, Any]]]]:
    """Measure network and ML peer per level and choose the fallback; a generator.

    Returns
    -------
    ``(fallback_counts or None, [{"counts", "network_accuracy", "ml_accuracy"}, ...])``.
    """
    if classifier.templates is None:
        raise InputError("the hybrid needs the class templates")
    refs = references_on_grid(references, classifier.grid)
    if list(refs.classes) != list(classifier.classes):
        raise InputError("the references' classes differ from the classifier's")
    keep = classifier.keep_mask
    sampler = KeptSampler(refs.probabilities(), keep)
    own_logs = np.log(np.maximum(leave_one_out(refs.spectra[:, keep], refs.labels,
                                               classifier.n_classes), DEFAULT_FLOOR))
    labels = np.repeat(np.arange(classifier.n_classes), draws)
    rows_out = []
    for i, level in enumerate(levels):
        rng = np.random.default_rng([seed, 4242, int(level)])
        picked = pick_references(refs.labels, labels, rng)
        kept = sampler.draw(picked, int(level), rng)
        counts = full_grid(kept, keep)
        network = classifier.predict(counts, hybrid=False)
        scores = classifier.ml_logits(counts)
        scores[np.arange(labels.size), labels] = np.einsum("bn,bn->b", kept, own_logs[picked])
        ml = scores.argmax(axis=1)
        rows_out.append({"counts": int(level), "network_accuracy": float(np.mean(network == labels)),
                         "ml_accuracy": float(np.mean(ml == labels))})
        yield Progress((i + 1) / len(levels), f"hybrid: {level:,} counts: network "
                       f"{rows_out[-1]['network_accuracy']:.3f}, ML {rows_out[-1]['ml_accuracy']:.3f}")
    level = fallback_level(np.array(levels), np.array([r["network_accuracy"] for r in rows_out]),
                           np.array([r["ml_accuracy"] for r in rows_out]), margin)
    return level, rows_out
