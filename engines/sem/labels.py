"""Truth and object files: binary object masks, class-index label images, per-object class
tables, and the class table (names, colours) of a data set.

Label images hold one class index per pixel (0 = matrix). They may be saved as grey PNG/TIFF,
as palette PNG (the palette indices are the classes), as RGB whose three channels are equal
(read as indices), or as RGB colour-coded with the class colours of ``classes.json``. The value
:data:`IGNORE` (255) marks unlabelled pixels, as in PASCAL VOC; any other index outside the
classes is an error naming the file.

Objects are the connected components (8-connected) of the binary mask; a per-object class
table (CSV) names each object by its component id (``id``, raster order of
:func:`engines.sem.maxvote.label_objects`) or by a pixel inside it (``x``, ``y``), and its
class by index or name (``class``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import read_bytes_limited
from engines.core.safe_text import parse_json_safely
from engines.sem.readers import channels_equal, read_image_array

IGNORE = 255
MAX_CLASSES = 127          # the image view's overlay codes hold 0…126
MAX_TABLE_BYTES = 1 << 20  # a classes.json is a few hundred bytes
MAX_TABLE_NUMBER = 2**31   # ids and pixel coordinates of an object table
DEFAULT_COLOURS = ((150, 150, 150), (230, 40, 40), (40, 180, 60), (40, 100, 240),
                   (240, 200, 0), (200, 60, 220), (0, 200, 200), (255, 140, 0),
                   (120, 80, 40), (255, 255, 255))


@dataclass(frozen=True)
class ClassTable:
    """Class names and (r, g, b) colours by index; index 0 is the matrix (background)."""

    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if not 2 <= len(self.names) <= MAX_CLASSES:
            raise InputError(f"a class table needs 2…{MAX_CLASSES} classes, got "
                             f"{len(self.names)}")
        if len(self.colours) != len(self.names):
            raise InputError(f"{len(self.names)} class names but {len(self.colours)} colours")
        lowered = [n.lower() for n in self.names]
        if len(set(lowered)) != len(lowered):
            twice = next(n for i, n in enumerate(self.names) if n.lower() in lowered[:i])
            raise InputError(f"class {twice!r} is named twice (names are case-insensitive)")

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_names(cls, names, colours=None) -> ClassTable:
        """Names with the given colours, or the paper's colours then a fixed palette."""
        names = tuple(str(n) for n in names)
        if colours is None:
            rng = np.random.default_rng(len(names))
            extra = [tuple(int(v) for v in rng.integers(40, 256, 3)) for _ in names]
            colours = [DEFAULT_COLOURS[i] if i < len(DEFAULT_COLOURS) else extra[i]
                       for i in range(len(names))]
        return cls(names, tuple(tuple(int(v) for v in c) for c in colours))

    @classmethod
    def numbered(cls, n: int) -> ClassTable:
        """``"class 0"`` … ``"class n-1"``."""
        return cls.from_names([f"class {i}" for i in range(n)])

    def index(self, value: str | int, source: str) -> int:
        """The index of a class given by name (case-insensitive) or number."""
        text = str(value).strip()
        if text.isascii() and text.isdigit():  # not "--1" or "²", which int() refuses
            index = int(text)
            if index < len(self.names):
                return index
        lowered = [n.lower() for n in self.names]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        raise InputError(f"{source}: unknown class {text!r}; classes are "
                         f"{', '.join(self.names)}")

    def to_json(self) -> dict:
        return {"classes": [{"name": n, "colour": list(c)}
                            for n, c in zip(self.names, self.colours, strict=True)]}


def _colour(value, source: str) -> tuple[int, int, int]:
    if isinstance(value, str) and value.startswith("#") and len(value) == 7 and all(
            c in "0123456789abcdefABCDEF" for c in value[1:]):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))
    if isinstance(value, list | tuple) and len(value) == 3 and all(
            isinstance(v, int | float) and 0 <= v <= 255 for v in value):
        return tuple(int(v) for v in value)
    raise InputError(f"{source}: colour {value!r} is not [r, g, b] (0…255) or '#rrggbb'")


def read_class_table(path: str | Path) -> ClassTable:
    """``classes.json``: ``{"classes": [{"name": ..., "colour": [r, g, b]}, ...]}``, or
    ``{"names": [...], "colours": [...]}``, or a plain list of names (colours optional)."""
    path = Path(path)
    data = parse_json_safely(read_bytes_limited(path, MAX_TABLE_BYTES), path)
    names, colours = None, None
    if isinstance(data, dict) and isinstance(data.get("classes"), list):
        entries = data["classes"]
        if all(isinstance(e, dict) for e in entries):
            names = [e.get("name") for e in entries]
            given = [e.get("colour", e.get("color")) for e in entries]
            colours = given if all(c is not None for c in given) else None
        else:
            names = entries
    elif isinstance(data, dict) and isinstance(data.get("names"), list):
        names, colours = data["names"], data.get("colours", data.get("colors"))
    elif isinstance(data, list):
        names = data
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InputError.for_file(path, "expected class names (a list of strings, or "
                                        '{"classes": [{"name": ...}, ...]})')
    if colours is not None:
        if len(colours) != len(names):
            raise InputError.for_file(path, f"{len(names)} names but {len(colours)} colours")
        colours = [_colour(c, path.name) for c in colours]
        if len(set(colours)) != len(colours):
            raise InputError.for_file(path, "two classes have the same colour (colour-coded "
                                            "labels could not tell them apart)")
    try:
        return ClassTable.from_names(names, colours)
    except InputError as exc:
        raise InputError.for_file(path, str(exc)) from None


def read_mask(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """(H, W) bool object mask (non-zero pixels are objects) and warnings."""
    path = Path(path)
    array, _, _, warnings = read_image_array(path, palette_indices=True)
    if array.ndim == 3:
        if not channels_equal(array):
            warnings.append(f"{path.name}: colour mask; any non-zero channel is an object")
            return np.asarray(array).any(axis=2), warnings
        array = array[:, :, 0]
    mask = np.asarray(array) != 0
    if not mask.any():
        warnings.append(f"{path.name}: the mask holds no object")
    return mask, warnings


def _colour_indices(path: Path, array: np.ndarray, classes: ClassTable) -> np.ndarray:
    rgb = np.asarray(array[..., :3]).astype(np.uint32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    table = np.array([(r << 16) | (g << 8) | b for r, g, b in classes.colours], dtype=np.uint32)
    order = np.argsort(table)
    position = np.clip(np.searchsorted(table[order], codes), 0, len(table) - 1)
    found = table[order][position] == codes
    if not found.all():
        y, x = (int(v[0]) for v in np.nonzero(~found))
        raise InputError.for_file(path, f"colour {tuple(int(v) for v in rgb[y, x])} at "
                                        f"(x {x}, y {y}) is not one of the class colours")
    return order[position].astype(np.uint8)


def read_label(path: str | Path, classes: ClassTable | None = None
               ) -> tuple[np.ndarray, list[str]]:
    """(H, W) uint8 class indices (``IGNORE`` = unlabelled) and warnings.

    Parameters
    ----------
    classes
        When given, indices must be below ``len(classes)`` (or ``IGNORE``), and RGB labels
        whose channels differ are decoded with the class colours.
    """
    path = Path(path)
    array, _, _, warnings = read_image_array(path, palette_indices=True)
    if array.ndim == 3:
        if channels_equal(array):
            array = array[:, :, 0]
        elif classes is not None:
            return _colour_indices(path, array, classes), warnings
        else:
            raise InputError.for_file(path, "colour label image whose channels differ, and no "
                                            "class colours (classes.json) to decode it")
    array = np.asarray(array)
    if array.dtype.kind == "f":
        if not np.array_equal(array, np.round(array)):
            raise InputError.for_file(path, "label image holds fractional values; expected "
                                            "class indices")
    if array.size and (array.min() < 0 or array.max() > IGNORE):
        raise InputError.for_file(path, f"class indices from {array.min():g} to "
                                        f"{array.max():g}; expected 0…{MAX_CLASSES - 1}")
    labels = array.astype(np.uint8)
    if classes is not None:
        check_indices(path, labels, len(classes))
    return labels, warnings


def check_indices(path: Path, labels: np.ndarray, n_classes: int) -> None:
    """InputError naming ``path`` when ``labels`` holds an index ≥ n_classes other than
    ``IGNORE``."""
    counts = np.bincount(labels.ravel(), minlength=256)
    counts[IGNORE] = 0
    bad = np.flatnonzero(counts[n_classes:]) + n_classes
    if bad.size:
        raise InputError.for_file(path, f"class index {int(bad[0])} in {int(counts[bad].sum())} "
                                        f"pixels, but there are only {n_classes} classes "
                                        f"(0…{n_classes - 1})")


@dataclass(frozen=True)
class ObjectTable:
    """Per-object truth classes: objects by component id or by a pixel (x, y) inside.

    Attributes
    ----------
    ids : (n,) int64 or None
    points : (n, 2) int64 ``(y, x)`` or None
    classes : (n,) int64
    source : str
        The table's file name, which errors start with (else the ``source`` they are given).
    """

    ids: np.ndarray | None
    points: np.ndarray | None
    classes: np.ndarray
    source: str = ""

    def object_classes(self, objects: np.ndarray, n_objects: int, source: str) -> np.ndarray:
        """(n_objects + 1,) truth class per object id (``-1`` where the table is silent)."""
        source = self.source or source
        truth = np.full(n_objects + 1, -1, dtype=np.int64)
        if self.ids is not None:
            ids = self.ids
        else:
            ys, xs = self.points[:, 0], self.points[:, 1]
            if (ys >= objects.shape[0]).any() or (xs >= objects.shape[1]).any():
                raise InputError(f"{source}: a point lies outside the {objects.shape[1]} × "
                                 f"{objects.shape[0]} image")
            ids = objects[ys, xs]
            if (ids == 0).any():
                k = int(np.flatnonzero(ids == 0)[0])
                raise InputError(f"{source}: the point (x {xs[k]}, y {ys[k]}) is not inside an "
                                 "object")
        outside = (ids < 1) | (ids > n_objects)
        if outside.any():  # the first such row (an id 0 or -3 is named, not the largest id)
            raise InputError(f"{source}: object id {int(ids[outside][0])} but the mask has "
                             f"{n_objects} objects")
        truth[ids] = self.classes
        return truth


def read_object_table(path: str | Path, classes: ClassTable) -> ObjectTable:
    """A CSV with ``class`` and either ``id`` (or ``object_id``) or ``x`` and ``y`` columns."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError.for_file(path, f"not a readable CSV table ({exc})") from None
    if not rows:
        raise InputError.for_file(path, "no rows")
    columns = {c.strip().lower(): c for c in rows[0] if c}
    id_column = columns.get("id") or columns.get("object_id") or columns.get("object")
    if "class" not in columns or not (id_column or ("x" in columns and "y" in columns)):
        raise InputError.for_file(path, "needs a 'class' column and an 'id' column or 'x' "
                                        "and 'y' columns")

    def numbers(column: str) -> np.ndarray:
        try:
            values = np.array([float(r[column]) for r in rows], dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError.for_file(path, f"column {column!r} holds a non-number") from None
        whole = np.isfinite(values) & (values == np.round(values)) & \
            (np.abs(values) <= MAX_TABLE_NUMBER)
        if not whole.all():
            raise InputError.for_file(path, f"column {column!r}: {values[~whole][0]:g} is not "
                                            "a whole number of pixels or an object id")
        return values.astype(np.int64)

    values = np.array([classes.index(r[columns["class"]], path.name) for r in rows])
    if id_column:
        return ObjectTable(numbers(id_column), None, values, path.name)
    points = np.stack([numbers(columns["y"]), numbers(columns["x"])], axis=1)
    if (points < 0).any():
        raise InputError.for_file(path, "negative pixel coordinates")
    return ObjectTable(None, points, values, path.name)
