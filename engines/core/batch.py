"""Many files in one run: a workspace's per-file analysis fanned out over Dask.

A workspace describes its batch analysis as a :class:`BatchJob` (``engines/<ws>/batch.py``,
named in the workspace registry). :func:`iter_batch` sends one task per input file to a Dask
cluster — a ``distributed.LocalCluster`` of worker processes by default, or an existing
scheduler (``tcp://host:8786``) — where each worker process loads the model once and keeps it.

Results go to one table, ``OUT/results.csv`` (and ``results.parquet`` when pyarrow is
installed): one row per input with ``input``, ``status`` (``ok`` / ``error``), ``error`` and the
job's own result fields; per-file outputs go beside it. A failed file is listed with its error
and does not stop the run. The table is rewritten after every finished file, so an interrupted
run keeps what it did, and a re-run skips the inputs already ``ok``.
"""

from __future__ import annotations

import csv
import glob
import importlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.core.errors import InputError, LabLensError
from engines.core.files import atomic_write_bytes
from engines.core.progress import Progress, TaskGenerator

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
BASE_COLUMNS = ("input", "status", "error")


@dataclass(frozen=True)
class BatchJob:
    """A workspace's per-file analysis.

    Attributes
    ----------
    workspace
        Its name (``"spectrum"``), for ``--model demo``.
    load_model
        ``load_model(model, device) -> model``: a model path or ``"demo"`` on a device
        preference; run once per worker process.
    analyze
        ``analyze(model, path, out_dir) -> {field: value}``: one input file, with per-file
        outputs written into ``out_dir``; raises ``LabLensError`` for a bad file.
    patterns
        File-name patterns that select inputs from a folder (case-insensitive).
    """

    workspace: str
    load_model: Callable[[str, str], Any]
    analyze: Callable[[Any, Path, Path], dict[str, Any]]
    patterns: tuple[str, ...] = ("*",)


@dataclass
class BatchSummary:
    """What a batch run did: counts, the table's path, and the seconds it took."""

    done: int
    failed: int
    skipped: int
    table: Path
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list)


def find_inputs(inputs: str | Path, patterns: tuple[str, ...]) -> list[Path]:
    """Input files: a folder (its files matching ``patterns``, recursively), a glob pattern, or
    one file. Raises InputError when nothing matches."""
    text = str(inputs)
    path = Path(text)
    if path.is_dir():
        wanted = tuple(p.lower() for p in patterns)
        found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and any(Path(p.name.lower()).match(w) for w in wanted))
    elif path.is_file():
        found = [path]
    else:
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if not found:
        raise InputError(f"{path.name or text}: no input files found (patterns: "
                         f"{', '.join(patterns)})")
    return found


def read_results(out_dir: Path) -> list[dict[str, Any]]:
    """Rows of an earlier run's ``results.csv`` (empty when there is none or it is unreadable)."""
    path = Path(out_dir) / RESULTS_CSV
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return "" if value is None else value


def write_results(out_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """Write the table atomically (CSV; Parquet too when pyarrow is installed)."""
    columns = list(BASE_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(row.get(k)) for k in columns} for row in rows)
    path = Path(out_dir) / RESULTS_CSV
    atomic_write_bytes(path, buffer.getvalue().encode())
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return path
    table = pa.table({k: [str(_cell(row.get(k))) for row in rows] for k in columns})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(Path(out_dir) / RESULTS_PARQUET, sink.getvalue().to_pybytes())
    return path


# -- on the workers ------------------------------------------------------------------------

_MODELS: dict[tuple[str, str, str], Any] = {}  # one model per worker process and job


def load_job(path: str) -> BatchJob:
    """The :class:`BatchJob` at ``"module:ATTRIBUTE"``."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "JOB")


def run_one(job_path: str, model: str, device: str, source: str, out_dir: str,
            threads: int | None = None) -> dict[str, Any]:
    """Analyze one input on a worker: the row of the results table (never raises for a bad
    input or model; the row says ``error``). ``threads`` caps torch's CPU threads, so that
    the workers of a local cluster share the cores instead of fighting over them."""
    job = load_job(job_path)
    row: dict[str, Any] = {"input": source, "status": "ok", "error": ""}
    try:
        key = (job_path, model, device)
        if key not in _MODELS:
            if threads:
                import torch

                torch.set_num_threads(threads)
            _MODELS[key] = job.load_model(model, device)
        row.update(job.analyze(_MODELS[key], Path(source), Path(out_dir)))
    except (LabLensError, OSError) as exc:
        row.update(status="error", error=str(exc))
    return row


# -- the driver --------------------------------------------------------------------------


def _client(scheduler: str | None, workers: int):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    cluster = LocalCluster(n_workers=max(1, int(workers)), threads_per_worker=1,
                           processes=True, dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster


def iter_batch(job_path: str, model: str, inputs: str | Path, out_dir: str | Path,
               scheduler: str | None = None, workers: int = 2, device: str = "cpu"
               ) -> TaskGenerator[BatchSummary]:
    """Analyze every input file of ``inputs`` with the job at ``job_path``; one Progress per
    finished file. Inputs already ``ok`` in ``out_dir/results.csv`` are skipped."""
    job = load_job(job_path)
    out = Path(out_dir)
    files = [p for p in find_inputs(inputs, job.patterns)
             if out.resolve() not in p.resolve().parents]  # not this run's own outputs
    if not files:
        raise InputError(f"{Path(str(inputs)).name}: no input files outside the output folder")
    out.mkdir(parents=True, exist_ok=True)
    done_before = {r["input"]: r for r in read_results(out) if r.get("status") == "ok"}
    todo = [p for p in files if str(p) not in done_before]
    rows = {str(p): done_before[str(p)] for p in files if str(p) in done_before}
    started = time.monotonic()
    yield Progress(0.0, f"{len(todo)} of {len(files)} files to analyze "
                        f"({len(files) - len(todo)} done before)")
    failed = 0
    if todo:
        from distributed import as_completed

        client, cluster = _client(scheduler, workers)
        threads = None if scheduler else max(1, (os.cpu_count() or 1) // max(1, workers))
        try:
            futures = [client.submit(run_one, job_path, model, device, str(p), str(out),
                                     threads, key=f"lablens-{job.workspace}-{i}-{p.name}",
                                     pure=False)
                       for i, p in enumerate(todo)]
            for count, future in enumerate(as_completed(futures), 1):
                row = future.result()
                rows[row["input"]] = row
                failed += row["status"] != "ok"
                write_results(out, [rows[str(p)] for p in files if str(p) in rows])
                yield Progress(count / len(todo), f"{count}/{len(todo)} "
                                                  f"{Path(row['input']).name}: {row['status']}")
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    ordered = [rows[str(p)] for p in files if str(p) in rows]
    table = write_results(out, ordered)
    return BatchSummary(len(todo) - failed, failed, len(files) - len(todo), table,
                        time.monotonic() - started, ordered)
