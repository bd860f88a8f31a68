"""The fuzzer's minimised cases through the CLI: each exits 2 with one line naming the file,
within 20 s (and 2 GiB, except where torch is loaded); a case the fixed reader reads as a
valid file (an empty ROOT tree is one) exits 0 with its summary and nothing on stderr but
one ``warning:`` line per warning of the libraries that read it.

Two cases per format (the first in ``tests/fuzz/cases/INDEX.json`` order) through the
``info`` verb that reads that format: ``spectrum info`` for spectra and model descriptions,
``cdc info`` for event files, ``nodules info`` for DICOM series, NIfTI and MetaImage scans (and
a LUNA16 folder around a CSV case), ``soil info`` for TIFF volumes, ``sem info`` for
micrographs and labelled folders. A format without a minimised case (``.cnf``: no reader
failure was ever found) gets its first two fuzzer-generated cases that the reader refuses.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engines.core.checkpoint import model_paths
from engines.core.model import demo_model_path
from tests.app.test_cli_errors import _one_line_error, _run
from tests.fuzz import imaging, sem
from tests.fuzz.mutators import make_case
from tests.fuzz.runner import CASES_DIR
from tests.fuzz.targets import run_target

VERB = {"csv": "spectrum", "spe": "spectrum", "n42": "spectrum", "cnf": "spectrum",
        "model": "spectrum", "hdf5": "cdc", "root": "cdc", "dicom": "nodules",
        "nifti": "nodules", "metaimage": "nodules", "tiff": "soil", "micrograph": "sem",
        "semset": "sem", "luna16": "nodules"}
PER_FORMAT = 2
GENERATED = ("cnf",)  # formats whose readers never failed: fuzzer cases they refuse instead
INDEX = json.loads((CASES_DIR / "INDEX.json").read_text())
LUNA_FILES = {".annotations.csv": "annotations.csv", ".excluded.csv": "annotations_excluded.csv",
              ".candidates.csv": "candidates.csv"}


def _cases() -> list[str]:
    chosen: dict[str, list[str]] = {}
    for key, entry in INDEX.items():
        fmt = key.split("/")[0]
        if fmt in VERB and (CASES_DIR / key).is_file() and entry["outcome"] != "valid" \
                and len(chosen.setdefault(fmt, [])) < PER_FORMAT:
            chosen[fmt].append(key)
    return [key for keys in chosen.values() for key in keys] + \
        [f"{fmt}/generated-{k}" for fmt in GENERATED for k in range(PER_FORMAT)]


CASES = _cases()


def _generated(fmt: str, k: int, folder) -> tuple[str, bytes]:
    """The k-th fuzzer case (seed 0) of ``fmt`` that its reader refuses cleanly."""
    found = 0
    for index in range(200):
        case = make_case(fmt, 0, index, quick=True)
        path = folder / f"probe{case.suffix}"
        path.write_bytes(case.data)
        if run_target(fmt, path)[0] == "input_error":
            if found == k:
                return f"case{index}{case.suffix}", case.data
            found += 1
    raise AssertionError(f"fewer than {k + 1} refused {fmt} cases in 200")


def _scan(folder) -> None:
    """A tiny scan for a LUNA16 folder (its seriesuid is the one the CSV seeds use first)."""
    from engines.imaging.volume import Volume
    from engines.imaging.volume_io import write_volume

    uid = "1.3.6.1.4.1.14519.5.2.1.6279.6001.105756658031515062000744821260"
    (folder / "subset0").mkdir(parents=True)
    write_volume(Volume(np.zeros((3, 4, 5), np.int16) - 1000, spacing_xyz=(1, 1, 2)),
                 folder / "subset0" / f"{uid}.mha")


def _laid_out(fmt: str, key: str, tmp_path):
    """(what to pass to ``info``, names the error may start with, the fuzzer's verdict)."""
    name = key.split("/")[1]
    if fmt in GENERATED:
        name, data = _generated(fmt, int(name.rsplit("-", 1)[1]), tmp_path)
    else:
        data = (CASES_DIR / key).read_bytes()
    path = tmp_path / name
    path.write_bytes(data)
    if fmt == "model":  # the description beside the real weights it describes
        model_paths(path)[0].symlink_to(model_paths(demo_model_path("spectrum"))[0].resolve())
    if fmt == "luna16":
        suffix = next(s for s in LUNA_FILES if name.endswith(s))
        expected = run_target(fmt, path)
        root = tmp_path / "luna"
        _scan(root)
        target = root / LUNA_FILES[suffix]
        target.write_bytes(data)
        if target.name != "annotations.csv":
            (root / "annotations.csv").write_text("seriesuid,coordX,coordY,coordZ,diameter_mm\n")
        return root, {target.name}, expected
    if fmt in ("dicom", "nifti", "metaimage", "tiff", "micrograph", "semset"):
        module = sem if fmt in sem.SEM_FORMATS else imaging
        expected = run_target(fmt, path)  # it unpacks into a folder of its own and removes it
        read_path, names = module.unpack(fmt, path)
        if fmt == "semset":  # `sem info DIR` indexes the folder; it decodes no image
            from engines.core.errors import InputError
            from engines.sem.dataset import open_dataset

            try:
                open_dataset(read_path)
                expected = ("valid", "")
            except InputError as exc:
                expected = ("input_error", str(exc))
        return read_path, names, expected
    return path, {path.name}, run_target(fmt, path)


def test_every_cli_format_has_cases():
    assert {key.split("/")[0] for key in CASES} >= {
        "csv", "spe", "n42", "cnf", "hdf5", "root", "dicom", "nifti", "metaimage", "tiff",
        "micrograph", "semset", "luna16"}


@pytest.mark.parametrize("key", CASES)
def test_minimised_case_exits_2_with_one_line(tmp_path, key):
    fmt = key.split("/")[0]
    target, names, (expected, detail) = _laid_out(fmt, key, tmp_path)
    result = _run(VERB[fmt], "info", target, cap_memory=fmt != "model")
    if expected == "valid" and result.returncode == 0:  # at most one line per library warning
        assert all(line.startswith("warning: ") for line in result.stderr.splitlines()), \
            result.stderr[-800:]
        summary = json.loads(result.stdout)
        assert summary.get("path", summary.get("root")) == str(target)
    elif expected == "valid" and VERB[fmt] == "nodules":  # a scan that volume_info reads but
        _one_line_error(result, _named(result, names))  # open_scan refuses: still one line
    else:
        assert expected == "input_error", (expected, detail, result.stderr[-300:])
        _one_line_error(result, _named(result, names))


def _named(result, names: set[str]) -> str:
    """The name among ``names`` that the error line starts with (else the first, to fail)."""
    return next((n for n in sorted(names, key=len, reverse=True)
                 if result.stderr.startswith(f"error: {n}: ")), sorted(names)[0])


def test_most_cli_cases_are_refused(tmp_path):
    refused = 0
    minimised = [key for key in CASES if key.split("/")[0] not in GENERATED]
    for key in minimised:
        path = tmp_path / key.split("/")[1]
        shutil.copyfile(CASES_DIR / key, path)
        refused += run_target(key.split("/")[0], path)[0] == "input_error"
    assert refused >= len(minimised) - 4, f"only {refused} of {len(minimised)} are refused"
