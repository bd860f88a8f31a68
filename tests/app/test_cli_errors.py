"""The CLI on hostile files and on the paths a user takes by accident: exactly one line naming the
file and exit 2 within 20 s and 2 GiB; Ctrl-C gives 130; a closed pipe is not an error.

"Within 20 s" is held as 20 s of the child's CPU time (``RLIMIT_CPU``: past it the kernel ends
the process, and the case fails on its exit status), with a wall-clock guard of ``HANG_S``
against waiting without work: on an idle machine the two agree, and on a loaded one
(parallel jobs sharing two cores) the wall clock measures the other jobs, not the CLI.

Every case runs ``python main.py ...`` in a subprocess (about 2 s of start-up each), so this
holds a handful of representative cases; the fuzzer (tests/fuzz) covers the readers in depth.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import uproot

from engines.cdc.hdf5_io import write_events
from engines.cdc.synthetic import generate_events
from engines.core.progress import drive

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 20  # CPU seconds of the child
HANG_S = 120  # wall-clock guard
MEMORY = 2 << 30


def _limit_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (LIMIT_S, LIMIT_S + 1))


def _limit_cpu_and_memory() -> None:
    _limit_cpu()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _run(*args: str | Path, cap_memory: bool = True) -> subprocess.CompletedProcess:
    """``main.py args`` within 20 s of CPU and (unless torch is loaded: it reserves more
    address space than that up front) 2 GiB of address space."""
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=HANG_S,
                          preexec_fn=_limit_cpu_and_memory if cap_memory else _limit_cpu)


def _one_line_error(result: subprocess.CompletedProcess, name: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-300:], result.stderr[-800:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}: "), result.stderr[-800:]
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


# --------------------------------------------------------------------------- spectrum info

SPECTRUM_CASES = {
    # 100 kB of brackets: over 150 s in a backtracking regex
    "brackets.txt": b"1 " + b"(" * 60_000 + b"\n1 2\n",
    # LookupError from the XML parser
    "bogus.n42": b'<?xml version="1.0" encoding="bogus"?><RadInstrumentData/>',
    # accepted before, with counts that are infinite as float32
    "far.csv": b"Energy,Counts\n1,5\n2,1e300\n3,4\n",
    # accepted before, with a live time of 1e308 s
    "forever.spe": b"$MEAS_TIM:\n1e308 1e308\n$DATA:\n0 3\n1\n2\n3\n4\n$ENER_FIT:\n0 1\n",
}


@pytest.mark.parametrize("name", sorted(SPECTRUM_CASES))
def test_spectrum_info_on_hostile_files(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(SPECTRUM_CASES[name])
    _one_line_error(_run("spectrum", "info", path), name)


# --------------------------------------------------------------------------- cdc info

@pytest.fixture(scope="module")
def good_h5(tmp_path_factory):
    events = list(drive(generate_events(3, occupancy=0.05, seed=4)))
    return write_events(tmp_path_factory.mktemp("cdc") / "good.h5", events)


def _h5(good, tmp_path, name, edit):
    path = tmp_path / name
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as h5:
        edit(h5)
    return path


def _cycle(h5):
    del h5["hits/adc"]
    h5["hits/adc"] = h5py.SoftLink("/hits/adc")  # RuntimeError "too many links" before


def _wrap(h5):
    offset = h5["events/hit_offset"][...]
    offset[1] = 2**63 - 2  # printed wrong totals with exit 0 before
    h5["events/hit_offset"][...] = offset


def _giant(h5):  # 10^6 events of 5e5 hits through fill values: minutes before
    for name in list(h5["events"]):
        dtype = h5["events"][name].dtype
        del h5["events"][name]
        h5["events"].create_dataset(name, shape=(10**6,), dtype=dtype, chunks=(65536,),
                                    compression="gzip",
                                    fillvalue=500_000 if name == "hit_count" else 0)


@pytest.mark.parametrize(("name", "edit"), [("cycle.h5", _cycle), ("wrap.h5", _wrap),
                                            ("giant.h5", _giant)])
def test_cdc_info_on_hostile_hdf5(good_h5, tmp_path, name, edit):
    _one_line_error(_run("cdc", "info", _h5(good_h5, tmp_path, name, edit)), name)


def test_cdc_info_on_hostile_and_empty_root(tmp_path):
    hits = {"CDCHit.fChannel": np.arange(4, dtype=np.int32),
            "CDCHit.fDetectedTime": np.full(4, 700.0), "CDCHit.fCharge": np.full(4, 50.0),
            "CDCHit.fEventNumber": np.zeros(4, np.int32)}
    cth = {"CTHHit.fEventNumber": np.zeros(1, np.int32), "CTHHit.fCounter": np.ones(1, np.int32),
           "CTHHit.fDetectedTime": np.array([1e300])}  # hit times of -inf before
    path = tmp_path / "trigger.root"
    with uproot.recreate(path) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in hits.items()}).extend(hits)
        file.mktree("CTHHitTree", {k: v.dtype for k, v in cth.items()}).extend(cth)
    _one_line_error(_run("cdc", "info", path), "trigger.root")
    empty = tmp_path / "empty.root"  # ValueError from zip() before; now 0 events
    with uproot.recreate(empty) as file:
        file.mktree("CDCHitTree", {k: v.dtype for k, v in hits.items()})
    result = _run("cdc", "info", empty)
    assert result.returncode == 0 and '"events": 0' in result.stdout, result.stderr


# --------------------------------------------------------------------------- other verbs

def test_sample_with_a_bad_library_or_an_unwritable_folder(tmp_path):
    result = _run("spectrum", "sample", "--library", "nosuch", "--out", tmp_path / "o")
    assert result.returncode == 2 and "valid names" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = _run("spectrum", "sample", "--library", "copper5", "--out", blocker / "sub")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "sub" in result.stderr and "Traceback" not in result.stderr


def test_live_and_analyze_on_a_bad_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(SPECTRUM_CASES["far.csv"])
    _one_line_error(_run("spectrum", "live", "--model", "demo", bad, cap_memory=False),
                    "bad.csv")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))  # an HDF5 signature, nothing behind it
    _one_line_error(_run("cdc", "analyze", "--model", "demo", "--data", junk, "--out",
                         tmp_path / "pred.h5", cap_memory=False), "junk.h5")
    assert not (tmp_path / "pred.h5").exists()


def _rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines()
                 if line.startswith("VmRSS:")), 0.0)


def _default_sigint() -> None:
    """A child of a shell that started the tests in the background (``make test &``) inherits
    SIGINT ignored, and Python keeps it so: give the CLI the terminal's default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_without_a_traceback_or_a_partial_file(tmp_path):
    out = tmp_path / "many.h5"
    proc = subprocess.Popen([sys.executable, "main.py", "cdc", "sample", "--out", str(out),
                             "--events", "100000"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + LIMIT_S
        while _rss_mib(proc.pid) < 300 and time.monotonic() < deadline:  # generating by then
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130 and err.strip() == "interrupted", err[-800:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workspace", ["spectrum", "cdc"])
def test_a_closed_pipe_is_not_an_error(tmp_path, good_h5, workspace):
    """``main.py ... info FILE | head -c1``: the reader is gone before anything is written."""
    if workspace == "spectrum":
        path = tmp_path / "ok.csv"
        path.write_text("Energy,Counts\n1,5\n2,6\n3,4\n")
    else:
        path = good_h5
    proc = subprocess.Popen([sys.executable, "main.py", workspace, "info", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limit_cpu)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=HANG_S) == 0 and _only_warnings(err), err[-800:]
    result = subprocess.run(f"'{sys.executable}' main.py {workspace} info '{path}' | head -c1; "
                            "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                            cwd=ROOT, capture_output=True, text=True, timeout=HANG_S,
                            preexec_fn=_limit_cpu)
    assert result.returncode == 0 and result.stdout == "{", result.stderr[-800:]
    assert _only_warnings(result.stderr), result.stderr[-800:]


def _only_warnings(stderr: str) -> bool:
    """Nothing on stderr but ``warning:`` lines (``cdc info`` compares the file with the model)."""
    return all(line.startswith("warning: ") for line in stderr.splitlines())
