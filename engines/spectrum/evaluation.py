"""Accuracy per count level: the CNN beside its classical peers on the very same RSM-3 draws.

For every count level ``k`` the evaluation draws ``draws_per_class`` short measurements of ``k``
counts per class from the evaluation data's long spectra (held-out files, rebinned onto the
model's energy grid) and classifies each draw: the network alone ("CNN"), the classifier as it
calls (the hybrid, when it falls back to the ML peer below a count level), the multinomial
maximum-likelihood template classifier (the physical bound), normalised cross-correlation and
chi-squared matching. Classes of the data the model does not know are *out of the library*: their
draws are not classified but measure the open-set test (AUROC of each score, false accepts at
95 % true accepts, and the accept rates at the model's alpha), see
:func:`engines.spectrum.openset.open_set_summary`. The peers' templates are the *model's* stored class templates (what it was
trained on) on the model's kept channels, so all four see the same draws and the same
information. Only the kept channels are drawn: ``Binomial(k, P_kept)`` of the ``k`` events fall
in them, spread as a multinomial over them, which is exact RSM-3 on the full grid followed by
the discard. Draws are numpy-seeded per ``(seed, k)``, identical on every device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.config import param, validate
from engines.core.errors import InputError
from engines.core.metrics import confusion_matrix, row_normalise
from engines.core.progress import Progress, TaskGenerator
from engines.spectrum.peers import PEER_METHODS, peer_predict
from engines.spectrum.rebin import rebin_counts
from engines.spectrum.references import ReferenceSet, from_library
from engines.spectrum.rsm import PAPER_COUNT_RATE, live_time_for_counts
from engines.spectrum.spectrum import EnergyGrid

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier
    from engines.spectrum.openset import OpenSetScores

DEFAULT_COUNTS: tuple[int, ...] = (100, 1000, 5000, 19650, 100_000, 500_000)
MAX_COUNTS = 10_000_000


def _parse_levels(text: str) -> tuple[int, ...]:
    from engines.spectrum.options import parse_int_list

    return tuple(parse_int_list(text, "count levels"))


def _parse_peers(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() == "none" else tuple(
        p.strip() for p in text.split(",") if p.strip())


def _join(values: tuple) -> str:
    return ",".join(map(str, values)) or "none"


@dataclass
class EvaluateConfig:
    """Evaluation settings. Level ``k`` draws with the seed ``(seed, k)``, so adding a level
    changes no other."""

    counts: tuple[int, ...] = param(DEFAULT_COUNTS, label="Count levels", range=(1, MAX_COUNTS),
                                    parse=_parse_levels, format=_join,
                                    help="counts per short measurement, comma-separated")
    draws_per_class: int = param(100, label="Draws per class", range=(1, 100_000),
                                 flag="draws", help="short measurements per class and level")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))
    batch_size: int = param(256, label="Batch size", range=(1, 65_536))
    peers: tuple[str, ...] = param(PEER_METHODS, label="Peers", choices=PEER_METHODS,
                                   parse=_parse_peers, format=_join,
                                   help="classical peers run beside the CNN, or none")
    count_rate_cps: float | None = param(None, label="Count rate", unit="counts/s",
                                         range=(0.0, 1e9), low_open=True, flag="rate",
                                         help="turns counts into live time; default: from the "
                                              "data's live times, else the paper's rate")

    def __post_init__(self) -> None:
        if isinstance(self.counts, int | np.integer):
            self.counts = (self.counts,)
        if isinstance(self.peers, str):
            self.peers = (self.peers,)
        if not self.counts:
            raise InputError("count levels: give at least one")
        validate(self)
        self.counts = tuple(sorted({int(k) for k in self.counts}))
        self.peers = tuple(m for m in PEER_METHODS if m in self.peers)


@dataclass
class LevelResult:
    """One count level. Confusion matrices are (C, C) int64 over the *model's* classes
    (rows: true class, columns: predicted); ``cnn_confusion`` is None for a peers-only run."""

    counts: int
    live_time_s: float
    n: int
    cnn_confusion: np.ndarray | None
    peer_confusion: dict[str, np.ndarray] = field(default_factory=dict)
    hybrid_confusion: np.ndarray | None = None
    ml_called: float = 0.0
    open_set: dict[str, Any] | None = None

    @property
    def accuracy(self) -> float | None:
        """CNN accuracy in [0, 1] (None without a CNN)."""
        return _accuracy(self.cnn_confusion)

    @property
    def hybrid_accuracy(self) -> float | None:
        """Accuracy of the classifier as it calls (None without a fallback)."""
        return _accuracy(self.hybrid_confusion)

    def peer_accuracy(self, method: str) -> float | None:
        """Accuracy of a peer (None when it was not run)."""
        return _accuracy(self.peer_confusion.get(method))


def _accuracy(confusion: np.ndarray | None) -> float | None:
    if confusion is None or confusion.sum() == 0:
        return None
    return float(np.trace(confusion) / confusion.sum())


@dataclass
class EvaluationResult:
    """Accuracy curves and confusion matrices of one evaluation.

    Attributes
    ----------
    classes
        The model's classes (rows and columns of every confusion matrix).
    evaluated_classes
        Classes of the evaluation data the model knows.
    unknown_classes
        Classes of the evaluation data the model does not know (out of the library).
    levels
        One :class:`LevelResult` per count level, increasing counts.
    count_rate_cps
        Counts per live second behind ``live_time_s``.
    """

    classes: list[str]
    evaluated_classes: list[str]
    levels: list[LevelResult]
    count_rate_cps: float
    draws_per_class: int
    seed: int
    peers: tuple[str, ...]
    unknown_classes: list[str] = field(default_factory=list)
    fallback_counts: int | None = None

    def curve(self, method: str = "cnn") -> tuple[np.ndarray, np.ndarray]:
        """``(counts, accuracy)`` arrays of shape (n_levels,) for "cnn", "hybrid" or a peer
        (NaN = not run)."""
        counts = np.array([level.counts for level in self.levels], dtype=np.int64)
        values = [level.accuracy if method == "cnn" else level.hybrid_accuracy
                  if method == "hybrid" else level.peer_accuracy(method)
                  for level in self.levels]
        return counts, np.array([np.nan if v is None else v for v in values])

    def to_json(self) -> dict[str, Any]:
        """``{"classes", "results": [{counts, live_time_s, accuracy, ml_accuracy, ncc_accuracy,
        chi2_accuracy, n}], "confusion": {"<counts>": {counts, row_normalised, ml_counts,
        ml_row_normalised}}, ...}`` with None for whatever was not run."""
        results, confusion = [], {}
        for level in self.levels:
            row = {"counts": level.counts, "live_time_s": round(level.live_time_s, 6),
                   "accuracy": level.accuracy, "hybrid_accuracy": level.hybrid_accuracy,
                   "ml_called": level.ml_called}
            row.update({f"{m}_accuracy": level.peer_accuracy(m) for m in PEER_METHODS})
            row["n"] = level.n
            row["open_set"] = level.open_set
            results.append(row)
            matrices: dict[str, Any] = {}
            if level.cnn_confusion is not None:
                matrices["counts"] = level.cnn_confusion.tolist()
                matrices["row_normalised"] = row_normalise(level.cnn_confusion).round(4).tolist()
            if "ml" in level.peer_confusion:
                matrices["ml_counts"] = level.peer_confusion["ml"].tolist()
                matrices["ml_row_normalised"] = row_normalise(
                    level.peer_confusion["ml"]).round(4).tolist()
            confusion[str(level.counts)] = matrices
        return {"classes": list(self.classes), "evaluated_classes": list(self.evaluated_classes),
                "unknown_classes": list(self.unknown_classes),
                "fallback_counts": self.fallback_counts, "results": results, "confusion": confusion,
                "count_rate_cps": self.count_rate_cps, "draws_per_class": self.draws_per_class,
                "seed": self.seed, "peers": list(self.peers)}


def format_table(result: EvaluationResult) -> str:
    """Plain-text table: counts, live time, n and the accuracy of every method run."""
    methods = (["cnn"] if any(lv.cnn_confusion is not None for lv in result.levels) else [])
    methods += ["hybrid"] if any(lv.hybrid_confusion is not None for lv in result.levels) else []
    methods += list(result.peers)
    names = {"cnn": "CNN", "hybrid": "hybrid", "ml": "ML bound", "ncc": "NCC", "chi2": "chi2"}
    open_set = [lv.open_set for lv in result.levels]
    extra = ["accept@a", "AUROC", "FA@95"] if any(o for o in open_set) else []
    lines = [f"{'counts':>9} {'live s':>9} {'n':>7} " + " ".join(
        f"{names[m]:>9}" for m in methods) + "".join(f" {e:>9}" for e in extra)]
    curves = {m: result.curve(m)[1] for m in methods}
    for i, level in enumerate(result.levels):
        cells = " ".join(f"{curves[m][i]:>9.4f}" for m in methods)
        if extra:
            o = open_set[i] or {}
            cells += "".join(f" {_cell(o.get(key))}" for key in
                             ("true_accept", "auroc", "false_accept_at_95"))
        lines.append(f"{level.counts:>9} {level.live_time_s:>9.3f} {level.n:>7} {cells}")
    if result.fallback_counts:
        lines.append(f"hybrid: the ML peer calls below {result.fallback_counts:,} counts")
    if result.unknown_classes:
        lines.append(f"out of the library: {', '.join(result.unknown_classes)} (accept@a = "
                     "in-library spectra accepted at the model's alpha; FA@95 = out-of-library "
                     "accepted at 95 % true accepts)")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return f"{value:>9.4f}" if value is not None and np.isfinite(value) else f"{'-':>9}"


def match_classes(model_classes: list[str], data_classes: list[str],
                  source: str = "evaluation data") -> np.ndarray:
    """Model class index of every data class, shape (len(data_classes),), int64.

    Raises
    ------
    InputError
        Listing the data classes the model does not know (and the ones it does).
    """
    index = {name: i for i, name in enumerate(model_classes)}
    unknown = [name for name in data_classes if name not in index]
    if unknown:
        raise InputError(f"{source}: class(es) the model does not know: {', '.join(unknown)} "
                         f"(the model knows: {', '.join(model_classes)})")
    return np.array([index[name] for name in data_classes], dtype=np.int64)


def split_classes(model_classes: list[str], data_classes: list[str],
                  source: str = "evaluation data") -> np.ndarray:
    """Model class index of every data class, -1 for classes the model does not know (shape
    (len(data_classes),), int64).

    Raises
    ------
    InputError
        When the model knows none of the data's classes.
    """
    index = {name: i for i, name in enumerate(model_classes)}
    out = np.array([index.get(name, -1) for name in data_classes], dtype=np.int64)
    if not np.any(out >= 0):
        raise InputError(f"{source}: the model knows none of its classes "
                         f"({', '.join(data_classes)}; the model knows: "
                         f"{', '.join(model_classes)})")
    return out


def references_on_grid(references: ReferenceSet | Any, grid: EnergyGrid) -> ReferenceSet:
    """The references (or a spectrum library) rebinned onto ``grid`` when theirs differs."""
    refs = from_library(references)
    if refs.grid == grid:
        return refs
    spectra = rebin_counts(refs.spectra, refs.grid.edges, grid.edges)
    if np.any(spectra.sum(axis=1) <= 0):
        raise InputError("a reference spectrum has no counts inside the model's energy grid "
                         f"({grid.edges[0]:.1f}-{grid.edges[-1]:.1f} keV)")
    return ReferenceSet(refs.classes, grid, spectra, refs.labels)


def data_count_rate(references: Any) -> float | None:
    """Counts per live second of a library (files with a known live time), else None."""
    live = getattr(references, "live_times", None)
    if live is None:
        return None
    live = np.asarray(live, dtype=np.float64)
    known = np.isfinite(live) & (live > 0)
    if not known.any():
        return None
    return float(np.asarray(references.spectra, dtype=np.float64)[known].sum() / live[known].sum())


class KeptSampler:
    """Exact RSM-3 draws restricted to the kept channels.

    Parameters
    ----------
    probabilities
        (n_refs, n_channels) reference rows summing to 1.
    keep
        (n_channels,) bool mask of the channels a classifier sees.
    """

    def __init__(self, probabilities: np.ndarray, keep: np.ndarray) -> None:
        kept = np.asarray(probabilities, dtype=np.float64)[:, keep]
        self.mass = np.minimum(kept.sum(axis=1), 1.0)  # rounding may give 1 + 2e-16
        if np.any(self.mass <= 0):
            raise InputError(f"reference {int(np.argmax(self.mass <= 0))} has no counts in the "
                             "channels the model keeps")
        self.kept_probabilities = kept / self.mass[:, None]

    def draw(self, rows: np.ndarray, counts: int | np.ndarray, rng: np.random.Generator
             ) -> np.ndarray:
        """(B, n_kept) float32 counts of draws of ``counts`` events from references ``rows``."""
        in_kept = rng.binomial(np.broadcast_to(np.asarray(counts, np.int64), rows.shape),
                               self.mass[rows])
        return rng.multinomial(in_kept, self.kept_probabilities[rows]).astype(np.float32)


def pick_references(labels: np.ndarray, draw_labels: np.ndarray, rng: np.random.Generator
                    ) -> np.ndarray:
    """For each draw label, a reference row of that class chosen uniformly, shape like labels."""
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=int(draw_labels.max(initial=0)) + 1)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    offsets = np.minimum((rng.random(draw_labels.size) * sizes[draw_labels]).astype(np.int64),
                         sizes[draw_labels] - 1)
    return order[starts[draw_labels] + offsets]


def full_grid(kept_counts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(B, n_channels) float32 with the kept counts in place and zeros elsewhere."""
    out = np.zeros((kept_counts.shape[0], keep.size), dtype=np.float32)
    out[:, keep] = kept_counts
    return out


#: kept counts -> (network calls, (hybrid calls, called by ML) or (None, None), open-set scores)
Assess = Callable[[np.ndarray], tuple[np.ndarray, tuple, "OpenSetScores | None"]]


def evaluate(classifier: SpectrumClassifier, references: ReferenceSet | Any,
             config: EvaluateConfig | None = None) -> TaskGenerator[EvaluationResult]:
    """Evaluate a classifier and its peers per count level (a generator; see module docstring).

    Parameters
    ----------
    classifier
        Trained classifier; its ``templates`` (if stored) feed the peers.
    references
        Evaluation data: a :class:`ReferenceSet` or spectrum library; any grid (rebinned onto
        the model's), classes matched to the model's by name; classes the model does not know
        are out-of-library data for the open-set test.

    Yields
    ------
    Progress per batch; at the end of each level with ``counts``, ``live_time_s``,
    ``accuracy``, ``hybrid_accuracy`` and ``<peer>_accuracy``.

    Raises
    ------
    InputError
        The model knows none of the classes; references without counts in the kept channels.
    """
    keep = classifier.keep_mask

    def assess(kept_counts: np.ndarray):
        counts = full_grid(kept_counts, keep)
        network = classifier.predict_logits(counts, batch_size=len(counts)).argmax(axis=1)
        hybrid, ml = None, None
        if classifier.fallback_counts is not None:
            ml = classifier.uses_ml(counts)
            hybrid = network.copy()
            if ml.any():
                hybrid[ml] = classifier.ml_logits(counts[ml]).argmax(axis=1)
        scores = None
        if classifier.open_set is not None:
            pooled = (classifier.forward(counts, len(counts))[1]
                      if classifier.open_set.has_network else None)
            scores = classifier.open_set.scores(kept_counts, classifier.templates, pooled)
        return network, (hybrid, ml), scores

    config = config or EvaluateConfig()
    peers = config.peers if classifier.templates is not None else ()
    result = yield from _run(classifier.classes, classifier.grid, keep, assess,
                             classifier.templates, peers, references, config)
    result.fallback_counts = classifier.fallback_counts
    return result


def evaluate_peers(templates: np.ndarray, classes: list[str], grid: EnergyGrid,
                   keep: np.ndarray, references: ReferenceSet | Any,
                   config: EvaluateConfig | None = None) -> TaskGenerator[EvaluationResult]:
    """Peers only (no CNN): ``templates`` (C, n_kept) for ``classes`` on ``grid``'s kept channels.

    Same draws as :func:`evaluate` for the same data, keep mask and seed.
    """
    config = config or EvaluateConfig()
    templates = np.asarray(templates, dtype=np.float64)
    if templates.shape != (len(classes), int(np.sum(keep))):
        raise InputError(f"templates of shape {templates.shape} do not match {len(classes)} "
                         f"classes and {int(np.sum(keep))} kept channels")
    return (yield from _run(list(classes), grid, np.asarray(keep, bool), None, templates,
                            config.peers, references, config))


def _run(classes: list[str], grid: EnergyGrid, keep: np.ndarray, assess: Assess | None,
         templates: np.ndarray | None, peers: tuple[str, ...], references: Any,
         config: EvaluateConfig) -> TaskGenerator[EvaluationResult]:
    from engines.spectrum.openset import open_set_summary

    refs = references_on_grid(references, grid)
    true_of_label = split_classes(classes, refs.classes)
    rate = config.count_rate_cps or data_count_rate(references) or PAPER_COUNT_RATE
    sampler = KeptSampler(refs.probabilities(), keep)
    n_classes, size = len(classes), config.batch_size
    draw_labels = np.repeat(np.arange(refs.n_classes), config.draws_per_class)
    true = true_of_label[draw_labels]
    n_batches = -(-draw_labels.size // size)
    total, done, levels = len(config.counts) * n_batches, 0, []
    for k in config.counts:
        rng = np.random.default_rng([config.seed, k])
        rows = pick_references(refs.labels, draw_labels, rng)
        cnn = np.zeros((n_classes, n_classes), np.int64) if assess is not None else None
        hybrid, ml_called, open_scores = None, 0, []
        by_peer = {m: np.zeros((n_classes, n_classes), np.int64) for m in peers}
        for start in range(0, draw_labels.size, size):
            measured = sampler.draw(rows[start:start + size], k, rng)
            truth = true[start:start + size]
            known = truth >= 0
            if assess is not None:
                network, (called, by_ml), scores = assess(measured)
                cnn += confusion_matrix(truth[known], network[known], n_classes)
                if called is not None:
                    hybrid = np.zeros_like(cnn) if hybrid is None else hybrid
                    hybrid += confusion_matrix(truth[known], called[known], n_classes)
                    ml_called += int(np.sum(by_ml[known]))
                if scores is not None:
                    open_scores.append((known, scores))
            for method in peers:
                by_peer[method] += confusion_matrix(
                    truth[known], peer_predict(method, measured[known], templates), n_classes)
            done += 1
            yield Progress(done / total, f"{k} counts: batch {start // size + 1}/{n_batches}")
        n_known = int(np.sum(true >= 0))
        level = LevelResult(k, live_time_for_counts(k, rate), n_known, cnn, by_peer, hybrid,
                            ml_called / max(n_known, 1),
                            open_set_summary(open_scores) if open_scores else None)
        levels.append(level)
        scores = {f"{m}_accuracy": level.peer_accuracy(m) for m in peers}
        named = ([("CNN", level.accuracy)] if cnn is not None else []) + (
            [("hybrid", level.hybrid_accuracy)] if hybrid is not None else []) + [
            (m, level.peer_accuracy(m)) for m in peers]
        summary = "  ".join(f"{name} {value:.3f}" for name, value in named)
        yield Progress(done / total, f"{k} counts: {summary}", counts=k,
                       live_time_s=level.live_time_s, accuracy=level.accuracy,
                       hybrid_accuracy=level.hybrid_accuracy, **scores)
    known_names = [n for n, i in zip(refs.classes, true_of_label, strict=True) if i >= 0]
    unknown = [n for n, i in zip(refs.classes, true_of_label, strict=True) if i < 0]
    return EvaluationResult(list(classes), known_names, levels, float(rate),
                            config.draws_per_class, config.seed, tuple(peers), unknown)
