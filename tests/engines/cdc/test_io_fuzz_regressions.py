"""Regressions of the fuzzer's findings in the CDC readers: each hostile HDF5 or ROOT file ends
in one InputError naming the file (or, where the file is fine, in the right events), never in
an escaped library error, a hang, a giant allocation or silently wrong totals."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import uproot

from engines.cdc.hdf5_io import write_events
from engines.cdc.io import read_events, summarize
from engines.cdc.root_io import read_root, write_root
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive
from tests.fuzz.runner import Job, Pool


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(4, occupancy=0.05, seed=3)))


@pytest.fixture(scope="module")
def good(tmp_path_factory, events):
    return write_events(tmp_path_factory.mktemp("h5") / "good.h5", events)


@pytest.fixture(scope="module")
def pool():
    with Pool(workers=1) as pool:
        yield pool


def _variant(good, tmp_path, edit, name="bad.h5"):
    path = tmp_path / name
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as h5:
        edit(h5)
    return path


def _replace(h5, name, values, **kwargs):
    del h5[name]
    h5.create_dataset(name, data=values, **kwargs)


def _refused(path, *words):
    """Both entry points refuse ``path`` with one InputError line naming it."""
    for call in (lambda: read_events(path, lazy=False), lambda: summarize(path)):
        with pytest.raises(InputError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{path.name}: ") and "\n" not in message, message
        for word in words:
            assert word in message, message


# --------------------------------------------------------------------------- corrupt HDF5

def _corrupt(good, tmp_path, signature: bytes, occurrence: int, name: str):
    data = good.read_bytes()
    at = -1
    for _ in range(occurrence + 1):
        at = data.index(signature, at + 1)
    path = tmp_path / name
    path.write_bytes(data[:at] + b"XXXX" + data[at + 4:])
    return path


@pytest.mark.parametrize(("signature", "occurrence", "escaped"), [
    (b"SNOD", 2, "RuntimeError: bad symbol table node signature"),
    (b"TREE", 2, "RuntimeError: wrong B-tree signature"),
    (b"HEAP", 2, "RuntimeError: bad local heap signature"),
])
def test_damaged_structures_give_input_errors(good, tmp_path, signature, occurrence, escaped):
    path = _corrupt(good, tmp_path, signature, occurrence, "damaged.h5")
    _refused(path, "not a readable HDF5 event file", escaped.split(": ")[1])


def test_damaged_global_heap_and_unreadable_float_type(good, tmp_path):
    path = _variant(good, tmp_path, lambda h5: h5["events"].attrs.create(
        "note", "vlen text", dtype=h5py.string_dtype()))
    _refused(_corrupt(path, tmp_path, b"GCOL", 0, "heap.h5"))  # OSError bad global heap

    def quad(h5):  # a 128-bit float numpy cannot hold: "Insufficient precision"
        n = h5["hits/adc"].shape[0]
        del h5["hits/adc"]
        kind = h5py.h5t.IEEE_F64LE.copy()
        kind.set_size(16)
        kind.set_precision(128)
        kind.set_fields(127, 112, 15, 0, 112)
        h5py.h5d.create(h5["hits"].id, b"adc", kind, h5py.h5s.create_simple((n,)))

    _refused(_variant(good, tmp_path, quad, "quad.h5"), "Insufficient precision")


# --------------------------------------------------------------------------- well-formed, unusual

def test_soft_link_cycle_and_external_links_are_refused(good, tmp_path):
    def cycle(h5):
        del h5["hits/adc"]
        h5["hits/adc"] = h5py.SoftLink("/hits/adc")

    _refused(_variant(good, tmp_path, cycle), "/hits/adc is a SoftLink")

    def external(h5):
        del h5["events"]
        h5["events"] = h5py.ExternalLink("bad.h5", "/events")  # the file itself

    _refused(_variant(good, tmp_path, external, "external.h5"), "ExternalLink")


def test_deeply_nested_metadata_json(good, tmp_path):
    path = _variant(good, tmp_path, lambda h5: h5.attrs.modify("metadata",
                                                               "[" * 100_000 + "]" * 100_000))
    _refused(path, "metadata", "nested deeper")


def test_uint64_hit_count_reads_the_right_hits(good, tmp_path, events):
    """uint64 counts with int64 offsets: their sum was float64, a TypeError in slicing."""
    def unsigned(h5):
        _replace(h5, "events/hit_count", h5["events/hit_count"][...].astype(np.uint64))

    loaded = read_events(_variant(good, tmp_path, unsigned), lazy=False)
    assert [e.n_hits for e in loaded] == [e.n_hits for e in events]
    np.testing.assert_array_equal(loaded[2].cell, events[2].cell)


def test_offset_near_int64_max_cannot_wrap_past_the_bounds_check(good, tmp_path):
    def huge(h5):
        offset = h5["events/hit_offset"][...]
        offset[1] = 2**63 - 2  # offset + count wraps negative in int64
        h5["events/hit_offset"][...] = offset

    _refused(_variant(good, tmp_path, huge), "point outside")


def test_int8_offsets_and_counts_are_read_without_wrapping(good, tmp_path, events):
    """Two events of 100 hits at offsets 0 and 100, stored as int8: 100 + 100 wraps to -56 in
    int8, which passed the bounds check and sliced the second event to 0 hits."""
    def narrow(h5):
        for name in list(h5["events"]):
            _replace(h5, f"events/{name}", h5[f"events/{name}"][:2])
        _replace(h5, "events/hit_offset", np.array([0, 100], np.int8))
        _replace(h5, "events/hit_count", np.array([100, 100], np.int8))
        h5.attrs.modify("n_events", 2)

    loaded = read_events(_variant(good, tmp_path, narrow), lazy=False)
    assert [e.n_hits for e in loaded] == [100, 100]
    np.testing.assert_array_equal(loaded[1].cell, np.concatenate([e.cell for e in events])
                                  [100:200])


def test_events_may_not_share_hits(good, tmp_path):
    def overlap(h5):
        h5["events/hit_offset"][...] = 0
        h5["events/hit_count"][...] = h5["events/hit_count"][0]

    _refused(_variant(good, tmp_path, overlap), "overlapping")


def test_fill_value_giants_are_refused_at_once(good, tmp_path, pool):
    """38 kB declaring 10^6 events of 5e5 hits through fill values: refused, not read for
    minutes or summed to 10^9 hits."""
    def giant(h5):
        for name in list(h5["events"]):
            dtype = h5["events"][name].dtype
            del h5["events"][name]
            h5["events"].create_dataset(name, shape=(10**6,), dtype=dtype, chunks=(65536,),
                                        compression="gzip",
                                        fillvalue=500_000 if name == "hit_count" else 0)
        for name in list(h5["hits"]):
            dtype = h5["hits"][name].dtype
            del h5["hits"][name]
            h5["hits"].create_dataset(name, shape=(500_000,), dtype=dtype, chunks=(65536,),
                                      compression="gzip", fillvalue=0)

    path = _variant(good, tmp_path, giant)
    assert path.stat().st_size < 100_000
    _refused(path, "declares", "stores only")
    result = next(pool.run([Job("hdf5", suffix=".h5", data=path.read_bytes())]))
    assert result.outcome == "input_error", result.detail


def test_times_past_float32_range(good, tmp_path):
    def far(h5):
        times = h5["hits/time_ns"][...].astype(np.float64)
        times[3] = 1e300  # finite as float64, infinite once stored as the Event's float32
        _replace(h5, "hits/time_ns", times)

    _refused(_variant(good, tmp_path, far), "/hits/time_ns", "float32")


def test_declared_totals_must_match(good, tmp_path):
    _refused(_variant(good, tmp_path, lambda h5: h5.attrs.modify("n_hits", 10**9)), "n_hits")


def test_many_empty_events_summarise_fast(tmp_path, pool):
    """200 000 events without hits: `cdc info` counts them from the columns, not per Event."""
    n = 200_000
    path = tmp_path / "empty_events.h5"
    with h5py.File(path, "w") as h5:
        for name, value in {"event_number": np.arange(n), "hit_offset": np.zeros(n, np.int64),
                            "hit_count": np.zeros(n, np.int64),
                            "trigger_counter": np.full(n, -1, np.int16),
                            "trigger_time_ns": np.zeros(n), "has_truth": np.ones(n, np.uint8)
                            }.items():
            h5.create_dataset(f"events/{name}", data=value, chunks=True, compression="gzip")
        for name, dtype in {"cell": np.int16, "time_ns": np.float32, "adc": np.float32,
                            "is_signal": np.uint8, "track_id": np.int32}.items():
            h5.create_dataset(f"hits/{name}", data=np.zeros(0, dtype))
        h5.attrs.update({"format": "lablens-cdc-events", "version": 1, "content": "events",
                         "n_events": n, "n_hits": 0, "n_cells": 4986, "metadata": "{}"})
    summary = summarize(path)
    assert summary["events"] == n and summary["hits"] == 0 and summary["has_truth"] == n
    result = next(pool.run([Job("hdf5", suffix=".h5", data=path.read_bytes())]))
    assert result.outcome == "valid", result.detail


# --------------------------------------------------------------------------- ROOT

def _root(tmp_path, hits, cth=None, name="hits.root"):
    path = tmp_path / name
    with uproot.recreate(path) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in hits.items()}).extend(hits)
        if cth is not None:
            file.mktree("CTHHitTree", {k: v.dtype for k, v in cth.items()}).extend(cth)
    return path


def _hits(n=6, **changes):
    hits = {"CDCHit.fChannel": np.arange(n, dtype=np.int32),
            "CDCHit.fDetectedTime": np.linspace(600.0, 900.0, n),
            "CDCHit.fCharge": np.full(n, 50.0),
            "CDCHit.fEventNumber": np.repeat([1, 2], n // 2).astype(np.int32)}
    return {**hits, **{f"CDCHit.{k}": v for k, v in changes.items()}}


def test_empty_hit_tree_is_an_empty_file(tmp_path):
    path = _root(tmp_path, {k: v[:0] for k, v in _hits().items()})
    assert len(read_root(path)) == 0
    assert summarize(path)["events"] == 0 and summarize(path)["hits"] == 0


def test_charges_beyond_float32_are_refused(tmp_path):
    charge = np.full(6, 50.0)
    charge[2] = 1e300
    _refused(_root(tmp_path, _hits(fCharge=charge)), "CDCHit.fCharge", "float32")


def test_a_1e300_trigger_time_cannot_give_infinite_hit_times(tmp_path):
    cth = {"CTHHit.fEventNumber": np.array([1, 2], np.int32),
           "CTHHit.fCounter": np.array([3, 4], np.int32),
           "CTHHit.fDetectedTime": np.array([500.0, 1e300])}
    _refused(_root(tmp_path, _hits(), cth), "relative to the CTH trigger")


def test_event_numbers_beyond_int64_are_refused(tmp_path):
    numbers = np.array([1, 1, 1, 2, 2, 2**64 - 1], np.uint64)
    _refused(_root(tmp_path, _hits(fEventNumber=numbers)), "fEventNumber")


def test_write_root_round_trip_still_exact(tmp_path, events):
    path = write_root(tmp_path / "round.root", events)
    loaded = read_root(path)
    assert [e.event_number for e in loaded] == [e.event_number for e in events]
    assert summarize(path)["events"] == len(events)
