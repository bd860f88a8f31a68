"""Synthetic COMET CDC events: calibrated background + conversion-electron track, merged.

The embedded default sample data (DESIGN.md "Sample data"). An event is built in three steps,
each documented in its module:

1. background hits at the chosen mean occupancy, species by species, calibrated to a real
   ICEDUST file (:mod:`engines.cdc.synthetic_background`), on the absolute clock (−100…3500 ns);
2. with probability ``signal_fraction``, one 101.5 MeV/c conversion-electron track that fires
   the CTH and crosses ≥ 5 read-out layers (:mod:`engines.cdc.synthetic_signal`); its CTH time
   is the event's trigger time t0. Events without a track get a random counter and a t0 drawn
   the same way (a background trigger);
3. merge with the paper's overlap rule (Sec. 3.4), in two parts. A background hit of the same
   cell less than ``overlap_window_ns`` (the paper's fixed signal width, 100 ns) after a
   signal hit merges into it (the signal is recorded). A signal hit less than
   ``masking_window_ns`` after a background hit of its cell is hidden by it and dropped, so the
   cell shows only background. The fraction of signal hits lost is reported in the returned
   metadata (``signal_loss_fraction``). The paper quotes about 20 % on its background (hits in
   a 1.1 µs window); the calibrated background spreads its hits over 3.6 µs, where a 100 ns
   masking window would lose only a few per cent, so the default masking window is set to
   lose about 20 % at 40 % occupancy. It stands for the time a cell stays busy after a
   background pulse (the drift-cluster train of a slow, heavily ionising track and the
   read-out's double-pulse resolution) and is the parameter to change for another read-out.
   Background hits after a signal hit beyond the 100 ns stay, as real cells record several
   pulses (a longer window there would make signal cells conspicuously single-hit).

Hit times are stored relative to t0 (``trigger_time_ns`` = t0); ``occupancy`` is the background
occupancy of read-out cells before the merge (the track adds about 1.5 %). Every hit carries
Monte-Carlo truth: particle (PDG code), track number (0 = signal), momentum and turn.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engines.cdc.events import Event, EventFile
from engines.cdc.geometry import CTH_SEGMENTS
from engines.cdc.synthetic_background import BackgroundConfig, draw_background
from engines.cdc.synthetic_signal import SignalConfig, draw_signal_track, draw_trigger_time
from engines.core.config import param, validate
from engines.core.errors import InputError
from engines.core.progress import Progress, drive, forward

MAX_EVENTS = 1_000_000


@dataclass(frozen=True)
class SyntheticConfig:
    """Physics of the synthetic sample; run conditions (events, occupancy, seed) are arguments."""

    background: BackgroundConfig = param(label="Background", default_factory=BackgroundConfig,
                                         cli=False)
    signal: SignalConfig = param(label="Signal", default_factory=SignalConfig, cli=False)
    overlap_window_ns: float = param(100.0, label="Signal pulse width", unit="ns",
                                     range=(0.0, 1000.0),
                                     help="background hits this soon after a signal hit of "
                                          "their cell merge into it")
    masking_window_ns: float = param(1300.0, label="Background masking window", unit="ns",
                                     range=(0.0, 5000.0),
                                     help="a signal hit this soon after a background hit of "
                                          "its cell is hidden")

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class MergeResult:
    """Which hits survive the overlap rule: ``keep`` indices into the merged inputs, sorted by
    (cell, time), and ``signal_lost``, the signal hits hidden by an earlier background hit."""

    keep: np.ndarray
    signal_lost: int


def merge_hits(cell: np.ndarray, time_ns: np.ndarray, is_signal: np.ndarray,
               window_ns: float, masking_ns: float | None = None) -> MergeResult:
    """Apply the overlap rule between signal and background hits of the same cell.

    Parameters
    ----------
    cell, time_ns, is_signal : (n,) arrays
        All hits of the event; at most one signal hit per cell.
    window_ns
        Background hits of its cell less than this much after a recorded signal hit are hidden.
    masking_ns
        A signal hit with a background hit of its cell at most this much earlier is hidden
        (None: ``window_ns``). Background hits do not hide each other here (the background
        model keeps them apart).
    """
    masking_ns = window_ns if masking_ns is None else masking_ns
    signal = np.flatnonzero(is_signal)
    background = np.flatnonzero(~is_signal)
    # one sortable key per hit: cells far apart, times within ±1e5 ns of each other
    key = cell.astype(np.float64) * 1e6 + time_ns
    bg_order = background[np.argsort(key[background])]
    bg_key = key[bg_order]
    s_key = key[signal]
    earlier = (np.searchsorted(bg_key, s_key, "right")
               - np.searchsorted(bg_key, s_key - masking_ns, "right"))
    masked = earlier > 0  # an earlier (or simultaneous) background pulse hides the signal
    lo = np.searchsorted(bg_key, s_key[~masked], "right")
    hi = np.searchsorted(bg_key, s_key[~masked] + window_ns, "left")
    cover = np.zeros(len(bg_key) + 1, dtype=np.int64)
    np.add.at(cover, lo, 1)
    np.add.at(cover, hi, -1)
    hidden = np.zeros(len(cell), dtype=bool)
    hidden[bg_order[np.cumsum(cover[:-1]) > 0]] = True  # recorded signal hides later hits
    hidden[signal[masked]] = True
    keep = np.flatnonzero(~hidden)
    keep = keep[np.lexsort((time_ns[keep], cell[keep]))]
    return MergeResult(keep, int(np.count_nonzero(masked)))


def _make_event(number: int, rng: np.random.Generator, occupancy: float, with_signal: bool,
                config: SyntheticConfig) -> tuple[Event, dict[str, float]]:
    background = draw_background(rng, occupancy, config.background)
    stats = {"background_occupancy": background.occupancy, "signal_generated": 0,
             "signal_lost": 0, "candidates": 0}
    n_bg = len(background.cell)
    if with_signal:
        track, candidates = draw_signal_track(rng, config.signal)
        t0 = draw_trigger_time(rng, track.flight_to_cth_ns, config.signal)
        counter = track.trigger_counter
        n_sig = len(track.cell)
        sig = (track.cell, track.time_ns, track.adc, track.drift_time_ns, track.momentum_mev,
               track.turn_id)
        stats.update(signal_generated=n_sig, candidates=candidates)
    else:
        t0 = draw_trigger_time(rng, 0.0, config.signal)
        counter = int(rng.integers(0, 2 * CTH_SEGMENTS))
        n_sig = 0
        sig = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 3)),
               np.zeros(0, np.int64))
    cell = np.concatenate([background.cell, sig[0]])
    time_ns = np.concatenate([background.time_abs_ns - t0, sig[1]])
    is_signal = np.r_[np.zeros(n_bg, bool), np.ones(n_sig, bool)]
    merged = merge_hits(cell, time_ns, is_signal, config.overlap_window_ns,
                        config.masking_window_ns)
    k = merged.keep
    stats["signal_lost"] = merged.signal_lost
    event = Event(number, cell[k], time_ns[k], np.concatenate([background.adc, sig[2]])[k],
                  is_signal[k], np.r_[background.track_id, np.zeros(n_sig, np.int32)][k],
                  has_truth=True, trigger_counter=counter, trigger_time_ns=t0,
                  drift_time_ns=np.concatenate([background.drift_time_ns, sig[3]])[k],
                  pid=np.r_[background.pid, np.full(n_sig, 11, np.int32)][k],
                  momentum_mev=np.concatenate([background.momentum_mev, sig[4]])[k],
                  turn_id=np.r_[background.turn_id, sig[5]][k])
    return event, stats


def generate_events(n_events: int, occupancy: float | tuple[float, float] = 0.4, seed: int = 0,
                    signal_fraction: float = 1.0, config: SyntheticConfig | None = None,
                    chunk_size: int = 20) -> Generator[Progress, None, EventFile]:
    """Generate synthetic events; yields :class:`Progress` per chunk, returns an EventFile.

    Parameters
    ----------
    n_events
        Number of events [1, 1e6].
    occupancy
        Mean background occupancy of read-out cells [0.01, 0.95] (paper: about 0.4), or a
        (low, high) range: each event's mean is then drawn uniformly from it.
    seed
        Seed of the numpy Generator; the same arguments give the same events.
    signal_fraction
        Probability that an event contains a signal track [0, 1].
    config
        Physics parameters (defaults: :class:`SyntheticConfig`).
    chunk_size
        Events per progress report.

    Returns
    -------
    EventFile
        In-memory events numbered 0…n_events-1, ``format="memory"``; ``metadata`` holds the
        parameters and measured figures (``signal_loss_fraction``, ``mean_hits``,
        ``mean_signal_hits_generated``, ``mean_background_occupancy``, ``track_acceptance``).
    """
    config = config or SyntheticConfig()
    if not 1 <= int(n_events) <= MAX_EVENTS:
        raise InputError(f"number of events must be within 1…{MAX_EVENTS}, got {n_events}")
    low, high = (occupancy, occupancy) if np.ndim(occupancy) == 0 else tuple(occupancy)
    if not 0.01 <= low <= high <= 0.95:
        raise InputError(f"occupancy must be within 0.01…0.95, got {occupancy}")
    if not 0.0 <= signal_fraction <= 1.0:
        raise InputError(f"signal fraction must be within 0…1, got {signal_fraction}")
    n_events, chunk_size = int(n_events), max(1, int(chunk_size))
    rng = np.random.default_rng(seed)
    with_signal = rng.random(n_events) < signal_fraction
    means = rng.uniform(low, high, n_events) if high > low else np.full(n_events, low)
    events: list[Event] = []
    totals = {"background_occupancy": 0.0, "signal_generated": 0, "signal_lost": 0,
              "candidates": 0}
    for start in range(0, n_events, chunk_size):
        for number in range(start, min(n_events, start + chunk_size)):
            event, stats = _make_event(number, rng, float(means[number]),
                                       bool(with_signal[number]), config)
            events.append(event)
            for key in totals:
                totals[key] += stats[key]
        done = len(events)
        yield Progress(done / n_events, f"event {done}/{n_events}", events=done,
                       signal_loss=totals["signal_lost"] / max(1, totals["signal_generated"]))
    n_tracks = int(with_signal.sum())
    metadata = {
        "generator": "engines.cdc.synthetic", "n_events": n_events,
        "occupancy": occupancy if high == low else [low, high],
        "seed": seed, "signal_fraction": signal_fraction, "config": asdict(config),
        "mean_hits": float(np.mean([e.n_hits for e in events])),
        "mean_background_occupancy": totals["background_occupancy"] / n_events,
        "signal_tracks": n_tracks,
        "mean_signal_hits_generated": totals["signal_generated"] / max(1, n_tracks),
        "signal_hits_lost": int(totals["signal_lost"]),
        "signal_loss_fraction": totals["signal_lost"] / max(1, totals["signal_generated"]),
        "track_acceptance": n_tracks / max(1, totals["candidates"]),
    }
    return EventFile(events, source=None, format="memory", metadata=metadata)


def iter_write_sample_file(path: str | Path, n_events: int = 200, occupancy: float = 0.4,
                           seed: int = 0, signal_fraction: float = 1.0,
                           config: SyntheticConfig | None = None
                           ) -> Generator[Progress, None, Path]:
    """Generate events and write them to our HDF5 format; yields progress, returns the path."""
    from engines.cdc.hdf5_io import write_events

    events: EventFile = yield from forward(
        generate_events(n_events, occupancy, seed, signal_fraction, config), 0.0, 0.9)
    yield Progress(0.95, "writing HDF5")
    write_events(path, events, metadata=events.metadata)
    yield Progress(1.0, "done")
    return Path(path)


def write_sample_file(path: str | Path, n_events: int = 200, occupancy: float = 0.4,
                      seed: int = 0, signal_fraction: float = 1.0,
                      config: SyntheticConfig | None = None) -> Path:
    """Blocking form of :func:`iter_write_sample_file`."""
    return drive(iter_write_sample_file(path, n_events, occupancy, seed, signal_fraction, config))
