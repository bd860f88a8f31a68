"""Runs engine generators on worker threads for the GUI (DESIGN.md "The shell").

One place that starts tasks, coalesces their progress reports to at most 20 updates per
second, routes errors, cancels at the next yield and waits for workers when the app closes.
"""

from __future__ import annotations

import gc
import logging
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, QTimer, Signal
from superqt.utils import GeneratorWorker

from engines.core.progress import Progress

log = logging.getLogger("lablens.tasks")

UPDATE_INTERVAL_MS = 50  # 20 Hz ceiling for progress delivered to widgets
GC_INTERVAL_MS = 1000
FULL_COLLECTION_INTERVAL_S = 60.0  # a full collection with torch and Qt loaded takes ~0.1 s
_last_full_collection = time.monotonic()


def collect_garbage() -> None:
    """The young generations when their threshold is passed; everything at most once a minute
    (collecting the oldest generation on its count alone would stall the GUI every few seconds)."""
    global _last_full_collection
    if time.monotonic() - _last_full_collection >= FULL_COLLECTION_INTERVAL_S:
        gc.collect()
        _last_full_collection = time.monotonic()
    elif gc.get_count()[0] > gc.get_threshold()[0]:
        gc.collect(1)


def collect_garbage_on_gui_thread(parent: QObject) -> QTimer:
    """Turn off automatic garbage collection and collect from a timer on the GUI thread.

    Automatic collection runs in whichever thread happens to allocate. When it frees a Qt object
    in a worker thread, the worker holds a Qt mutex and waits for the GIL while the GUI thread
    holds the GIL and waits for that mutex: the application freezes for good.
    """
    gc.disable()
    timer = QTimer(parent)
    timer.setInterval(GC_INTERVAL_MS)
    timer.timeout.connect(collect_garbage)
    timer.start()
    return timer


class TaskFailure(Exception):
    """Wraps an exception raised inside a task (superqt swallows bare RuntimeErrors)."""

    def __init__(self, original: BaseException, trace: str) -> None:
        super().__init__(str(original))
        self.original = original
        self.trace = trace


def _guarded(task: Generator[Progress, None, Any]) -> Generator[Progress, None, Any]:
    try:
        return (yield from task)
    except Exception as exc:  # re-raised as a type superqt reports through `errored`
        raise TaskFailure(exc, traceback.format_exc()) from exc
    finally:
        task.close()


class _ClosingWorker(GeneratorWorker):
    """A GeneratorWorker that closes its generator in the worker thread when it stops, so a
    cancelled task's ``finally`` blocks run at once (superqt only stops iterating)."""

    def work(self) -> Any:
        try:
            return super().work()
        finally:
            self._gen.close()


class TaskHandle(QObject):
    """A running (or ended) task as the GUI sees it.

    ``state`` is one of ``running``, ``done``, ``cancelled``, ``failed``.
    """

    progressed = Signal(object)  # Progress, throttled
    ended = Signal(str)  # final state

    def __init__(self, title: str, worker: GeneratorWorker) -> None:
        super().__init__()
        self.title = title
        self.state = "running"
        self.fraction = 0.0
        self.message = "starting"
        self.started_at = time.monotonic()
        self._worker = worker
        self._pending: Progress | None = None

    def cancel(self) -> None:
        """Ask the task to stop at its next yield."""
        if self.state == "running":
            self.message = "cancelling"
            self._worker.quit()

    def _flush(self) -> None:
        report, self._pending = self._pending, None
        if report is not None:
            self.fraction, self.message = report.fraction, report.message
            self.progressed.emit(report)

    def _end(self, state: str) -> None:
        self._flush()
        if self.state == "running":
            self.state = state
            self.ended.emit(state)


class TaskRunner(QObject):
    """Starts engine generators on the global thread pool and tracks them."""

    taskStarted = Signal(object)  # TaskHandle
    taskFailed = Signal(object, object)  # TaskHandle, exception (the original)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handles: list[TaskHandle] = []
        self._timer = QTimer(self)
        self._timer.setInterval(UPDATE_INTERVAL_MS)
        self._timer.timeout.connect(self._flush_all)
        self._gc_timer = collect_garbage_on_gui_thread(self)

    @property
    def running(self) -> list[TaskHandle]:
        return [h for h in self._handles if h.state == "running"]

    def start(
        self,
        title: str,
        task: Generator[Progress, None, Any],
        on_progress: Callable[[Progress], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finished: Callable[[str], None] | None = None,
    ) -> TaskHandle:
        """Run ``task`` in a worker thread.

        Callbacks run on the GUI thread: ``on_progress`` with the latest report at most every
        50 ms, ``on_result`` with the generator's return value, ``on_error`` with the raised
        exception (when absent, the error goes to ``taskFailed`` for the window to show), and
        ``on_finished`` with the final state in every case.
        """
        worker = _ClosingWorker(_guarded, task)
        handle = TaskHandle(title, worker)
        if on_progress is not None:
            handle.progressed.connect(on_progress)
        if on_finished is not None:
            handle.ended.connect(on_finished)

        def yielded(report: Any) -> None:
            if isinstance(report, Progress):
                handle._pending = report

        def returned(value: Any) -> None:
            handle._end("done")
            if on_result is not None:
                on_result(value)

        def errored(exc: BaseException) -> None:
            original = exc.original if isinstance(exc, TaskFailure) else exc
            if isinstance(exc, TaskFailure):
                log.debug("task %r failed:\n%s", title, exc.trace)
            handle._end("failed")
            if on_error is not None:
                on_error(original)
            else:
                self.taskFailed.emit(handle, original)

        worker.yielded.connect(yielded)
        worker.returned.connect(returned)
        worker.errored.connect(errored)
        worker.aborted.connect(lambda: handle._end("cancelled"))
        # a cancel that arrives after the last yield suppresses `returned` without `aborted`
        worker.finished.connect(lambda: (handle._end("cancelled"), self._forget_finished()))
        self._handles.append(handle)
        if not self._timer.isActive():
            self._timer.start()
        self.taskStarted.emit(handle)
        worker.start()
        return handle

    def cancel_all(self) -> None:
        for handle in self.running:
            handle.cancel()

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel every task and wait for the worker threads; True if all stopped in time."""
        self.cancel_all()
        stopped = QThreadPool.globalInstance().waitForDone(timeout_ms)
        QCoreApplication.processEvents()  # deliver the workers' last queued signals
        for handle in self.running:
            handle._end("cancelled")
        return stopped

    def _flush_all(self) -> None:
        for handle in self._handles:
            handle._flush()
        if not self.running:
            self._timer.stop()

    def _forget_finished(self) -> None:
        self._handles = [h for h in self._handles if h.state == "running"]
