"""Items under review: objects (a mask id) or boxes (voxel coordinates, world mm), immutable.

Shared by :mod:`engines.core.review` (the document) and the commands that edit it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

Box = tuple[float, float, float, float, float, float]
"""``(z0, y0, x0, z1, y1, x1)`` in voxel-edge units: voxel index ``k`` spans ``[k, k + 1)``."""
Scalar = str | int | float | bool | None


class ItemState(str, Enum):
    """What the reviewer decided about an item."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNCERTAIN = "uncertain"


def _finite(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _optional(convert: Any) -> Any:
    return partial(_none_or, convert)


def _none_or(convert: Any, value: Any, item_id: int) -> Any:
    return None if value is None else convert(value, item_id)


def _numbers(name: str, count: int) -> Any:
    def convert(value: Any, item_id: int) -> tuple[float, ...]:
        values = tuple(_finite(v, f"item {item_id}: {name}") for v in value)
        if len(values) != count:
            raise ValueError(f"item {item_id}: {name} needs {count} numbers, got {len(values)}")
        return values

    return convert


def _box(value: Any, item_id: int) -> tuple[float, ...]:
    box = _numbers("box", 6)(value, item_id)
    if any(box[i] > box[i + 3] for i in range(3)):
        raise ValueError(f"item {item_id}: box needs z0, y0, x0, z1, y1, x1 with each start "
                         f"<= its end, got {box}")
    return box


def _size(value: Any, item_id: int) -> tuple[float, ...]:
    size = _numbers("size_mm", 3)(value, item_id)
    if min(size) < 0:
        raise ValueError(f"item {item_id}: size_mm must not be negative, got {size}")
    return size


def _label(value: Any, item_id: int) -> int:
    label = int(value)
    if label < 0:
        raise ValueError(f"item {item_id}: class index must be >= 0, got {label}")
    return label


def _scalar(value: Any, name: str) -> Scalar:
    if value is None or type(value) in (str, bool, int):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _finite(value, name)
    raise ValueError(f"{name} must be a string, number, bool or None, got {type(value).__name__}")


def _extras(value: Any, item_id: int) -> Mapping[str, Scalar]:
    return MappingProxyType({str(k): _scalar(v, f"item {item_id}: extras[{k!r}]")
                             for k, v in dict(value).items()})


def _note(value: Any, item_id: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"item {item_id}: note must be text")
    return value


_NORMALISE = {
    "id": lambda value, _: value if type(value) is int else int(value),
    "label": _label,
    "state": lambda value, _: value if type(value) is ItemState else ItemState(value),
    "reviewed": lambda value, _: value is True or (value is not False and bool(value)),
    "score": _optional(lambda value, item_id: _finite(value, f"item {item_id}: score")),
    "mask_id": _optional(lambda value, _: int(value)),
    "box": _optional(_box),
    "world_xyz": _optional(_numbers("world_xyz", 3)),
    "size_mm": _optional(_size),
    "extras": _extras,
    "note": _note,
}


@dataclass(frozen=True)
class ReviewItem:
    """One reviewable object or box (immutable: commands replace items, never mutate them).

    Attributes
    ----------
    id : int
        Stable identifier (never reused within a document).
    label : int
        Class index into the document's ``class_names``.
    state : ItemState
    reviewed : bool
        A person has looked at the item (independent of the state).
    score : float or None
        Model confidence: vote share of the class (sem) or detection score (nodules).
    mask_id : int or None
        Label of the object in the object mask (connected component), pixels.
    box : Box or None
        ``(z0, y0, x0, z1, y1, x1)``, voxel-edge units (see :func:`box_from_2d`).
    world_xyz : (3,) float or None
        World (LPS) centre, mm, as the caller computed it (:func:`box_world`).
    size_mm : (3,) float or None
        Extent along the x, y, z index axes, mm.
    extras : mapping of str to scalar
        Small read-only extras: runner-up class, area in px, slices spanned, ...
    note : str
        Free text.
    """

    id: int
    label: int
    state: ItemState = ItemState.PROPOSED
    reviewed: bool = False
    score: float | None = None
    mask_id: int | None = None
    box: Box | None = None
    world_xyz: tuple[float, float, float] | None = None
    size_mm: tuple[float, float, float] | None = None
    extras: Mapping[str, Scalar] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        for name in _NORMALISE:
            object.__setattr__(self, name, _NORMALISE[name](getattr(self, name), self.id))

    @property
    def slices(self) -> range:
        """Axial slices (z indices) the box spans; empty without a box."""
        if self.box is None:
            return range(0)
        return range(math.floor(self.box[0]), math.ceil(self.box[3]))

    def edited(self, **changes: Any) -> ReviewItem:
        """A copy with ``changes`` applied, validated like a new item (only the changed fields
        are checked again, so editing thousands of items stays fast)."""
        unknown = set(changes) - set(_NORMALISE)
        if unknown or "id" in changes:
            raise ValueError(f"cannot edit {sorted(unknown | (set(changes) & {'id'}))}")
        copy = object.__new__(ReviewItem)
        copy.__dict__.update(self.__dict__)
        for name, value in changes.items():
            object.__setattr__(copy, name, _NORMALISE[name](value, self.id))
        return copy


def box_from_2d(y0: float, x0: float, y1: float, x1: float, z0: float, z1: float) -> Box:
    """A :data:`Box` from an in-plane rectangle (rows y, columns x) spanning slices
    ``[z0, z1)``; one axial slice ``k`` is ``z0 = k, z1 = k + 1``."""
    return (float(z0), float(y0), float(x0), float(z1), float(y1), float(x1))


class Geometry(Protocol):
    """What :func:`box_world` needs of a volume (``engines.imaging.volume.Volume`` fits)."""

    spacing_xyz: tuple[float, float, float]

    def voxel_to_world(self, zyx: Any) -> Any: ...


def box_world(box: Box, geometry: Geometry) -> tuple[tuple[float, float, float],
                                                     tuple[float, float, float]]:
    """World centre (x, y, z, mm) and extent along the x, y, z index axes (mm) of a box.

    The box centre in voxel-edge units is shifted by half a voxel to a (fractional) voxel
    index, whose integer values are voxel centres, before ``geometry.voxel_to_world``.
    """
    z0, y0, x0, z1, y1, x1 = box
    centre = geometry.voxel_to_world(((z0 + z1) / 2 - 0.5, (y0 + y1) / 2 - 0.5,
                                      (x0 + x1) / 2 - 0.5))
    sx, sy, sz = geometry.spacing_xyz
    return (tuple(float(v) for v in centre),
            (float((x1 - x0) * sx), float((y1 - y0) * sy), float((z1 - z0) * sz)))
