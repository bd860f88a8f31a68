"""Fixtures for every workspace's widget tests: a minimal task host on a real TaskRunner."""

from __future__ import annotations

import sys

import pytest


class FakeHost:
    """The TaskHost protocol on a real TaskRunner, recording errors and log lines."""

    def __init__(self) -> None:
        from app.task_runner import TaskRunner

        self.runner = TaskRunner()
        self.errors: list[tuple[BaseException, str]] = []
        self.lines: list[str] = []

    def run_task(self, title, task, on_progress=None, on_result=None, on_error=None,
                 on_finished=None):
        return self.runner.start(title, task, on_progress, on_result, on_error, on_finished)

    def device_preference(self) -> str:
        return "cpu"

    def report_error(self, error: BaseException, context: str = "") -> None:
        self.errors.append((error, context))

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def host(qtbot):
    host = FakeHost()
    yield host
    host.runner.shutdown()


@pytest.fixture(autouse=True)
def single_thread_torch():
    """One torch thread in widget tests: on a shared 2-core machine two threads spin against
    each other and the GUI thread."""
    if "torch" not in sys.modules:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
