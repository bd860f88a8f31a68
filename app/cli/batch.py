"""The ``batch`` verb every workspace with a batch job gets:
``main.py <ws> batch --model M --inputs GLOB_OR_DIR --out DIR [--scheduler ADDRESS] [--workers N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import add_device_option, add_model_option, run_with_bar


def add_batch_verb(verbs, spec) -> None:
    """Add ``batch`` to a workspace's verbs (``spec``: its :class:`app.workspaces.WorkspaceSpec`)."""
    p = verbs.add_parser("batch", help="analyze many files on a Dask cluster into one table")
    add_model_option(p)
    p.add_argument("--inputs", required=True,
                   help="a folder (searched recursively), a glob pattern, or one file")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for results.csv (and .parquet) and per-file outputs")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a local "
                        "cluster)")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes of the local cluster (default 2)")
    add_device_option(p)
    p.set_defaults(handler=_batch, batch_job=spec.batch)


def _batch(args: argparse.Namespace) -> int:
    from engines.core.batch import iter_batch
    from engines.core.errors import InputError

    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    summary = run_with_bar(iter_batch(args.batch_job, args.model, args.inputs, args.out,
                                      args.scheduler, args.workers, args.device), "batch")
    rate = summary.done / summary.seconds if summary.seconds > 0 else 0.0
    print(f"{summary.done} analyzed, {summary.failed} failed, {summary.skipped} done before; "
          f"{summary.seconds:.1f} s ({rate:.2f} files/s); table {summary.table}")
    for row in summary.rows:
        if row.get("status") == "error":
            print(f"  failed: {row['error']}")
    return 0
