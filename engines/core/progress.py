"""Progress reports yielded by long-running engine generators (DESIGN.md rule 2).

An engine task is a generator: it yields :class:`Progress` at least once per batch, tile or
epoch and *returns* its result. Whoever iterates decides what to do with the reports (a Qt
progress bar, a tqdm bar, nothing); cancelling means simply to stop iterating.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")

TaskGenerator = Generator["Progress", None, T]


class Progress:
    """One progress report.

    Parameters
    ----------
    fraction
        Completed fraction in [0, 1]; values outside are clipped.
    message
        Short human-readable status, e.g. ``"step 120/2000"``.
    **metrics
        Named numbers or small arrays for live plots (``loss=0.31, accuracy=0.88``).
    """

    __slots__ = ("fraction", "message", "metrics")

    def __init__(self, fraction: float, message: str = "", **metrics: Any) -> None:
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self.message = message
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"Progress({self.fraction:.3f}, {self.message!r}, {self.metrics!r})"


def drive(task: TaskGenerator[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Run an engine generator to completion and return its result.

    Used by the CLI and by tests; the GUI uses the app's task runner instead.
    """
    while True:
        try:
            report = next(task)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(report)


def relay(task: TaskGenerator[T], transform: Callable[[Progress], Progress]
          ) -> TaskGenerator[T]:
    """Re-yield ``task``'s reports passed through ``transform`` (which may also just look at
    them) and return its result; closing the relay closes ``task``."""
    try:
        while True:
            try:
                report = next(task)
            except StopIteration as stop:
                return stop.value
            yield transform(report) if isinstance(report, Progress) else report
    finally:
        task.close()


def forward(task: TaskGenerator[T], start: float = 0.0, span: float = 1.0, prefix: str = ""
            ) -> TaskGenerator[T]:
    """Run a sub-task inside an outer one: its reports re-yielded with the fraction mapped onto
    ``[start, start + span]`` and ``prefix`` before the message (metrics kept); returns its
    result."""
    return (yield from relay(task, lambda r: Progress(start + span * r.fraction,
                                                      prefix + r.message, **r.metrics)))
