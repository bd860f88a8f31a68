"""The task runner: results, throttled progress, errors (incl. RuntimeError), cancellation."""

from __future__ import annotations

import time

import pytest

from app.task_runner import TaskRunner
from engines.core.errors import InputError
from engines.core.progress import Progress


def _counting(n, delay=0.0):
    for i in range(n):
        if delay:
            time.sleep(delay)
        yield Progress((i + 1) / n, f"{i + 1}/{n}")
    return n


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner()
    yield runner
    assert runner.shutdown(5000)


def test_result_arrives_and_progress_is_throttled(qtbot, runner):
    results, reports = [], []
    handle = runner.start("count", _counting(20000), on_progress=reports.append,
                          on_result=results.append)
    with qtbot.waitSignal(handle.ended, timeout=10000) as ended:
        pass
    assert ended.args == ["done"]
    assert results == [20000]
    assert handle.fraction == 1.0
    assert len(reports) < 200, "20000 yields must be coalesced to a few updates"


@pytest.mark.parametrize("error", [InputError("bad.spe: no $DATA"), RuntimeError("shape mismatch")])
def test_errors_reach_the_error_callback(qtbot, runner, error):
    def failing():
        yield Progress(0.1)
        raise error

    errors = []
    handle = runner.start("fail", failing(), on_error=errors.append)
    with qtbot.waitSignal(handle.ended, timeout=5000):
        pass
    assert handle.state == "failed"
    assert errors == [error]


def test_unhandled_errors_go_to_task_failed(qtbot, runner):
    def failing():
        raise InputError("x.csv: empty")
        yield

    with qtbot.waitSignal(runner.taskFailed, timeout=5000) as failed:
        runner.start("fail", failing())
    assert str(failed.args[1]) == "x.csv: empty"


def test_cancel_stops_at_next_yield(qtbot, runner):
    finished = []
    handle = runner.start("slow", _counting(1000, delay=0.01), on_finished=finished.append)
    qtbot.waitUntil(lambda: handle.fraction > 0, timeout=5000)
    handle.cancel()
    with qtbot.waitSignal(handle.ended, timeout=5000):
        pass
    assert handle.state == "cancelled" and finished == ["cancelled"]
    assert handle.fraction < 0.5


def test_garbage_is_collected_on_the_gui_thread_only(qtbot, runner):
    """Automatic collection is off (a worker must never free Qt objects); the GUI thread's timer
    still frees reference cycles."""
    import gc
    import threading
    import weakref

    class Node:
        pass

    assert not gc.isenabled()
    collected_in: list[str] = []
    cycle = Node()
    cycle.self = cycle
    weakref.finalize(cycle, lambda: collected_in.append(threading.current_thread().name))
    del cycle
    allocated = [Node() for _ in range(gc.get_threshold()[0] + 1)]  # past the threshold
    qtbot.waitUntil(lambda: bool(collected_in), timeout=5000)
    assert collected_in == [threading.main_thread().name] and allocated


def _recording(log: list[str], n: int = 200, delay: float = 0.02):
    """A task that notes each yield, its normal end, and when it is closed."""
    try:
        for i in range(n):
            time.sleep(delay)
            log.append(f"yield {i}")
            yield Progress((i + 1) / n, f"{i + 1}/{n}")
        log.append("completed")
    except GeneratorExit:
        log.append("closed")
        raise
    finally:
        log.append("cleaned up")


def test_shutdown_cancels_and_waits(qtbot):
    """Shutdown must do both: stop the task at its next yield (it would run 6 s otherwise) and
    return only once the worker thread is gone (the task is inside a 0.3 s step)."""
    from PySide6.QtCore import QThreadPool

    runner = TaskRunner()
    log: list[str] = []
    handle = runner.start("slow", _recording(log, n=20, delay=0.3))
    qtbot.waitUntil(lambda: len(log) >= 1, timeout=5000)
    started = time.monotonic()
    assert runner.shutdown(5000)
    assert QThreadPool.globalInstance().activeThreadCount() == 0  # waited...
    assert time.monotonic() - started > 0.05  # ...for the step in progress
    yields = [entry for entry in log if entry.startswith("yield")]
    assert "completed" not in log and len(yields) <= 3  # cancelled, not run to its end
    assert handle.state == "cancelled"
    qtbot.wait(400)
    assert [entry for entry in log if entry.startswith("yield")] == yields


def test_a_cancelled_task_never_runs_again(qtbot, runner):
    log: list[str] = []
    handle = runner.start("slow", _recording(log))
    qtbot.waitUntil(lambda: len(log) >= 2, timeout=5000)
    handle.cancel()
    with qtbot.waitSignal(handle.ended, timeout=5000):
        pass
    assert runner.shutdown(5000)
    seen = list(log)
    qtbot.wait(300)  # 15 more steps' worth of time
    assert log == seen and "completed" not in seen
    assert handle.state == "cancelled" and handle.fraction < 0.5


def test_a_cancelled_task_is_closed_so_its_cleanup_runs(qtbot, runner):
    log: list[str] = []
    handle = runner.start("slow", _recording(log))
    qtbot.waitUntil(lambda: len(log) >= 2, timeout=5000)
    handle.cancel()
    with qtbot.waitSignal(handle.ended, timeout=5000):
        pass
    assert runner.shutdown(5000)
    assert log[-2:] == ["closed", "cleaned up"]
