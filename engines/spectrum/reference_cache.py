"""Rebinned reference spectra kept between runs, so a library folder is read and rebinned once.

One cache file per (folder, energy grid) under ``<user data>/cache/spectrum/``: the rebinned
counts (float64, exactly what rebinning gives) and live time of every file, keyed by the file's
resolved path, size and modification time. A changed, added or removed file is simply read
again; an unreadable or foreign cache file is ignored and rewritten. The cache is a plain
``.npz`` loaded without pickles.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from engines.core.files import atomic_write_bytes
from engines.core.resources import user_data_dir
from engines.spectrum.spectrum import EnergyGrid

CACHE_VERSION = 1


def file_key(path: Path) -> str:
    """``"<resolved path>|<size>|<mtime ns>"``, or ``""`` when the file cannot be stat'ed."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def cache_file(folder: Path, grid: EnergyGrid) -> Path:
    """Where the cache of ``folder`` on ``grid`` lives."""
    identity = json.dumps({"folder": str(Path(folder).resolve()), "grid": grid.to_json(),
                           "version": CACHE_VERSION}, sort_keys=True)
    name = hashlib.sha1(identity.encode()).hexdigest()[:20]
    return user_data_dir() / "cache" / "spectrum" / f"{name}.npz"


class ReferenceCache:
    """Rebinned counts and live times of a folder's files on one grid.

    ``get(path)`` returns ``(counts (n_channels,), live_time_s or NaN)`` or None; ``put``
    records a file; ``save()`` writes the entries of the files seen in this run (dropping
    those of files no longer read).
    """

    def __init__(self, folder: Path, grid: EnergyGrid) -> None:
        self.path = cache_file(folder, grid)
        self.grid = grid
        self._stored: dict[str, tuple[np.ndarray, float]] = {}
        self._used: dict[str, tuple[np.ndarray, float]] = {}
        self.hits = 0
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys = [str(k) for k in data["keys"]]
                spectra, live = data["spectra"], data["live_times"]
                if spectra.shape == (len(keys), grid.n_channels) and live.shape == (len(keys),):
                    self._stored = {k: (spectra[i].astype(np.float64), float(live[i]))
                                    for i, k in enumerate(keys)}
        except (OSError, ValueError, KeyError, EOFError):
            self._stored = {}

    def get(self, path: Path) -> tuple[np.ndarray, float] | None:
        key = file_key(path)
        entry = self._stored.get(key) if key else None
        if entry is not None:
            self._used[key] = entry
            self.hits += 1
        return entry

    def put(self, path: Path, counts: np.ndarray, live_time_s: float | None) -> None:
        key = file_key(path)
        if key:
            self._used[key] = (np.asarray(counts, dtype=np.float64),
                               float("nan") if live_time_s is None else float(live_time_s))

    def save(self) -> None:
        """Write the entries used in this run (best effort: a read-only cache is skipped)."""
        if not self._used or self._used.keys() == self._stored.keys():
            return
        keys = sorted(self._used)
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys), live_times=np.array([self._used[k][1] for k in keys]),
                 spectra=np.stack([self._used[k][0] for k in keys]))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, buffer.getvalue())
        except OSError:
            pass
