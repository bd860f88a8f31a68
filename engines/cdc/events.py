"""Typed containers for CDC events: :class:`Event` (one trigger window) and :class:`EventFile`.

Times are in ns relative to the event's trigger time (the CTH reference time) unless the
trigger time is unknown, in which case ``trigger_time_ns`` is 0 and times are as recorded
(absolute on the simulation's clock, e.g. −100…3500 ns in ICEDUST files).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

from engines.cdc.geometry import N_CELLS, N_CTH_COUNTERS, N_READOUT, get_geometry

_HIT_FIELDS = {"cell": np.int32, "time_ns": np.float32, "adc": np.float32, "is_signal": np.bool_,
               "track_id": np.int32}
_OPTIONAL_FIELDS = {"drift_time_ns": np.float32, "score": np.float32, "pid": np.int32,
                    "turn_id": np.int32}

#: PDG codes of the particles of ICEDUST's ``fTrack.fPID`` and their names
PARTICLE_NAMES = {11: "e-", -11: "e+", 13: "mu-", -13: "mu+", 22: "gamma", 211: "pi+",
                  -211: "pi-", 2112: "neutron", 2212: "proton", 1000010020: "deuteron",
                  1000010030: "triton", 1000020040: "alpha"}


def particle_name(pdg: int) -> str:
    """Name of a PDG code (``"PDG 321"`` for codes outside :data:`PARTICLE_NAMES`)."""
    return PARTICLE_NAMES.get(int(pdg), f"PDG {int(pdg)}")


@dataclass(eq=False)
class Event:
    """The hits of one trigger window.

    Parameters
    ----------
    event_number
        Event number as recorded in the source file.
    cell : (n_hits,) int32
        Cell index 0…4985 (see :mod:`engines.cdc.geometry`).
    time_ns : (n_hits,) float32
        Detected hit time relative to the trigger time, ns.
    adc : (n_hits,) float32
        Pulse charge in the file's own units: ICEDUST's ``fCharge`` (simulation units, about
        1…10⁵) or ADC counts. Image features use its logarithm relative to the event's median
        (:mod:`engines.cdc.features`), so the unit does not matter.
    is_signal : (n_hits,) bool
        Truth label: hit from the conversion-electron track (all False without truth).
    track_id : (n_hits,) int32
        Monte-Carlo track number of each hit when the source has it (synthetic events: 0 for
        the signal track, 1… for background tracks); -1 where unknown.
    has_truth
        Whether ``is_signal``/``track_id`` carry truth.
    trigger_counter
        CTH counter 0…127 that fired, -1 when unknown.
    trigger_time_ns
        Trigger time on the source's clock, ns (0 when unknown).
    drift_time_ns : (n_hits,) float32 or None
        Drift time of each hit, ns, when the source provides it.
    score : (n_hits,) float32 or None
        Per-hit signal score in [0, 1] from a model, when the event was analysed.
    pid : (n_hits,) int32 or None
        Monte-Carlo truth: PDG code of the particle that made each hit (0 unknown).
    momentum_mev : (n_hits, 3) float32 or None
        Monte-Carlo truth: (p_x, p_y, p_z) of that particle at the hit, MeV/c (NaN unknown).
    turn_id : (n_hits,) int32 or None
        Monte-Carlo truth: turn of the helix the hit belongs to (ICEDUST ``fTurnID``; -1
        unknown).

    Hits may appear in any order; several hits may share a cell.
    """

    event_number: int
    cell: np.ndarray
    time_ns: np.ndarray
    adc: np.ndarray
    is_signal: np.ndarray | None = None
    track_id: np.ndarray | None = None
    has_truth: bool = False
    trigger_counter: int = -1
    trigger_time_ns: float = 0.0
    drift_time_ns: np.ndarray | None = None
    score: np.ndarray | None = None
    pid: np.ndarray | None = None
    momentum_mev: np.ndarray | None = None
    turn_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = np.asarray(self.cell).shape[0] if np.ndim(self.cell) == 1 else -1
        if n < 0:
            raise ValueError("Event.cell must be a 1-D array")
        if self.is_signal is None:
            self.is_signal = np.zeros(n, dtype=bool)
        if self.track_id is None:
            self.track_id = np.full(n, -1, dtype=np.int32)
        for name, dtype in _HIT_FIELDS.items():
            setattr(self, name, _hit_array(getattr(self, name), dtype, n, name))
        for name, dtype in _OPTIONAL_FIELDS.items():
            if getattr(self, name) is not None:
                setattr(self, name, _hit_array(getattr(self, name), dtype, n, name))
        if self.momentum_mev is not None:
            momentum = np.ascontiguousarray(self.momentum_mev, dtype=np.float32)
            if momentum.shape != (n, 3):
                raise ValueError(f"Event.momentum_mev has shape {momentum.shape}, "
                                 f"expected ({n}, 3)")
            self.momentum_mev = momentum
        if n and (self.cell.min() < 0 or self.cell.max() >= N_CELLS):
            raise ValueError(f"cell index outside 0…{N_CELLS - 1}")
        if not -1 <= int(self.trigger_counter) < N_CTH_COUNTERS:
            raise ValueError(f"trigger counter {self.trigger_counter} outside -1…127")
        self.event_number = int(self.event_number)
        self.trigger_counter = int(self.trigger_counter)
        self.trigger_time_ns = float(self.trigger_time_ns)
        self.has_truth = bool(self.has_truth)

    @property
    def n_hits(self) -> int:
        return int(self.cell.shape[0])

    @property
    def hit_cells(self) -> np.ndarray:
        """Sorted unique cells with at least one hit, (n_cells_hit,) int32."""
        return np.unique(self.cell)

    @property
    def signal_cells(self) -> np.ndarray:
        """Sorted unique cells with at least one signal hit, (n,) int32."""
        return np.unique(self.cell[self.is_signal])

    @property
    def n_signal_hits(self) -> int:
        return int(np.count_nonzero(self.is_signal))

    @property
    def trigger_time_known(self) -> bool:
        """Whether hit times are relative to a measured trigger (CTH) time: a trigger counter
        is known or the trigger time is not the 0 that stands for "unknown"."""
        return self.trigger_counter >= 0 or self.trigger_time_ns != 0.0

    @property
    def has_mc_truth(self) -> bool:
        """Whether per-hit Monte-Carlo truth (particle, momentum or turn) is present."""
        return any(v is not None for v in (self.pid, self.momentum_mev, self.turn_id))

    @property
    def occupancy(self) -> float:
        """Fraction of the 4482 read-out cells with at least one hit."""
        cells = self.hit_cells
        return float(np.count_nonzero(~get_geometry().is_guard[cells])) / N_READOUT

    def select(self, mask: np.ndarray) -> Event:
        """A copy keeping only the hits where ``mask`` (n_hits,) bool is True."""
        per_hit = ("cell", "time_ns", "adc", "is_signal", "track_id", *_OPTIONAL_FIELDS,
                   "momentum_mev")
        return replace(self, **{name: None if getattr(self, name) is None
                                else getattr(self, name)[mask] for name in per_hit})

    def with_score(self, score: np.ndarray) -> Event:
        """A copy carrying per-hit model scores, (n_hits,) float in [0, 1]."""
        return replace(self, score=score)

    def without_trigger(self) -> Event:
        """A copy as a file without CTH times would hold it: absolute hit times, trigger
        counter and time unknown (as in ICEDUST files whose ``CTHHitTree`` has no time)."""
        return replace(self, time_ns=self.time_ns + np.float32(self.trigger_time_ns),
                       trigger_counter=-1, trigger_time_ns=0.0)


def _hit_array(values: Any, dtype: type, n: int, name: str) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.shape != (n,):
        raise ValueError(f"Event.{name} has shape {array.shape}, expected ({n},)")
    return array


class EventReader(Protocol):
    """What a lazy file back-end offers to :class:`EventFile`."""

    def __len__(self) -> int: ...

    @property
    def event_numbers(self) -> np.ndarray: ...

    def read(self, start: int, stop: int) -> list[Event]: ...


@dataclass(eq=False)
class EventFile(Sequence[Event]):
    """A list-like collection of events, held in memory or read lazily from a file.

    Parameters
    ----------
    events
        The events, when held in memory.
    source
        File the events came from (None for generated events).
    format
        ``"lablens-hdf5"``, ``"icedust-root"`` or ``"memory"``.
    metadata
        Free-form facts about the collection (generator parameters, file attributes).
    reader
        Lazy back-end; when given, ``events`` must be empty and events are read on access
        (the last ``cache_size`` events are kept).
    """

    events: list[Event] = field(default_factory=list)
    source: Path | None = None
    format: str = "memory"
    metadata: dict[str, Any] = field(default_factory=dict)
    reader: EventReader | None = None
    cache_size: int = 64
    _cache: OrderedDict[int, Event] = field(default_factory=OrderedDict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.reader is not None and self.events:
            raise ValueError("EventFile takes either events or a reader, not both")
        self.events = list(self.events)
        if self.source is not None:
            self.source = Path(self.source)

    @property
    def is_lazy(self) -> bool:
        return self.reader is not None

    def __len__(self) -> int:
        return len(self.reader) if self.reader is not None else len(self.events)

    @property
    def event_numbers(self) -> np.ndarray:
        """Event numbers of all events, (n_events,) int64, without reading any hits."""
        if self.reader is not None:
            return np.asarray(self.reader.event_numbers, dtype=np.int64)
        return np.array([e.event_number for e in self.events], dtype=np.int64)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if self.reader is None:
                return self.events[index]
            if step == 1:
                return self.reader.read(start, stop) if stop > start else []
            return [self[i] for i in range(start, stop, step)]
        n = len(self)
        i = int(index) + n if int(index) < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError(f"event index {index} out of range for {n} events")
        if self.reader is None:
            return self.events[i]
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        event = self.reader.read(i, i + 1)[0]
        self._cache[i] = event
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return event

    def __iter__(self) -> Iterator[Event]:
        if self.reader is None:
            yield from self.events
            return
        chunk = 256
        for start in range(0, len(self), chunk):
            yield from self.reader.read(start, min(len(self), start + chunk))

    def load(self) -> EventFile:
        """An in-memory copy (reads every event of a lazy file)."""
        return EventFile(list(self), self.source, self.format, dict(self.metadata))
