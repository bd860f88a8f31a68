"""Generator adapters the workspaces hand to the task runner (no computation of their own).

The runner delivers at most the *latest* progress report every 50 ms, which is right for progress
bars but would drop points from training and evaluation curves; :func:`recording` keeps every
report's metrics so the plots can redraw the full history at the throttled rate.
:func:`blocking` runs a short engine call (file read, model load) as a one-step task.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from engines.core.progress import Progress, TaskGenerator, relay


def recording(task: TaskGenerator[Any], sink: list[dict[str, Any]],
              drop: tuple[str, ...] = ()) -> TaskGenerator[Any]:
    """Forward ``task``'s reports and return value, appending each report's metrics (without the
    keys in ``drop``, e.g. large arrays) to ``sink``.

    ``list.append`` is atomic, so the GUI thread may read ``sink`` while the worker appends.
    Closing this generator closes ``task`` (cancellation reaches the engine's cleanup).
    """
    def record(report: Progress) -> Progress:
        if report.metrics:
            sink.append({k: v for k, v in report.metrics.items() if k not in drop})
        return report

    return (yield from relay(task, record))


def blocking(title: str, function: Callable[..., Any], *args: Any
             ) -> Generator[Progress, None, Any]:
    """Run a short blocking engine call as a one-step task."""
    yield Progress(0.0, title)
    result = function(*args)
    yield Progress(1.0, f"{title}: done")
    return result
