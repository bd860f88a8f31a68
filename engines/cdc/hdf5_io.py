"""Our flat, random-access HDF5 format for CDC events and per-hit predictions.

Layout (full description in docs/cdc_hdf5_schema.md)::

    /            attrs: format="lablens-cdc-events", version=1, content="events"|"predictions",
                        n_events, n_hits, n_cells=4986, metadata=<JSON>
    /events/     event_number int64, hit_offset int64, hit_count int64,
                 trigger_counter int16, trigger_time_ns float64, has_truth uint8   (n_events,)
    /hits/       cell int16, time_ns float32, adc float32, is_signal uint8,
                 track_id int32 [, drift_time_ns float32] [, score float32]       (n_hits,)

The hits of event ``i`` are ``/hits/*[hit_offset[i] : hit_offset[i] + hit_count[i]]``.
Files are written atomically (temporary file + ``os.replace``); readers validate everything
they use and raise :class:`InputError` naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.cdc.events import Event, EventFile
from engines.cdc.geometry import N_CELLS, N_CTH_COUNTERS
from engines.core.errors import InputError

FORMAT_NAME = "lablens-cdc-events"
FORMAT_VERSION = 1
MAX_EVENTS = 20_000_000          # sanity bound on /events lengths
MAX_HITS_PER_EVENT = 500_000     # a full chamber holds 4986 cells; generous for multi-hits
EAGER_HIT_LIMIT = 2_000_000      # read_hdf5(lazy=None) reads smaller files whole
EVENT_FIELDS = {"event_number": np.int64, "hit_offset": np.int64, "hit_count": np.int64,
                "trigger_counter": np.int16, "trigger_time_ns": np.float64,
                "has_truth": np.uint8}
HIT_FIELDS = {"cell": np.int16, "time_ns": np.float32, "adc": np.float32,
              "is_signal": np.uint8, "track_id": np.int32}
OPTIONAL_HIT_FIELDS = {"drift_time_ns": np.float32, "score": np.float32}
_CHUNK = 1 << 14


# --------------------------------------------------------------------------- writing

def _create(group: Any, name: str, dtype: type) -> Any:
    return group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                chunks=(_CHUNK,), compression="gzip", compression_opts=4,
                                shuffle=True)


def _append(dataset: Any, values: np.ndarray) -> None:
    n = dataset.shape[0]
    dataset.resize((n + len(values),))
    dataset[n:] = values


def _event_columns(batch: list[Event], scores: list[np.ndarray] | None,
                   want: dict[str, bool]) -> dict[str, np.ndarray]:
    cols = {name: np.concatenate([getattr(e, name) for e in batch]) for name in HIT_FIELDS}
    if want["drift_time_ns"]:
        cols["drift_time_ns"] = np.concatenate([
            e.drift_time_ns if e.drift_time_ns is not None else np.full(e.n_hits, np.nan)
            for e in batch])
    if scores is not None:
        cols["score"] = np.concatenate(scores)
    return cols


def write_events(path: str | Path, events: Iterable[Event], metadata: dict | None = None,
                 scores: Sequence[np.ndarray] | None = None, batch_events: int = 256) -> Path:
    """Write events (and optionally per-hit scores) to our HDF5 format, atomically.

    Parameters
    ----------
    path
        Destination ``.h5`` file; replaced only once the new file is complete.
    events
        Events to write, e.g. an :class:`EventFile` (lazy files are streamed).
    metadata
        JSON-serialisable facts stored in the root attribute ``metadata``.
    scores
        One (n_hits,) array of scores in [0, 1] per event; stored as ``/hits/score`` and the
        file's ``content`` becomes ``"predictions"``.
    """
    import h5py

    path = Path(path)
    events_list = events if isinstance(events, EventFile | list | tuple) else list(events)
    if scores is not None:
        if len(scores) != len(events_list):
            raise ValueError(f"{len(scores)} score arrays for {len(events_list)} events")
    want = {"drift_time_ns": _has_drift(events_list)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            ev_group, hit_group = h5.create_group("events"), h5.create_group("hits")
            ev_ds = {k: _create(ev_group, k, v) for k, v in EVENT_FIELDS.items()}
            hit_types = dict(HIT_FIELDS)
            if want["drift_time_ns"]:
                hit_types["drift_time_ns"] = np.float32
            if scores is not None:
                hit_types["score"] = np.float32
            hit_ds = {k: _create(hit_group, k, v) for k, v in hit_types.items()}
            n_hits, n_events, batch = 0, 0, []
            batch_scores: list[np.ndarray] | None = [] if scores is not None else None

            def flush() -> None:
                nonlocal n_hits
                counts = np.array([e.n_hits for e in batch], dtype=np.int64)
                offsets = n_hits + np.concatenate([[0], np.cumsum(counts)[:-1]])
                columns = {
                    "event_number": [e.event_number for e in batch], "hit_offset": offsets,
                    "hit_count": counts, "trigger_counter": [e.trigger_counter for e in batch],
                    "trigger_time_ns": [e.trigger_time_ns for e in batch],
                    "has_truth": [e.has_truth for e in batch]}
                for key, values in columns.items():
                    _append(ev_ds[key], np.asarray(values, dtype=EVENT_FIELDS[key]))
                for key, values in _event_columns(batch, batch_scores, want).items():
                    _append(hit_ds[key], values.astype(hit_types[key]))
                n_hits += int(counts.sum())
                batch.clear()
                if batch_scores is not None:
                    batch_scores.clear()

            for i, event in enumerate(events_list):
                if batch_scores is not None:
                    score = np.asarray(scores[i], dtype=np.float32)
                    if score.shape != (event.n_hits,) or not np.all((score >= 0) & (score <= 1)):
                        raise ValueError(f"scores of event {i} must be {event.n_hits} values "
                                         "in [0, 1]")
                    batch_scores.append(score)
                batch.append(event)
                n_events += 1
                if len(batch) >= batch_events:
                    flush()
            if batch:
                flush()
            h5.attrs.update({
                "format": FORMAT_NAME, "version": FORMAT_VERSION,
                "content": "predictions" if scores is not None else "events",
                "n_events": n_events, "n_hits": n_hits, "n_cells": N_CELLS,
                "metadata": json.dumps(metadata or {}, default=_json_default)})
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _has_drift(events: Sequence[Event]) -> bool:
    reader = getattr(events, "reader", None)
    if reader is not None and hasattr(reader, "hit_fields"):
        return "drift_time_ns" in reader.hit_fields  # no need to read a lazy file twice
    return any(e.drift_time_ns is not None for e in events)


def write_predictions(path: str | Path, events: Sequence[Event],
                      scores: Sequence[np.ndarray] | None = None,
                      metadata: dict | None = None) -> Path:
    """Write events with one (n_hits,) score array in [0, 1] per event (``analyze`` output).

    Without ``scores`` the events' own ``score`` arrays are written (all must have one).
    """
    if scores is None:
        scores = [e.score for e in events]
        if any(s is None for s in scores):
            raise ValueError("write_predictions needs scores: some events carry none")
    return write_events(path, events, metadata=metadata, scores=scores)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in metadata")


# --------------------------------------------------------------------------- reading

class Hdf5EventReader:
    """Lazy per-event access to one of our HDF5 files (opens the file per read).

    Validates the schema and the event index on construction; hit values are validated when
    read.
    """

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        with _open(self.path) as h5:
            attrs = dict(h5.attrs)
            fmt = _text(attrs.get("format"))
            if fmt != FORMAT_NAME:
                raise self._error("HDF5 file of another kind (no 'format' attribute "
                                  f"'{FORMAT_NAME}'; found {fmt!r})")
            version = attrs.get("version")
            if not isinstance(version, int | np.integer) or not 1 <= version <= FORMAT_VERSION:
                raise self._error(f"unsupported {FORMAT_NAME} version {version!r}")
            self.content = _text(attrs.get("content")) or "events"
            self.metadata = self._metadata(attrs.get("metadata"))
            index = {k: self._column(h5, "events", k, MAX_EVENTS) for k in EVENT_FIELDS}
            lengths = {len(v) for v in index.values()}
            if len(lengths) != 1:
                raise self._error("/events datasets have different lengths")
            hits = h5.get("hits")
            present = set(hits.keys()) if isinstance(hits, h5py.Group) else set()
            self.hit_fields = [*HIT_FIELDS, *(k for k in OPTIONAL_HIT_FIELDS if k in present)]
            hit_lengths = {self._dataset(h5, "hits", k).shape[0] for k in self.hit_fields}
            if len(hit_lengths) != 1:
                raise self._error("/hits datasets have different lengths")
            self.n_hits = hit_lengths.pop()
        self._validate_index(index)
        self._index = index

    def _error(self, problem: str) -> InputError:
        return InputError.for_file(self.path, problem)

    def _metadata(self, raw: Any) -> dict:
        if raw is None:
            return {}
        try:
            value = json.loads(_text(raw))
        except (TypeError, ValueError) as exc:
            raise self._error("root attribute 'metadata' is not JSON") from exc
        return value if isinstance(value, dict) else {}

    def _dataset(self, h5: Any, group: str, name: str) -> Any:
        import h5py

        item = h5.get(f"{group}/{name}")
        if not isinstance(item, h5py.Dataset):
            raise self._error(f"missing dataset /{group}/{name}")
        if item.ndim != 1 or item.dtype.kind not in "biuf":
            raise self._error(f"/{group}/{name} must be a 1-D numeric array, got shape "
                              f"{item.shape} and type {item.dtype}")
        return item

    def _column(self, h5: Any, group: str, name: str, limit: int) -> np.ndarray:
        dataset = self._dataset(h5, group, name)
        if dataset.shape[0] > limit:
            raise self._error(f"/{group}/{name} has {dataset.shape[0]} entries (limit {limit})")
        try:
            return dataset[...]
        except (OSError, ValueError) as exc:
            raise self._error(f"cannot read /{group}/{name} (truncated or corrupt file)") from exc

    def _validate_index(self, index: dict[str, np.ndarray]) -> None:
        offset, count = index["hit_offset"], index["hit_count"]
        for name in ("event_number", "hit_offset", "hit_count", "trigger_counter"):
            if index[name].dtype.kind not in "iu":
                raise self._error(f"/events/{name} must hold integers")
        if not np.all(np.isfinite(index["trigger_time_ns"])):
            raise self._error("/events/trigger_time_ns holds NaN or infinite values")
        if len(count) and (count.min() < 0 or count.max() > MAX_HITS_PER_EVENT):
            raise self._error(f"/events/hit_count outside 0…{MAX_HITS_PER_EVENT}")
        if len(offset) and (offset.min() < 0 or (offset + count).max() > self.n_hits):
            raise self._error(f"/events/hit_offset + hit_count point outside the {self.n_hits} "
                              "stored hits")
        counter = index["trigger_counter"]
        if len(counter) and (counter.min() < -1 or counter.max() >= N_CTH_COUNTERS):
            raise self._error("/events/trigger_counter outside -1…127")

    def __len__(self) -> int:
        return len(self._index["event_number"])

    @property
    def event_numbers(self) -> np.ndarray:
        return self._index["event_number"]

    @property
    def hit_counts(self) -> np.ndarray:
        return self._index["hit_count"]

    def read(self, start: int, stop: int) -> list[Event]:
        """Events ``start…stop-1`` (one slab read when their hits are stored together)."""
        offset = self._index["hit_offset"][start:stop]
        count = self._index["hit_count"][start:stop]
        if len(offset) == 0:
            return []
        lo, hi = int(offset.min()), int((offset + count).max())
        with _open(self.path) as h5:
            try:
                if hi - lo <= 2 * int(count.sum()) + _CHUNK:
                    slab = {k: h5["hits"][k][lo:hi] for k in self.hit_fields}
                    hits = [{k: v[o - lo:o - lo + c] for k, v in slab.items()}
                            for o, c in zip(offset, count, strict=True)]
                else:
                    hits = [{k: h5["hits"][k][o:o + c] for k in self.hit_fields}
                            for o, c in zip(offset, count, strict=True)]
            except (OSError, ValueError) as exc:
                raise self._error("cannot read /hits (truncated or corrupt file)") from exc
        return [self._event(start + i, h) for i, h in enumerate(hits)]

    def _event(self, i: int, hits: dict[str, np.ndarray]) -> Event:
        number = int(self._index["event_number"][i])
        where = f"event {number}"
        cell = hits["cell"]
        if cell.dtype.kind not in "iu":
            raise self._error("/hits/cell must hold integers")
        if len(cell) and (cell.min() < 0 or cell.max() >= N_CELLS):
            raise self._error(f"{where}: cell ids outside 0…{N_CELLS - 1}")
        for name in ("time_ns", "adc"):
            if not np.all(np.isfinite(hits[name])):
                raise self._error(f"{where}: /hits/{name} holds NaN or infinite values")
        score = hits.get("score")
        if score is not None and not np.all((score >= 0) & (score <= 1)):
            raise self._error(f"{where}: /hits/score outside [0, 1]")
        return Event(number, cell, hits["time_ns"], hits["adc"], hits["is_signal"] != 0,
                     hits["track_id"], bool(self._index["has_truth"][i]),
                     int(self._index["trigger_counter"][i]),
                     float(self._index["trigger_time_ns"][i]), hits.get("drift_time_ns"), score)


def _open(path: Path) -> Any:
    import h5py

    if not path.is_file():
        raise InputError.for_file(path, "no such file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError.for_file(path, "not a readable HDF5 file (truncated or another "
                                  "format)") from exc


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return value if isinstance(value, str) else (None if value is None else str(value))


def read_hdf5(path: str | Path, lazy: bool | None = None) -> EventFile:
    """Open one of our HDF5 event (or prediction) files.

    Parameters
    ----------
    lazy
        True: events are read on access; False: all events are read now; None: read now
        when the file holds at most ``EAGER_HIT_LIMIT`` hits.
    """
    reader = Hdf5EventReader(path)
    metadata = dict(reader.metadata, content=reader.content,
                    has_scores="score" in reader.hit_fields)
    events = EventFile(source=Path(path), format="lablens-hdf5", metadata=metadata,
                       reader=reader)
    if lazy is False or (lazy is None and reader.n_hits <= EAGER_HIT_LIMIT):
        return events.load()
    return events


def read_predictions(path: str | Path, lazy: bool | None = None) -> EventFile:
    """Open a file written by :func:`write_predictions`; every event carries ``score``."""
    events = read_hdf5(path, lazy)
    if not events.metadata.get("has_scores"):
        raise InputError.for_file(path, "holds events without predictions (no /hits/score)")
    return events
