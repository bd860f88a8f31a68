"""Batch runs with a stand-in job: input discovery, the results table, one worker's row, and a
whole run on an in-process Dask cluster (re-run skips, failures listed, outputs not re-read)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engines.core.batch import (
    BatchJob,
    find_inputs,
    iter_batch,
    load_job,
    read_results,
    run_one,
    write_results,
)
from engines.core.errors import InputError
from engines.core.progress import drive

LOADS: list[tuple[str, str]] = []


def _load(model, device):
    LOADS.append((model, device))
    if model == "broken":
        raise InputError("broken: not a model")
    return {"scale": 2}


def _analyze(model, path, out_dir):
    text = path.read_text()
    if text == "bad":
        raise InputError(f"{path.name}: bad content")
    (out_dir / f"{path.stem}.out").write_text(text)
    return {"value": int(text) * model["scale"], "parts": [1, 2], "note": None}


JOB = BatchJob("demo", _load, _analyze, patterns=("*.txt", "*.DAT"))
HERE = "tests.engines.core.test_batch"


def _folder(root: Path) -> Path:
    root.mkdir()
    for name, text in [("a.txt", "1"), ("B.TXT", "2"), ("c.dat", "bad"), (".hidden.txt", "3"),
                       ("e.csv", "4")]:
        (root / name).write_text(text)
    (root / "sub").mkdir()
    (root / "sub" / "d.txt").write_text("5")
    return root


def test_inputs_from_a_folder_a_pattern_or_a_file(tmp_path):
    root = _folder(tmp_path / "in")
    names = [p.relative_to(root).as_posix() for p in find_inputs(root, JOB.patterns)]
    assert names == ["B.TXT", "a.txt", "c.dat", "sub/d.txt"]  # hidden and other files left out
    assert find_inputs(root / "a.txt", JOB.patterns) == [root / "a.txt"]
    assert find_inputs(str(root / "*.csv"), JOB.patterns) == [root / "e.csv"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as error:
        find_inputs(tmp_path / "empty", JOB.patterns)
    assert str(error.value) == "empty: no input files found (patterns: *.txt, *.DAT)"
    (root / "sub" / "deep").mkdir()
    (root / "sub" / "deep" / "g.txt").write_text("6")
    assert find_inputs(str(root / "**" / "g.txt"), JOB.patterns) == [root / "sub/deep/g.txt"]


def test_results_table_round_trip(tmp_path):
    rows = [{"input": "a", "status": "ok", "error": "", "value": 2, "parts": [1, 2]},
            {"input": "b", "status": "error", "error": "b: bad", "extra": None, "value": 3}]
    path = write_results(tmp_path, rows)
    assert path == tmp_path / "results.csv"
    lines = path.read_bytes().decode().split("\n")
    assert lines[0] == "input,status,error,value,parts,extra"
    assert lines[1] == 'a,ok,,2,"[1, 2]",' and lines[2] == "b,error,b: bad,3,,"
    back = read_results(tmp_path)
    assert back[1] == {"input": "b", "status": "error", "error": "b: bad", "value": "3",
                       "parts": "", "extra": ""}
    assert read_results(tmp_path / "nowhere") == []
    write_results(tmp_path, [{"input": "c", "status": "error", "error": "two\r\nlines"}])
    assert read_results(tmp_path)[0]["error"] == "two\r\nlines"  # a quoted line break kept
    path.write_bytes(b"\xff\xfe\x00bad")
    assert read_results(tmp_path) == []


def test_a_worker_row_never_raises_and_loads_the_model_once(tmp_path):
    root = _folder(tmp_path / "in")
    assert load_job(f"{HERE}:JOB") is JOB
    LOADS.clear()
    row = run_one(f"{HERE}:JOB", "m1", "cpu", str(root / "a.txt"), str(tmp_path))
    assert row == {"input": str(root / "a.txt"), "status": "ok", "error": "", "value": 2,
                   "parts": [1, 2], "note": None}
    assert (tmp_path / "a.out").read_text() == "1"
    bad = run_one(f"{HERE}:JOB", "m1", "cpu", str(root / "c.dat"), str(tmp_path))
    assert bad == {"input": str(root / "c.dat"), "status": "error", "error": "c.dat: bad content"}
    missing = run_one(f"{HERE}:JOB", "m1", "cpu", str(root / "gone.txt"), str(tmp_path))
    assert missing["status"] == "error" and "gone.txt" in missing["error"]
    broken = run_one(f"{HERE}:JOB", "broken", "cpu", str(root / "a.txt"), str(tmp_path))
    assert broken["status"] == "error" and broken["error"] == "broken: not a model"
    assert LOADS == [("m1", "cpu"), ("broken", "cpu")]


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None, silence_logs=40)
    yield cluster.scheduler_address
    cluster.close()


def test_a_whole_run_then_a_rerun_that_skips_what_is_done(tmp_path, scheduler):
    root = _folder(tmp_path / "in")
    out = root / "results"  # inside the inputs: its files are not inputs
    reports = []
    summary = drive(iter_batch(f"{HERE}:JOB", "m1", root, out, scheduler=scheduler),
                    reports.append)
    assert reports[0].fraction == 0.0
    assert reports[0].message == "4 of 4 files to analyze (0 done before)"
    assert [r.fraction for r in reports[1:]] == [0.25, 0.5, 0.75, 1.0]
    assert (summary.done, summary.failed, summary.skipped) == (3, 1, 0)
    assert summary.table == out / "results.csv"
    with (out / "results.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [Path(r["input"]).name for r in table] == ["B.TXT", "a.txt", "c.dat", "d.txt"]
    assert [r["status"] for r in table] == ["ok", "ok", "error", "ok"]
    assert table[1]["value"] == "2" and table[2]["error"] == "c.dat: bad content"
    again = []
    second = drive(iter_batch(f"{HERE}:JOB", "m1", root, out, scheduler=scheduler),
                   again.append)
    assert again[0].message == "1 of 4 files to analyze (3 done before)"
    assert (second.done, second.failed, second.skipped) == (0, 1, 3)
    assert [r["status"] for r in second.rows] == ["ok", "ok", "error", "ok"]


def test_a_run_refuses_inputs_that_are_all_its_own_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.txt").write_text("1")
    with pytest.raises(InputError) as error:
        drive(iter_batch(f"{HERE}:JOB", "m1", out, out))
    assert str(error.value) == "out: no input files outside the output folder"
    distributed = pytest.importorskip("distributed")

    def refused(address, timeout):
        raise OSError(f"timed out after {timeout} connecting to {address}")

    monkeypatch.setattr(distributed, "Client", refused)
    with pytest.raises(InputError) as error:
        drive(iter_batch(f"{HERE}:JOB", "m1", _folder(tmp_path / "in"), tmp_path / "o",
                         scheduler="tcp://10.0.0.9:8786"))
    assert str(error.value) == ("cannot reach the Dask scheduler at tcp://10.0.0.9:8786 (timed "
                                "out after 10s connecting to tcp://10.0.0.9:8786)")


class _Finished:
    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class _InlineClient:
    """Runs each submitted task at once, in this process; records what it was given."""

    def __init__(self):
        self.calls, self.closed = [], False

    def submit(self, function, *args, key, pure):
        self.calls.append((args, key, pure))
        return _Finished(function(*args))

    def close(self):
        self.closed = True


@pytest.fixture
def inline(monkeypatch):
    """iter_batch without Dask: tasks run inline and finish in reverse order."""
    distributed = pytest.importorskip("distributed")
    client, cluster = _InlineClient(), _InlineClient()
    made = []

    def make_client(scheduler, workers):
        made.append((scheduler, workers))
        return client, (None if scheduler else cluster)

    monkeypatch.setattr("engines.core.batch._client", make_client)
    monkeypatch.setattr(distributed, "as_completed", lambda futures: reversed(list(futures)))
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    return client, cluster, made


def test_the_driver_writes_rows_in_input_order_whatever_finishes_first(tmp_path, inline):
    client, cluster, made = inline
    root = _folder(tmp_path / "in")
    out = tmp_path / "out"
    reports = []
    summary = drive(iter_batch(f"{HERE}:JOB", "m1", root, out, workers=3, device="cuda:1"),
                    reports.append)
    assert made == [(None, 3)] and client.closed and cluster.closed
    assert [args for args, _, _ in client.calls][0] == (
        f"{HERE}:JOB", "m1", "cuda:1", str(root / "B.TXT"), str(out), 2)  # 8 cores / 3
    assert [key for _, key, _ in client.calls] == [
        "lablens-demo-0-B.TXT", "lablens-demo-1-a.txt", "lablens-demo-2-c.dat",
        "lablens-demo-3-d.txt"]
    assert {pure for _, _, pure in client.calls} == {False}
    assert [r.message for r in reports] == [
        "4 of 4 files to analyze (0 done before)", "1/4 d.txt: ok", "2/4 c.dat: error",
        "3/4 a.txt: ok", "4/4 B.TXT: ok"]
    assert [r.fraction for r in reports] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [Path(r["input"]).name for r in summary.rows] == ["B.TXT", "a.txt", "c.dat", "d.txt"]
    assert (summary.done, summary.failed, summary.skipped) == (3, 1, 0)
    assert summary.table == out / "results.csv" and summary.seconds >= 0
    assert [Path(r["input"]).name for r in read_results(out)] == ["B.TXT", "a.txt", "c.dat",
                                                                  "d.txt"]


def test_the_driver_skips_what_is_done_and_uses_a_given_scheduler(tmp_path, inline):
    client, cluster, made = inline
    root = _folder(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    write_results(out, [{"input": str(root / "a.txt"), "status": "ok", "error": "", "value": 2},
                        {"input": str(root / "c.dat"), "status": "error", "error": "c.dat: bad"}])
    reports = []
    summary = drive(iter_batch(f"{HERE}:JOB", "m1", root, out, scheduler="tcp://h:8786"),
                    reports.append)
    assert made == [("tcp://h:8786", 2)] and client.closed and not cluster.closed
    assert reports[0].message == "3 of 4 files to analyze (1 done before)"
    assert [args[3] for args, _, _ in client.calls] == [str(root / n) for n in
                                                        ("B.TXT", "c.dat", "sub/d.txt")]
    assert {args[5] for args, _, _ in client.calls} == {None}  # a remote cluster's own threads
    assert (summary.done, summary.failed, summary.skipped) == (2, 1, 1)
    assert summary.rows[1] == {"input": str(root / "a.txt"), "status": "ok", "error": "",
                               "value": "2"}  # kept from the earlier table
    client.calls.clear()
    drive(iter_batch(f"{HERE}:JOB", "m1", root / "a.txt", out))  # all done: no client at all
    assert client.calls == [] and len(made) == 1


def test_a_local_cluster_gets_one_thread_per_worker_process(monkeypatch):
    distributed = pytest.importorskip("distributed")
    made = {}

    def cluster(**options):
        made.update(options)
        return "cluster"

    monkeypatch.setattr(distributed, "LocalCluster", cluster)
    monkeypatch.setattr(distributed, "Client", lambda target, **kw: ("client", target, kw))
    from engines.core.batch import _client

    assert _client(None, 0) == (("client", "cluster", {}), "cluster")
    assert made == {"n_workers": 1, "threads_per_worker": 1, "processes": True,
                    "dashboard_address": None, "silence_logs": 40}
    assert _client("tcp://h:1", 4) == (("client", "tcp://h:1", {"timeout": "10s"}), None)
