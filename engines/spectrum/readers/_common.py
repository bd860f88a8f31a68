"""Helpers shared by the spectrum readers: limits, number parsing, value and calibration checks.

File access, text decoding and exception mapping are :mod:`engines.core.safe_read`'s. Every
problem is reported as ``InputError("<file name>: <what is wrong>")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import finite_after_cast
from engines.spectrum.spectrum import Calibration, Spectrum

#: Largest file any reader opens (a 64k-channel N42 with many spectra is a few MB).
MAX_FILE_BYTES = 256 * 1024 * 1024
#: Largest text spectrum (CSV, .Spe): 2^20 channels of ~25 characters a row, with room to spare.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: Largest channel count accepted from any size field or data block.
MAX_CHANNELS = 1 << 20
#: Longest live or real time accepted, s (about 300 years; the CNF reader's plausibility bound).
MAX_TIME_S = 1e10
#: Largest energy a calibration may be fitted to, keV (far above any gamma line).
MAX_ENERGY_KEV = 1e9
#: A fitted calibration must reproduce the given energies to this fraction of a channel.
CALIBRATION_TOLERANCE_CHANNELS = 0.2
#: Calibration used when a file has none: energy in "keV" equals the channel number.
CHANNEL_CALIBRATION = Calibration((0.0, 1.0))


def parse_numbers(path: Path, tokens: list[str], what: str,
                  positions: list[int] | None = None, first_index: int = 0) -> np.ndarray:
    """Parse text tokens to a finite float64 array, shape (len(tokens),).

    The error names the first offending token and where it is: ``line <positions[i]>`` when line
    numbers are given, else ``value <first_index + i + 1>`` within ``what``.
    """

    def where(index: int) -> str:
        return (f"line {positions[index]}" if positions is not None
                else f"value {first_index + index + 1}")

    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        for index, token in enumerate(tokens):
            try:
                float(token)
            except ValueError:
                raise InputError.for_file(path, f"{what}: {where(index)} is not a number: "
                                                f"{token[:40]!r}") from None
        raise InputError.for_file(path, f"{what}: values are not numbers") from None
    bad = ~np.isfinite(values)
    if np.any(bad):
        index = int(np.argmax(bad))
        raise InputError.for_file(path, f"{what}: {where(index)} is {tokens[index]!r} "
                                        "(NaN or infinite)")
    return values


def check_counts(path: Path, counts: np.ndarray, what: str = "counts") -> np.ndarray:
    """Check a counts array, shape (n_channels,): at least 2 channels, finite, non-negative."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2:
        raise InputError.for_file(path, f"{what}: need at least 2 channels, found {counts.size}")
    if counts.size > MAX_CHANNELS:
        raise InputError.for_file(path, f"{what}: {counts.size} channels exceeds the limit of "
                                        f"{MAX_CHANNELS}")
    if not np.all(np.isfinite(counts)):
        raise InputError.for_file(path, f"{what}: NaN or infinite counts")
    finite_after_cast(counts, np.float32, what, path)  # the models take float32 counts
    negative = counts < 0
    if np.any(negative):
        channel = int(np.argmax(negative))
        raise InputError.for_file(path, f"{what}: negative count {counts[channel]:g} in "
                                        f"channel {channel}")
    return counts


def check_channel_count(path: Path, n_channels: int, what: str) -> int:
    """Bound a channel count read from a size field before anything is allocated from it."""
    if not 2 <= n_channels <= MAX_CHANNELS:
        raise InputError.for_file(path, f"{what} declares {n_channels} channels (expected 2 to "
                                        f"{MAX_CHANNELS})")
    return int(n_channels)


def polynomial_calibration(coefficients: list[float] | tuple[float, ...],
                           n_channels: int) -> tuple[Calibration | None, str]:
    """Turn file coefficients ``E = sum(c_i * ch**i)`` (keV, 0-based channel) into a calibration.

    Higher-order terms that vanish are dropped; a cubic (or higher) that a quadratic reproduces
    within :data:`CALIBRATION_TOLERANCE_CHANNELS` is refitted. Returns ``(None, reason)`` when the
    coefficients are absent, non-finite, not increasing or not representable.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    if c.size < 2 or not np.all(np.isfinite(c)) or c[1] == 0.0:
        return None, f"no usable energy calibration {tuple(c.tolist())}"
    trimmed = np.trim_zeros(c, "b")
    if trimmed.size <= 3:
        calibration = Calibration(tuple(c[: max(2, trimmed.size)]))
    else:
        channels = np.arange(n_channels, dtype=np.float64)
        energies = np.polynomial.polynomial.polyval(channels, trimmed)
        calibration, reason = fit_calibration(channels, energies)
        if calibration is None:
            return None, f"calibration {tuple(trimmed.tolist())} is not quadratic: {reason}"
    problem = calibration_problem(calibration, n_channels)
    return (None, problem) if problem else (calibration, "")


def calibration_problem(calibration: Calibration, n_channels: int) -> str:
    """Why ``calibration`` cannot describe ``n_channels`` channels ("" when it can).

    The channel edges must be finite (a 1e308 slope overflows), within
    ±:data:`MAX_ENERGY_KEV` and increasing.
    """
    with np.errstate(all="ignore"):
        edges = calibration.edges(n_channels)
        if not np.all(np.abs(edges) <= MAX_ENERGY_KEV):  # NaN and inf fail too
            return (f"energy calibration {calibration.coefficients} gives energies beyond "
                    f"{MAX_ENERGY_KEV:g} keV over {n_channels} channels")
        if n_channels < 2 or np.any(np.diff(edges) <= 0):
            return f"energy calibration {calibration.coefficients} is not increasing"
    return ""


def check_time(path: Path, seconds: float | None, what: str) -> float | None:
    """A live or real time in s: None, or finite and within 0…:data:`MAX_TIME_S`."""
    if seconds is None:
        return None
    if not 0 <= seconds <= MAX_TIME_S:  # NaN fails too
        raise InputError.for_file(path, f"{what} of {seconds:g} s is not a plausible time "
                                        f"(0 to {MAX_TIME_S:g} s)")
    return float(seconds)


def make_spectrum(path: Path, counts: np.ndarray, calibration: Calibration,
                  live_time_s: float | None, real_time_s: float | None, **kwargs) -> Spectrum:
    """The reader's result, after the checks every format shares (counts, calibration, times)."""
    counts = check_counts(path, counts)
    problem = calibration_problem(calibration, counts.size)
    if problem:
        raise InputError.for_file(path, problem)
    return Spectrum(counts, calibration, live_time_s=check_time(path, live_time_s, "live time"),
                    real_time_s=check_time(path, real_time_s, "real time"), source=path,
                    **kwargs)


def fit_calibration(channels: np.ndarray, energies: np.ndarray) -> tuple[Calibration | None, str]:
    """Fit a linear, else quadratic, calibration to channel energies.

    Parameters
    ----------
    channels, energies
        Shape (n,): channel numbers (0-based centres) and their energies in keV.

    Returns
    -------
    (calibration, "") on success, or (None, reason) when the energies do not increase or no
    quadratic reproduces them within :data:`CALIBRATION_TOLERANCE_CHANNELS`.
    """
    if energies.size < 2:
        return None, "fewer than 2 energies"
    if not np.all(np.isfinite(energies)):
        return None, "energies are not finite"
    if np.max(np.abs(energies)) > MAX_ENERGY_KEV:
        return None, f"energies beyond {MAX_ENERGY_KEV:g} keV are not gamma-ray energies"
    step = np.diff(energies)
    if np.any(step <= 0):
        row = int(np.argmax(step <= 0)) + 1
        return None, f"energies do not increase (row {row + 1}: {energies[row]:g} keV)"
    tolerance = CALIBRATION_TOLERANCE_CHANNELS * float(np.min(step))
    x = channels - channels[0]
    fits = []
    for degree in (1, 2)[: energies.size - 1]:
        try:
            fit = np.polynomial.polynomial.polyfit(x, energies, degree)
        except np.linalg.LinAlgError:
            return None, "energies cannot be fitted by a polynomial"
        fits.append((fit, float(np.max(np.abs(np.polynomial.polynomial.polyval(x, fit)
                                              - energies)))))
    # The quadratic only when it clearly beats the line (not just fits its rounding noise).
    fit, worst = fits[0]
    if len(fits) == 2 and worst > 2 * fits[1][1] + 1e-9 * float(np.mean(step)):
        fit, worst = fits[1]
    if worst <= tolerance:
        calibration = shift_calibration(Calibration(tuple(fit)), -float(channels[0]))
        problem = calibration_problem(calibration, energies.size)
        return (None, problem) if problem else (calibration, "")
    return None, (f"energies are not a linear or quadratic function of the channel "
                  f"(best fit is off by {worst:.3g} keV, more than "
                  f"{CALIBRATION_TOLERANCE_CHANNELS} channel)")


def shift_calibration(calibration: Calibration, offset: float) -> Calibration:
    """Calibration ``E'(ch) = E(ch + offset)``: re-express it for channels counted from elsewhere."""
    c = calibration.coefficients + (0.0,) * (3 - len(calibration.coefficients))
    shifted = (c[0] + c[1] * offset + c[2] * offset**2, c[1] + 2 * c[2] * offset, c[2])
    return Calibration(shifted if c[2] != 0.0 else shifted[:2])
