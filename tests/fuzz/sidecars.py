"""JSON sidecars in the fuzzer: review autosaves and model descriptions.

``review``
    A ``<data>.review.json`` autosave (:mod:`engines.core.autosave`) beside its data file
    ``case``. The target opens the review as a workspace does (``open_review``): a sidecar it
    cannot use must be set aside with a one-line message (``CORRUPT`` / ``OTHER_SOURCE``, the
    clean refusal here), never raise. Garbage checks on a restored review: every item's class
    within the class names, its geometry finite, boxes with ``z0 ≤ z1`` etc., sizes not
    negative, and the JSON export valid (no NaN).
``model``
    The ``.json`` description of the bundled spectrum demo model, read with its real weights
    (a symbolic link) through ``SpectrumClassifier.load`` as the CLI's ``--model`` does. A bad
    description must be a ``ModelError`` naming the ``.json`` file. Garbage checks: a loaded
    model's ``describe()`` runs, its classes are distinct non-empty names and its confidence
    parameters are finite.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

from tests.fuzz.seeds import SIDECAR_FORMATS

CLASS_NAMES = ("nodule", "vessel", "artefact")
REVIEW_KIND = "fuzz"
SOURCE_BYTES = b"LabLens fuzz data file\n" * 4
HOSTILE_JSON = (float("nan"), float("inf"), -float("inf"), 1e308, -1.0, 0, -1, 2**63, 10**30,
                1e-320, "", "x" * 70_000, "\u0000", [], {}, None, True, False, "NaN", [1e308] * 6,
                [0, 0, 0, -1, -1, -1], list(range(6)), {"a": {"b": {"c": [1]}}})


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


@functools.cache
def sidecar_seeds(fmt: str) -> tuple[tuple[str, bytes], ...]:
    """Seed files of a sidecar format as ``((suffix, data), ...)``."""
    if fmt == "review":
        import tempfile

        from engines.core.autosave import open_review
        from engines.core.review import ItemState, ReviewItem

        items = [ReviewItem(1, 0, ItemState.PROPOSED, score=0.9, box=(1, 2, 3, 4, 5, 6),
                            world_xyz=(-10.5, 3.25, 7.0), size_mm=(4.0, 4.0, 3.0),
                            extras={"hu": -650.0, "solid": True}),
                 ReviewItem(2, 1, ItemState.ACCEPTED, reviewed=True, mask_id=7, note="checked"),
                 ReviewItem(3, 2, ItemState.REJECTED, score=0.1)]
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "case"
            source.write_bytes(SOURCE_BYTES)
            document = open_review(source, CLASS_NAMES, items, kind=REVIEW_KIND).document
            document.autosave.save(document)
            return ((".review.json", document.autosave.path.read_bytes()),)
    if fmt == "model":
        from engines.core.checkpoint import model_paths
        from engines.core.model import demo_model_path

        return ((".json", model_paths(demo_model_path("spectrum"))[1].read_bytes()),)
    raise ValueError(f"unknown sidecar format {fmt!r}; valid: {', '.join(SIDECAR_FORMATS)}")


# --------------------------------------------------------------------------- mutators

def _paths(value, prefix=()):
    """Every (path, value) inside a JSON value, containers included."""
    yield prefix, value
    children = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


def _edit(data: bytes, rng: np.random.Generator, change) -> bytes:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return data
    paths = [p for p, _ in _paths(document) if p]
    if not paths:
        return data
    for _ in range(int(rng.integers(1, 4))):
        path = _pick(rng, paths)
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        change(parent, path[-1], rng)
        paths = [p for p, _ in _paths(document) if p]
        if not paths:
            break
    return json.dumps(document).encode()


def json_values(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace 1-3 values (anywhere in the document) with NaN, huge, empty or wrong types."""
    def change(parent, key, rng):
        parent[key] = copy.deepcopy(_pick(rng, HOSTILE_JSON))  # never the shared constant
    return _edit(data, rng, change)


def json_drop(data: bytes, rng: np.random.Generator) -> bytes:
    """Delete 1-3 keys or list entries."""
    def change(parent, key, rng):
        del parent[key]
    return _edit(data, rng, change)


def json_structure(data: bytes, rng: np.random.Generator) -> bytes:
    """Deep nesting, a 5000-digit integer, many items, a duplicate key, or not an object."""
    choice = int(rng.integers(5))
    if choice == 0:
        depth = int(_pick(rng, (200, 5000, 200_000)))
        return data.replace(b"[", b"[" * depth, 1).replace(b"]", b"]" * depth, 1)
    if choice == 1:
        return re.sub(rb"\b\d+\b", b"9" * 5000, data, count=1)
    if choice == 2:
        match = re.search(rb"\{[^{}]*\}", data)
        if match is None:
            return data
        times = int(_pick(rng, (1000, 20_000)))
        return data[:match.end()] + (b"," + match.group(0)) * times + data[match.end():]
    if choice == 3:
        return data.replace(b"{", b'{"kind": 1, "kind": 2, ', 1)
    return _pick(rng, (b"[]", b"null", b'"text"', b"1e999", b"{}"))


def sidecar_mutators(fmt: str) -> dict:
    """Format-aware mutators of a sidecar format (the byte-level ones come on top)."""
    from tests.fuzz.mutators import hostile_number, huge_number, reencode

    return {"json_values": json_values, "json_drop": json_drop,
            "json_structure": json_structure, "hostile_number": hostile_number,
            "huge_number": huge_number, "reencode": reencode}


# --------------------------------------------------------------------------- targets

def unpack(fmt: str, path: Path) -> tuple[Path, set[str]]:
    """The case's files in a fresh folder: the sidecar and what it belongs to."""
    folder = path.parent / "case-files"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    target = folder / path.name
    target.write_bytes(path.read_bytes())
    if fmt == "review":
        _source(target).write_bytes(SOURCE_BYTES)
    else:
        from engines.core.checkpoint import model_paths
        from engines.core.model import demo_model_path

        weights = model_paths(demo_model_path("spectrum"))[0].resolve()
        model_paths(target)[0].symlink_to(weights)
    return target, {target.name}


def _source(sidecar: Path) -> Path:
    """The data file a review sidecar belongs to (``case`` for ``case.review.json``)."""
    return sidecar.with_name(sidecar.name.removesuffix(".review.json"))


def _finite(values) -> bool:
    return all(type(v) in (int, float) and math.isfinite(v) for v in values)


def review_problems(path: Path) -> list[str]:
    """Open the review of ``case``; raises InputError for a refused sidecar (see module doc)."""
    from engines.core.autosave import RestoreStatus, open_review
    from engines.core.errors import InputError
    from engines.core.review_export import export_review_json

    result = open_review(_source(path), CLASS_NAMES, [], kind=REVIEW_KIND)
    if result.status in (RestoreStatus.CORRUPT, RestoreStatus.OTHER_SOURCE):
        if not result.message.startswith(path.name) or "\n" in result.message:
            return [f"refused without naming the sidecar in one line: {result.message[:200]}"]
        if result.kept_as is None or not result.kept_as.is_file() or path.exists():
            return [f"refused but not set aside: {result.message[:200]}"]
        raise InputError.for_file(path, result.message.removeprefix(path.name).strip())
    if result.status is not RestoreStatus.RESTORED:
        return [f"the sidecar was ignored ({result.status.value})"]
    document = result.document
    problems = []
    for item in document:
        if not 0 <= item.label < len(document.class_names):
            problems.append(f"item {item.id}: class {item.label} of "
                            f"{len(document.class_names)}")
        for name in ("box", "world_xyz", "size_mm"):
            value = getattr(item, name)
            if value is not None and not _finite(value):
                problems.append(f"item {item.id}: {name} {value}")
        if item.box is not None and any(a > b for a, b in zip(item.box[:3], item.box[3:],
                                                                strict=True)):
            problems.append(f"item {item.id}: box {item.box} ends before it starts")
        if item.size_mm is not None and min(item.size_mm) < 0:
            problems.append(f"item {item.id}: negative size {item.size_mm}")
    out = path.with_name("export.json")
    export_review_json(document, out)
    try:
        json.loads(out.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(
            ValueError(c)))
    except ValueError as exc:
        problems.append(f"the JSON export is not valid JSON ({exc})")
    return problems


def model_problems(path: Path) -> list[str]:
    """Load the model described by ``path``; ModelError for a refused description."""
    from engines.spectrum.classifier import SpectrumClassifier

    model = SpectrumClassifier.load(path)
    problems = []
    model.describe()
    if not model.classes or len(set(model.classes)) != len(model.classes) or \
            not all(isinstance(c, str) and c.strip() for c in model.classes):
        problems.append(f"classes {model.classes!r}")
    confidence = model.temperature.to_json()
    if not _finite(confidence.values()):
        problems.append(f"confidence {confidence}")
    return problems



