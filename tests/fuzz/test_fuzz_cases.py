"""Regression tests from the fuzzer: every minimised failing case in ``tests/fuzz/cases``.

Each case made a reader fail before it was fixed (``cases/INDEX.json`` says how); now it
must give a clean InputError naming the file or a valid parse, within the alarm (10 s) and
the address-space limit (2 GiB) of a fuzz worker.
"""

from __future__ import annotations

import json

import pytest

from tests.fuzz.runner import CASES_DIR, Job, Pool
from tests.fuzz.seeds import FORMATS

CASES = sorted(p for p in CASES_DIR.glob("*/*") if p.parent.name in FORMATS)
INDEX = json.loads((CASES_DIR / "INDEX.json").read_text())


@pytest.fixture(scope="module")
def pool():
    with Pool(workers=1) as pool:
        yield pool


def test_every_case_is_indexed():
    assert CASES, f"no regression cases in {CASES_DIR}"
    assert {f"{p.parent.name}/{p.name}" for p in CASES} <= set(INDEX)


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_case_is_refused_cleanly_or_read_validly(pool, case):
    job = Job(case.parent.name, suffix=case.suffix, data=case.read_bytes())
    result = next(pool.run([job]))
    before = INDEX[f"{case.parent.name}/{case.name}"]
    assert result.outcome in ("input_error", "valid"), (
        f"{result.outcome}: {result.detail} (before the fix: {before['outcome']}: "
        f"{before['detail']})")
