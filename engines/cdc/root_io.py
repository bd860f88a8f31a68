"""ROOT files from the experiment's simulation (ICEDUST), read with uproot.

Expected content
    A TTree ``CDCHitTree`` with the hit branches ``CDCHit.fChannel`` (read-out channel
    0…4481, layer by layer, guard layers excluded), ``CDCHit.fDetectedTime`` (ns),
    ``CDCHit.fCharge`` (ADC-like) and ``CDCHit.fEventNumber``; optional ``CDCHit.fDriftTime``
    (ns) and ``CDCHit.fIsSig`` (truth; without it ``has_truth`` is False). Either one entry
    per hit (flat branches) or one entry per event with variable-length hit branches (the
    event number then may be one value per entry). Branch names are matched on their last
    component with an optional ``CDCHit.`` prefix, so ``CDCHit.fChannel``,
    ``CDCHit/CDCHit.fChannel`` and plain ``fChannel`` are all accepted.
Trigger
    When a TTree ``CTHHitTree`` has ``fEventNumber`` and a time branch (``fDetectedTime``,
    ``fTime`` or ``fT``), the event's trigger time is its earliest CTH hit (restricted to
    hits with ``fIsTrig`` set when that branch exists) and the trigger counter is that hit's
    ``fCounter`` when within 0…127 (the experiment's counter numbering is taken as is),
    else -1. Hit times are then stored relative to the trigger time. Without CTH
    information the counter is -1, ``trigger_time_ns`` is 0 and hit times are as recorded.
Truth
    ``track_id`` is ``CDCHit.fTrack.fTrackID`` when the file has it, else 0 for signal hits
    and -1 otherwise (a single signal track per event). The Monte-Carlo truth ICEDUST writes is
    kept where present: ``fTrack.fPID`` (``pid``), ``fTurnID`` (``turn_id``) and
    ``fMCMom.fX/fY/fZ`` (``momentum_mev``, MeV/c).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.cdc.events import Event, EventFile
from engines.cdc.geometry import N_READOUT, cell_to_channel, get_geometry
from engines.core.errors import InputError
from engines.core.safe_read import (
    MAX_COMPRESSION_RATIO,
    check_declared,
    check_file,
    finite_after_cast,
    reading,
)

HIT_TREE = "CDCHitTree"
CTH_TREE = "CTHHitTree"
REQUIRED = ("fChannel", "fDetectedTime", "fCharge", "fEventNumber")
MC_MOMENTUM = ("fMCMom.fX", "fMCMom.fY", "fMCMom.fZ")
OPTIONAL = ("fDriftTime", "fIsSig", "fTrack.fTrackID", "fTrack.fPID", "fTurnID", *MC_MOMENTUM)
CTH_TIME_NAMES = ("fDetectedTime", "fTime", "fT")
MAX_ENTRIES = 100_000_000
MAX_HITS = 100_000_000


def _branch_map(tree: Any, prefix: str) -> dict[str, str]:
    """Short name (``fChannel``) -> branch key, for the leaves of ``tree``."""
    names: dict[str, str] = {}
    for key in tree.keys(recursive=True):
        short = key.rsplit("/", 1)[-1]
        short = short[len(prefix) + 1:] if short.startswith(prefix + ".") else short
        names.setdefault(short, key)
    return names


def _tree(file: Any, name: str, path: Path, required: bool) -> Any:
    import uproot

    if name not in file:
        if not required:
            return None
        found = ", ".join(sorted({k.split(";")[0] for k in file.keys(recursive=False)})[:10])
        raise InputError.for_file(path, f"no {name} tree (found: {found or 'nothing'})")
    tree = file[name]
    if not isinstance(tree, uproot.behaviors.TTree.TTree):
        kind = getattr(tree, "classname", type(tree).__name__)
        raise InputError.for_file(path, f"{name} is a {kind}, not a TTree")
    if tree.num_entries > MAX_ENTRIES:
        raise InputError.for_file(path, f"{name} has {tree.num_entries} entries "
                                  f"(limit {MAX_ENTRIES})")
    # every entry takes at least a byte before compression
    check_declared(tree.num_entries, 1, path, ratio=MAX_COMPRESSION_RATIO,
                   what=f"{name} ({tree.num_entries} entries)")
    return tree


def _flat_columns(tree: Any, keys: dict[str, str], path: Path) -> dict[str, np.ndarray]:
    """Read branches and flatten one-entry-per-event layouts to one value per hit."""
    import awkward as ak

    arrays = {short: tree[key].array(library="ak") for short, key in keys.items()}
    jagged = {short for short, a in arrays.items() if a.ndim > 1}
    if jagged:
        reference = arrays[next(iter(sorted(jagged)))]
        for short, array in arrays.items():
            if short in jagged:
                if array.ndim != 2 or not ak.all(ak.num(array) == ak.num(reference)):
                    raise InputError.for_file(path, f"branch {keys[short]} does not have one "
                                              "value per hit")
            else:
                arrays[short] = ak.broadcast_arrays(array, reference)[0]
        arrays = {short: ak.flatten(array) for short, array in arrays.items()}
    columns = {short: ak.to_numpy(array) for short, array in arrays.items()}
    n = {len(c) for c in columns.values()}
    if len(n) != 1:
        raise InputError.for_file(path, "hit branches have different lengths")
    if n.pop() > MAX_HITS:
        raise InputError.for_file(path, f"more than {MAX_HITS} hits")
    for short, column in columns.items():
        if column.dtype.kind not in "biuf" or column.ndim != 1:
            raise InputError.for_file(path, f"branch {keys[short]} is not a numeric hit value")
    return columns


def _cth_triggers(file: Any, path: Path) -> dict[int, tuple[int, float]]:
    """Event number -> (trigger counter or -1, trigger time) from ``CTHHitTree``."""
    tree = _tree(file, CTH_TREE, path, required=False)
    if tree is None:
        return {}
    names = _branch_map(tree, "CTHHit")
    time_name = next((n for n in CTH_TIME_NAMES if n in names), None)
    if "fEventNumber" not in names or time_name is None:
        return {}
    wanted = ["fEventNumber", time_name] + [n for n in ("fCounter", "fIsTrig") if n in names]
    cols = _flat_columns(tree, {n: names[n] for n in wanted}, path)
    keep = np.isfinite(cols[time_name])
    if "fIsTrig" in cols:
        keep &= cols["fIsTrig"] != 0
    times, events = cols[time_name][keep], cols["fEventNumber"][keep]
    counters = cols["fCounter"][keep] if "fCounter" in cols else np.full(len(times), -1)
    order = np.lexsort((times, events))
    times, events, counters = times[order], events[order], counters[order]
    first = np.flatnonzero(np.r_[True, events[1:] != events[:-1]]) if len(events) else []
    return {int(events[i]): (int(counters[i]) if 0 <= counters[i] < 128 else -1, float(times[i]))
            for i in first}


def read_root(path: str | Path) -> EventFile:
    """Read an ICEDUST-style ROOT file into in-memory events, grouped by event number."""
    import uproot

    path = Path(path)
    with reading(path, "ROOT file"):
        check_file(path)
        with uproot.open(path) as file:
            tree = _tree(file, HIT_TREE, path, required=True)
            names = _branch_map(tree, "CDCHit")
            missing = [n for n in REQUIRED if n not in names]
            if missing:
                raise InputError.for_file(path, f"{HIT_TREE} lacks branch(es) "
                                          f"{', '.join('CDCHit.' + m for m in missing)}")
            wanted = [*REQUIRED, *(n for n in OPTIONAL if n in names)]
            cols = _flat_columns(tree, {n: names[n] for n in wanted}, path)
            triggers = _cth_triggers(file, path)
            n_entries = tree.num_entries
        events = _group_events(cols, triggers, path)
    metadata = {"tree": HIT_TREE, "entries": int(n_entries), "branches": wanted,
                "cth_trigger": bool(triggers), "times_relative_to_trigger": bool(triggers)}
    return EventFile(events, source=path, format="icedust-root", metadata=metadata)


def _group_events(cols: dict[str, np.ndarray], triggers: dict[int, tuple[int, float]],
                  path: Path) -> list[Event]:
    channel, number = cols["fChannel"], cols["fEventNumber"]
    if channel.dtype.kind == "f" and not np.all(np.mod(channel, 1) == 0):
        raise InputError.for_file(path, "CDCHit.fChannel holds non-integer values")
    if number.dtype.kind == "f" and not np.all(np.mod(number, 1) == 0):
        raise InputError.for_file(path, "CDCHit.fEventNumber holds non-integer values")
    if len(channel) and (channel.min() < 0 or channel.max() >= N_READOUT):
        raise InputError.for_file(path, f"CDCHit.fChannel outside 0…{N_READOUT - 1} "
                                  f"(found {channel.min()}…{channel.max()})")
    for name in ("fDetectedTime", "fCharge"):
        if not np.all(np.isfinite(cols[name])):
            raise InputError.for_file(path, f"CDCHit.{name} holds NaN or infinite values")
    charge = finite_after_cast(cols["fCharge"], np.float32, "CDCHit.fCharge", path)
    drift = (finite_after_cast(cols["fDriftTime"], np.float32, "CDCHit.fDriftTime", path,
                               allow_nan=True)  # NaN: no drift time for this hit
             if "fDriftTime" in cols else None)
    cell = get_geometry().cell_of_channel[channel.astype(np.int64)]
    number = finite_after_cast(number, np.int64, "CDCHit.fEventNumber", path)
    order = np.argsort(number, kind="stable")
    starts = np.flatnonzero(np.r_[True, number[order][1:] != number[order][:-1]]) \
        if len(order) else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], len(order)].astype(np.int64) if len(starts) else starts
    # hit times relative to the trigger, checked in float32 (a 1e300 trigger time gives -inf)
    t0 = np.array([triggers.get(int(n), (-1, 0.0))[1] for n in number[order[starts]]])
    time_ns = finite_after_cast(cols["fDetectedTime"][order] - np.repeat(t0, ends - starts),
                                np.float32, "CDCHit.fDetectedTime relative to the CTH trigger",
                                path)
    has_truth = "fIsSig" in cols
    truth = _mc_truth(cols, path)
    events = []
    for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
        idx = order[s:e]
        event_number = int(number[idx[0]])
        counter, _ = triggers.get(event_number, (-1, 0.0))
        signal = cols["fIsSig"][idx] != 0 if has_truth else np.zeros(len(idx), bool)
        track = truth["track_id"][idx] if "track_id" in truth else np.where(signal, 0, -1)
        events.append(Event(event_number, cell[idx], time_ns[s:e], charge[idx], signal,
                            track, has_truth, counter, float(t0[k]),
                            drift[idx] if drift is not None else None,
                            **{k: v[idx] for k, v in truth.items() if k != "track_id"}))
    return events


def _mc_truth(cols: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """The Monte-Carlo truth branches the file has, as Event fields (per hit, file order)."""
    truth = {}
    for branch, name in (("fTrack.fTrackID", "track_id"), ("fTrack.fPID", "pid"),
                         ("fTurnID", "turn_id")):
        if branch in cols:
            if cols[branch].dtype.kind not in "biu":
                raise InputError.for_file(path, f"CDCHit.{branch} holds non-integer values")
            truth[name] = finite_after_cast(cols[branch], np.int32, f"CDCHit.{branch}", path)
    if all(b in cols for b in MC_MOMENTUM):
        truth["momentum_mev"] = np.column_stack([
            finite_after_cast(cols[b], np.float32, f"CDCHit.{b}", path, allow_nan=True)
            for b in MC_MOMENTUM])
    return truth


def write_root(path: str | Path, events: list[Event] | EventFile, per_event: bool = False) -> Path:
    """Write events in the ICEDUST-like layout above (for tests and for exchange).

    Hits in guard cells have no read-out channel and are left out. Times are written on the
    absolute clock (``time_ns + trigger_time_ns``); a ``CTHHitTree`` holds one hit per event
    with a known trigger counter. ``per_event=True`` writes one entry per event with
    variable-length hit branches instead of one entry per hit.
    """
    import awkward as ak
    import uproot

    path = Path(path)
    events = list(events)
    read_out = [~get_geometry().is_guard[e.cell] for e in events]
    columns = {
        "CDCHit.fChannel": [cell_to_channel(e.cell[m]).astype(np.int32)
                            for e, m in zip(events, read_out, strict=True)],
        "CDCHit.fDetectedTime": [(e.time_ns[m] + e.trigger_time_ns).astype(np.float64)
                                 for e, m in zip(events, read_out, strict=True)],
        "CDCHit.fCharge": [e.adc[m].astype(np.float64)
                           for e, m in zip(events, read_out, strict=True)],
        "CDCHit.fIsSig": [e.is_signal[m].astype(np.int32)
                          for e, m in zip(events, read_out, strict=True)],
        "CDCHit.fEventNumber": [np.full(int(m.sum()), e.event_number, np.int32)
                                for e, m in zip(events, read_out, strict=True)],
    }
    def carried(name: str) -> bool:  # by every event; a file of no events gets no such branch
        return bool(events) and all(getattr(e, name) is not None for e in events)

    if carried("drift_time_ns"):
        columns["CDCHit.fDriftTime"] = [e.drift_time_ns[m].astype(np.float64)
                                        for e, m in zip(events, read_out, strict=True)]
    for branch, name in (("fTrack.fTrackID", "track_id"), ("fTrack.fPID", "pid"),
                         ("fTurnID", "turn_id")):
        if carried(name) and (name != "track_id" or any(e.has_mc_truth for e in events)):
            columns[f"CDCHit.{branch}"] = [getattr(e, name)[m].astype(np.int32)
                                           for e, m in zip(events, read_out, strict=True)]
    if carried("momentum_mev"):
        for j, branch in enumerate(MC_MOMENTUM):
            columns[f"CDCHit.{branch}"] = [e.momentum_mev[m, j].astype(np.float64)
                                           for e, m in zip(events, read_out, strict=True)]
    cth = [e for e in events if e.trigger_counter >= 0]
    with uproot.recreate(path) as file:
        if per_event:
            counts = np.array([int(m.sum()) for m in read_out], dtype=np.int64)
            data = {k: ak.unflatten(np.concatenate(v), counts) for k, v in columns.items()
                    if k != "CDCHit.fEventNumber"}
            types = {k: f"var * {np.concatenate(columns[k]).dtype}" for k in data}
            data["CDCHit.fEventNumber"] = np.array([e.event_number for e in events], np.int32)
            types["CDCHit.fEventNumber"] = np.int32
            file.mktree(HIT_TREE, types).extend(data)
        else:
            data = {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}
            file.mktree(HIT_TREE, {k: v.dtype for k, v in data.items()}).extend(data)
        cth_data = {
            "CTHHit.fEventNumber": np.array([e.event_number for e in cth], np.int32),
            "CTHHit.fCounter": np.array([e.trigger_counter for e in cth], np.int32),
            "CTHHit.fDetectedTime": np.array([e.trigger_time_ns for e in cth], np.float64)}
        file.mktree(CTH_TREE, {k: v.dtype for k, v in cth_data.items()}).extend(cth_data)
    return path
