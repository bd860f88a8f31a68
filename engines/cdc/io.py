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
from engines.cdc.geometry import N_READOUT, get_geometry
from engines.core.errors import InputError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ROOT_MAGIC = b"root"


def detect_format(path: str | Path) -> str:
    """``"hdf5"`` or ``"root"`` from the file's signature; InputError otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError.for_file(path, "no such file")
    if not path.is_file():
        raise InputError.for_file(path, "is not a file")
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

    Returns
    -------
    dict
        ``path``, ``format`` (``"lablens-hdf5"`` or ``"icedust-root"``), ``events``,
        ``hits``, ``signal_hits``, ``occupancy_mean`` (mean over events of hit read-out cells
        / 4482), ``has_truth`` (events with truth), ``trigger_known`` (events with a CTH
        counter) and ``has_scores``.
    """
    events = read_events(path, lazy=True)
    guard = get_geometry().is_guard
    n_events = len(events)
    hits = signal = truth = trigger = 0
    occupancy = 0.0
    scores = False
    for event in events:
        hits += event.n_hits
        signal += event.n_signal_hits
        truth += event.has_truth
        trigger += event.trigger_counter >= 0
        scores = scores or event.score is not None
        cells = np.unique(event.cell)
        occupancy += np.count_nonzero(~guard[cells]) / N_READOUT
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
