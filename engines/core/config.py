"""Typed settings with their documentation in one place (DESIGN.md rule 3).

An engine config is a dataclass whose fields are declared with :func:`param`. The field's
metadata carries everything a user needs to set it — a label, a help text, a unit, a range or a
list of choices — and is read by

* :func:`validate`, called from the dataclass's ``__post_init__``;
* ``widgets.common.config_form.ConfigForm``, which builds the GUI form;
* ``app.cli.common.add_config_args``, which builds the argparse options.

So no range, default or choice list is written twice::

    @dataclass(frozen=True)
    class PeerConfig:
        max_iter: int = param(200, label="Boosting rounds", range=(10, 2000))
        learning_rate: float = param(0.1, label="Learning rate", range=(0.001, 1.0))

        def __post_init__(self) -> None:
            validate(self)

Choices may be a callable (resolved when asked), so a registry stays the only list of names:
``param("efficientnet-b2", choices=lambda: ENCODERS)``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from collections.abc import Callable, Sequence
from typing import Any

from engines.core.errors import InputError

_MISSING = dataclasses.MISSING


def param(default: Any = _MISSING, *, label: str = "", help: str = "", unit: str = "",
          range: tuple[float, float] | None = None, choices: Sequence | Callable | None = None,
          step: float | None = None, decimals: int | None = None, low_open: bool = False,
          check: Callable[[Any], str | None] | None = None,
          parse: Callable[[str], Any] | None = None, format: Callable[[Any], str] | None = None,
          flag: str | None = None, cli: bool = True, suggest: Any = None,
          default_factory: Any = _MISSING) -> Any:
    """A dataclass field with user-facing metadata.

    Parameters
    ----------
    label, help, unit
        Shown in forms and ``--help`` (``unit`` e.g. ``"ns"``, ``"keV"``, ``"mm"``).
    range
        Inclusive ``(low, high)`` for numbers, or for each element of a tuple of numbers.
        ``low_open`` makes the low end exclusive (``0 < x``).
    choices
        Allowed values (or a callable returning them); for a tuple-valued field, each element
        must be one of them.
    step, decimals
        Editor increments and shown decimals in forms.
    check
        Extra rule: returns an error text, or None when the value is fine.
    parse, format
        Text ↔ value for fields that are not plain numbers or strings (e.g. ``"100:5000"``).
    flag
        CLI option name when it differs from ``--field-name``.
    cli
        False keeps the field off the command line.
    suggest
        For an optional field (default None): the value a form offers when it is switched on.
    """
    metadata = {"label": label, "help": help, "unit": unit, "range": range, "choices": choices,
                "step": step, "decimals": decimals, "low_open": low_open, "check": check,
                "parse": parse, "format": format, "flag": flag, "cli": cli,
                "suggest": suggest}
    metadata = {k: v for k, v in metadata.items() if v not in (None, "")}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def like(cls: type, name: str, default: Any, **changes: Any) -> Any:
    """The field ``name`` of config ``cls`` with another default (and optionally other
    metadata), for a subclass that changes a default without restating the parameter."""
    base = next(f for f in dataclasses.fields(cls) if f.name == name)
    return dataclasses.field(default=default, metadata={**base.metadata, **changes})


def label_of(field: dataclasses.Field) -> str:
    return field.metadata.get("label") or field.name.replace("_", " ").capitalize()


def choices_of(field: dataclasses.Field) -> tuple | None:
    """The allowed values of ``field`` (a callable is resolved), or None."""
    choices = field.metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


def describe_range(field: dataclasses.Field) -> str:
    """``"1–1000"``, ``"(0–5]"`` (low end excluded), ``"> 0"`` or the choices, with the unit;
    ``""`` when unconstrained."""
    meta, unit = field.metadata, field.metadata.get("unit", "")
    unit = f" {unit}" if unit else ""
    if "range" in meta:
        low, high = meta["range"]
        if math.isinf(high):
            return f"{'>' if meta.get('low_open') else '≥'} {low:g}{unit}"
        opened, closed = ("(", "]") if meta.get("low_open") else ("", "")
        return f"{opened}{low:g}–{high:g}{closed}{unit}"
    choices = choices_of(field)
    return ", ".join(map(str, choices)) if choices else ""


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type hints of a dataclass (string annotations evaluated)."""
    return typing.get_type_hints(cls)


def base_type(hint: Any) -> tuple[Any, bool]:
    """``(type, optional)`` of a hint: ``float | None`` gives ``(float, True)``."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True
    return hint, False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _element_type(kind: Any) -> Any:
    """``int`` for ``tuple[int, ...]`` / ``tuple[int, int]``, likewise float; else None."""
    if typing.get_origin(kind) is not tuple:
        return None
    args = {a for a in typing.get_args(kind) if a is not Ellipsis}
    return args.pop() if len(args) == 1 else None


def _field_error(field: dataclasses.Field, hint: Any, value: Any) -> str | None:
    kind, optional = base_type(hint)
    if value is None:
        return None if optional or field.default is None else "must be set"
    meta = field.metadata
    values = tuple(value) if isinstance(value, tuple | list) else (value,)
    choices = choices_of(field)
    if choices is not None:
        bad = [v for v in values if v not in choices]
        if bad:
            return f"{bad[0]!r} is not one of {', '.join(map(str, choices))}"
    element = _element_type(kind)
    if element is int and not all(_is_integer(v) for v in values):
        return f"must be integers, got {value!r}"
    if kind is bool and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    if kind is int and not _is_integer(value):
        return f"must be an integer, got {value!r}"
    if kind is float and not _is_number(value):
        return f"must be a number, got {value!r}"
    if "range" in meta:
        low, high = meta["range"]
        for v in values:
            if not _is_number(v) or math.isnan(v):
                return f"must be a number, got {v!r}"
            if v > high or v < low or (meta.get("low_open") and v == low):
                return f"must be within {describe_range(field)}, got {v!r}"
    if "check" in meta:
        return meta["check"](value)
    return None


def validate(config: Any) -> None:
    """Check every field of a config dataclass against its metadata.

    Raises
    ------
    InputError
        ``"<Label> (<name>) must be within 1–1000, got 0"`` for the first bad field.
    """
    hints = field_types(type(config))
    for field in dataclasses.fields(config):
        problem = _field_error(field, hints.get(field.name), getattr(config, field.name))
        if problem:
            raise InputError(f"{label_of(field)} ({field.name}) {problem}")


def to_json(config: Any) -> dict[str, Any]:
    """Plain JSON values of a config (tuples become lists, nested configs dicts)."""
    return dataclasses.asdict(config)


def from_json(cls: type, data: dict[str, Any], what: str = "settings") -> Any:
    """Build ``cls`` from :func:`to_json` output; unknown keys are an :class:`InputError`."""
    if not isinstance(data, dict):
        raise InputError(f"{what}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise InputError(f"unknown {what}: {', '.join(sorted(unknown))}")
    hints = field_types(cls)
    values = {}
    for name, value in data.items():
        kind, _ = base_type(hints.get(name))
        if isinstance(value, list) and (kind is tuple or typing.get_origin(kind) is tuple
                                        or isinstance(fields[name].default, tuple)):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise InputError(f"{what}: {exc}") from None
