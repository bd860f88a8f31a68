"""A short fuzz run inside ``make test``: a few hundred hostile cases per format, none may fail.

The long run is ``make fuzz N=20000``; see :mod:`tests.fuzz.runner`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.fuzz.runner import fuzz
from tests.fuzz.seeds import FORMATS, seeds
from tests.fuzz.targets import run_target

#: Cases per format of the smoke run (about a minute on 2 busy cores).
SMOKE_CASES = {"csv": 250, "spe": 200, "cnf": 200, "n42": 250, "hdf5": 150, "root": 120,
               "specutils": 150, "dicom": 200, "nifti": 200, "metaimage": 200, "tiff": 200,
               "review": 200, "model": 100, "micrograph": 120, "semlabel": 120, "semset": 80,
               "luna16": 150}
SMOKE_SEED = 2026


@pytest.mark.parametrize("fmt", FORMATS)
def test_seeds_are_valid(fmt):
    with tempfile.TemporaryDirectory() as folder:
        for i, (suffix, data) in enumerate(seeds(fmt)):
            path = Path(folder) / f"seed{i}{suffix}"
            path.write_bytes(data)
            assert run_target(fmt, path) == ("valid", "")


def test_smoke_run_finds_no_failure(capsys):
    report = fuzz(FORMATS, SMOKE_CASES, seed=SMOKE_SEED, workers=2, quick=True,
                  progress=False)
    with capsys.disabled():
        print(f"\nfuzz smoke run: {sum(SMOKE_CASES.values())} cases in {report.wall_s:.1f} s")
    assert report.n_failures == 0, "\n".join(
        f"{key}: case {o.job.index} ({o.mutator}) {o.detail}"
        for key, o in report.failures.items())
    for fmt, n in SMOKE_CASES.items():
        assert sum(report.counts[fmt].values()) == n
        assert report.counts[fmt]["input_error"] > 0 and report.counts[fmt]["valid"] > 0


def test_json_mutators_never_alias_their_hostile_values():
    """Review case 3151 of seed 0 put one hostile list into the document twice and then into
    itself (a cycle: the case could not be made); a mutated constant would also make a case
    depend on what the worker made before it."""
    from tests.fuzz import sidecars
    from tests.fuzz.mutators import make_case

    before = repr(sidecars.HOSTILE_JSON)
    for index in (3151, 3276, 3588, *range(40)):
        make_case("review", 0, index)
    assert repr(sidecars.HOSTILE_JSON) == before
