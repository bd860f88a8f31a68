"""Our flat, random-access HDF5 format for CDC events and per-hit predictions.

Layout (full description in docs/cdc_hdf5_schema.md)::

    /            attrs: format="lablens-cdc-events", version=1, content="events"|"predictions",
                        n_events, n_hits, n_cells=4986, metadata=<JSON>
    /events/     event_number int64, hit_offset int64, hit_count int64,
                 trigger_counter int16, trigger_time_ns float64, has_truth uint8   (n_events,)
    /hits/       cell int16, time_ns float32, adc float32, is_signal uint8,
                 track_id int32 [, drift_time_ns float32] [, score float32]
                 [, pid int32, turn_id int32, px_mev, py_mev, pz_mev float32]        (n_hits,)

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
from engines.core.hdf5_guard import check_global_heaps
from engines.core.safe_read import (
    MAX_COMPRESSION_RATIO,
    check_declared,
    check_file,
    finite_after_cast,
    reading,
)
from engines.core.safe_text import parse_json_safely

FORMAT_NAME = "lablens-cdc-events"
FORMAT_VERSION = 1
MAX_EVENTS = 20_000_000          # sanity bound on /events lengths
MAX_HITS_PER_EVENT = 500_000     # a full chamber holds 4986 cells; generous for multi-hits
EAGER_HIT_LIMIT = 2_000_000      # read_hdf5(lazy=None) reads smaller files whole
EAGER_EVENT_LIMIT = 100_000      # ... with at most this many events
MAX_METADATA_CHARS = 1 << 20     # the JSON root attribute 'metadata'
EVENT_FIELDS = {"event_number": np.int64, "hit_offset": np.int64, "hit_count": np.int64,
                "trigger_counter": np.int16, "trigger_time_ns": np.float64,
                "has_truth": np.uint8}
HIT_FIELDS = {"cell": np.int16, "time_ns": np.float32, "adc": np.float32,
              "is_signal": np.uint8, "track_id": np.int32}
#: Monte-Carlo truth, each group written when any event carries it (``momentum_mev`` as three
#: columns; NaN / 0 / -1 where a hit has none)
MC_FIELDS = {"pid": {"pid": np.int32}, "turn_id": {"turn_id": np.int32},
             "momentum_mev": {"px_mev": np.float32, "py_mev": np.float32,
                              "pz_mev": np.float32}}
OPTIONAL_HIT_FIELDS = {"drift_time_ns": np.float32, "score": np.float32,
                       **{k: v for group in MC_FIELDS.values() for k, v in group.items()}}
_MISSING = {"pid": 0, "turn_id": -1, "momentum_mev": np.nan}
_CHUNK = 1 << 14
_LOCAL_LAYOUTS = (0, 1, 2)  # H5D_COMPACT, H5D_CONTIGUOUS, H5D_CHUNKED (not virtual)


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
    for name, columns in MC_FIELDS.items():
        if want[name]:
            values = np.concatenate([
                getattr(e, name) if getattr(e, name) is not None else
                np.full((e.n_hits, len(columns)) if len(columns) > 1 else e.n_hits,
                        _MISSING[name]) for e in batch])
            for j, column in enumerate(columns):
                cols[column] = values[:, j] if len(columns) > 1 else values
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
    want = _present(events_list)
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
            for name, columns in MC_FIELDS.items():
                if want[name]:
                    hit_types.update(columns)
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


def _present(events: Sequence[Event]) -> dict[str, bool]:
    """Which optional hit fields (drift time, each MC-truth group) any of ``events`` carries."""
    reader = getattr(events, "reader", None)
    if reader is not None and hasattr(reader, "hit_fields"):  # no need to read a file twice
        fields = reader.hit_fields
        return {"drift_time_ns": "drift_time_ns" in fields,
                **{name: all(c in fields for c in columns) for name, columns in MC_FIELDS.items()}}
    return {name: any(getattr(e, name) is not None for e in events)
            for name in ("drift_time_ns", *MC_FIELDS)}


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
    read. Every dataset must be a hard link (no soft or external links), hold plain numbers in
    local storage, and its declared length must fit the bytes that store it (at the best
    DEFLATE ratio), so work and memory follow the file's size, not what its header claims.
    Events may not share hits: their hit ranges must not overlap.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with reading(self.path, "HDF5 event file"):
            check_file(self.path)
            check_global_heaps(self.path)
            with _open(self.path) as h5:
                self._attributes(h5)
                events, hits = self._group(h5, "events"), self._group(h5, "hits")
                index = {k: self._column(events, "events", k, MAX_EVENTS) for k in EVENT_FIELDS}
                if len({len(v) for v in index.values()}) != 1:
                    raise self._error("/events datasets have different lengths")
                present = set(hits.keys())
                self.hit_fields = [*HIT_FIELDS, *(k for k in OPTIONAL_HIT_FIELDS if k in present)]
                hit_lengths = {self._dataset(hits, "hits", k).shape[0] for k in self.hit_fields}
                if len(hit_lengths) != 1:
                    raise self._error("/hits datasets have different lengths")
                self.n_hits = int(hit_lengths.pop())
            self._index = self._validate_index(index)
        for key, actual in (("n_events", len(self)), ("n_hits", self.n_hits)):
            declared = self._declared.get(key)
            if declared is not None and declared != actual:
                raise self._error(f"root attribute {key} = {declared} but the file holds "
                                  f"{actual}")

    def _error(self, problem: str) -> InputError:
        return InputError.for_file(self.path, problem)

    def _attributes(self, h5: Any) -> None:
        """Read and check the root attributes we use (and no others)."""
        attrs = h5.attrs
        fmt = _text(attrs["format"]) if "format" in attrs else None
        if fmt != FORMAT_NAME:
            raise self._error("HDF5 file of another kind (no 'format' attribute "
                              f"'{FORMAT_NAME}'; found {str(fmt)[:40]!r})")
        version = attrs["version"] if "version" in attrs else None
        if not isinstance(version, int | np.integer) or not 1 <= version <= FORMAT_VERSION:
            raise self._error(f"unsupported {FORMAT_NAME} version {str(version)[:40]!r}")
        self.content = (_text(attrs["content"]) if "content" in attrs else None) or "events"
        if self.content not in ("events", "predictions"):
            raise self._error(f"unknown content {self.content[:40]!r}")
        self.metadata = self._metadata(attrs["metadata"] if "metadata" in attrs else None)
        self._declared: dict[str, int] = {}
        for key in ("n_events", "n_hits"):
            value = attrs[key] if key in attrs else None
            if value is not None and not isinstance(value, int | np.integer):
                raise self._error(f"root attribute {key} is not an integer")
            if value is not None:
                self._declared[key] = int(value)

    def _metadata(self, raw: Any) -> dict:
        if raw is None:
            return {}
        text = _text(raw)
        if text is None or len(text) > MAX_METADATA_CHARS:
            raise self._error(f"root attribute 'metadata' is not JSON text of at most "
                              f"{MAX_METADATA_CHARS} characters")
        try:
            value = parse_json_safely(text, self.path)
        except InputError as exc:
            raise self._error(f"root attribute 'metadata': "
                              f"{str(exc).removeprefix(self.path.name + ': ')}") from None
        return value if isinstance(value, dict) else {}

    def _hard_link(self, parent: Any, name: str, where: str) -> Any:
        import h5py

        link = parent.get(name, getlink=True)
        if link is None:
            raise self._error(f"missing {where}")
        if not isinstance(link, h5py.HardLink):
            raise self._error(f"{where} is a {type(link).__name__} (links are not part of the "
                              "format)")
        return parent[name]

    def _group(self, h5: Any, name: str) -> Any:
        import h5py

        group = self._hard_link(h5, name, f"group /{name}")
        if not isinstance(group, h5py.Group):
            raise self._error(f"/{name} is not a group")
        return group

    def _dataset(self, group: Any, group_name: str, name: str) -> Any:
        """A 1-D numeric dataset in local storage whose length fits its stored bytes."""
        import h5py

        where = f"/{group_name}/{name}"
        item = self._hard_link(group, name, f"dataset {where}")
        if not isinstance(item, h5py.Dataset):
            raise self._error(f"missing dataset {where}")
        if item.ndim != 1 or item.dtype.kind not in "biuf":
            raise self._error(f"{where} must be a 1-D numeric array, got shape "
                              f"{item.shape} and type {item.dtype}")
        plist = item.id.get_create_plist()
        if plist.get_layout() not in _LOCAL_LAYOUTS or plist.get_external_count():
            raise self._error(f"{where} keeps its data outside this file")
        ratio = MAX_COMPRESSION_RATIO if plist.get_nfilters() else 1
        check_declared(item.shape[0], item.dtype.itemsize, self.path,
                       available=item.id.get_storage_size(), ratio=ratio, what=where)
        return item

    def _column(self, group: Any, group_name: str, name: str, limit: int) -> np.ndarray:
        dataset = self._dataset(group, group_name, name)
        if dataset.shape[0] > limit:
            raise self._error(f"/{group_name}/{name} has {dataset.shape[0]} entries "
                              f"(limit {limit})")
        return dataset[...]

    def _validate_index(self, index: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The index cast to its documented types; every range checked without overflow."""
        for name in ("event_number", "hit_offset", "hit_count", "trigger_counter", "has_truth"):
            if index[name].dtype.kind not in "biu":
                raise self._error(f"/events/{name} must hold integers")
        out = {name: finite_after_cast(index[name], np.int64, f"/events/{name}", self.path)
               for name in ("event_number", "hit_offset", "hit_count", "trigger_counter")}
        out["trigger_time_ns"] = finite_after_cast(index["trigger_time_ns"], np.float64,
                                                   "/events/trigger_time_ns", self.path)
        out["has_truth"] = index["has_truth"] != 0
        offset, count = out["hit_offset"], out["hit_count"]
        if len(count) and (count.min() < 0 or count.max() > MAX_HITS_PER_EVENT):
            raise self._error(f"/events/hit_count outside 0…{MAX_HITS_PER_EVENT}")
        # offset + count <= n_hits, written so that nothing can overflow
        if len(offset) and (offset.min() < 0 or np.any(offset > self.n_hits - count)):
            raise self._error(f"/events/hit_offset + hit_count point outside the {self.n_hits} "
                              "stored hits")
        used = count > 0
        starts, ends = offset[used], offset[used] + count[used]
        if np.any(starts[1:] < starts[:-1]):
            order = np.argsort(starts, kind="stable")
            starts, ends = starts[order], ends[order]
        if np.any(starts[1:] < ends[:-1]):
            raise self._error("/events/hit_offset and hit_count give overlapping hit ranges "
                              "(events may not share hits)")
        counter = out["trigger_counter"]
        if len(counter) and (counter.min() < -1 or counter.max() >= N_CTH_COUNTERS):
            raise self._error(f"/events/trigger_counter outside -1…{N_CTH_COUNTERS - 1}")
        return out

    def __len__(self) -> int:
        return len(self._index["event_number"])

    @property
    def event_numbers(self) -> np.ndarray:
        return self._index["event_number"]

    @property
    def hit_counts(self) -> np.ndarray:
        return self._index["hit_count"]

    def event_flags(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """``has_truth`` (bool) and ``trigger_counter`` (int64) of events start…stop-1."""
        return self._index["has_truth"][start:stop], self._index["trigger_counter"][start:stop]

    def read_columns(self, start: int, stop: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Validated hit columns of events ``start…stop-1`` and their (n_events,) hit counts.

        The columns hold the events' hits one event after the other (one slab read when the
        hits are stored together); ``time_ns``, ``adc``, ``drift_time_ns`` and ``score`` are
        float32, ``cell`` and ``track_id`` int32, ``is_signal`` bool.
        """
        offset = self._index["hit_offset"][start:stop]
        count = self._index["hit_count"][start:stop]
        total = int(count.sum())
        with reading(self.path, "HDF5 event file"), _open(self.path) as h5:
            hits = h5["hits"]
            if len(offset) == 0:
                raw = {k: np.zeros(0, hits[k].dtype) for k in self.hit_fields}
            elif (hi := int((offset + count).max())) - (lo := int(offset.min())) \
                    <= 2 * total + _CHUNK:
                before = np.concatenate(([0], np.cumsum(count)[:-1]))
                take = np.arange(total) + np.repeat(offset - lo - before, count)
                raw = {k: hits[k][lo:hi][take] for k in self.hit_fields}
            else:
                raw = {k: np.concatenate([hits[k][o:o + c] for o, c in zip(offset, count,
                                                                            strict=True)])
                       for k in self.hit_fields}
            return self._checked(raw, start, stop), count

    def _checked(self, raw: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
        numbers = self._index["event_number"][start:stop]
        where = (f"event {numbers[0]}" if len(numbers) == 1 else
                 f"events {numbers[0]}…{numbers[-1]}") if len(numbers) else "no events"
        cell = raw["cell"]
        if cell.dtype.kind not in "iu":
            raise self._error("/hits/cell must hold integers")
        if len(cell) and (cell.min() < 0 or cell.max() >= N_CELLS):
            raise self._error(f"{where}: cell ids outside 0…{N_CELLS - 1}")
        out = {"cell": cell.astype(np.int32), "is_signal": raw["is_signal"] != 0}
        for name in ("time_ns", "adc"):
            out[name] = finite_after_cast(raw[name], np.float32, f"{where}: /hits/{name}",
                                          self.path)
        out["track_id"] = finite_after_cast(raw["track_id"], np.int32, f"{where}: /hits/track_id",
                                            self.path)
        if "drift_time_ns" in raw:  # NaN marks a missing drift time
            out["drift_time_ns"] = finite_after_cast(raw["drift_time_ns"], np.float32,
                                                     f"{where}: /hits/drift_time_ns", self.path,
                                                     allow_nan=True)
        if "score" in raw:
            score = raw["score"].astype(np.float32)
            if not np.all((score >= 0) & (score <= 1)):
                raise self._error(f"{where}: /hits/score outside [0, 1]")
            out["score"] = score
        for name in ("pid", "turn_id"):
            if name in raw:
                if raw[name].dtype.kind not in "iu":
                    raise self._error(f"/hits/{name} must hold integers")
                out[name] = finite_after_cast(raw[name], np.int32, f"{where}: /hits/{name}",
                                              self.path)
        if all(c in raw for c in MC_FIELDS["momentum_mev"]):  # NaN where a hit has none
            out["momentum_mev"] = np.column_stack([
                finite_after_cast(raw[c], np.float32, f"{where}: /hits/{c}", self.path,
                                  allow_nan=True) for c in MC_FIELDS["momentum_mev"]])
        return out

    def read(self, start: int, stop: int) -> list[Event]:
        """Events ``start…stop-1``."""
        columns, count = self.read_columns(start, stop)
        bounds = np.cumsum(count)[:-1]
        parts = {k: np.split(v, bounds) for k, v in columns.items()}
        index = self._index
        return [Event(int(index["event_number"][i]), parts["cell"][j], parts["time_ns"][j],
                      parts["adc"][j], parts["is_signal"][j], parts["track_id"][j],
                      bool(index["has_truth"][i]), int(index["trigger_counter"][i]),
                      float(index["trigger_time_ns"][i]),
                      parts["drift_time_ns"][j] if "drift_time_ns" in parts else None,
                      parts["score"][j] if "score" in parts else None,
                      **{name: parts[name][j] for name in MC_FIELDS if name in parts})
                for j, i in enumerate(range(start, start + len(count)))]


def _open(path: Path) -> Any:
    import h5py

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
    if lazy is False or (lazy is None and reader.n_hits <= EAGER_HIT_LIMIT
                         and len(reader) <= EAGER_EVENT_LIMIT):
        return events.load()
    return events


def read_predictions(path: str | Path, lazy: bool | None = None) -> EventFile:
    """Open a file written by :func:`write_predictions`; every event carries ``score``."""
    events = read_hdf5(path, lazy)
    if not events.metadata.get("has_scores"):
        raise InputError.for_file(path, "holds events without predictions (no /hits/score)")
    return events
