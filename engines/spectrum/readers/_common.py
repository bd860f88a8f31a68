"""Helpers shared by the spectrum readers: safe file access, text decoding, number parsing and
calibration handling.

Every problem is reported as ``InputError("<file name>: <what is wrong>")``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.spectrum.spectrum import Calibration

#: Largest file any reader opens (a 64k-channel N42 with many spectra is a few MB).
MAX_FILE_BYTES = 256 * 1024 * 1024
#: Largest channel count accepted from any size field or data block.
MAX_CHANNELS = 1 << 20
#: A fitted calibration must reproduce the given energies to this fraction of a channel.
CALIBRATION_TOLERANCE_CHANNELS = 0.2
#: Calibration used when a file has none: energy in "keV" equals the channel number.
CHANNEL_CALIBRATION = Calibration((0.0, 1.0))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def read_file_bytes(path: Path) -> bytes:
    """Read a whole spectrum file after checking it exists, is a file and has a sane size."""
    if not path.exists():
        raise InputError.for_file(path, f"file not found ({path})")
    if path.is_dir():
        raise InputError.for_file(path, "is a folder, not a spectrum file")
    if not path.is_file():
        raise InputError.for_file(path, "is not a regular file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError.for_file(path, "the file is empty")
        if size > MAX_FILE_BYTES:
            raise InputError.for_file(path, f"file of {size / 2**20:.0f} MiB is too large for a "
                                            f"spectrum (limit {MAX_FILE_BYTES // 2**20} MiB)")
        return path.read_bytes()
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from exc


def decode_text(path: Path, data: bytes) -> str:
    """Decode a text spectrum: UTF-8 (optional BOM), UTF-16 with BOM, or a legacy 8-bit code page.

    Raises :class:`InputError` for binary content (NUL or control bytes) or text that decodes to
    nothing sensible.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError.for_file(path, "unreadable UTF-16 text") from exc
    else:
        if b"\x00" in data:
            raise InputError.for_file(path, "binary data where text was expected")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Windows software writes comments in cp1252/latin-1; accept a few such bytes only.
            high = np.count_nonzero(np.frombuffer(data, dtype=np.uint8) >= 0x80)
            if high > max(16, len(data) // 100):
                raise InputError.for_file(path, "unreadable encoding (not UTF-8 or plain "
                                                "text)") from None
            text = data.decode("latin-1")
    if _CONTROL.search(text):
        raise InputError.for_file(path, "binary data where text was expected")
    return text


def parse_numbers(path: Path, tokens: list[str], what: str,
                  positions: list[int] | None = None) -> np.ndarray:
    """Parse text tokens to a finite float64 array, shape (len(tokens),).

    The error names the first offending token and where it is: ``line <positions[i]>`` when line
    numbers are given, else ``value <i + 1>`` within ``what``.
    """

    def where(index: int) -> str:
        return f"line {positions[index]}" if positions is not None else f"value {index + 1}"

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
    try:
        calibration.check_monotonic(n_channels, "file")
    except InputError:
        return None, f"energy calibration {calibration.coefficients} is not increasing"
    return calibration, ""


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
    step = np.diff(energies)
    if np.any(step <= 0):
        row = int(np.argmax(step <= 0)) + 1
        return None, f"energies do not increase (row {row + 1}: {energies[row]:g} keV)"
    tolerance = CALIBRATION_TOLERANCE_CHANNELS * float(np.min(step))
    x = channels - channels[0]
    fits = []
    for degree in (1, 2)[: energies.size - 1]:
        fit = np.polynomial.polynomial.polyfit(x, energies, degree)
        fits.append((fit, float(np.max(np.abs(np.polynomial.polynomial.polyval(x, fit)
                                              - energies)))))
    # The quadratic only when it clearly beats the line (not just fits its rounding noise).
    fit, worst = fits[0]
    if len(fits) == 2 and worst > 2 * fits[1][1] + 1e-9 * float(np.mean(step)):
        fit, worst = fits[1]
    if worst <= tolerance:
        return shift_calibration(Calibration(tuple(fit)), -float(channels[0])), ""
    return None, (f"energies are not a linear or quadratic function of the channel "
                  f"(best fit is off by {worst:.3g} keV, more than "
                  f"{CALIBRATION_TOLERANCE_CHANNELS} channel)")


def shift_calibration(calibration: Calibration, offset: float) -> Calibration:
    """Calibration ``E'(ch) = E(ch + offset)``: re-express it for channels counted from elsewhere."""
    c = calibration.coefficients + (0.0,) * (3 - len(calibration.coefficients))
    shifted = (c[0] + c[1] * offset + c[2] * offset**2, c[1] + 2 * c[2] * offset, c[2])
    return Calibration(shifted if c[2] != 0.0 else shifted[:2])
