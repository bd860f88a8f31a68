"""Canberra ``.cnf`` binary spectra (Genie 2000 CAM files).

Layout facts used here (little-endian; the public xylib and becquerel readers document them):

* A block directory starts at byte 112: 48-byte entries whose byte 0 is the block type
  (0 acquisition parameters, 1 sample, 5 channel data) and bytes 1-2 are ``0x20 0x01``; the
  block's file offset is the uint32 at entry byte 10. The directory ends at the first entry that
  does not look like one.
* Acquisition block: uint16 at +34 and +36 are the offsets of the calibration and timing
  records. The ``PHA`` record at +176 holds the channel count / 256 as uint16 at +10. The times
  at ``+48 + offset2 + 1`` are three uint64: start (100 ns ticks since 1858-11-17), then real and
  live time stored as the bitwise complement of 100 ns ticks.
* Energy calibration: four DEC PDP-11 (VAX F) floats at ``+48 + 32 + offset1 + 36``, polynomial
  in the 0-based channel (the record without ``offset1`` is tried when that one is empty).
* Channel data block: uint32 counts from +512. Channels 0 and 1 may hold the integer live and
  real times; they are zeroed when they equal them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import read_bytes_limited, reading
from engines.spectrum.readers._common import (
    CHANNEL_CALIBRATION,
    MAX_FILE_BYTES,
    check_channel_count,
    check_counts,
    make_spectrum,
    polynomial_calibration,
)
from engines.spectrum.spectrum import Spectrum

DIRECTORY_START = 112
ENTRY_SIZE = 48
MAX_ENTRIES = 1024
ACQUISITION, SAMPLE, CHANNELS = 0, 1, 5
_MJD_TO_UNIX_S = 3506716800


def looks_like_cnf(head: bytes) -> bool:
    """Whether the first bytes of a file carry a CAM block directory entry at byte 112."""
    entry = head[DIRECTORY_START:DIRECTORY_START + 4]
    return len(entry) == 4 and entry[1:] == b"\x20\x01\x00"


def read_cnf(path: str | Path) -> Spectrum:
    """Read a Canberra CAM ``.cnf`` spectrum.

    Returns
    -------
    Spectrum
        counts shape (n_channels,) (a multiple of 256), live/real time in s, metadata with
        ``format="cnf"``, ``calibrated``, ``start_time`` and ``sample_name`` when present.

    Raises
    ------
    InputError
        ``"<file name>: <problem>"`` for a missing block directory, missing or truncated blocks
        and implausible sizes.
    """
    path = Path(path)
    with reading(path, "Canberra CNF file"):
        return _read(path, read_bytes_limited(path, MAX_FILE_BYTES))


def _read(path: Path, data: bytes) -> Spectrum:
    blocks = _directory(path, data)
    if ACQUISITION not in blocks or CHANNELS not in blocks:
        missing = "acquisition" if ACQUISITION not in blocks else "channel data"
        raise InputError.for_file(path, f"no {missing} block in the CAM block directory")
    acq = blocks[ACQUISITION][0]
    _check_block(path, data, acq, ACQUISITION, 48 + 128 + 16, "acquisition")
    offset1, offset2 = (int(v) for v in np.frombuffer(data, "<u2", 2, acq + 34))
    pha = acq + 48 + 128
    n_channels = check_channel_count(path, 256 * int(np.frombuffer(data, "<u2", 1, pha + 10)[0]),
                                     "acquisition block")
    metadata: dict = {"format": "cnf"}
    live, real = _times(path, data, acq + 48 + offset2 + 1, metadata)
    counts = _channel_data(path, data, blocks[CHANNELS][0], n_channels)
    # Genie stores the integer times in the first two channels of some files.
    for channel in (0, 1):
        if counts[channel] > 0 and counts[channel] in {int(live or -1), int(real or -1)}:
            counts[channel] = 0.0
    encoder = blocks[ACQUISITION][1] if len(blocks[ACQUISITION]) > 1 else acq
    calibration, problems = None, []
    for record in (encoder + 48 + 32 + offset1, encoder + 48 + 32):
        if record + 36 + 16 <= len(data):
            coefficients = pdp11_to_float(np.frombuffer(data, np.uint8, 16, record + 36))
            calibration, problem = polynomial_calibration(coefficients, n_channels)
            if calibration is not None:
                break
            problems.append(problem)
    metadata["calibrated"] = calibration is not None
    if calibration is None:
        metadata["calibration_problem"] = (problems or ["calibration record lies beyond the "
                                                        "end of the file"])[0]
    else:
        metadata["calibration_source"] = "acquisition block"
    if SAMPLE in blocks:
        name = _text(data, blocks[SAMPLE][0] + 48, 64)
        if name:
            metadata["sample_name"] = name
    return make_spectrum(path, counts, calibration or CHANNEL_CALIBRATION, live, real,
                         name=path.stem, metadata=metadata)


def pdp11_to_float(raw: np.ndarray) -> np.ndarray:
    """Decode DEC PDP-11/VAX F floats.

    Parameters
    ----------
    raw
        Bytes, shape (4 * n,), uint8, each value stored as two little-endian 16-bit words with
        the sign/exponent word first.

    Returns
    -------
    np.ndarray
        Shape (n,), float64. Exponent 0 decodes to 0 (or NaN for the reserved negative zero).
    """
    b = raw.reshape(-1, 4).astype(np.uint32)
    bits = (b[:, 1] << 24) | (b[:, 0] << 16) | (b[:, 3] << 8) | b[:, 2]
    sign = np.where(bits >> 31, -1.0, 1.0)
    exponent = ((bits >> 23) & 0xFF).astype(np.int64)
    fraction = 0.5 + (bits & 0x7FFFFF) / float(1 << 24)
    value = sign * np.ldexp(fraction, exponent - 128)
    return np.where(exponent == 0, np.where(sign < 0, np.nan, 0.0), value)


def _directory(path: Path, data: bytes) -> dict[int, list[int]]:
    """Block type -> file offsets, in directory order."""
    blocks: dict[int, list[int]] = {}
    if not looks_like_cnf(data[:DIRECTORY_START + 4]):
        raise InputError.for_file(path, "not a Canberra CNF file (no CAM block directory at "
                                        f"byte {DIRECTORY_START})")
    end = min(len(data), DIRECTORY_START + MAX_ENTRIES * ENTRY_SIZE)
    for start in range(DIRECTORY_START, end - ENTRY_SIZE + 1, ENTRY_SIZE):
        entry = data[start:start + ENTRY_SIZE]
        if entry[1:3] != b"\x20\x01":
            break
        offset = int.from_bytes(entry[10:14], "little")
        blocks.setdefault(entry[0], []).append(offset)
    return blocks


def _check_block(path: Path, data: bytes, offset: int, kind: int, size: int, what: str) -> None:
    if offset + size > len(data):
        raise InputError.for_file(path, f"{what} block at byte {offset} lies beyond the end of "
                                        f"the {len(data)}-byte file (truncated?)")
    if data[offset] != kind or data[offset + 1] != 0x20:
        raise InputError.for_file(path, f"{what} block at byte {offset} has a bad header")


def _times(path: Path, data: bytes, offset: int,
           metadata: dict) -> tuple[float | None, float | None]:
    if offset + 24 > len(data):
        raise InputError.for_file(path, "timing record lies beyond the end of the file "
                                        "(truncated?)")
    start, real_raw, live_raw = (int(v) for v in np.frombuffer(data, "<u8", 3, offset))
    real = round((~real_raw & 0xFFFFFFFFFFFFFFFF) * 1e-7, 7)
    live = round((~live_raw & 0xFFFFFFFFFFFFFFFF) * 1e-7, 7)
    try:
        when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=start / 1e7 - _MJD_TO_UNIX_S)
        metadata["start_time"] = when.isoformat()
    except (OverflowError, ValueError):
        pass
    if not 0 < live <= real * (1 + 1e-6) < 1e10:
        metadata["time_problem"] = f"implausible live/real time {live:.4g}/{real:.4g} s"
        return None, None
    return live, real


def _channel_data(path: Path, data: bytes, offset: int, n_channels: int) -> np.ndarray:
    _check_block(path, data, offset, CHANNELS, 512 + 4 * n_channels, "channel data")
    counts = np.frombuffer(data, "<u4", n_channels, offset + 512).astype(np.float64)
    return check_counts(path, counts, "channel data")


def _text(data: bytes, offset: int, size: int) -> str:
    raw = data[offset:offset + size].replace(b"\x00", b" ")
    text = raw.decode("latin-1").strip()
    return text if text.isprintable() else ""
