"""Synthetic core sets written as DICOM series, and the soil workspace's sample datasets.

A core set is a folder with one DICOM CT series folder per core (``core01_forest``,
``core02_grassland``, …: the site types in turn) and ``cores.json`` listing each core's site,
seed, true axis position and drawn parameters, so the set can be regenerated exactly. It is
written into a hidden temporary folder and renamed into place, so a cancelled write leaves
nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, forward
from engines.core.samples import SampleDataset
from engines.soil.site_types import SITE_NAMES
from engines.soil.synthetic import SyntheticConfig, generate_core

MANIFEST = "cores.json"
MAX_CORES = 1000


def core_plan(cores: int, seed: int) -> list[tuple[str, str, int]]:
    """``(name, site, core seed)`` of each core of a set: sites in turn, seeds from ``seed``."""
    if not 1 <= cores <= MAX_CORES:
        raise InputError(f"--cores must be within 1…{MAX_CORES}, got {cores}")
    return [(f"core{i + 1:02d}_{SITE_NAMES[i % len(SITE_NAMES)]}",
             SITE_NAMES[i % len(SITE_NAMES)], seed * 1000 + i) for i in range(cores)]


def _check_target(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir())
                                                    and not (folder / MANIFEST).is_file())):
        raise InputError.for_file(folder, "exists and is not a synthetic core set; not replaced")


def iter_write_core_set(folder: str | Path, cores: int = 6, seed: int = 0,
                        config: SyntheticConfig | None = None) -> TaskGenerator[Path]:
    """Write ``cores`` synthetic cores as DICOM series into ``folder``; yields Progress,
    returns ``folder``. An existing core set there is replaced."""
    from engines.imaging.volume_io import write_volume_task

    folder = Path(folder)
    config = config or SyntheticConfig()
    plan = core_plan(cores, seed)
    _check_target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    temporary.mkdir()
    entries = []
    try:
        for i, (name, site, core_seed) in enumerate(plan):
            span = 1.0 / len(plan)
            core = yield from forward(generate_core(site, core_seed, config), i * span,
                                      0.6 * span, f"{name}: ")
            yield from forward(write_volume_task(
                core.volume, temporary / name, format="dicom", uid_seed=f"soil-{core_seed}",
                series_description=f"synthetic {site} soil core (seed {core_seed})",
                patient_id=name, patient_name=f"Synthetic^{site}"),
                (i + 0.6) * span, 0.4 * span, f"{name}: ")
            entries.append({"name": name, "site": site, "seed": core_seed,
                            "axis_yx": list(core.axis_yx), "radius_mm": core.radius_mm,
                            "parameters": core.parameters})
        manifest = {"cores": entries, "seed": seed, "config": asdict(config)}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(folder, old)
            os.replace(temporary, folder)
            shutil.rmtree(old)
        else:
            os.replace(temporary, folder)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    yield Progress(1.0, f"{len(plan)} cores written")
    return folder


def read_manifest(folder: str | Path) -> dict:
    """The ``cores.json`` of a core set (InputError when absent or unreadable)."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError.for_file(path, f"cannot be read ({exc})") from None


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a whole core set (manifest and every series folder)."""
    try:
        cores = read_manifest(folder)["cores"]
    except (InputError, KeyError, TypeError):
        return False
    return all((Path(folder) / c["name"]).is_dir() for c in cores)


SAMPLE_CORES, SAMPLE_SEED = 6, 7
SAMPLE_CONFIG: SyntheticConfig | None = None  # the default synthetic core (tests make it tiny)


def _write_default(path: Path) -> TaskGenerator[Path]:
    return (yield from iter_write_core_set(path, SAMPLE_CORES, SAMPLE_SEED, SAMPLE_CONFIG))


SAMPLES = (
    SampleDataset("cores6", "Synthetic soil cores: forest, grassland, arable (6 cores, DICOM)",
                  "soil_cores6", _write_default, is_complete),
)
DEFAULT = "cores6"
