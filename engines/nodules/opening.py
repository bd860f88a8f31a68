"""What the nodules workspace opens: one scan, with its dataset and truth when it has them.

:func:`iter_open` takes

* a LUNA16-style folder (scans below it and ``annotations.csv``, or DICOM series below it):
  its scan ``index`` is opened, the dataset is kept so another scan can be chosen
  (:func:`iter_open_entry`) and its annotations are the truth;
* a scan file (``.mhd``, ``.mha``, NIfTI) or a DICOM series folder: that scan, and as truth the
  rows of an ``annotations.csv`` found in its folder or up to two folders above it (LUNA16's
  ``subset0/<uid>.mhd`` beside ``annotations.csv``) that name its seriesuid.

Review colours (:func:`review_outcomes`) follow LUNA16's hit rule on the review items' world
centres (:func:`engines.nodules.evaluation.match_candidates`); :func:`nodule_boxes` gives the
voxel box of every true nodule's sphere, to draw the nodules nothing found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.froc import Findings
from engines.core.progress import Progress, TaskGenerator, forward
from engines.core.review_items import ReviewItem
from engines.imaging.volume import Volume
from engines.nodules.luna16 import LunaDataset, ScanEntry, open_dataset
from engines.nodules.scan import Scan, open_scan_task

ANNOTATIONS = "annotations.csv"
TRUTH_LEVELS = 2  # folders above a scan searched for annotations.csv


@dataclass
class OpenedScan:
    """A scan as the workspace shows it.

    Attributes
    ----------
    scan : Scan
        Axial LPS orientation.
    path : Path
        The file or DICOM folder read (the review's autosave sits beside it).
    dataset : LunaDataset or None
        The folder the scan belongs to (other scans may be chosen), when known.
    index : int
        The scan's place in ``dataset.scans`` (0 without a dataset).
    nodules, excluded : Findings or None
        Its rows of annotations.csv / annotations_excluded.csv; None when there is no truth.
    """

    scan: Scan
    path: Path
    dataset: LunaDataset | None = None
    index: int = 0
    nodules: Findings | None = None
    excluded: Findings | None = None

    @property
    def has_truth(self) -> bool:
        return self.nodules is not None

    @property
    def title(self) -> str:
        where = f"scan {self.index + 1}/{len(self.dataset.scans)} of {self.dataset.root.name}" \
            if self.dataset is not None else self.path.name
        truth = (f" · {len(self.nodules)} annotated nodules" if self.nodules is not None
                 else " · no annotations")
        volume = self.scan.volume
        size = "×".join(str(n) for n in volume.shape[::-1])
        spacing = "×".join(f"{v:.3g}" for v in volume.spacing_xyz)
        return (f"{where} · {self.scan.seriesuid} · {size} voxels of {spacing} mm (x×y×z)"
                f"{truth}")


def _is_dicom_folder(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() and p.suffix.lower() in (".dcm", ".dicom", ".ima")
                                 for p in path.iterdir())


def find_truth(path: Path) -> LunaDataset | None:
    """The dataset whose ``annotations.csv`` lies beside ``path`` or up to two folders above
    it (None when there is none or it cannot be read as one)."""
    folder = path.parent
    for _ in range(TRUTH_LEVELS + 1):
        if (folder / ANNOTATIONS).is_file():
            try:
                return open_dataset(folder)
            except InputError:
                return None
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _truth_of(dataset: LunaDataset | None, seriesuid: str
              ) -> tuple[Findings | None, Findings | None]:
    if dataset is None or seriesuid not in {e.seriesuid for e in dataset.scans}:
        return None, None
    excluded = dataset.nodules_of(seriesuid, excluded=True) if dataset.excluded is not None \
        else None
    return dataset.nodules_of(seriesuid), excluded


def iter_open_entry(dataset: LunaDataset, index: int) -> TaskGenerator[OpenedScan]:
    """Open scan ``index`` of ``dataset`` (clamped); yields Progress."""
    index = min(max(int(index), 0), len(dataset.scans) - 1)
    entry: ScanEntry = dataset.scans[index]
    scan = yield from forward(open_scan_task(entry.path, entry.series_uid), 0.0, 0.95,
                              f"{entry.path.name}: ")
    scan = replace(scan, seriesuid=entry.seriesuid)  # the dataset's name for it
    nodules, excluded = _truth_of(dataset, entry.seriesuid)
    yield Progress(1.0, f"{entry.seriesuid} opened")
    return OpenedScan(scan, entry.path, dataset, index, nodules, excluded)


def iter_open(path: str | Path, index: int = 0) -> TaskGenerator[OpenedScan]:
    """Open ``path`` (module docstring); yields Progress.

    Raises
    ------
    InputError
        Not a readable scan or scan folder (the message names the file).
    """
    path = Path(path)
    if path.is_dir() and not _is_dicom_folder(path):
        dataset = open_dataset(path, require_annotations=False)
        opened = yield from iter_open_entry(dataset, index)
        if not any((path / name).is_file() for name in (ANNOTATIONS, f"CSVFILES/{ANNOTATIONS}")):
            opened.nodules = opened.excluded = None  # scans without truth, not scans without nodules
        return opened
    scan = yield from forward(open_scan_task(path), 0.0, 0.95, f"{path.name}: ")
    dataset = find_truth(path)
    nodules, excluded = _truth_of(dataset, scan.seriesuid)
    index = next((i for i, e in enumerate(dataset.scans) if e.seriesuid == scan.seriesuid), 0) \
        if nodules is not None else 0
    yield Progress(1.0, f"{path.name} opened")
    return OpenedScan(scan, path, dataset if nodules is not None else None, index, nodules,
                      excluded)


def nodule_boxes(volume: Volume, nodules: Findings) -> np.ndarray:
    """``(n, 6)`` boxes ``(z0, y0, x0, z1, y1, x1)`` in voxel-edge units around each nodule's
    sphere (world centre, diameter; unknown diameters are taken as 10 mm)."""
    if nodules is None or not len(nodules):
        return np.zeros((0, 6))
    centre = volume.world_to_voxel(nodules.xyz_mm) + 0.5  # voxel-edge units
    radius_mm = np.sqrt(nodules.radius_squared())
    half = radius_mm[:, None] / np.asarray(volume.spacing_zyx)[None]
    return np.column_stack([centre - half, centre + half])


@dataclass(frozen=True)
class ReviewOutcomes:
    """Review-mode colours: ``labels`` item id -> ``"tp"``, ``"fp"`` or ``"excluded"``;
    ``missed`` (n_nodules,) bool: true nodules no item that is not rejected hits."""

    labels: dict[int, str]
    missed: np.ndarray


def review_outcomes(items: Sequence[ReviewItem], volume: Volume, nodules: Findings,
                    excluded: Findings | None = None) -> ReviewOutcomes:
    """Match the items' world centres with the true nodules (LUNA16's hit rule); rejected
    items get a label too but do not count as finding a nodule."""
    from engines.nodules.candidates import item_geometry
    from engines.nodules.evaluation import match_candidates

    items = [item for item in items if item.world_xyz is not None or item.box is not None]
    xyz = np.array([item_geometry(item, volume)[0] for item in items]).reshape(-1, 3)
    findings = Findings(np.zeros(len(items), dtype=object), xyz)
    match = match_candidates(findings, nodules, excluded)
    kept = np.array([item.state.value != "rejected" for item in items], dtype=bool)
    found = np.zeros(len(nodules), dtype=bool)
    hit = match.nodule_of[kept & (match.nodule_of >= 0)]
    found[hit] = True
    return ReviewOutcomes({item.id: str(label) for item, label in zip(items, match.labels,
                                                                      strict=True)}, ~found)

