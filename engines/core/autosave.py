"""Crash-proof autosave of a review to a JSON sidecar beside its data.

``image.tif`` is reviewed in ``image.tif.review.json`` (a DICOM folder ``series/`` in
``series.review.json`` beside it). After every edit, undo and redo the whole document is
written with :func:`engines.core.files.atomic_write_bytes` (temporary file, fsync, rename,
fsync of the folder), so a kill or a power cut leaves the previous or the new version. Each
item's JSON text is cached until the item changes, so a write costs little more than the
fsync, also for thousands of items (``tests/benchmarks/test_review_bench.py``).

The sidecar names its format and schema version and fingerprints the source
(:func:`engines.core.files.fingerprint`), so :func:`open_review` never applies it to other
data. A sidecar that cannot be read (bad JSON, another format or schema, wrong types) is
renamed aside with a timestamp (``image.tif.review.json.corrupt-20261201T101500``) and one for
other data or another workspace likewise (``….other-20261201T101500``); either way the caller
gets a :class:`RestoreResult` saying so, and nothing is ever overwritten silently.
"""

from __future__ import annotations

import glob
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from engines.core.errors import InputError
from engines.core.files import Fingerprint, atomic_write_bytes, fingerprint
from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.core.safe_read import read_bytes_limited
from engines.core.safe_text import parse_json_safely

FORMAT = "lablens-review"
SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".review.json"
#: Largest sidecar read (about a million items).
MAX_SIDECAR_BYTES = 512 << 20


def sidecar_path(source: str | Path) -> Path:
    """``<source name>.review.json`` beside the source file or folder."""
    source = Path(source)
    return source.with_name(source.name.rstrip("/") + SIDECAR_SUFFIX)


class SidecarError(ValueError):
    """A sidecar that is not a valid review (the message says what is wrong)."""


# -- encoding -----------------------------------------------------------------------------------
def item_to_json(item: ReviewItem) -> dict[str, Any]:
    """The JSON object of an item; fields at their default are left out."""
    data: dict[str, Any] = {"id": item.id, "label": item.label, "state": item.state.value}
    if item.reviewed:
        data["reviewed"] = True
    for name in ("score", "mask_id", "box", "world_xyz", "size_mm"):
        value = getattr(item, name)
        if value is not None:
            data[name] = list(value) if isinstance(value, tuple) else value
    if item.extras:
        data["extras"] = dict(item.extras)
    if item.note:
        data["note"] = item.note
    return data


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _numbers(value: Any, count: int) -> bool:
    return type(value) is list and len(value) == count and all(map(_is_number, value))


def _extras_ok(value: Any) -> bool:
    return type(value) is dict and all(
        x is None or type(x) in (str, bool) or _is_number(x) for x in value.values())


_STATES = frozenset(s.value for s in ItemState)
_CHECKS = {
    "id": lambda v: type(v) is int,
    "label": lambda v: type(v) is int and v >= 0,
    "state": lambda v: type(v) is str and v in _STATES,
    "reviewed": lambda v: type(v) is bool,
    "score": _is_number,
    "mask_id": lambda v: type(v) is int,
    # checks call module functions when they run (not built at import), so mutation testing
    # reaches them
    "box": lambda v: _numbers(v, 6),
    "world_xyz": lambda v: _numbers(v, 3),
    "size_mm": lambda v: _numbers(v, 3),
    "extras": _extras_ok,
    "note": lambda v: type(v) is str,
}


def item_from_json(data: Any) -> ReviewItem:
    """Parse :func:`item_to_json` output strictly (types are checked, not coerced)."""
    if type(data) is not dict:
        raise SidecarError("an item is not a JSON object")
    if "id" not in data or "label" not in data or "state" not in data:
        raise SidecarError("an item lacks its id, label or state")
    for name, value in data.items():
        check = _CHECKS.get(name)
        if check is None:
            raise SidecarError(f"item {data.get('id')!r}: unknown field {name!r}")
        if not check(value):
            raise SidecarError(f"item {data.get('id')!r}: {name} has the wrong type or value")
    try:
        return ReviewItem(**data)
    except ValueError as exc:
        raise SidecarError(str(exc)) from None


class Autosaver:
    """Writes a document to ``path`` after every change and keeps the outcome.

    Attributes
    ----------
    last_saved : datetime or None
        Local time of the last successful write.
    last_error : str or None
        Why the last write failed (cleared by the next successful one).
    writes : int
        Successful writes so far.
    """

    def __init__(self, path: str | Path, source: Fingerprint) -> None:
        self.path = Path(path)
        self.source = source
        self.last_saved: datetime | None = None
        self.last_error: str | None = None
        self.writes = 0
        self._cache: dict[int, tuple[ReviewItem, str]] = {}

    def encode(self, document: ReviewDocument) -> bytes:
        """The sidecar bytes of ``document`` (re-encoding only the items that changed)."""
        cache = self._cache
        texts = []
        for item in document:
            cached = cache.get(item.id)
            if cached is None or cached[0] is not item:
                cached = (item, json.dumps(item_to_json(item), allow_nan=False,
                                           separators=(",", ":")))
                cache[item.id] = cached
            texts.append(cached[1])
        if len(cache) > len(texts):
            for stale in set(cache) - set(document.ids()):
                del cache[stale]
        head = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "kind": document.kind,
                "source": self.source.to_json(), "saved_at": datetime.now().astimezone()
                .isoformat(timespec="seconds"), "class_names": list(document.class_names),
                "next_id": document.next_id, "meta": document.meta}
        head_text = json.dumps(head, allow_nan=False)[:-1]
        body = ",\n".join(texts)
        return f'{head_text}, "items": [\n{body}\n]}}\n'.encode()

    def save(self, document: ReviewDocument) -> bool:
        """Write the document; on failure keep the reason in :attr:`last_error`."""
        try:
            atomic_write_bytes(self.path, self.encode(document))
        except OSError as exc:
            self.last_error = f"autosave to {self.path.name} failed: {exc.strerror or exc}"
            return False
        except (TypeError, ValueError) as exc:  # e.g. meta that is not JSON
            self.last_error = f"autosave to {self.path.name} failed: {exc}"
            return False
        self.last_saved = datetime.now()
        self.last_error = None
        self.writes += 1
        return True

    @property
    def status(self) -> str:
        """One line for a status bar: ``"saved 12:03:04"``, the failure, or ``"not saved
        yet"``."""
        if self.last_error:
            return self.last_error
        if self.last_saved is None:
            return f"autosave to {self.path.name}: no edits yet"
        return f"saved {self.last_saved:%H:%M:%S}"


# -- decoding ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sidecar:
    """A parsed sidecar: the source it belongs to and its document (without autosave)."""

    source: Fingerprint
    saved_at: str
    document: ReviewDocument


def parse_sidecar(data: bytes, name: str = "sidecar") -> Sidecar:
    """Parse and validate sidecar bytes; :class:`SidecarError` says what is wrong."""
    try:
        head = parse_json_safely(data, name)
    except InputError as exc:
        raise SidecarError(str(exc).removeprefix(f"{name}: ")) from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise SidecarError(f"not a {FORMAT} file")
    version = head.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SidecarError(f"schema version {version!r}; this LabLens reads {SCHEMA_VERSION}")
    names, items, next_id = head.get("class_names"), head.get("items"), head.get("next_id")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise SidecarError("class_names must be a non-empty list of strings")
    if not isinstance(items, list) or type(next_id) is not int:
        raise SidecarError("items must be a list and next_id an integer")
    kind, meta, saved_at = head.get("kind"), head.get("meta"), head.get("saved_at")
    if not (isinstance(kind, str) and isinstance(meta, dict) and isinstance(saved_at, str)):
        raise SidecarError("kind, meta and saved_at have the wrong types")
    try:
        source = Fingerprint.from_json(head.get("source"))
        document = ReviewDocument(names, [item_from_json(i) for i in items], kind=kind,
                                  meta=meta, next_id=next_id)
    except ValueError as exc:  # SidecarError included
        raise SidecarError(str(exc)) from None
    return Sidecar(source, saved_at, document)


def read_sidecar(path: str | Path) -> Sidecar:
    """Read a sidecar file (e.g. to export a review without its data)."""
    path = Path(path)
    try:
        data = read_bytes_limited(path, MAX_SIDECAR_BYTES)
    except InputError as exc:
        raise SidecarError(str(exc).removeprefix(f"{path.name}: ")) from None
    return parse_sidecar(data, path.name)


# -- opening ------------------------------------------------------------------------------------
class RestoreStatus(str, Enum):
    FRESH = "fresh"  # no sidecar: started from the fresh items
    RESTORED = "restored"  # the sidecar of this source was loaded
    CORRUPT = "corrupt"  # an unreadable sidecar was renamed aside; started afresh
    OTHER_SOURCE = "other_source"  # a sidecar of other data was renamed aside; started afresh


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`open_review` did.

    Attributes
    ----------
    document : ReviewDocument
        Ready to edit; it autosaves to ``sidecar`` (``document.autosave``).
    status : RestoreStatus
    message : str
        One line for the user ("" when fresh).
    kept_as : Path or None
        Where a corrupt or foreign sidecar was moved.
    """

    document: ReviewDocument
    status: RestoreStatus
    message: str = ""
    kept_as: Path | None = None

    @property
    def warning(self) -> str | None:
        """The message when the user should be warned (a sidecar was set aside)."""
        bad = self.status in (RestoreStatus.CORRUPT, RestoreStatus.OTHER_SOURCE)
        return self.message if bad else None


def _set_aside(path: Path, tag: str) -> Path:
    """Rename ``path`` to ``<path>.<tag>-<timestamp>`` (never over an existing file)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
        n += 1
    path.rename(target)
    return target


STALE_TEMPORARY_S = 60.0


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files a killed writer of ``path`` left (older than a minute, so a
    write in progress elsewhere is not disturbed)."""
    cutoff = time.time() - STALE_TEMPORARY_S
    for temporary in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if temporary.stat().st_mtime < cutoff:
                temporary.unlink()
        except OSError:
            pass


def open_review(source: str | Path, class_names: Sequence[str],
                fresh_items: Iterable[ReviewItem], *, kind: str = "",
                meta: Mapping[str, Any] | None = None,
                sidecar: str | Path | None = None,
                accept: Callable[[ReviewDocument], bool] | None = None) -> RestoreResult:
    """Restore the review of ``source`` from its sidecar, or start one from ``fresh_items``.

    Parameters
    ----------
    source
        The data file or folder under review (it is fingerprinted, not read in full).
    class_names, fresh_items, kind, meta
        The new document, used when no valid sidecar of this source and ``kind`` exists. A
        restored document keeps the class names, items and meta it was saved with.
    sidecar
        Sidecar path (default :func:`sidecar_path` of ``source``).
    accept
        ``accept(restored document)``: whether a saved review fits the fresh items (e.g. the
        same objects); one it refuses is set aside like one of other data.

    Raises
    ------
    InputError
        When ``source`` cannot be read.
    """
    source = Path(source)
    identity = fingerprint(source)
    path = Path(sidecar) if sidecar is not None else sidecar_path(source)
    autosave = Autosaver(path, identity)
    _remove_stale_temporaries(path)

    def fresh(status: RestoreStatus, message: str = "", kept: Path | None = None) -> RestoreResult:
        document = ReviewDocument(class_names, fresh_items, kind=kind, meta=meta,
                                  autosave=autosave)
        return RestoreResult(document, status, message, kept)

    if not path.exists():
        return fresh(RestoreStatus.FRESH)
    try:
        loaded = read_sidecar(path)
    except SidecarError as exc:
        problem, tag, status = f"was unreadable ({exc})", "corrupt", RestoreStatus.CORRUPT
    else:
        fits = accept is None or accept(loaded.document)
        if loaded.source.matches(identity) and loaded.document.kind == kind and fits:
            document = loaded.document
            document.autosave = autosave
            counts = document.counts()
            message = (f"restored the review of {source.name} from {path.name} (saved "
                       f"{loaded.saved_at}): {counts.describe()}")
            if document.class_names != tuple(class_names):
                message += f"; it keeps its classes {', '.join(document.class_names)}"
            return RestoreResult(document, RestoreStatus.RESTORED, message)
        what = (f"another {loaded.source.kind} ({loaded.source.name}, {loaded.source.size} bytes)"
                if not loaded.source.matches(identity) else f"the {loaded.document.kind!r} workspace"
                if loaded.document.kind != kind else "other items (another analysis)")
        problem, tag, status = f"belongs to {what}", "other", RestoreStatus.OTHER_SOURCE
    try:
        kept = _set_aside(path, tag)
    except OSError as exc:
        result = fresh(status, f"{path.name} {problem} and could not be moved aside "
                       f"({exc.strerror or exc}); edits are NOT autosaved")
        result.document.autosave = None
        return result
    return fresh(status, f"{path.name} {problem}; kept as {kept.name}, review started afresh",
                 kept)
