"""Every other format InterSpec reads, through its own parser SpecUtils (``sandiaspecutils``).

SpecUtils (Sandia National Laboratories) reads ORTEC ``.Chn`` and ``.Spc``, GADRAS ``.pcf``,
IAEA ``.spe``, Amptek ``.mca``, the N42 variants, TKA, PHD, LZS, CAEN GXML, TRACS MPS,
RadiaCode, ORTEC list mode and more. LabLens's own readers stay in charge of CSV, ORTEC
``.Spe``, Canberra ``.cnf`` and N42 (they are stricter: a file without an energy calibration
says so instead of getting a default one); this module reads the rest.

A file with several gamma records is summed (foreground records only when it marks some), as
InterSpec shows it. SpecUtils' channel energies are lower channel edges; the calibration kept is
the linear or quadratic polynomial of the channel centres that reproduces them to 0.2 channel.
A file whose calibration SpecUtils only assumed ("unspecified, using default polynomial") is
returned uncalibrated. Every failure is ``InputError("<file name>: <problem>")``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import check_file
from engines.spectrum.readers._common import (
    CHANNEL_CALIBRATION,
    MAX_CHANNELS,
    MAX_FILE_BYTES,
    check_counts,
    check_time,
    fit_calibration,
)
from engines.spectrum.spectrum import Spectrum

#: Suffixes (lower case) that go to SpecUtils; any other file ours cannot read is tried too.
SPECUTILS_SUFFIXES: tuple[str, ...] = (".chn", ".spc", ".pcf", ".mca", ".iaea", ".tka", ".phd",
                                       ".lzs", ".gxml", ".mps", ".lis", ".rcspg", ".spm",
                                       ".dat", ".gr130", ".gr135")
DESCRIPTION = ("via SpecUtils: ORTEC .Chn/.Spc, GADRAS .pcf, IAEA .spe, Amptek .mca, TKA, PHD, "
               "LZS, CAEN GXML, TRACS MPS, RadiaCode, ORTEC list mode, Exploranium")


def available() -> bool:
    """True when the ``sandiaspecutils`` package can be imported."""
    try:
        import SpecUtils  # noqa: F401
    except ImportError:
        return False
    return True


def read_specutils(path: str | Path) -> Spectrum:
    """Read a spectrum file with SpecUtils.

    Returns
    -------
    Spectrum
        Summed gamma counts, live/real time (None when SpecUtils reports 0), calibration,
        metadata ``format="specutils:<suffix>"``, ``reader="sandiaspecutils"``,
        ``calibrated``, ``records`` (gamma records summed), ``instrument`` when known.

    Raises
    ------
    InputError
        Missing/empty/oversized file, SpecUtils cannot parse it, no gamma data, counts that are
        not finite and non-negative, or too many channels.
    """
    path = Path(path)
    _check_file(path)
    try:
        import SpecUtils
    except ImportError:
        raise InputError.for_file(path, "this format needs the sandiaspecutils package "
                                        "(pip install sandiaspecutils)") from None
    spec_file = SpecUtils.SpecFile()
    try:
        with _quiet_stderr():  # the C++ parsers print each failed attempt to stderr
            spec_file.loadFile(str(path), SpecUtils.ParserType.Auto, path.suffix.lstrip("."))
        every = spec_file.measurements()
        records = [m for m in every if m.numGammaChannels() > 0]
    except Exception as exc:  # the C++ parser raises RuntimeError and others
        raise InputError.for_file(path, f"not a spectrum file SpecUtils can read "
                                        f"({_short(exc).replace(str(path), path.name)})") from None
    if not records:
        raise InputError.for_file(path, "SpecUtils found no gamma spectrum in the file")
    foreground = [m for m in records if m.sourceType() == SpecUtils.SourceType.Foreground]
    chosen = foreground or records
    try:
        if len(chosen) == 1:
            measurement = chosen[0]
        else:  # sumMeasurements takes every (sample, detector) pair: leave only the chosen ones
            for other in [m for m in every if m not in chosen]:
                spec_file.removeMeasurement(other)
            measurement = spec_file.sumMeasurements(sorted({m.sampleNumber() for m in chosen}),
                                                    sorted({m.detectorName() for m in chosen}))
            if measurement is None:  # e.g. records of fewer than 4 channels
                raise InputError.for_file(path, f"SpecUtils could not sum the {len(chosen)} "
                                                f"gamma records")
        n_channels = int(measurement.numGammaChannels())
        if not 2 <= n_channels <= MAX_CHANNELS:
            raise InputError.for_file(path, f"{n_channels} channels (expected 2 to "
                                            f"{MAX_CHANNELS})")
        counts = check_counts(path, np.asarray(measurement.gammaCounts(), np.float64))
        model = measurement.energyCalibrationModel()
        lower = (np.asarray(measurement.channelEnergies(), np.float64)
                 if model != SpecUtils.EnergyCalType.UnspecifiedUsingDefaultPolynomial
                 and model != SpecUtils.EnergyCalType.InvalidEquationType else np.zeros(0))
        live, real = float(measurement.liveTime()), float(measurement.realTime())
        instrument = " ".join(filter(None, (spec_file.manufacturer(),
                                            spec_file.instrumentModel()))).strip()
    except InputError:
        raise
    except Exception as exc:
        raise InputError.for_file(path, f"SpecUtils could not read the spectrum "
                                        f"({_short(exc)})") from None
    calibration, problem = _calibration(lower, counts.size)
    metadata = {"format": f"specutils:{path.suffix.lstrip('.').lower() or 'auto'}",
                "reader": "sandiaspecutils",
                "calibrated": calibration is not None, "records": len(chosen)}
    metadata["calibration_source" if calibration else "calibration_problem"] = (
        f"SpecUtils {model.name}" if calibration else problem)
    if instrument:
        metadata["instrument"] = instrument
    times = [check_time(path, t if t > 0 else None, what)  # SpecUtils reports 0 for none
             for t, what in ((live, "live time"), (real, "real time"))]
    return Spectrum(counts, calibration or CHANNEL_CALIBRATION, live_time_s=times[0],
                    real_time_s=times[1], name=path.stem, source=path, metadata=metadata)


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null while SpecUtils parses (it writes "Failed CNF: ..."
    lines there for every parser it tries), so a bad file gives one clean error line."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield
            return
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _check_file(path: Path) -> None:
    size = check_file(path)
    if size > MAX_FILE_BYTES:
        raise InputError.for_file(path, f"file of {size / 2**20:.0f} MiB is too large for a "
                                        f"spectrum (limit {MAX_FILE_BYTES // 2**20} MiB)")


def _calibration(lower_edges: np.ndarray, n_channels: int):
    """(calibration of the channel centres, "") or (None, reason) from SpecUtils' edges."""
    if lower_edges.size == 0:
        return None, "the file has no energy calibration (SpecUtils would assume one)"
    if lower_edges.size < n_channels or not np.all(np.isfinite(lower_edges)):
        return None, "SpecUtils reports no usable channel energies"
    edges = lower_edges[:n_channels + 1]
    if edges.size == n_channels:  # no upper edge of the last channel: extend by one width
        edges = np.r_[edges, 2 * edges[-1] - edges[-2]]
    centres = 0.5 * (edges[1:] + edges[:-1])
    calibration, reason = fit_calibration(np.arange(n_channels, dtype=np.float64), centres)
    if calibration is None:
        return None, f"calibration is not a linear or quadratic polynomial ({reason})"
    return calibration, ""


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:120] + "…") if len(text) > 120 else (text or type(exc).__name__)


#: Formats :func:`write_specutils` writes (name -> SpecUtils SaveSpectrumAsType member).
WRITE_FORMATS = {"chn": "Chn", "spc": "SpcBinaryInt", "pcf": "Pcf", "iaea": "SpeIaea",
                 "tka": "Tka", "n42": "N42_2012", "cnf": "Cnf"}


def write_specutils(path: str | Path, spectrum: Spectrum, kind: str) -> Path:
    """Write ``spectrum`` in one of :data:`WRITE_FORMATS` with SpecUtils.

    Our calibration gives channel *centres*; SpecUtils' polynomial gives lower channel edges,
    so the coefficients are shifted by half a channel on the way out (and
    :func:`read_specutils` shifts them back).
    """
    import SpecUtils

    from engines.spectrum.readers._common import shift_calibration

    path = Path(path)
    if kind not in WRITE_FORMATS:
        raise InputError(f"unknown SpecUtils format {kind!r}; valid: {', '.join(WRITE_FORMATS)}")
    measurement = SpecUtils.Measurement.new()
    measurement.setGammaCounts(spectrum.counts.tolist(), float(spectrum.live_time_s or 0.0),
                               float(spectrum.real_time_s or spectrum.live_time_s or 0.0))
    lower = shift_calibration(spectrum.calibration, -0.5).coefficients
    measurement.setEnergyCalibration(SpecUtils.EnergyCalibration.fromPolynomial(
        spectrum.n_channels, list(lower)))
    spec_file = SpecUtils.SpecFile()
    spec_file.addMeasurement(measurement, True)
    try:
        path.unlink(missing_ok=True)  # SpecUtils refuses to overwrite
        spec_file.writeAllToFile(str(path), getattr(SpecUtils.SaveSpectrumAsType,
                                                    WRITE_FORMATS[kind]))
    except Exception as exc:
        raise InputError.for_file(path, f"SpecUtils could not write it ({_short(exc)})") from None
    return path
