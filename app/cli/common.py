"""Helpers shared by the workspaces' CLI verbs."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.progress import Progress, TaskGenerator

T = TypeVar("T")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"),
                        help="compute device (default: auto = CUDA > MPS > CPU)")


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help='model path, or "demo" for the bundled one')


def load_model(load: Callable[[Path, Any], T], value: str, workspace: str, device: str) -> T:
    """``load(path, torch_device)`` for a model path or "demo" (the workspace's bundled one)."""
    from engines.core.device import pick_device
    from engines.core.resources import resolve_model_path

    return load(resolve_model_path(value, workspace), pick_device(device))


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="OUT", type=Path,
                        help="write the machine-readable result to this JSON file")


LOG_INTERVAL_S = 30.0  # progress lines when stderr is not a terminal (logs, CI)


def run_with_bar(task: TaskGenerator[T], description: str, quiet: bool | None = None) -> T:
    """Drive an engine generator with a tqdm progress bar on stderr; return its result.

    On a terminal the bar is drawn; otherwise (a log file, a pipe) one plain line is written
    every 30 s, so a short run's piped stderr holds nothing but an error's single line.
    """
    from tqdm import tqdm

    interactive = sys.stderr.isatty() if quiet is None else not quiet
    last_line = time.monotonic()
    with tqdm(total=1000, desc=description, file=sys.stderr, disable=not interactive,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}") as bar:
        while True:
            try:
                report = next(task)
            except StopIteration as stop:
                bar.update(1000 - bar.n)
                return stop.value
            if not isinstance(report, Progress):
                continue
            bar.update(max(0, int(report.fraction * 1000) - bar.n))
            bar.set_postfix_str(report.message, refresh=False)
            if quiet is None and not interactive and time.monotonic() - last_line > LOG_INTERVAL_S:
                last_line = time.monotonic()
                print(f"{description}: {report.fraction:4.0%} {report.message}", file=sys.stderr,
                      flush=True)


def _json_safe(value: Any) -> Any:
    """Convert numpy scalars/arrays and NaN to plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """Write ``result`` atomically to ``path`` (no-op when ``path`` is None)."""
    if path is None:
        return
    text = json.dumps(_json_safe(result), indent=2)
    try:
        atomic_write_bytes(Path(path), text.encode())
    except OSError as exc:
        raise InputError(f"{Path(path).name}: cannot write JSON ({exc.strerror})") from None


def parse_int_list(text: str, what: str) -> list[int]:
    """Parse ``"100,1000,19650"`` into positive integers."""
    try:
        values = [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise InputError(f"{what}: expected positive numbers, got {text!r}")
    return values
