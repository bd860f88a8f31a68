"""Open any CDC event file by content, and summarise it for ``cdc info FILE``.

Formats are recognised by their first bytes, not their suffix: HDF5 files start with
``\\x89HDF\\r\\n\\x1a\\n`` (at offset 0 or a power-of-two user-block offset ≥ 512) and ROOT
files with ``root``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.cdc.events import EventFile
from engines.cdc.geometry import N_CELLS, N_READOUT, get_geometry
from engines.core.errors import InputError
from engines.core.safe_read import check_file

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
SUMMARY_CHUNK = 4096
ROOT_MAGIC = b"root"


def detect_format(path: str | Path) -> str:
    """``"hdf5"`` or ``"root"`` from the file's signature; InputError otherwise."""
    path = Path(path)
    check_file(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(8)
            if head.startswith(ROOT_MAGIC):
                return "root"
            if head == HDF5_MAGIC:
                return "hdf5"
            offset = 512
            size = path.stat().st_size
            while offset + 8 <= size and offset <= 1 << 20:
                stream.seek(offset)
                if stream.read(8) == HDF5_MAGIC:
                    return "hdf5"
                offset *= 2
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from exc
    raise InputError.for_file(path, "is neither an HDF5 nor a ROOT file")


def read_events(path: str | Path, lazy: bool | None = None) -> EventFile:
    """Read CDC events from our HDF5 format or an ICEDUST ROOT file.

    Parameters
    ----------
    lazy
        For HDF5 only: True reads events on access, False reads all now, None decides by
        size (see :func:`engines.cdc.hdf5_io.read_hdf5`). ROOT files are always read whole.
    """
    kind = detect_format(path)
    if kind == "hdf5":
        from engines.cdc.hdf5_io import read_hdf5

        return read_hdf5(path, lazy)
    from engines.cdc.root_io import read_root

    return read_root(path)


def summarize(path: str | Path) -> dict[str, Any]:
    """Facts about an event file, as printed by ``cdc info FILE`` (JSON-serialisable).

    Hits are counted in vectorised chunks of :data:`SUMMARY_CHUNK` events (for a lazy HDF5
    file straight from its columns, without building an Event per event), so the time it
    takes follows the number of hits, not the number of Python objects.

    Returns
    -------
    dict
        ``path``, ``format`` (``"lablens-hdf5"`` or ``"icedust-root"``), ``events``,
        ``hits``, ``signal_hits``, ``occupancy_mean`` (mean over events of hit read-out cells
        / 4482), ``has_truth`` (events with truth), ``trigger_known`` (events with a CTH
        counter) and ``has_scores``.
    """
    events = read_events(path, lazy=True)
    readout = ~get_geometry().is_guard
    n_events = len(events)
    hits = signal = truth = trigger = 0
    occupancy = 0.0
    scores = False
    for start in range(0, n_events, SUMMARY_CHUNK):
        stop = min(n_events, start + SUMMARY_CHUNK)
        counts, cell, is_signal, has_truth, counter, has_score = _chunk(events, start, stop)
        hits += int(counts.sum())
        signal += int(np.count_nonzero(is_signal))
        truth += int(np.count_nonzero(has_truth))
        trigger += int(np.count_nonzero(counter >= 0))
        scores = scores or has_score
        event = np.repeat(np.arange(stop - start), counts)
        pairs = np.unique(event.astype(np.int64) * N_CELLS + cell)  # (event, cell) hit at least once
        occupancy += np.count_nonzero(readout[pairs % N_CELLS]) / N_READOUT
    return {
        "path": str(Path(path)),
        "format": events.format,
        "events": n_events,
        "hits": int(hits),
        "signal_hits": int(signal),
        "occupancy_mean": float(occupancy / n_events) if n_events else 0.0,
        "has_truth": int(truth),
        "trigger_known": int(trigger),
        "has_scores": bool(scores),
    }


def _chunk(events: EventFile, start: int, stop: int) -> tuple:
    """(counts, cell, is_signal, has_truth, trigger_counter, has_score) of events start…stop-1."""
    reader = events.reader
    if reader is not None and hasattr(reader, "read_columns"):
        columns, counts = reader.read_columns(start, stop)
        has_truth, counter = reader.event_flags(start, stop)
        return (counts, columns["cell"], columns["is_signal"], has_truth, counter,
                "score" in columns and len(counts) > 0)
    batch = events[start:stop]
    return (np.array([e.n_hits for e in batch], np.int64),
            np.concatenate([e.cell for e in batch]),
            np.concatenate([e.is_signal for e in batch]),
            np.array([e.has_truth for e in batch]),
            np.array([e.trigger_counter for e in batch], np.int64),
            any(e.score is not None for e in batch))
