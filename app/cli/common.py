"""Helpers shared by the workspaces' CLI verbs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engines.core.config import base_type, choices_of, describe_range, field_types, label_of
from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.progress import Progress, TaskGenerator, relay

T = TypeVar("T")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    from engines.core.device import DEVICE_CHOICES

    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                        help="compute device (default: auto = CUDA > MPS > CPU)")


def _option_help(field: dataclasses.Field, default: Any) -> str:
    meta = field.metadata
    text = label_of(field)
    if meta.get("help"):
        text += f": {meta['help']}"
    constraint = describe_range(field) if "range" in meta else ""
    if constraint:
        text += f" [{constraint}]"
    elif meta.get("unit"):
        text += f" ({meta['unit']})"
    if default is not None and not isinstance(default, bool):
        shown = meta["format"](default) if "format" in meta else default
        text += f" (default: {shown})"
    return text.replace("%", "%%")


def add_config_args(parser: argparse.ArgumentParser, cls: type, *,
                    exclude: tuple[str, ...] = ()) -> None:
    """One option per field of config dataclass ``cls`` (see :mod:`engines.core.config`):
    ``--field-name`` (or the field's ``flag``), typed, with choices, and help built from the
    label, help text, range, unit and default. Booleans are switches (``--x``, or ``--no-x``
    when they default to on). Options not given keep the dataclass default; read them back
    with :func:`config_from_args`."""
    hints = field_types(cls)
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if not meta.get("cli", True) or field.name in exclude:
            continue
        kind, _ = base_type(hints[field.name])
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory())
        flag = "--" + meta.get("flag", field.name.replace("_", "-"))
        common = {"dest": field.name, "default": argparse.SUPPRESS,
                  "help": _option_help(field, default)}
        if kind is bool:
            if default:
                flag = "--no-" + flag[2:]
            parser.add_argument(flag, action="store_false" if default else "store_true",
                                **common)
            continue
        choices = choices_of(field)
        if "parse" in meta:
            convert = str  # parsed by config_from_args, so a bad value is a one-line InputError
        elif kind in (int, float):
            convert = _number(kind, flag)
        else:
            convert = str
        parser.add_argument(flag, type=convert, metavar=field.name.upper(),
                            choices=None if "parse" in meta else choices, **common)


def _number(kind: type, flag: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = float(text)
            return int(value) if kind is int and value.is_integer() else kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None

    return convert


def config_from_args(args: argparse.Namespace, cls: type, base: Any = None, **fixed: Any) -> Any:
    """Build config ``cls`` from the options :func:`add_config_args` added: the given options
    over ``base`` (default: the dataclass defaults), then ``fixed`` values on top."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in fields}
    for name, value in given.items():
        parse = fields[name].metadata.get("parse")
        if parse is not None and isinstance(value, str):
            given[name] = parse(value)
    values = {**given, **fixed}
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help='model path, or "demo" for the bundled one')


def load_model(model_type: type[T], value: str, workspace: str, device: str) -> T:
    """A model file, or "demo" (the workspace's bundled one), on ``device``."""
    from engines.core.model import load_model as load

    return load(model_type, value, workspace, device)


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


def echo_validations(task: TaskGenerator[T]) -> TaskGenerator[T]:
    """Pass a training generator (:func:`engines.core.training.iter_fit`) through, printing one
    line per validation: step (and epoch), mean training loss and the validation metrics."""
    def echo(report: Progress) -> Progress:
        metrics = report.metrics
        if "train_loss" in metrics:
            epoch = f"epoch {metrics['epoch']:3d}  " if "epoch" in metrics else ""
            values = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.startswith("val_"))
            print(f"{epoch}step {metrics['step']:6d}  loss {metrics['train_loss']:.4f}  {values}",
                  flush=True)
        return report

    return (yield from relay(task, echo))


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
