"""``soil batch``: porosity tables for a folder of cores.

Each core (a DICOM series folder, NIfTI, MetaImage or TIFF stack found by
:func:`engines.soil.dataset.find_cores`) is analysed exactly as ``soil analyze`` does (the
same :func:`engines.soil.analysis.iter_analyze_file`), with its JSON and profile CSV written
beside the table as ``<core>.json`` and ``<core>_profile.csv``. The row holds the porosity of
every object, the crop, shape and spacing; with a model (``--model demo`` or a file; ``none``
for none) also the model's RMSE on the core for its object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.batch import BatchJob
from engines.core.progress import drive
from engines.soil.analysis import iter_analyze_file
from engines.soil.dataset import core_name, find_cores


def _load(model: str, device: str):
    if str(model).lower() == "none":
        return None
    from engines.core.model import load_model
    from engines.soil.models import SoilSurrogate

    return load_model(SoilSurrogate, model, "soil", device)


def _analyze(model, path: Path, out_dir: Path) -> dict[str, Any]:
    name = core_name(path)
    result = drive(iter_analyze_file(path, None, out_dir / f"{name}.json",
                                     out_dir / f"{name}_profile.csv"))
    row: dict[str, Any] = {"core": name, **result.porosity, "crop": result.crop.to_list(),
                           "shape": list(result.shape_zyx),
                           "spacing_mm": list(result.spacing_mm_zyx),
                           "json": f"{name}.json", "profile_csv": f"{name}_profile.csv",
                           "notes": "; ".join(result.notes)}
    if model is not None:
        from engines.soil.dataset import core_slices
        from engines.soil.matrix import core_rmse

        slices = core_slices(result, name)
        row[f"model_rmse_{model.target_name}"] = core_rmse(model, slices)
    return row


JOB = BatchJob("soil", _load, _analyze, ("*",), find=find_cores)
