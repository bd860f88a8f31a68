"""Files: crash-safe writes and a fast fingerprint of a data file or folder.

Every file LabLens writes (models, exports, review sidecars) goes through
:func:`atomic_write_bytes`, so a crash or a kill leaves either the old file or the new one,
never half of one. :func:`fingerprint` identifies the data a sidecar belongs to without
reading all of an 8000×7000 micrograph or every slice of a DICOM series.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engines.core.errors import InputError

HEAD_TAIL_BYTES = 1 << 20  # hashed at each end of a file


def _fsync_directory(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix.

    The bytes go to a temporary file in the same folder, which is flushed and fsync'ed, then
    moved over ``path`` with :func:`os.replace`; the folder is fsync'ed so the rename survives
    a power cut. The temporary file is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


@dataclass(frozen=True)
class Fingerprint:
    """Identity of a data file or folder.

    Attributes
    ----------
    name : str
        File or folder name (informative; not compared).
    kind : str
        ``"file"`` or ``"folder"``.
    size : int
        Bytes of the file, or of all files in the folder.
    digest : str
        sha256, hex: of the size and the first and last 1 MiB of a file; of the sorted
        relative names and sizes of every file in a folder.
    """

    name: str
    kind: str
    size: int
    digest: str

    def matches(self, other: Fingerprint) -> bool:
        """Same data (kind, size and digest; the name may differ)."""
        return (self.kind, self.size, self.digest) == (other.kind, other.size, other.digest)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "size": self.size, "digest": self.digest}

    @classmethod
    def from_json(cls, value: object) -> Fingerprint:
        """Parse :meth:`to_json` output; ``ValueError`` when it is malformed."""
        if not isinstance(value, dict):
            raise ValueError("source: expected an object")
        name, kind, size, digest = (value.get(k) for k in ("name", "kind", "size", "digest"))
        if not (isinstance(name, str) and kind in ("file", "folder") and type(size) is int
                and size >= 0 and isinstance(digest, str) and len(digest) == 64):
            raise ValueError("source: expected name, kind (file/folder), size and a sha256 digest")
        return cls(name, kind, size, digest)


def fingerprint(path: str | Path) -> Fingerprint:
    """Fingerprint a file (size + sha256 of both ends) or a folder (sorted names and sizes).

    Reads at most 2 MiB of a file, and only directory entries of a folder.

    Raises
    ------
    InputError
        When ``path`` does not exist or cannot be read.
    """
    path = Path(path)
    hasher = hashlib.sha256()
    try:
        if path.is_dir():
            files = sorted((p.relative_to(path).as_posix(), p.stat().st_size)
                           for p in path.rglob("*") if p.is_file())
            for name, size in files:
                hasher.update(f"{name}\0{size}\n".encode())
            return Fingerprint(path.name, "folder", sum(s for _, s in files), hasher.hexdigest())
        size = path.stat().st_size
        hasher.update(size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            hasher.update(handle.read(HEAD_TAIL_BYTES))
            if size > HEAD_TAIL_BYTES:
                handle.seek(max(HEAD_TAIL_BYTES, size - HEAD_TAIL_BYTES))
                hasher.update(handle.read(HEAD_TAIL_BYTES))
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from None
    return Fingerprint(path.name, "file", size, hasher.hexdigest())
