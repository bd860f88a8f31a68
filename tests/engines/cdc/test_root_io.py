import awkward as ak
import numpy as np
import pytest
import uproot

from engines.cdc.geometry import channel_to_cell, get_geometry
from engines.cdc.io import read_events, summarize
from engines.cdc.root_io import read_root, write_root
from engines.cdc.synthetic import generate_events
from engines.core.progress import drive

# three events, hits deliberately interleaved as a merged simulation might store them
EVENT = np.array([12, 12, 40, 12, 40, 7, 12], dtype=np.int32)
CHANNEL = np.array([0, 4481, 17, 200, 0, 3000, 1000], dtype=np.int32)
TIME = np.array([900.0, 1100.0, 620.0, 1500.0, 700.0, 1000.0, 950.0])
CHARGE = np.array([120.0, 80.0, 300.0, 55.0, 90.0, 400.0, 150.0])
DRIFT = np.array([100.0, 50.0, 10.0, 300.0, 20.0, 30.0, 200.0])
IS_SIG = np.array([1, 0, 0, 1, 1, 0, 1], dtype=np.int32)


def _write(path, prefix="CDCHit.", cth=True, drop=()):
    branches = {"fChannel": CHANNEL, "fDetectedTime": TIME, "fCharge": CHARGE,
                "fDriftTime": DRIFT, "fIsSig": IS_SIG, "fEventNumber": EVENT}
    data = {prefix + k: v for k, v in branches.items() if k not in drop}
    with uproot.recreate(path) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in data.items()}).extend(data)
        if cth:
            cth_data = {"CTHHit.fEventNumber": np.array([12, 12, 40], np.int32),
                        "CTHHit.fCounter": np.array([5, 70, 90], np.int32),
                        "CTHHit.fDetectedTime": np.array([880.0, 870.0, 600.0])}
            file.mktree("CTHHitTree", {k: v.dtype for k, v in cth_data.items()}).extend(cth_data)
    return path


def test_dotted_branch_names_group_by_event(tmp_path):
    events = read_root(_write(tmp_path / "sim.root"))
    assert [e.event_number for e in events] == [7, 12, 40]
    assert [e.n_hits for e in events] == [1, 4, 2]
    e12 = events[1]
    # channel -> cell: channel 0 is the first wire after the 198-wire inner guard layer
    np.testing.assert_array_equal(e12.cell, channel_to_cell([0, 4481, 200, 1000]))
    assert e12.cell[0] == 198 and e12.cell[1] == 4679
    # the earliest CTH hit of the event is the trigger: counter 70 at 870 ns
    assert e12.trigger_counter == 70 and e12.trigger_time_ns == 870.0
    np.testing.assert_allclose(e12.time_ns, [30.0, 230.0, 630.0, 80.0])
    np.testing.assert_array_equal(e12.is_signal, [True, False, True, True])
    np.testing.assert_array_equal(e12.track_id, [0, -1, 0, 0])
    np.testing.assert_allclose(e12.adc, [120.0, 80.0, 55.0, 150.0])
    np.testing.assert_allclose(e12.drift_time_ns, [100.0, 50.0, 300.0, 200.0])
    assert e12.has_truth and e12.n_signal_hits == 3
    # event 7 has no CTH hit: unknown counter, times as recorded
    assert events[0].trigger_counter == -1 and events[0].time_ns[0] == 1000.0
    assert events.format == "icedust-root" and events.metadata["cth_trigger"]


def test_plain_branch_names_without_cth_or_truth(tmp_path):
    path = _write(tmp_path / "plain.root", prefix="", cth=False, drop=("fIsSig", "fDriftTime"))
    events = read_root(path)
    assert all(e.trigger_counter == -1 and e.trigger_time_ns == 0.0 for e in events)
    assert not any(e.has_truth for e in events)
    assert events[1].drift_time_ns is None
    np.testing.assert_allclose(events[1].time_ns, [900.0, 1100.0, 1500.0, 950.0])


def test_one_entry_per_event_layout(tmp_path):
    counts = np.array([2, 1])
    data = {"CDCHit.fChannel": ak.unflatten(np.array([5, 6, 7], np.int32), counts),
            "CDCHit.fDetectedTime": ak.unflatten(np.array([1.0, 2.0, 3.0]), counts),
            "CDCHit.fCharge": ak.unflatten(np.array([10.0, 20.0, 30.0]), counts),
            "CDCHit.fEventNumber": np.array([3, 4], np.int32)}
    types = {k: ("var * " + str(np.asarray(ak.flatten(v)).dtype)) if isinstance(v, ak.Array)
             else v.dtype for k, v in data.items()}
    with uproot.recreate(tmp_path / "jag.root") as file:
        file.mktree("CDCHitTree", types).extend(data)
    events = read_root(tmp_path / "jag.root")
    assert [e.event_number for e in events] == [3, 4]
    np.testing.assert_array_equal(events[0].cell, channel_to_cell([5, 6]))
    np.testing.assert_allclose(events[1].adc, [30.0])


@pytest.mark.parametrize("per_event", [False, True])
def test_write_root_round_trip_of_synthetic_events(tmp_path, per_event):
    events = drive(generate_events(3, occupancy=0.2, seed=8))
    path = write_root(tmp_path / "syn.root", events, per_event=per_event)
    back = read_root(path)
    assert len(back) == 3
    for a, b in zip(events, back, strict=True):
        np.testing.assert_array_equal(a.cell, b.cell)
        np.testing.assert_allclose(a.time_ns, b.time_ns, atol=1e-3)
        np.testing.assert_array_equal(a.is_signal, b.is_signal)
        assert a.trigger_counter == b.trigger_counter
        assert b.trigger_time_ns == pytest.approx(a.trigger_time_ns)
        # the Monte-Carlo truth ICEDUST writes: track, particle, turn and momentum per hit
        for name in ("track_id", "pid", "turn_id"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_allclose(a.momentum_mev, b.momentum_mev, rtol=1e-6)
        assert b.has_mc_truth and len(np.unique(b.track_id)) > 2


def test_dispatch_by_content_and_summary(tmp_path):
    path = _write(tmp_path / "sim.data")  # suffix says nothing: the magic bytes decide
    assert read_events(path).format == "icedust-root"
    info = summarize(path)
    assert info["events"] == 3 and info["hits"] == 7 and info["signal_hits"] == 4
    assert info["format"] == "icedust-root"
    assert info["occupancy_mean"] == pytest.approx(np.mean([1, 4, 2]) / 4482)


def test_cth_trigger_is_the_earliest_hit_flagged_fIsTrig(tmp_path):
    """Event 12 has an earlier CTH hit that did not trigger (fIsTrig 0) and a later one that
    did: the trigger is the flagged one, its counter and time."""
    data = {"CDCHit.fChannel": CHANNEL, "CDCHit.fDetectedTime": TIME, "CDCHit.fCharge": CHARGE,
            "CDCHit.fEventNumber": EVENT}
    cth = {"CTHHit.fEventNumber": np.array([12, 12, 40, 40], np.int32),
           "CTHHit.fCounter": np.array([5, 70, 90, 91], np.int32),
           "CTHHit.fDetectedTime": np.array([800.0, 870.0, 600.0, 610.0]),
           "CTHHit.fIsTrig": np.array([0, 1, 1, 0], np.int32)}
    path = tmp_path / "trig.root"
    with uproot.recreate(path) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in data.items()}).extend(data)
        file.mktree("CTHHitTree", {k: v.dtype for k, v in cth.items()}).extend(cth)
    events = {e.event_number: e for e in read_root(path)}
    assert (events[12].trigger_counter, events[12].trigger_time_ns) == (70, 870.0)
    assert (events[40].trigger_counter, events[40].trigger_time_ns) == (90, 600.0)
    assert (events[7].trigger_counter, events[7].trigger_time_ns) == (-1, 0.0)
    np.testing.assert_allclose(np.sort(events[12].time_ns), np.sort(TIME[EVENT == 12]) - 870.0)


# --------------------------------------------------------------------------- the checks, exactly

def _tree_file(path, hits, cth=None, extra=None):
    with uproot.recreate(path) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in hits.items()}).extend(hits)
        if cth is not None:
            file.mktree("CTHHitTree", {k: v.dtype for k, v in cth.items()}).extend(cth)
        for name, data in (extra or {}).items():
            file.mktree(name, {k: v.dtype for k, v in data.items()}).extend(data)
    return path


def _hits(n=4, **changes):
    hits = {"CDCHit.fChannel": np.arange(10, 10 + n, dtype=np.int32),
            "CDCHit.fDetectedTime": np.linspace(600.0, 900.0, n),
            "CDCHit.fCharge": np.arange(1.0, n + 1.0),
            "CDCHit.fEventNumber": np.repeat([5, 2], [n - n // 2, n // 2]).astype(np.int32)}
    return {**hits, **{f"CDCHit.{k}": v for k, v in changes.items()}}


def _message(path):
    from engines.core.errors import InputError

    with pytest.raises(InputError) as info:
        read_root(path)
    return str(info.value)


def test_missing_tree_lists_what_the_file_has(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as file:
        for name in ("Zeta", "Alpha"):
            file.mktree(name, {"x": np.float64}).extend({"x": np.ones(2)})
    assert _message(path) == "other.root: no CDCHitTree tree (found: Alpha, Zeta)"
    with uproot.recreate(tmp_path / "empty.root"):
        pass
    assert _message(tmp_path / "empty.root") == \
        "empty.root: no CDCHitTree tree (found: nothing)"


def test_entry_and_hit_limits(tmp_path, monkeypatch):
    from engines.cdc import root_io

    path = _tree_file(tmp_path / "h.root", _hits(6))
    monkeypatch.setattr(root_io, "MAX_ENTRIES", 6)
    assert len(read_root(path)) == 2  # exactly the limit
    monkeypatch.setattr(root_io, "MAX_ENTRIES", 5)
    assert _message(path) == "h.root: CDCHitTree has 6 entries (limit 5)"
    monkeypatch.setattr(root_io, "MAX_ENTRIES", 100)
    monkeypatch.setattr(root_io, "MAX_HITS", 6)
    assert len(read_root(path)) == 2
    monkeypatch.setattr(root_io, "MAX_HITS", 5)
    assert _message(path) == "h.root: more than 5 hits"


def test_lacking_branches_are_all_named(tmp_path):
    hits = _hits()
    del hits["CDCHit.fCharge"], hits["CDCHit.fDetectedTime"]
    assert _message(_tree_file(tmp_path / "l.root", hits)) == \
        "l.root: CDCHitTree lacks branch(es) CDCHit.fDetectedTime, CDCHit.fCharge"


def test_branch_names_with_a_folder_and_without_the_prefix(tmp_path):
    hits = {"fChannel": np.array([3, 4], np.int32), "fDetectedTime": np.array([1.0, 2.0]),
            "fCharge": np.array([7.0, 8.0]), "fEventNumber": np.array([9, 9], np.int32),
            "CDCHit.fIsSig": np.array([0, 1], np.int32)}
    events = read_root(_tree_file(tmp_path / "p.root", hits))
    assert events.metadata["branches"] == ["fChannel", "fDetectedTime", "fCharge",
                                           "fEventNumber", "fIsSig"]
    np.testing.assert_array_equal(events[0].is_signal, [False, True])
    assert events.metadata["entries"] == 2 and events.metadata["tree"] == "CDCHitTree"
    assert not events.metadata["cth_trigger"] and not events.metadata["times_relative_to_trigger"]


def test_non_integer_and_non_finite_values_are_named(tmp_path):
    cases = [
        (dict(fChannel=np.array([1.0, 2.5, 3.0, 4.0])), "CDCHit.fChannel holds non-integer values"),
        (dict(fEventNumber=np.array([1.0, 1.0, 2.0, 2.25])),
         "CDCHit.fEventNumber holds non-integer values"),
        (dict(fChannel=np.array([0, 1, 4482, 3], np.int32)),
         "CDCHit.fChannel outside 0…4481 (found 0…4482)"),
        (dict(fCharge=np.array([1.0, np.inf, 1.0, 1.0])),
         "CDCHit.fCharge holds NaN or infinite values"),
        (dict(fDetectedTime=np.array([1.0, 2.0, np.nan, 1.0])),
         "CDCHit.fDetectedTime holds NaN or infinite values"),
    ]
    for i, (changes, message) in enumerate(cases):
        path = _tree_file(tmp_path / f"v{i}.root", _hits(**changes))
        assert _message(path) == f"v{i}.root: {message}"
    # float channels and event numbers holding whole numbers are read
    events = read_root(_tree_file(tmp_path / "f.root", _hits(
        fChannel=np.array([0.0, 1.0, 4481.0, 3.0]), fEventNumber=np.array([8.0, 8.0, 3.0, 3.0]))))
    assert [e.event_number for e in events] == [3, 8]
    np.testing.assert_array_equal(events[0].cell, channel_to_cell([4481, 3]))


def test_monte_carlo_truth_branches(tmp_path):
    path = _tree_file(tmp_path / "mc.root", _hits(**{
        "fTrack.fTrackID": np.array([4, 4, -1, 9], np.int32),
        "fTrack.fPID": np.array([11, 11, 0, -13], np.int32),
        "fTurnID": np.array([0, 1, -1, 2], np.int32),
        "fMCMom.fX": np.array([1.0, 2.0, np.nan, 4.0]),
        "fMCMom.fY": np.array([0.5, 0.5, np.nan, 0.5]),
        "fMCMom.fZ": np.array([-1.0, -2.0, np.nan, -3.0])}))
    events = {e.event_number: e for e in read_root(path)}
    assert events[5].track_id.tolist() == [4, 4] and events[2].track_id.tolist() == [-1, 9]
    assert events[2].pid.tolist() == [0, -13] and events[5].turn_id.tolist() == [0, 1]
    np.testing.assert_array_equal(events[2].momentum_mev[1], [4.0, 0.5, -3.0])
    assert np.isnan(events[2].momentum_mev[0]).all() and events[2].momentum_mev.dtype == np.float32
    bad = _tree_file(tmp_path / "pid.root", _hits(**{"fTrack.fPID": np.array([1.0, 2, 3, 4])}))
    assert _message(bad) == "pid.root: CDCHit.fTrack.fPID holds non-integer values"
    wide = _tree_file(tmp_path / "wide.root", _hits(**{
        "fTurnID": np.array([0, 1, 2**40, 3], np.int64)}))
    assert _message(wide).startswith("wide.root: CDCHit.fTurnID: value 1099511627776 at index 2")


def test_cth_counters_outside_0_to_127_are_unknown(tmp_path):
    hits = _hits(8, fEventNumber=np.repeat(np.arange(4), 2).astype(np.int32))
    cth = {"CTHHit.fEventNumber": np.array([0, 1, 2, 3, 3], np.int32),
           "CTHHit.fCounter": np.array([0, 127, 128, -1, 6], np.int32),
           "CTHHit.fT": np.array([10.0, 20.0, 30.0, 40.0, 45.0])}  # the third time name
    events = read_root(_tree_file(tmp_path / "c.root", hits, cth))
    assert [(e.trigger_counter, e.trigger_time_ns) for e in events] == [
        (0, 10.0), (127, 20.0), (-1, 30.0), (-1, 40.0)]
    assert events.metadata["cth_trigger"] and events.metadata["times_relative_to_trigger"]


def test_cth_without_times_or_counters(tmp_path):
    hits = _hits()
    no_time = {"CTHHit.fEventNumber": np.array([5], np.int32),
               "CTHHit.fCounter": np.array([3], np.int32)}
    events = read_root(_tree_file(tmp_path / "n.root", hits, no_time))
    assert all(e.trigger_counter == -1 and e.trigger_time_ns == 0.0 for e in events)
    no_counter = {"CTHHit.fEventNumber": np.array([5, 5], np.int32),
                  "CTHHit.fTime": np.array([np.nan, 100.0])}  # a NaN time is no trigger
    events = {e.event_number: e for e in read_root(_tree_file(tmp_path / "t.root", hits,
                                                                no_counter))}
    assert (events[5].trigger_counter, events[5].trigger_time_ns) == (-1, 100.0)
    assert (events[2].trigger_counter, events[2].trigger_time_ns) == (-1, 0.0)
    np.testing.assert_allclose(events[5].time_ns, [500.0, 600.0])


def test_jagged_branches_must_have_one_value_per_hit(tmp_path):
    counts = np.array([2, 1])
    data = {"CDCHit.fChannel": ak.unflatten(np.array([5, 6, 7], np.int32), counts),
            "CDCHit.fDetectedTime": ak.unflatten(np.array([1.0, 2.0, 3.0]), [1, 2]),
            "CDCHit.fCharge": ak.unflatten(np.array([10.0, 20.0, 30.0]), counts),
            "CDCHit.fEventNumber": np.array([3, 4], np.int32)}
    types = {k: ("var * " + str(np.asarray(ak.flatten(v)).dtype)) if isinstance(v, ak.Array)
             else v.dtype for k, v in data.items()}
    with uproot.recreate(tmp_path / "j.root") as file:
        file.mktree("CDCHitTree", types).extend(data)
    assert _message(tmp_path / "j.root") == \
        "j.root: branch CDCHit.fDetectedTime does not have one value per hit"


def test_write_root_layout_types_and_drift_times(tmp_path):
    from engines.cdc.events import Event

    events = list(drive(generate_events(2, occupancy=0.1, seed=4)))
    quiet = Event(77, events[0].cell[:3], events[0].time_ns[:3], events[0].adc[:3],
                  trigger_counter=-1, drift_time_ns=np.array([5.0, np.nan, 7.0], np.float32))
    events.append(quiet)  # no trigger: no CTH hit
    path = write_root(tmp_path / "w.root", events)  # one entry per hit by default
    with uproot.open(path) as file:
        tree, cth = file["CDCHitTree"], file["CTHHitTree"]
        n_read_out = sum(int((~get_geometry().is_guard[e.cell]).sum()) for e in events)
        assert tree.num_entries == n_read_out and cth.num_entries == 2
        types = {k: tree[k].typename for k in tree.keys()}
        assert {k: types[k] for k in ("CDCHit.fChannel", "CDCHit.fIsSig", "CDCHit.fEventNumber",
                                      "CDCHit.fDetectedTime", "CDCHit.fCharge",
                                      "CDCHit.fDriftTime")} == {
            "CDCHit.fChannel": "int32_t", "CDCHit.fIsSig": "int32_t",
            "CDCHit.fEventNumber": "int32_t", "CDCHit.fDetectedTime": "double",
            "CDCHit.fCharge": "double", "CDCHit.fDriftTime": "double"}
        assert cth["CTHHit.fCounter"].array(library="np").tolist() == \
            [e.trigger_counter for e in events[:2]]
    back = {e.event_number: e for e in read_root(path)}
    for event in events:
        keep = ~get_geometry().is_guard[event.cell]
        np.testing.assert_allclose(back[event.event_number].drift_time_ns,
                                   event.drift_time_ns[keep])
    assert back[77].trigger_counter == -1
    with uproot.open(write_root(tmp_path / "e.root", events, per_event=True)) as file:
        assert file["CDCHitTree"].num_entries == 3


def test_write_root_of_hand_made_events_without_monte_carlo_truth(tmp_path):
    from engines.cdc.events import Event

    cells = get_geometry().cell_of_channel[[10, 11, 12]]
    one = Event(5, cells, np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]),
                np.array([True, False, True]), np.array([7, 8, 7], np.int32),
                has_truth=True, trigger_counter=0, trigger_time_ns=100.0,
                pid=np.array([11, 22, 11], np.int32))
    two = Event(9, cells[:2], np.array([1.5, 2.5]), np.array([1.0, 1.0]),
                np.array([False, True]), np.array([3, 3], np.int32), has_truth=True,
                trigger_counter=-1)  # no pid: the file gets no pid branch
    for per_event in (False, True):
        path = write_root(tmp_path / f"h{per_event}.root", [one, two], per_event=per_event)
        with uproot.open(path) as file:
            tree, cth = file["CDCHitTree"], file["CTHHitTree"]
            assert "CDCHit.fTrack.fPID" not in tree.keys()
            assert "CDCHit.fTrack.fTrackID" in tree.keys()  # one event has MC truth
            assert tree["CDCHit.fEventNumber"].typename == "int32_t"
            assert {k: cth[k].typename for k in cth.keys()} == {
                "CTHHit.fEventNumber": "int32_t", "CTHHit.fCounter": "int32_t",
                "CTHHit.fDetectedTime": "double"}
            assert cth["CTHHit.fCounter"].array(library="np").tolist() == [0]  # counter 0 is one
        back = read_root(path)
        assert [(e.event_number, e.trigger_counter, e.trigger_time_ns) for e in back] == [
            (5, 0, 100.0), (9, -1, 0.0)]
        assert back[0].track_id.tolist() == [7, 8, 7] and back[0].pid is None
    # without any Monte-Carlo truth the track ids are not written: signal 0, others -1
    path = write_root(tmp_path / "plain.root", [two])
    with uproot.open(path) as file:
        assert "CDCHit.fTrack.fTrackID" not in file["CDCHitTree"].keys()
    assert read_root(path)[0].track_id.tolist() == [-1, 0]
    empty = write_root(tmp_path / "none.root", [])
    assert len(read_root(empty)) == 0


def test_cth_hits_that_cannot_trigger(tmp_path):
    hits = _hits(6, fEventNumber=np.array([1, 1, 2, 2, 3, 3], np.int32))
    cth = {"CTHHit.fEventNumber": np.array([1, 1, 2, 3], np.int32),
           "CTHHit.fCounter": np.array([4, 5, 6, 7], np.int32),
           "CTHHit.fDetectedTime": np.array([np.nan, 50.0, np.nan, 20.0]),
           "CTHHit.fIsTrig": np.array([1, 1, 1, 0], np.int32)}
    events = read_root(_tree_file(tmp_path / "t.root", hits, cth))
    # event 1: the flagged hit without a time is skipped; 2: its only flagged hit has none;
    # 3: its hit did not trigger
    assert [(e.trigger_counter, e.trigger_time_ns) for e in events] == [
        (5, 50.0), (-1, 0.0), (-1, 0.0)]
    cth["CTHHit.fIsTrig"] = np.zeros(4, np.int32)  # nothing triggered at all
    events = read_root(_tree_file(tmp_path / "n.root", hits, cth))
    assert all(e.trigger_counter == -1 and e.trigger_time_ns == 0.0 for e in events)


def test_cth_and_momentum_problems_name_the_file(tmp_path):
    far = np.array([1.0, 1e300, 1.0, 1.0])
    path = _tree_file(tmp_path / "m.root", _hits(**{
        "fMCMom.fX": far, "fMCMom.fY": np.ones(4), "fMCMom.fZ": np.ones(4)}))
    assert _message(path).startswith("m.root: CDCHit.fMCMom.fX: value 1e+300 at index 1")
    counts = np.array([2, 1])
    cth = {"CTHHit.fEventNumber": np.array([5, 2], np.int32),
           "CTHHit.fDetectedTime": ak.unflatten(np.array([1.0, 2.0, 3.0]), counts),
           "CTHHit.fCounter": ak.unflatten(np.array([1, 2, 3], np.int32), [1, 2])}
    types = {k: ("var * " + str(np.asarray(ak.flatten(v)).dtype)) if isinstance(v, ak.Array)
             else v.dtype for k, v in cth.items()}
    path = tmp_path / "c.root"
    with uproot.recreate(path) as file:
        hits = _hits()
        file.mktree("CDCHitTree", {k: v.dtype for k, v in hits.items()}).extend(hits)
        file.mktree("CTHHitTree", types).extend(cth)
    assert _message(path) == "c.root: branch CTHHit.fDetectedTime does not have one value per hit"


@pytest.mark.parametrize(("changes", "cth", "prefix"), [
    (dict(fCharge=np.array([1.0, 1.0, 1e300, 1.0])), None, "CDCHit.fCharge: value 1e+300 at "),
    (dict(fDriftTime=np.array([1.0, np.nan, -1e300, 1.0])), None,
     "CDCHit.fDriftTime: value -1e+300 at index 2"),
    (dict(fEventNumber=np.array([1, 1, 2, 2**63], np.uint64)), None,
     "CDCHit.fEventNumber: value 9223372036854775808 at index 3"),
    ({}, {"CTHHit.fEventNumber": np.array([5], np.int32),
          "CTHHit.fDetectedTime": np.array([-1e300])},
     "CDCHit.fDetectedTime relative to the CTH trigger: value "),
])
def test_values_past_their_type_are_named_exactly(tmp_path, changes, cth, prefix):
    path = _tree_file(tmp_path / "x.root", _hits(**changes), cth)
    assert _message(path).startswith(f"x.root: {prefix}"), _message(path)
