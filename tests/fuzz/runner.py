"""The fuzz runner: worker processes with an alarm and an address-space limit, a table per
format, and delta-debugging minimisation of every distinct failure into ``tests/fuzz/cases``.

Command line (``make fuzz N=20000``)::

    python -m tests.fuzz.runner --n 20000 --formats csv,spe,cnf,n42,hdf5,root --seed 0

Each worker is a forked process that builds its cases itself (from ``(format, seed, index)``,
see :func:`tests.fuzz.mutators.make_case`), writes them to its own folder and reads them with
a 10 s ``SIGALRM`` and an ``RLIMIT_AS`` of 2 GiB more than the fork maps at its start. A
worker stuck in C code (the alarm only fires between Python bytecodes) is killed by the
parent after the alarm plus a grace period.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from tests.fuzz.seeds import FORMATS
from tests.fuzz.targets import FAILURES, OUTCOMES, run_target

#: A case the fuzzer itself failed to make: counted (and a failure of the run), never hidden.
FUZZER_ERROR = "fuzzer_error"

CASES_DIR = Path(__file__).with_name("cases")
ALARM_S = 10.0
GRACE_S = 5.0
MEMORY_BYTES = 2 << 30
MAX_CASE_BYTES = 256 << 10  # minimised cases larger than this are reported, not stored
#: Where the workers write their cases: a RAM file system when there is one (every case is a
#: file or a folder written, read and removed; on a busy disk that was a third of a semset
#: case's time), else the system's temporary folder.
FAST_TMP = Path("/dev/shm")
#: Modules a format's reader needs that map more address space than a worker may take (torch
#: maps about 2 GiB of libraries): imported in the parent, shared by the forked workers.
#: Heavy imports of other readers are preloaded too: a first import under a loaded machine can
#: take seconds, and an alarm that interrupts it leaves a half-initialised module behind.
PRELOAD = {"model": ("torch", "engines.spectrum.classifier"),
           "micrograph": ("tifffile", "PIL.PngImagePlugin", "engines.sem.readers"),
           "semlabel": ("tifffile", "PIL.PngImagePlugin", "engines.sem.labels"),
           "semset": ("scipy.ndimage", "engines.sem.dataset"),
           "luna16": ("engines.nodules.luna16",)}


class _Alarm(BaseException):
    """Raised by SIGALRM inside a worker (a BaseException: readers must not swallow it)."""


@dataclass(frozen=True)
class Job:
    """Read case ``index`` of ``fmt`` (built in the worker), or the given bytes."""

    fmt: str
    index: int = -1
    suffix: str = ""
    data: bytes | None = None
    alarm_s: float = ALARM_S


@dataclass
class Outcome:
    job: Job
    outcome: str
    detail: str = ""
    mutator: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # what the worker spent on the CPU: a loaded machine's "hang"


def _on_alarm(signum, frame):
    raise _Alarm()


def _mapped_bytes() -> int:
    """Address space this process maps now (VmSize), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _worker(conn, seed: int, memory_bytes: int, quick: bool, folder: Path) -> None:
    from tests.fuzz.mutators import make_case

    warnings.simplefilter("ignore")  # the table is the output; CLI tests check stderr
    if "torch" in sys.modules:  # forked from a process whose torch may have started its thread
        sys.modules["torch"].set_num_threads(1)  # pool: one thread, as DataLoader workers do
    # the budget comes on top of what the fork already maps (a test process may hold torch)
    limit = _mapped_bytes() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(folder)  # the structured mutators' h5py / uproot files go there too
    parent = os.getppid()
    while True:
        while not conn.poll(1.0):
            if os.getppid() != parent:  # the parent died without telling us (os._exit)
                return
        job = conn.recv()
        if job is None:
            break
        mutator, suffix, data = "given", job.suffix, job.data
        try:
            if data is None:
                case = make_case(job.fmt, seed, job.index, quick)
                mutator, suffix, data = case.mutator, case.suffix, case.data
            path = folder / f"case{suffix}"
            path.write_bytes(data)
        except BaseException as exc:  # a bug of the fuzzer itself: report, do not count
            conn.send((FUZZER_ERROR, f"{type(exc).__name__}: {exc}", mutator, 0.0, 0.0))
            continue
        started, cpu = time.monotonic(), time.process_time()
        signal.setitimer(signal.ITIMER_REAL, job.alarm_s)
        try:
            outcome, detail = run_target(job.fmt, path)
        except _Alarm:
            outcome, detail = "hang", (f"over {job.alarm_s:g} s (alarm; "
                                       f"{time.process_time() - cpu:.1f} s CPU)")
        except MemoryError:
            outcome, detail = "memory", "MemoryError"
        finally:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
            except _Alarm:  # it fired just as the read ended
                pass
        path.unlink(missing_ok=True)
        conn.send((outcome, detail, mutator, time.monotonic() - started,
                   time.process_time() - cpu))


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far; 0 if it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _case_root() -> str | None:
    """The folder for the workers' case folders (removed at exit): :data:`FAST_TMP` if usable."""
    return str(FAST_TMP) if FAST_TMP.is_dir() and os.access(FAST_TMP, os.W_OK) else None


@dataclass
class Pool:
    """Worker processes that read jobs; dead or stuck workers are replaced."""

    workers: int = 2
    seed: int = 0
    memory_bytes: int = MEMORY_BYTES
    quick: bool = False
    formats: tuple[str, ...] = FORMATS
    _procs: list = field(default_factory=list)

    def __enter__(self) -> Pool:
        for fmt in self.formats:  # imported before the fork, so outside the workers' budget
            for module in PRELOAD.get(fmt, ()):
                importlib.import_module(module)
        self._context = multiprocessing.get_context("fork")
        self._folder = Path(tempfile.mkdtemp(prefix="lablens-fuzz-", dir=_case_root()))
        self._spawned = 0
        self._procs = [self._spawn() for _ in range(self.workers)]
        return self

    def __exit__(self, *exc_info) -> None:
        for _, conn in self._procs:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in self._procs:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _spawn(self):
        parent, child = self._context.Pipe()
        self._spawned += 1
        folder = self._folder / f"worker{self._spawned}"
        proc = self._context.Process(target=_worker, args=(child, self.seed, self.memory_bytes,
                                                             self.quick, folder), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def _replace(self, slot: int) -> None:
        proc, conn = self._procs[slot]
        if proc.is_alive():
            proc.kill()
        proc.join()
        conn.close()
        self._procs[slot] = self._spawn()

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Outcomes of ``jobs`` (in completion order)."""
        pending = iter(jobs)
        busy: dict[int, tuple[Job, float, float]] = {}

        def feed(slot: int) -> bool:
            job = next(pending, None)
            if job is None:
                return False
            self._procs[slot][1].send(job)
            busy[slot] = (job, time.monotonic(), _cpu_seconds(self._procs[slot][0].pid))
            return True

        for slot in range(len(self._procs)):
            feed(slot)
        while busy:
            conns = {self._procs[s][1]: s for s in busy}
            ready = wait(list(conns), timeout=0.5)
            for conn in ready:
                slot = conns[conn]
                job, started, _ = busy.pop(slot)
                try:
                    outcome, detail, mutator, seconds, cpu = conn.recv()
                except (EOFError, OSError):
                    proc = self._procs[slot][0]
                    proc.join(1)
                    code = proc.exitcode
                    outcome = "memory" if code == -signal.SIGKILL else "crash"
                    detail, mutator, seconds, cpu = f"worker died (exit {code})", "", 0.0, 0.0
                    self._replace(slot)
                yield Outcome(job, outcome, detail, mutator, seconds, cpu)
                feed(slot)
            now = time.monotonic()
            for slot, (job, started, cpu_started) in list(busy.items()):
                if now - started > job.alarm_s + GRACE_S:  # stuck in C code
                    busy.pop(slot)
                    cpu = _cpu_seconds(self._procs[slot][0].pid) - cpu_started
                    self._replace(slot)
                    yield Outcome(job, "hang", f"over {job.alarm_s + GRACE_S:g} s (killed; "
                                  f"{cpu:.1f} s CPU)", "", now - started, cpu)
                    feed(slot)


# --------------------------------------------------------------------------- minimising

def signature(outcome: Outcome) -> str:
    """Failures with the same signature are the same finding (digits and paths dropped)."""
    detail = "".join(c for c in outcome.detail.split(":")[0] if not c.isdigit())
    return f"{outcome.job.fmt}/{outcome.outcome}/{detail[:60]}"


def _chunks(data: bytes, fmt: str) -> list[bytes]:
    if fmt in ("csv", "spe", "n42"):
        lines = data.splitlines(keepends=True)
        if len(lines) > 4:
            return lines
    return [bytes([b]) for b in data] if len(data) <= 4096 else \
        [data[i:i + 256] for i in range(0, len(data), 256)]


def minimise(pool: Pool, fmt: str, suffix: str, data: bytes, outcome: str,
             budget_s: float = 40.0) -> bytes:
    """Shrink ``data`` (ddmin over lines, then bytes) while the reader still gives ``outcome``.

    Hangs are re-checked with a 3 s alarm so that each attempt stays short.
    """
    deadline = time.monotonic() + budget_s
    alarm = 3.0 if outcome == "hang" else ALARM_S

    def fails(candidate: bytes) -> bool:
        if not candidate or time.monotonic() > deadline:
            return False
        result = next(pool.run([Job(fmt, suffix=suffix, data=candidate, alarm_s=alarm)]))
        return result.outcome == outcome

    for _ in range(2):  # lines first (text), then finer pieces
        parts = _chunks(data, fmt)
        n = 2
        while len(parts) >= 2 and time.monotonic() < deadline:
            size = -(-len(parts) // n)
            for start in range(0, len(parts), size):
                candidate = parts[:start] + parts[start + size:]
                if fails(b"".join(candidate)):
                    parts, n = candidate, max(n - 1, 2)
                    break
            else:
                if n >= len(parts):
                    break
                n = min(len(parts), 2 * n)
        data = b"".join(parts)
    return data


def save_case(fmt: str, suffix: str, data: bytes, outcome: Outcome,
              folder: Path = CASES_DIR) -> Path | None:
    """Store a minimised case as ``cases/<fmt>/<outcome>-<mutator>-<hash><suffix>``."""
    if len(data) > MAX_CASE_BYTES:
        return None
    digest = hashlib.sha1(data).hexdigest()[:10]
    mutator = (outcome.mutator or "given").split("+")[0]
    path = folder / fmt / f"{outcome.outcome}-{mutator}-{digest}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    index_path = folder / "INDEX.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[f"{fmt}/{path.name}"] = {"outcome": outcome.outcome, "detail": outcome.detail,
                                   "mutator": outcome.mutator, "case": outcome.job.index}
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")
    return path


# --------------------------------------------------------------------------- running

def fuzz(formats: Iterable[str], n: int | dict[str, int], seed: int = 0, workers: int = 2,
         memory_bytes: int = MEMORY_BYTES, minimise_failures: bool = False,
         max_minimise: int = 40, cases_dir: Path = CASES_DIR, log=print,
         progress: bool = True, quick: bool = False,
         indices: Iterable[int] | None = None, failures_path: Path | None = None
         ) -> FuzzReport:
    """Run ``n`` cases per format (or ``n[fmt]``), or the cases numbered ``indices`` of each
    format (a fix re-checked on the cases that failed); return outcome counts per format.

    Prints (through ``log``) the table, one line per distinct failure, and with
    ``minimise_failures`` the minimised case files written to ``cases_dir``. With
    ``failures_path``, every failing case is appended there as a JSON line (format, index,
    outcome, detail, mutator, wall and CPU seconds): the ``--indices`` to re-check after a fix.

    Returns
    -------
    FuzzReport
        Outcome counts per format, the first case of each distinct failure, wall time.
    """
    counts: dict[str, Counter] = defaultdict(Counter)
    seconds: Counter = Counter()
    cpu: Counter = Counter()
    first: dict[str, Outcome] = {}
    started = time.monotonic()
    formats = list(formats)
    per_format = n if isinstance(n, dict) else dict.fromkeys(formats, n)
    jobs = [Job(fmt, i) for i in range(max(per_format.values())) for fmt in formats
            if i < per_format[fmt]] if indices is None else \
        [Job(fmt, i) for i in indices for fmt in formats]
    step = max(500, len(jobs) // 10)
    with Pool(workers, seed, memory_bytes, quick, tuple(formats)) as pool:
        for done, result in enumerate(pool.run(jobs), start=1):
            if progress and done % step == 0:
                failed = sum(c[o] for c in counts.values() for o in FAILURES)
                log(f"  {done}/{len(jobs)} cases, {failed} failures, "
                    f"{time.monotonic() - started:.0f} s")
            counts[result.job.fmt][result.outcome] += 1
            seconds[result.job.fmt] += result.seconds
            cpu[result.job.fmt] += result.cpu_seconds
            if result.outcome in FAILURES and failures_path is not None:
                with failures_path.open("a") as stream:
                    stream.write(json.dumps({
                        "format": result.job.fmt, "index": result.job.index,
                        "outcome": result.outcome, "detail": result.detail[:300],
                        "mutator": result.mutator, "seconds": round(result.seconds, 2),
                        "cpu_seconds": round(result.cpu_seconds, 2)}) + "\n")
            if result.outcome in FAILURES and signature(result) not in first:
                first[signature(result)] = result
                if progress:  # as found: a long run's findings can be fixed while it runs
                    log(f"  new failure {signature(result)}: case {result.job.index} "
                        f"({result.mutator}) {result.detail[:150]}")
            elif result.outcome == FUZZER_ERROR:
                log(f"fuzzer error in {result.job.fmt} case {result.job.index}: {result.detail}")
        log(format_table(counts, seconds, time.monotonic() - started, cpu))
        for key, result in sorted(first.items()):
            log(f"  {key}: case {result.job.index} ({result.mutator}) {result.detail[:150]}")
        if minimise_failures:
            from tests.fuzz.mutators import make_case

            for key, result in sorted(first.items())[:max_minimise]:
                case = make_case(result.job.fmt, seed, result.job.index, quick)
                small = minimise(pool, case.fmt, case.suffix, case.data, result.outcome)
                saved = save_case(case.fmt, case.suffix, small, result, cases_dir)
                log(f"  minimised {key}: {len(case.data)} -> {len(small)} bytes"
                    f" {saved.relative_to(cases_dir.parent) if saved else '(too big, not saved)'}")
    return FuzzReport(dict(counts), dict(sorted(first.items())), time.monotonic() - started)


@dataclass
class FuzzReport:
    counts: dict[str, Counter]
    failures: dict[str, Outcome]
    wall_s: float

    @property
    def n_failures(self) -> int:
        """Failing cases, and cases the fuzzer could not make (those were not tested)."""
        return sum(c[o] for c in self.counts.values() for o in (*FAILURES, FUZZER_ERROR))


def format_table(counts: dict[str, Counter], seconds: Counter, wall_s: float,
                 cpu: Counter | None = None) -> str:
    """Outcome counts per format, one row each, plus the seconds spent reading (wall clock in
    the workers, and their CPU time: on a loaded machine the two differ)."""
    cpu = cpu if cpu is not None else Counter()
    columns = (*OUTCOMES, FUZZER_ERROR)
    header = ["format", *columns, "total", "read s", "cpu s"]
    rows = [[fmt, *(counts[fmt][o] for o in columns), sum(counts[fmt].values()),
             f"{seconds[fmt]:.1f}", f"{cpu[fmt]:.1f}"] for fmt in counts]
    rows.append(["all", *(sum(counts[f][o] for f in counts) for o in columns),
                 sum(sum(c.values()) for c in counts.values()), f"{sum(seconds.values()):.1f}",
                 f"{sum(cpu.values()):.1f}"])
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines + [f"wall time {wall_s:.1f} s"])


def _log(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.runner", description=__doc__
                                     .splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="cases per format")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--memory-mib", type=int, default=MEMORY_BYTES >> 20)
    parser.add_argument("--minimise", action="store_true",
                        help="shrink the first case of each distinct failure into tests/fuzz/cases")
    parser.add_argument("--cases-dir", type=Path, default=CASES_DIR)
    parser.add_argument("--failures", type=Path,
                        help="append every failing case to this file (JSON lines)")
    parser.add_argument("--indices", help="only these case numbers of each format, e.g. "
                        "195,723 (re-checking a fix; --n is then ignored)")
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown formats {unknown}; valid: {', '.join(FORMATS)}")
    report = fuzz(formats, args.n, args.seed, args.workers, args.memory_mib << 20,
                  args.minimise, cases_dir=args.cases_dir, log=_log,
                  indices=[int(i) for i in args.indices.split(",")] if args.indices else None,
                  failures_path=args.failures)
    print(f"{report.n_failures} failures")
    return 1 if report.n_failures else 0


if __name__ == "__main__":
    sys.exit(main())
