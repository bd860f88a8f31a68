"""Synthetic scan sets on disk, and the workspace's sample datasets.

:func:`iter_write_dataset` writes scans of :func:`engines.nodules.synthetic.generate_scan` in
the LUNA16 layout or as DICOM series (see :mod:`engines.nodules.synthetic`), with a
``synthetic.json`` manifest (seed, configuration, per-scan truth and geometry). The folder is
assembled under a temporary name and renamed into place, so a cancelled write leaves nothing.

``SAMPLES``: a small set of four LUNA16-layout scans (the default, opened on first launch)
and the same scans as DICOM series.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from engines.core.config import to_json
from engines.core.errors import InputError
from engines.core.froc import Findings
from engines.core.progress import Progress, TaskGenerator
from engines.core.samples import SampleDataset
from engines.nodules.luna16 import write_annotations, write_candidates
from engines.nodules.synthetic import FORMATS, MANIFEST, SyntheticConfig, generate_scan

SCANS_PER_SUBSET = 100
SAMPLE_SCANS = 4
SAMPLE_SEED = 7
DEFAULT = "luna16"
#: the synthetic settings of the sample sets (None: :class:`SyntheticConfig`'s defaults; tests
#: make them small)
SAMPLE_CONFIG: SyntheticConfig | None = None


def _check_target(out: Path) -> None:
    """``out`` may be replaced only when absent, empty, or an earlier synthetic set."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                               and not (out / MANIFEST).is_file())):
        raise InputError.for_file(out, "exists and is not an earlier synthetic scan set; "
                                       "choose a new folder")


def _findings(rows: list[tuple[str, tuple[float, float, float], float]]) -> Findings:
    return Findings(np.asarray([r[0] for r in rows], dtype=object),
                    np.asarray([r[1] for r in rows], dtype=np.float64).reshape(-1, 3),
                    np.asarray([r[2] for r in rows], dtype=np.float64))


def iter_write_dataset(out: str | Path, scans: int = SAMPLE_SCANS, seed: int = 0,
                       format: str = "luna16", config: SyntheticConfig | None = None,
                       compression: str | None = None) -> TaskGenerator[Path]:
    """Write ``scans`` synthetic scans drawn with ``seed`` to the folder ``out``.

    Parameters
    ----------
    format
        ``"luna16"``: ``subset0/<seriesuid>.mhd`` + ``.raw``; ``"dicom"``: one folder of
        ``IM*.dcm`` per scan (``compression`` None, ``"rle"``, ``"jpeg2000"``, ``"jpegls"``).

    Yields Progress per scan; returns ``out``. The CSV files follow LUNA16
    (:mod:`engines.nodules.luna16`).

    Raises
    ------
    InputError
        Bad counts or format, or an ``out`` that holds other files.
    """
    from engines.imaging.dicom_series import read_header
    from engines.imaging.volume_io import write_volume, write_volume_task

    config = config or SyntheticConfig()
    if format not in FORMATS:
        raise InputError(f"unknown sample format {format!r}; choose one of {', '.join(FORMATS)}")
    if not 1 <= scans <= 10_000:
        raise InputError(f"the number of scans must be 1…10000, got {scans}")
    if seed < 0:
        raise InputError(f"the seed must be >= 0, got {seed}")
    out = Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    temporary.mkdir()
    nodules, excluded, candidates, labels, manifest = [], [], [], [], []
    try:
        for index in range(scans):
            scan = generate_scan(config, seed, index)
            volume = scan.volume
            if format == "luna16":
                subset = temporary / f"subset{index // SCANS_PER_SUBSET}"
                subset.mkdir(exist_ok=True)
                path = write_volume(volume, subset / f"{scan.seriesuid}.mhd")
                uid = scan.seriesuid
            else:
                path = temporary / f"scan{index:03d}"
                yield from write_volume_task(
                    volume, path, format="dicom", compression=compression,
                    uid_seed=f"lablens-nodules-{seed}-{index}",
                    series_description=f"LabLens synthetic chest CT {index}")
                uid = read_header(sorted(path.iterdir())[0]).series_uid
            nodules += [(uid, n.centre_xyz, n.diameter_mm) for n in scan.nodules]
            excluded += [(uid, n.centre_xyz, n.diameter_mm) for n in scan.excluded]
            candidates += [(uid, n.centre_xyz, n.diameter_mm) for n in scan.nodules]
            labels += [1] * len(scan.nodules)
            candidates += [(uid, tuple(p), 0.0) for p in scan.vessel_points]
            labels += [0] * len(scan.vessel_points)
            manifest.append({
                "seriesuid": uid, "path": str(path.relative_to(temporary)),
                "shape_zyx": list(volume.shape), "spacing_mm_xyz": list(volume.spacing_xyz),
                "direction_z": float(volume.direction[2, 2]),
                "nodules": [{"centre_xyz": list(n.centre_xyz), "diameter_mm": n.diameter_mm,
                             "kind": n.kind} for n in scan.nodules]})
            yield Progress((index + 1) / scans, f"scan {index + 1}/{scans} "
                                                f"({len(scan.nodules)} nodules)")
        write_annotations(temporary / "annotations.csv", _findings(nodules))
        write_annotations(temporary / "annotations_excluded.csv", _findings(excluded))
        write_candidates(temporary / "candidates.csv", _findings(candidates), np.array(labels))
        (temporary / MANIFEST).write_text(json.dumps(
            {"generator": "engines.nodules.synthetic", "seed": seed, "scans": scans,
             "format": format, "config": to_json(config), "series": manifest}, indent=1))
        if out.exists():
            old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(out, old)
            os.replace(temporary, out)
            shutil.rmtree(old)
        else:
            os.replace(temporary, out)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return out


def _is_complete(path: Path) -> bool:
    return (path / MANIFEST).is_file() and (path / "annotations.csv").is_file()


def _writer(format: str):
    def write(path: Path) -> TaskGenerator[Path]:
        return (yield from iter_write_dataset(path, SAMPLE_SCANS, SAMPLE_SEED, format,
                                              SAMPLE_CONFIG))

    return write


SAMPLES = (
    SampleDataset("luna16", f"Synthetic chest CT, LUNA16 layout ({SAMPLE_SCANS} scans)",
                  "nodules_luna16", _writer("luna16"), _is_complete),
    SampleDataset("dicom", f"Synthetic chest CT, DICOM series ({SAMPLE_SCANS} scans)",
                  "nodules_dicom", _writer("dicom"), _is_complete),
)
