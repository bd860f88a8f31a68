"""A whole event file for browsing: per-event facts, model scores of the hit cells, curves.

The GUI's Analyze (and opening a predictions file) produce a :class:`FileAnalysis`. Scores are
kept only for hit cells (:class:`ScoredCells`, about 40 % of the 4986 cells), so a file of many
thousand events stays small in memory; per-event and whole-file purity and retention at any
threshold are vectorised over all of them (cell level, see :mod:`engines.cdc.metrics`).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.cdc.events import Event, EventFile
from engines.cdc.geometry import N_CELLS
from engines.cdc.metrics import CurveSummary, hit_scores_to_cells
from engines.core.errors import InputError
from engines.core.progress import Progress, forward

CHUNK_EVENTS = 32
PEER_MAX_EVENTS = 5000  # the GBDT fit on more hits takes too long for an interactive tool


@dataclass
class EventTable:
    """Per-event facts of a file, each (N,): ``event_number`` (int64), ``n_hits``,
    ``n_signal_hits`` (int64), ``occupancy`` (hit read-out cells / 4482) and ``has_truth``."""

    event_number: np.ndarray
    n_hits: np.ndarray
    n_signal_hits: np.ndarray
    occupancy: np.ndarray
    has_truth: np.ndarray

    def __len__(self) -> int:
        return len(self.event_number)

    def find(self, event_number: int) -> int:
        """Row of ``event_number`` (the first if repeated), -1 when absent."""
        rows = np.flatnonzero(self.event_number == int(event_number))
        return int(rows[0]) if rows.size else -1

    def rows(self, purity: np.ndarray | None = None, retention: np.ndarray | None = None,
             threshold: float | None = None) -> tuple[list[str], list[list[Any]]]:
        """CSV header and rows; purity/retention (N,) at ``threshold`` when given (NaN -> "")."""
        header = ["event_number", "hits", "occupancy", "signal_hits"]
        scored = purity is not None and retention is not None
        if scored:
            header += ["threshold", "purity", "retention"]
        rows = []
        for i in range(len(self)):
            row: list[Any] = [int(self.event_number[i]), int(self.n_hits[i]),
                              f"{self.occupancy[i]:.5f}",
                              int(self.n_signal_hits[i]) if self.has_truth[i] else ""]
            if scored:
                row += [f"{threshold:.6g}", *("" if not np.isfinite(v) else f"{v:.5f}"
                                              for v in (purity[i], retention[i]))]
            rows.append(row)
        return header, rows


def iter_event_table(events: Sequence[Event]) -> Generator[Progress, None, EventTable]:
    """Per-event facts of ``events`` (reads every event of a lazy file once)."""
    n = len(events)
    columns: dict[str, list] = {"event_number": [], "n_hits": [], "n_signal_hits": [],
                                "occupancy": [], "has_truth": []}
    for index, event in enumerate(events):
        columns["event_number"].append(event.event_number)
        columns["n_hits"].append(event.n_hits)
        columns["n_signal_hits"].append(event.n_signal_hits)
        columns["occupancy"].append(event.occupancy)
        columns["has_truth"].append(event.has_truth)
        if index % 64 == 63:
            yield Progress((index + 1) / n, f"indexing event {index + 1}/{n}")
    yield Progress(1.0, f"indexed {n} events")
    return EventTable(np.array(columns["event_number"], dtype=np.int64),
                      np.array(columns["n_hits"], dtype=np.int64),
                      np.array(columns["n_signal_hits"], dtype=np.int64),
                      np.array(columns["occupancy"], dtype=np.float64),
                      np.array(columns["has_truth"], dtype=bool))


@dataclass
class ScoredCells:
    """Scores of the hit cells of N events, stored event after event.

    Attributes
    ----------
    offsets : (N + 1,) int64
        Event ``i`` owns entries ``offsets[i]:offsets[i + 1]``.
    cell : (M,) int16
        Hit cells, sorted within each event.
    score : (M,) float32
        Cell score in [0, 1].
    signal : (M,) bool
        The cell holds a signal hit (truth; False without truth).
    """

    offsets: np.ndarray
    cell: np.ndarray
    score: np.ndarray
    signal: np.ndarray
    _event_of: np.ndarray | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_cell_scores(cls, events: Sequence[Event], cell_scores: np.ndarray) -> ScoredCells:
        """From dense cell scores (N, 4986), keeping the hit cells."""
        cells, scores, signals = [], [], []
        for event, row in zip(events, np.asarray(cell_scores), strict=True):
            hit = np.unique(event.cell).astype(np.int64)
            signal = np.zeros(N_CELLS, dtype=bool)
            signal[event.cell[event.is_signal]] = True
            cells.append(hit)
            scores.append(row[hit])
            signals.append(signal[hit])
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in cells])]).astype(np.int64)
        return cls(offsets, np.concatenate(cells or [np.zeros(0)]).astype(np.int16),
                   np.concatenate(scores or [np.zeros(0)]).astype(np.float32),
                   np.concatenate(signals or [np.zeros(0)]).astype(bool))

    @classmethod
    def from_hit_scores(cls, events: Sequence[Event], hit_scores: Sequence[np.ndarray]
                        ) -> ScoredCells:
        """From per-hit scores: a cell's score is the highest of its hits."""
        return cls.from_cell_scores(events, hit_scores_to_cells(events, hit_scores))

    @classmethod
    def concatenate(cls, parts: Sequence[ScoredCells]) -> ScoredCells:
        offsets = [np.zeros(1, np.int64)]
        total = 0
        for part in parts:
            offsets.append(part.offsets[1:] + total)
            total += int(part.offsets[-1])
        return cls(np.concatenate(offsets),
                   np.concatenate([p.cell for p in parts] or [np.zeros(0, np.int16)]),
                   np.concatenate([p.score for p in parts] or [np.zeros(0, np.float32)]),
                   np.concatenate([p.signal for p in parts] or [np.zeros(0, bool)]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of_event(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(cell, score, signal)`` arrays of event ``index``."""
        part = slice(int(self.offsets[index]), int(self.offsets[index + 1]))
        return self.cell[part], self.score[part], self.signal[part]

    def dense(self) -> np.ndarray:
        """Cell scores (N, 4986) float32, 0 on cells without a hit."""
        out = np.zeros((len(self), N_CELLS), dtype=np.float32)
        out[self.event_of, self.cell.astype(np.int64)] = self.score
        return out

    @property
    def event_of(self) -> np.ndarray:
        """Event index of every entry, (M,) int64."""
        if self._event_of is None:
            self._event_of = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        return self._event_of

    def per_event(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Purity and retention of each event at ``threshold``, two (N,) float64 arrays with
        NaN where undefined (nothing kept / no signal cell)."""
        n = len(self)
        kept = self.score >= threshold
        tp = np.bincount(self.event_of, weights=kept & self.signal, minlength=n)
        n_kept = np.bincount(self.event_of, weights=kept, minlength=n)
        n_signal = np.bincount(self.event_of, weights=self.signal, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            purity = np.where(n_kept > 0, tp / n_kept, np.nan)
            retention = np.where(n_signal > 0, tp / n_signal, np.nan)
        return purity, retention

    def overall(self, threshold: float) -> tuple[float, float]:
        """Purity and retention over all hit cells of all events at ``threshold``."""
        kept = self.score >= threshold
        tp = np.count_nonzero(kept & self.signal)
        n_kept, n_signal = np.count_nonzero(kept), np.count_nonzero(self.signal)
        return (tp / n_kept if n_kept else float("nan"),
                tp / n_signal if n_signal else float("nan"))

    def summary(self) -> CurveSummary:
        """The cell-level purity–retention curve."""
        return CurveSummary.from_scores(self.signal, self.score)


@dataclass
class FileAnalysis:
    """Scores of a whole file and, with truth, its purity–retention curves.

    Attributes
    ----------
    model : ScoredCells
        Cell scores of every event.
    hit_scores : list of N (n_hits,) float32
        Per-hit scores (what a predictions file stores).
    threshold
        The scorer's default cut (the model's threshold, or the one stored with predictions).
    has_truth
        All events carry truth: curves and purity/retention are defined.
    model_curve, peer_curve
        Cell-level curves of the model and of the GBDT peer (None when not computed).
    scorer
        What produced the scores, for titles (e.g. ``"U-Net efficientnet-b0"``).
    """

    model: ScoredCells
    hit_scores: list[np.ndarray]
    threshold: float
    has_truth: bool
    model_curve: CurveSummary | None = None
    peer_curve: CurveSummary | None = None
    scorer: str = "model"
    metadata: dict[str, Any] = field(default_factory=dict)


def _all_truth(events: Sequence[Event]) -> bool:
    return len(events) > 0 and all(e.has_truth for e in events) and any(
        e.n_signal_hits for e in events)


def iter_analyze(segmenter, events: Sequence[Event], with_peer: bool = False,
                 batch_size: int = 16, peer_config=None) -> Generator[Progress, None, FileAnalysis]:
    """Score every event with ``segmenter`` (a :class:`engines.cdc.model.CdcSegmenter`).

    With ``with_peer`` and truth in every event, the GBDT peer is also fitted and scored
    (:func:`engines.cdc.evaluation.iter_evaluate`, reusing the model's scores); without truth
    the peer is skipped. ``peer_config`` is its :class:`engines.cdc.peer.PeerConfig`.
    """
    from engines.cdc.evaluation import iter_evaluate
    from engines.cdc.model import Prediction

    n = len(events)
    if n == 0:
        raise InputError("no events to analyze")
    if with_peer and n > PEER_MAX_EVENTS:
        raise InputError(f"the peer comparison handles at most {PEER_MAX_EVENTS} events, "
                         f"the file has {n}; analyze without the peer")
    peer_span = 0.4 if with_peer else 0.0
    parts, hit_scores = [], []
    for start in range(0, n, CHUNK_EVENTS):
        chunk = list(events[start:start + CHUNK_EVENTS])
        prediction = yield from forward(
            segmenter.iter_predict(chunk, batch_size), (1.0 - peer_span) * start / n,
            (1.0 - peer_span) * len(chunk) / n, f"model, events {start + 1}–{start + len(chunk)}"
                                                f" of {n}: ")
        parts.append(ScoredCells.from_cell_scores(chunk, prediction.cell_scores))
        hit_scores.extend(prediction.hit_scores)
    model = ScoredCells.concatenate(parts)
    all_events = events if isinstance(events, list) else list(events)
    truth = _all_truth(all_events)
    analysis = FileAnalysis(model, hit_scores, segmenter.threshold, truth,
                            model.summary() if truth else None,
                            scorer=f"U-Net {segmenter.encoder}")
    if with_peer and truth:
        evaluation = yield from forward(
            iter_evaluate(segmenter, all_events, with_peer=True, peer_config=peer_config,
                          prediction=Prediction(model.dense(), hit_scores)),
            1.0 - peer_span, peer_span)
        analysis.peer_curve = evaluation.peer.cell
    yield Progress(1.0, f"analyzed {n} events")
    return analysis


def write_analysis(path: str | Path, events: Sequence[Event], analysis: FileAnalysis,
                   segmenter=None, source: str | Path | None = None) -> Path:
    """Write the scored hits of ``analysis`` as a predictions file (our HDF5 format), with the
    one metadata layout that :func:`analysis_from_stored_scores` reads back: ``threshold``,
    ``scorer``, ``source`` and, for a model's scores, its ``encoder`` and ``image_config``."""
    from engines.cdc.hdf5_io import write_predictions

    metadata: dict[str, Any] = {"threshold": analysis.threshold, "scorer": analysis.scorer,
                                "source": str(source) if source else ""}
    if segmenter is not None:
        metadata.update(encoder=segmenter.encoder,
                        image_config=segmenter.image_config.to_json())
    return write_predictions(path, events, analysis.hit_scores, metadata)


def iter_analyze_file(segmenter, data: str | Path, out: str | Path, batch_size: int = 16
                      ) -> Generator[Progress, None, dict[str, Any]]:
    """Score every hit of an event file and write the predictions file ``out``; returns what
    ``cdc analyze`` reports: ``out``, ``events``, ``hits``, ``hits_above_threshold``,
    ``threshold``."""
    from engines.cdc.io import read_events

    events = read_events(data, lazy=False)
    analysis = yield from iter_analyze(segmenter, events, batch_size=batch_size)
    write_analysis(out, events, analysis, segmenter, data)
    scores = np.concatenate(analysis.hit_scores) if analysis.hit_scores else np.zeros(0)
    return {"out": str(out), "events": len(events), "hits": int(scores.size),
            "hits_above_threshold": int(np.count_nonzero(scores >= segmenter.threshold)),
            "threshold": segmenter.threshold}


def analysis_from_stored_scores(events: Sequence[Event]) -> FileAnalysis | None:
    """A :class:`FileAnalysis` from the scores stored in a predictions file; None when the
    events carry no scores."""
    metadata = getattr(events, "metadata", {}) or {}
    if len(events) == 0 or metadata.get("has_scores") is False:
        return None
    if any(e.score is None for e in events):
        return None
    hit_scores = [e.score for e in events]
    model = ScoredCells.from_hit_scores(events, hit_scores)
    try:
        threshold = float(metadata.get("threshold", 0.5))
    except (TypeError, ValueError):
        threshold = 0.5
    truth = _all_truth(events)
    return FileAnalysis(model, hit_scores, min(max(threshold, 0.0), 1.0), truth,
                        model.summary() if truth else None,
                        scorer=f"stored scores ({metadata.get('encoder', 'unknown model')})",
                        metadata=dict(metadata))


@dataclass
class OpenedFile:
    """What opening a file yields: the events, their table and stored scores (if any)."""

    events: EventFile
    table: EventTable
    analysis: FileAnalysis | None
    path: Path | None = None


def iter_open_events(path: str | Path) -> Generator[Progress, None, OpenedFile]:
    """Read an event file (HDF5 or ICEDUST ROOT) and index its events; InputError when it
    cannot be used (also when it holds no event)."""
    from engines.cdc.io import read_events

    path = Path(path)
    yield Progress(0.0, f"reading {path.name}")
    events = read_events(path)
    if len(events) == 0:
        raise InputError.for_file(path, "holds no event")
    table = yield from iter_event_table(events)
    analysis = analysis_from_stored_scores(events)
    return OpenedFile(events, table, analysis, path)
