"""What the fuzzer runs on a case, and how it classifies the outcome.

Outcomes
    ``input_error``  a clean, one-line ``InputError`` (``ModelError`` for model files) that
                     starts with the file name
    ``valid``        a parse that passes every validity check below
    ``unnamed``      an InputError whose message does not start with the file name (or spans
                     several lines)
    ``other``        any other exception escaped
    ``hang``         past the alarm (set by the runner)
    ``memory``       MemoryError or the worker died of the address-space limit
    ``crash``        the worker died of a signal (segfault, abort)
    ``garbage``      the reader accepted the file but the result fails a validity check

"Garbage accepted" checks of the imaging formats: :mod:`tests.fuzz.imaging`; of review and
model sidecars: :mod:`tests.fuzz.sidecars`; of micrographs, labels and labelled folders:
:mod:`tests.fuzz.sem`; of LUNA16 CSV files: :mod:`tests.fuzz.luna`. Spectra: 2 to 2^20 channels; counts finite, non-negative, finite as
float32 (what the models take) and with a finite total; channel edges finite and strictly
increasing; live/real times absent or in [0, 1e10] s; every number of the ``spectrum info``
summary finite; and the spectrum rebins onto the paper's grid (a calibrated spectrum that only
``rebin`` refuses was accepted wrongly). Events: cells in 0…4985; times and ADC finite (they are
float32); scores in [0, 1]; trigger time finite; for our HDF5 format each event has exactly the
hits its index declares and no hit is counted twice; the ``cdc info`` summary agrees with the
events (the first 2000 events one by one, the rest through the index's counts); and no file
claims more hits than its bytes can hold (15 bytes a hit at the best DEFLATE ratio, 1032).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from engines.core.errors import InputError, ModelError
from tests.fuzz.seeds import (
    IMAGING_FORMATS,
    LUNA_FORMATS,
    SEM_FORMATS,
    SIDECAR_FORMATS,
    SPECTRUM_FORMATS,
)

OUTCOMES = ("input_error", "valid", "unnamed", "other", "hang", "memory", "crash", "garbage")
FAILURES = frozenset(OUTCOMES[2:])
MAX_CHANNELS = 1 << 20
MAX_TIME_S = 1e10
HIT_BYTES, BEST_RATIO = 15, 1032
CHECKED_EVENTS = 2000


def run_target(fmt: str, path: Path) -> tuple[str, str]:
    """Read ``path`` as ``fmt`` the way the CLI's ``info`` verb does; (outcome, detail)."""
    if fmt in LUNA_FORMATS:
        from tests.fuzz.luna import luna_problems

        return _classified(lambda: luna_problems(path), {path.name})
    if fmt in IMAGING_FORMATS + SIDECAR_FORMATS + SEM_FORMATS:  # files in a folder of their own
        from tests.fuzz import imaging, sem, sidecars

        module = imaging if fmt in IMAGING_FORMATS else sem if fmt in SEM_FORMATS else sidecars
        read_path, names = module.unpack(fmt, path)
        check = (lambda: imaging.volume_problems(fmt, read_path)) if module is imaging else \
            (lambda: sem.sem_problems(fmt, read_path)) if module is sem else \
            (lambda: (sidecars.review_problems if fmt == "review" else
                      sidecars.model_problems)(read_path))
        try:
            return _classified(check, names)
        finally:
            shutil.rmtree(read_path if read_path.is_dir() else read_path.parent,
                          ignore_errors=True)
    return _classified(lambda: (spectrum_problems if fmt in SPECTRUM_FORMATS
                                else event_problems)(path), {path.name})


def _classified(check, names: set[str]) -> tuple[str, str]:
    """Run ``check`` (a list of problems); an InputError must start with one of ``names``."""
    try:
        problems = check()
    except (InputError, ModelError) as exc:
        message = str(exc)
        if not any(message.startswith(f"{name}: ") for name in names) or "\n" in message:
            return "unnamed", message[:300]
        return "input_error", message[:300]
    except MemoryError:
        return "memory", "MemoryError"
    except Exception as exc:  # the point of the fuzzer: anything else escaping is a finding
        text = str(exc).strip().splitlines()
        return "other", f"{type(exc).__name__}: {text[0][:200] if text else ''}"
    if problems:
        return "garbage", problems[0][:300]
    return "valid", ""


def _numbers_finite(value, where: str) -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _numbers_finite(v, f"{where}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _numbers_finite(v, f"{where}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where} is {value}"]
    return []


def spectrum_problems(path: Path) -> list[str]:
    from engines.spectrum.library import _file_summary  # what `spectrum info FILE` prints
    from engines.spectrum.readers import read_spectrum
    from engines.spectrum.rebin import rebin
    from engines.spectrum.spectrum import PAPER_GRID

    spectrum = read_spectrum(path)
    counts = spectrum.counts
    problems = []
    if counts.ndim != 1 or not 2 <= counts.size <= MAX_CHANNELS:
        problems.append(f"counts of shape {counts.shape}")
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(counts.astype(np.float32))):
            problems.append("counts are not finite as float32")
        if not np.isfinite(counts.sum()):
            problems.append(f"total counts {counts.sum()}")
        if np.any(counts < 0):
            problems.append("negative counts")
        edges = spectrum.edges
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            problems.append(f"channel edges not finite and increasing "
                            f"({spectrum.calibration.coefficients})")
    for name in ("live_time_s", "real_time_s"):
        value = getattr(spectrum, name)
        if value is not None and not 0 <= value <= MAX_TIME_S:
            problems.append(f"{name} = {value}")
    if problems:
        return problems
    problems += _numbers_finite(_file_summary(path, spectrum), "summary")
    if spectrum.metadata.get("calibrated", True):
        try:
            rebin(spectrum, PAPER_GRID)
        except InputError as exc:
            problems.append(f"accepted, then refused by rebin: {exc}")
    return problems


def event_problems(path: Path) -> list[str]:
    from engines.cdc.geometry import N_CELLS
    from engines.cdc.io import read_events, summarize

    summary = summarize(path)
    events = read_events(path, lazy=True)
    problems: list[str] = []
    declared = getattr(events.reader, "hit_counts", None)
    total = signal = 0
    checked = events[:CHECKED_EVENTS]  # every event's values; the totals come from the index
    for i, event in enumerate(checked):
        n = event.n_hits
        total += n
        signal += event.n_signal_hits
        where = f"event {i}"
        if n and (event.cell.min() < 0 or event.cell.max() >= N_CELLS):
            problems.append(f"{where}: cell outside 0…{N_CELLS - 1}")
        for name in ("time_ns", "adc"):
            if not np.all(np.isfinite(getattr(event, name))):
                problems.append(f"{where}: {name} not finite")
        if event.drift_time_ns is not None and np.any(np.isinf(event.drift_time_ns)):
            problems.append(f"{where}: drift time infinite")
        if event.score is not None and not np.all((event.score >= 0) & (event.score <= 1)):
            problems.append(f"{where}: score outside [0, 1]")
        if not math.isfinite(event.trigger_time_ns):
            problems.append(f"{where}: trigger time {event.trigger_time_ns}")
        if declared is not None and n != int(declared[i]):
            problems.append(f"{where}: {n} hits read, the index declares {int(declared[i])}")
        if problems:
            return problems
    if len(events) > len(checked):  # the rest only by their declared counts
        total = int(np.sum(declared)) if declared is not None else summary["hits"]
        signal = summary["signal_hits"]
    if events.format == "lablens-hdf5" and total > events.reader.n_hits:
        problems.append(f"{total} hits read from {events.reader.n_hits} stored: hits counted "
                        "twice")
    if total * HIT_BYTES > path.stat().st_size * BEST_RATIO:
        problems.append(f"{total} hits from a {path.stat().st_size}-byte file")
    expected = {"events": len(events), "hits": total, "signal_hits": signal}
    for key, value in expected.items():
        if summary[key] != value:
            problems.append(f"summary says {key} = {summary[key]}, the events give {value}")
    if not 0.0 <= summary["occupancy_mean"] <= 1.0:
        problems.append(f"occupancy {summary['occupancy_mean']}")
    return problems + _numbers_finite(summary, "summary")
