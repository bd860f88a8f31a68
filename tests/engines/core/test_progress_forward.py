"""forward(): sub-task progress mapped into the outer task, results and closing passed on."""

from __future__ import annotations

import pytest

from engines.core.progress import Progress, drive, forward


def _inner(log):
    try:
        yield Progress(0.5, "half", n=1)
        yield Progress(1.0, "all", n=2)
        return "value"
    finally:
        log.append("closed")


def test_reports_are_mapped_and_the_result_returned():
    log: list[str] = []

    def outer():
        result = yield from forward(_inner(log), 0.2, 0.6, "inner: ")
        return result

    reports = []
    assert drive(outer(), reports.append) == "value"
    assert [r.fraction for r in reports] == pytest.approx([0.5, 0.8])
    assert [r.message for r in reports] == ["inner: half", "inner: all"]
    assert reports[1].metrics == {"n": 2}


def test_closing_the_outer_task_closes_the_inner_one():
    log: list[str] = []
    task = forward(_inner(log))
    next(task)
    task.close()
    assert log == ["closed"]
