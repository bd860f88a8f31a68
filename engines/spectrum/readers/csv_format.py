"""CSV spectra: the paper's ``"Energy (keV)","Counts"`` two-column files.

Writing: a few ``#`` comment lines (live/real time, calibration, name), then the header and one
row per channel. The reader lives beside the writer in this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.core.checkpoint import atomic_write_bytes
from engines.spectrum.spectrum import Spectrum


def write_csv(path: str | Path, spectrum: Spectrum) -> Path:
    """Write ``spectrum`` as CSV with its calibration and times in comment lines."""
    path = Path(path)
    lines = [f"# name: {spectrum.name}"] if spectrum.name else []
    coefficients = " ".join(f"{c:.10g}" for c in spectrum.calibration.coefficients)
    lines.append(f"# calibration_kev: {coefficients}")
    if spectrum.live_time_s is not None:
        lines.append(f"# live_time_s: {spectrum.live_time_s:.6g}")
    if spectrum.real_time_s is not None:
        lines.append(f"# real_time_s: {spectrum.real_time_s:.6g}")
    lines.append('"Energy (keV)","Counts"')
    counts = spectrum.counts
    integral = np.all(counts == np.rint(counts))
    count_text = counts.astype(np.int64).astype(str) if integral else np.char.mod("%.6g", counts)
    energy_text = np.char.mod("%.4f", spectrum.energies)
    rows = np.char.add(np.char.add(energy_text, ","), count_text)
    atomic_write_bytes(path, ("\n".join(lines + rows.tolist()) + "\n").encode())
    return path
