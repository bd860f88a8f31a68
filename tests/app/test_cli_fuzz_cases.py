"""The fuzzer's minimised cases through the CLI: each exits 2 with one line naming the file,
within 20 s (and 2 GiB, except where torch is loaded); a case the fixed reader reads as a
valid file (an empty ROOT tree is one) exits 0 with its summary and nothing on stderr.

Two cases per format (the first in ``tests/fuzz/cases/INDEX.json`` order) through the
``info`` verb that reads that format: ``spectrum info`` for spectra and model descriptions,
``cdc info`` for event files. Imaging formats are not here: no CLI verb on main reads a
volume yet (the workspaces that add one bring their ``info`` verb); the fuzzer's own
regression test (``tests/fuzz/test_fuzz_cases.py``) runs their cases through ``volume_info``.
"""

from __future__ import annotations

import json
import shutil

import pytest

from engines.core.checkpoint import model_paths
from engines.core.model import demo_model_path
from tests.app.test_cli_errors import _one_line_error, _run
from tests.fuzz.runner import CASES_DIR
from tests.fuzz.targets import run_target

VERB = {"csv": "spectrum", "spe": "spectrum", "n42": "spectrum", "cnf": "spectrum",
        "model": "spectrum", "hdf5": "cdc", "root": "cdc"}
PER_FORMAT = 2
INDEX = json.loads((CASES_DIR / "INDEX.json").read_text())


def _cases() -> list[str]:
    chosen: dict[str, list[str]] = {}
    for key, entry in INDEX.items():
        fmt = key.split("/")[0]
        if fmt in VERB and (CASES_DIR / key).is_file() and entry["outcome"] != "valid" \
                and len(chosen.setdefault(fmt, [])) < PER_FORMAT:
            chosen[fmt].append(key)
    return [key for keys in chosen.values() for key in keys]


CASES = _cases()


def test_every_cli_format_has_cases():
    assert {key.split("/")[0] for key in CASES} >= {"csv", "spe", "n42", "hdf5", "root"}


@pytest.mark.parametrize("key", CASES)
def test_minimised_case_exits_2_with_one_line(tmp_path, key):
    fmt = key.split("/")[0]
    path = tmp_path / key.split("/")[1]
    shutil.copyfile(CASES_DIR / key, path)
    if fmt == "model":  # the description beside the real weights it describes
        model_paths(path)[0].symlink_to(model_paths(demo_model_path("spectrum"))[0].resolve())
    expected, detail = run_target(fmt, path)  # the fuzzer's verdict on the fixed reader
    result = _run(VERB[fmt], "info", path, cap_memory=fmt != "model")
    if expected == "valid":
        assert result.returncode == 0 and result.stderr == "", result.stderr[-800:]
        assert json.loads(result.stdout)["path"] == str(path)
    else:
        assert expected == "input_error", (expected, detail)
        _one_line_error(result, path.name)


def test_most_cli_cases_are_refused(tmp_path):
    refused = 0
    for key in CASES:
        path = tmp_path / key.split("/")[1]
        shutil.copyfile(CASES_DIR / key, path)
        refused += run_target(key.split("/")[0], path)[0] == "input_error"
    assert refused >= len(CASES) - 2, f"only {refused} of {len(CASES)} cases are refused"
