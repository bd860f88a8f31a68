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
             threshold: float | None = None, pt_mev: np.ndarray | None = None
             ) -> tuple[list[str], list[list[Any]]]:
        """CSV header and rows; purity/retention (N,) at ``threshold`` and the fitted p_T
        (MeV/c) when given (NaN -> "")."""
        header = ["event_number", "hits", "occupancy", "signal_hits"]
        scored = purity is not None and retention is not None
        if scored:
            header += ["threshold", "purity", "retention"]
        if pt_mev is not None:
            header.append("pt_mev")
        rows = []
        for i in range(len(self)):
            row: list[Any] = [int(self.event_number[i]), int(self.n_hits[i]),
                              f"{self.occupancy[i]:.5f}",
                              int(self.n_signal_hits[i]) if self.has_truth[i] else ""]
            if scored:
                row += [f"{threshold:.6g}", *("" if not np.isfinite(v) else f"{v:.5f}"
                                              for v in (purity[i], retention[i]))]
            if pt_mev is not None:
                row.append("" if not np.isfinite(pt_mev[i]) else f"{pt_mev[i]:.3f}")
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
class ScoreSet:
    """One scorer's scores of a whole file.

    Attributes
    ----------
    cells : ScoredCells
        Cell scores of every event.
    hit_scores : list of N (n_hits,) float32
        Per-hit scores (what a predictions file stores).
    threshold
        The scorer's default cut.
    curve
        Cell-level purity–retention curve (None without truth).
    name
        What produced the scores, for titles (e.g. ``"U-Net light-w32 + track fit"``).
    """

    cells: ScoredCells
    hit_scores: list[np.ndarray]
    threshold: float
    curve: CurveSummary | None
    name: str


@dataclass
class FileAnalysis:
    """Scores of a whole file and, with truth, its purity–retention curves.

    Attributes
    ----------
    unet : ScoreSet
        The U-Net's scores (or the scores stored in a predictions file).
    fitted : ScoreSet or None
        The U-Net + track fit's combined scores (None for stored scores).
    fits : list of N TrackFit or None
        The fitted circle of every event.
    has_truth
        All events carry truth: curves and purity/retention are defined.
    peer_curve
        Cell-level curve of the GBDT peer (None when not computed).
    peer_unavailable
        Why the peer was asked for but could not be cross-fitted (e.g. a file with one signal
        window), else None.
    """

    unet: ScoreSet
    fitted: ScoreSet | None
    fits: list | None
    has_truth: bool
    peer_curve: CurveSummary | None = None
    peer_unavailable: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def scores(self, use_fit: bool = True) -> ScoreSet:
        """The combined scores when asked for and present, else the U-Net's."""
        return self.fitted if use_fit and self.fitted is not None else self.unet

    @property
    def from_model(self) -> bool:
        """Whether the scores come from the loaded model (not from a predictions file)."""
        return self.fitted is not None

    def pt_mev(self) -> np.ndarray:
        """Fitted p_T of every event, (N,) float64, NaN where no track was found."""
        if not self.fits:
            return np.full(len(self.unet.cells), np.nan)
        return np.array([f.pt_mev if f.found else np.nan for f in self.fits])


def _all_truth(events: Sequence[Event]) -> bool:
    return len(events) > 0 and all(e.has_truth for e in events) and any(
        e.n_signal_hits for e in events)


def iter_analyze(segmenter, events: Sequence[Event], with_peer: bool = False,
                 batch_size: int = 16, peer_config=None) -> Generator[Progress, None, FileAnalysis]:
    """Score every event with ``segmenter`` (a :class:`engines.cdc.model.CdcSegmenter`) and
    fit its track (:mod:`engines.cdc.trackfit`).

    With ``with_peer`` and truth in every event, the GBDT peer is also fitted and scored
    (:func:`engines.cdc.peer.iter_cross_fit`); without truth the peer is skipped.
    ``peer_config`` is its :class:`engines.cdc.peer.PeerConfig`.
    """
    from engines.cdc.images import cell_scores_to_hits
    from engines.cdc.metrics import hit_scores_to_cells
    from engines.cdc.peer import iter_cross_fit
    from engines.cdc.rescoring import iter_fit_events

    n = len(events)
    if n == 0:
        raise InputError("no events to analyze")
    if with_peer and n > PEER_MAX_EVENTS:
        raise InputError(f"the peer comparison handles at most {PEER_MAX_EVENTS} events, "
                         f"the file has {n}; analyze without the peer")
    peer_span = 0.4 if with_peer else 0.0
    span = 1.0 - peer_span
    fit_config, rescorer = segmenter.fit_config(), segmenter.rescorer()
    unet_parts, fit_parts, hit_scores, fit_hits, fits = [], [], [], [], []
    for start in range(0, n, CHUNK_EVENTS):
        chunk = list(events[start:start + CHUNK_EVENTS])
        where = f"events {start + 1}–{start + len(chunk)} of {n}: "
        prediction = yield from forward(segmenter.iter_predict(chunk, batch_size),
                                        span * start / n, 0.8 * span * len(chunk) / n,
                                        "model, " + where)
        fitted = yield from forward(iter_fit_events(chunk, prediction.cell_scores, fit_config,
                                                    rescorer),
                                    span * (start + 0.8 * len(chunk)) / n,
                                    0.2 * span * len(chunk) / n, "track fit, " + where)
        unet_parts.append(ScoredCells.from_cell_scores(chunk, prediction.cell_scores))
        fit_parts.append(ScoredCells.from_cell_scores(chunk, fitted.cell_scores))
        hit_scores.extend(prediction.hit_scores)
        fit_hits.extend(cell_scores_to_hits(chunk, fitted.cell_scores, segmenter.image_config,
                                            segmenter.density))
        fits.extend(fitted.fits)
    all_events = events if isinstance(events, list) else list(events)
    truth = _all_truth(all_events)
    unet = ScoredCells.concatenate(unet_parts)
    combined = ScoredCells.concatenate(fit_parts)
    name = f"U-Net {segmenter.encoder}"
    analysis = FileAnalysis(
        ScoreSet(unet, hit_scores, segmenter.threshold, unet.summary() if truth else None,
                 name),
        ScoreSet(combined, fit_hits, fit_config.threshold,
                 combined.summary() if truth else None, f"{name} + track fit"),
        fits, truth)
    if with_peer and truth:
        from engines.cdc.metrics import cell_level

        try:
            peer_scores = yield from forward(iter_cross_fit(all_events, peer_config),
                                             1.0 - peer_span, peer_span)
        except InputError as exc:  # too few events with signal to cross-fit
            analysis.peer_unavailable = str(exc)
        else:
            analysis.peer_curve = cell_level(all_events, hit_scores_to_cells(all_events,
                                                                              peer_scores))
    yield Progress(1.0, f"analyzed {n} events")
    return analysis


def write_analysis(path: str | Path, events: Sequence[Event], analysis: FileAnalysis,
                   segmenter=None, source: str | Path | None = None,
                   use_fit: bool = True) -> Path:
    """Write the scored hits of ``analysis`` (the combined U-Net + fit scores, or the U-Net's
    with ``use_fit`` False) as a predictions file (our HDF5 format), with the one metadata
    layout that :func:`analysis_from_stored_scores` reads back: ``threshold``, ``scorer``,
    ``source`` and, for a model's scores, its ``encoder`` and ``image_config``."""
    from engines.cdc.hdf5_io import write_predictions

    scores = analysis.scores(use_fit)
    metadata: dict[str, Any] = {"threshold": scores.threshold, "scorer": scores.name,
                                "source": str(source) if source else ""}
    if segmenter is not None:
        metadata.update(encoder=segmenter.encoder,
                        image_config=segmenter.image_config.to_json())
    return write_predictions(path, events, scores.hit_scores, metadata)


def event_report(events: Sequence[Event], analysis: FileAnalysis) -> list[dict[str, Any]]:
    """One row per event: number, hits, hit cells, cells kept by the U-Net and by U-Net + fit
    at their thresholds, the fitted track (found, p_T, cells) and, with truth, signal cells
    and the event's purity and retention with the fit."""
    unet, fitted = analysis.unet, analysis.scores(True)
    u_purity, u_retention = unet.cells.per_event(unet.threshold)
    f_purity, f_retention = fitted.cells.per_event(fitted.threshold)
    rows = []
    for i, event in enumerate(events):
        _cells, u_score, signal = unet.cells.of_event(i)
        _cells, f_score, _signal = fitted.cells.of_event(i)
        row: dict[str, Any] = {"event_number": event.event_number, "hits": event.n_hits,
                               "hit_cells": int(len(u_score)),
                               "kept_cells_unet": int(np.count_nonzero(u_score
                                                                       >= unet.threshold)),
                               "kept_cells": int(np.count_nonzero(f_score >= fitted.threshold))}
        if analysis.fits:
            row["track"] = analysis.fits[i].to_json()
        if event.has_truth:
            row.update(signal_cells=int(np.count_nonzero(signal)),
                       purity=_number(f_purity[i]), retention=_number(f_retention[i]),
                       purity_unet=_number(u_purity[i]), retention_unet=_number(u_retention[i]))
        rows.append(row)
    return rows


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 5)


def iter_analyze_file(segmenter, data: str | Path, out: str | Path, batch_size: int = 16
                      ) -> Generator[Progress, None, dict[str, Any]]:
    """Score every hit of an event file, fit the tracks and write the predictions file
    ``out`` (U-Net + fit scores); returns what ``cdc analyze`` reports: ``out``, ``events``,
    ``hits``, ``hits_above_threshold``, ``threshold``, ``tracks_found``, the whole-file
    purity/retention with truth, and ``per_event`` (:func:`event_report`)."""
    from engines.cdc.io import read_events

    events = read_events(data, lazy=False)
    analysis = yield from iter_analyze(segmenter, events, batch_size=batch_size)
    write_analysis(out, events, analysis, segmenter, data)
    fitted = analysis.scores(True)
    scores = np.concatenate(fitted.hit_scores) if fitted.hit_scores else np.zeros(0)
    result: dict[str, Any] = {
        "out": str(out), "events": len(events), "hits": int(scores.size),
        "scores": "U-Net + track fit", "threshold": fitted.threshold,
        "hits_above_threshold": int(np.count_nonzero(scores >= fitted.threshold)),
        "unet_threshold": analysis.unet.threshold,
        "tracks_found": int(sum(f.found for f in analysis.fits or []))}
    if analysis.has_truth:
        for key, scored in (("with_fit", fitted), ("unet", analysis.unet)):
            purity, retention = scored.cells.overall(scored.threshold)
            result[key] = {"purity": _number(purity), "retention": _number(retention)}
    result["per_event"] = event_report(events, analysis)
    return result


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
    scorer = metadata.get("scorer") or metadata.get("encoder", "unknown model")
    return FileAnalysis(ScoreSet(model, hit_scores, min(max(threshold, 0.0), 1.0),
                                 model.summary() if truth else None,
                                 f"stored scores ({scorer})"), None, None, truth,
                        metadata=dict(metadata))


@dataclass
class OpenedFile:
    """What opening a file yields: the events, their table, stored scores (if any), the
    colour scales of its data and whether it names trigger counters."""

    events: EventFile
    table: EventTable
    analysis: FileAnalysis | None
    path: Path | None = None
    scales: Any = None
    trigger_counters: bool = False


def iter_open_events(path: str | Path) -> Generator[Progress, None, OpenedFile]:
    """Read an event file (HDF5 or ICEDUST ROOT) and index its events; InputError when it
    cannot be used (also when it holds no event)."""
    from engines.cdc.io import read_events

    path = Path(path)
    yield Progress(0.0, f"reading {path.name}")
    events = read_events(path)
    if len(events) == 0:
        raise InputError.for_file(path, "holds no event")
    from engines.cdc.display import colour_scales

    table = yield from iter_event_table(events)
    analysis = analysis_from_stored_scores(events)
    scales = colour_scales(events)
    counters = any(events[i].trigger_counter >= 0 for i in range(min(len(events), 50)))
    return OpenedFile(events, table, analysis, path, scales, counters)
