"""Seeded mutators: byte-level ones for every format, text-aware ones for CSV, .Spe and N42.

A mutator is ``f(data: bytes, rng: np.random.Generator) -> bytes``. :func:`make_case` picks a
seed file and a mutator from ``(fmt, seed, index)`` alone, so case ``index`` of a run is the
same on every machine and can be rebuilt for minimising. Format-aware mutators for HDF5 and
ROOT (written through h5py and uproot) live in :mod:`tests.fuzz.structured`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests.fuzz.seeds import (
    FORMATS,
    IMAGING_FORMATS,
    LUNA_FORMATS,
    SEM_FORMATS,
    SIDECAR_FORMATS,
    SUFFIX,
    seeds,
)

Mutator = Callable[[bytes, np.random.Generator], bytes]

INTERESTING_INTS = (0, 1, 2, 255, 256, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**62, 2**63 - 1, 2**63, 2**64 - 1)
HOSTILE_NUMBERS = ("nan", "NaN", "inf", "-inf", "Infinity", "1e300", "-1e300", "1e308",
                   "1.7976931348623157e308", "1e309", "3.5e38", "1e-320", "-1", "-0", "0",
                   "4294967296", "18446744073709551616", "99999999999999999999999", "1e20",
                   "0x10", "1_000", "", " ", "1,5", "--1", "+", ".", "e5", "\u0661", "1e",
                   "2147483648")
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _position(data: bytes, rng: np.random.Generator) -> int:
    return int(rng.integers(len(data) + 1))


# --------------------------------------------------------------------------- byte level

def bit_flips(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(len(out)))
        out[i] ^= 1 << int(rng.integers(8))
    return bytes(out)


def byte_sets(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        out[int(rng.integers(len(out)))] = _pick(rng, (0x00, 0xFF, 0x7F, 0x80, 0x20,
                                                       int(rng.integers(256))))
    return bytes(out)


def interesting_int(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite 1, 2, 4 or 8 bytes with an edge-case integer (either byte order)."""
    width = _pick(rng, (1, 2, 4, 8))
    value = _pick(rng, INTERESTING_INTS) % (1 << (8 * width))
    raw = value.to_bytes(width, _pick(rng, ("little", "big")))
    i = int(rng.integers(max(1, len(data) - width)))
    return data[:i] + raw + data[i + width:]


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[:int(rng.integers(len(data)))]


def delete_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    i = _position(data, rng)
    return data[:i] + data[i + int(rng.integers(1, max(2, len(data) // 8))):]


def duplicate_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    i = _position(data, rng)
    chunk = data[i:i + int(rng.integers(1, 512))]
    j = _position(data, rng)
    return data[:j] + chunk * int(rng.integers(1, 64)) + data[j:]


def insert_random(data: bytes, rng: np.random.Generator) -> bytes:
    i = _position(data, rng)
    return data[:i] + rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes() + \
        data[i:]


def zero_range(data: bytes, rng: np.random.Generator) -> bytes:
    i = _position(data, rng)
    n = int(rng.integers(1, 256))
    return data[:i] + bytes(len(data[i:i + n])) + data[i + n:]


BYTE_MUTATORS: dict[str, Mutator] = {
    "bit_flips": bit_flips, "byte_sets": byte_sets, "interesting_int": interesting_int,
    "truncate": truncate, "delete_chunk": delete_chunk, "duplicate_chunk": duplicate_chunk,
    "insert_random": insert_random, "zero_range": zero_range}


# --------------------------------------------------------------------------- text level

def hostile_number(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace 1-3 numbers with NaN, inf, 1e300, 1e308, huge or malformed numbers."""
    matches = list(_NUMBER.finditer(data))
    if not matches:
        return data
    for _ in range(int(rng.integers(1, 4))):
        match = _pick(rng, matches)
        data = data[:match.start()] + _pick(rng, HOSTILE_NUMBERS).encode() + data[match.end():]
        matches = list(_NUMBER.finditer(data))
        if not matches:
            break
    return data


def huge_number(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace a number with a giant declared size or value (channel ranges, run lengths)."""
    matches = list(_NUMBER.finditer(data))
    if not matches:
        return data
    match = _pick(rng, matches[:40] if rng.random() < 0.5 else matches)
    value = _pick(rng, ("4000000000", "2147483647", "1048577", "1000000000000", "16777216",
                        "9223372036854775807", "-4000000000", "65536"))
    return data[:match.start()] + value.encode() + data[match.end():]


def long_field(data: bytes, rng: np.random.Generator) -> bytes:
    """A 100-200 kB field: letters, brackets, quotes or digits (csv limits, regexes)."""
    unit = _pick(rng, (b"a", b"(", b"[", b'"', b"'", b"1", b"1 ", b"( ", b"1,", b"\t"))
    field = unit * int(rng.integers(100_000, 200_000) // len(unit))
    line_starts = [m.start() for m in re.finditer(rb"^", data, re.MULTILINE)]
    i = _pick(rng, line_starts)
    prefix = _pick(rng, (b"", b"1 ", b"1,", b"Energy ", b'"'))
    return data[:i] + prefix + field + b"\n" + data[i:]


def pathological_line(data: bytes, rng: np.random.Generator) -> bytes:
    """The whole file becomes one line of '1 ' and 100 000 opening brackets, or similar."""
    body = _pick(rng, (b"1 " + b"(" * 100_000, b"1 " + b"[" * 100_000,
                       b"Energy " + b"(" * 50_000 + b" Counts", b'"' + b"a" * 100_000,
                       b"1 " + b"( " * 50_000, b"<" + b"a" * 100_000))
    return data if rng.random() < 0.1 else body + b"\n" + data[:200]


def reencode(data: bytes, rng: np.random.Generator) -> bytes:
    """Re-encode the text (UTF-16 with/without BOM, UTF-32, latin-1 accents, EBCDIC)."""
    text = data.decode("utf-8", "replace")
    choice = _pick(rng, ("utf-16", "utf-16-le", "utf-32", "cp500", "latin-1", "utf-8-sig",
                         "shift_jis"))
    if choice == "latin-1":
        return ("# \xe9t\xe9 \xb0C \xfc\n" + text).encode("latin-1", "replace")
    return text.encode(choice, "replace")


def line_endings(data: bytes, rng: np.random.Generator) -> bytes:
    return data.replace(b"\n", _pick(rng, (b"\r", b"\r\n", b"\n\n", b"\x0c", b"\x85",
                                           b"\xe2\x80\xa8", b"\x0b")))


def repeat_rows(data: bytes, rng: np.random.Generator) -> bytes:
    """Repeat the last data line many times (channel limits; up to 2 M rows)."""
    lines = [line for line in data.splitlines(keepends=True) if line.strip()]
    if len(lines) < 3:
        return data
    row = lines[-1] if lines[-1].endswith(b"\n") else lines[-1] + b"\n"
    return data + row * int(_pick(rng, (1000, 20_000, 300_000, 1_100_000, 2_000_000)))


CSV_MUTATIONS = (b"# calibration_kev: 0 1e308\n", b"# calibration_kev: 0 1 1e300\n",
                 b"# calibration_kev: nan 1\n", b"# calibration_kev: 5 -1 0\n",
                 b"# live_time_s: 1e308\n", b"# real_time_s: inf\n",
                 b'"Counts","Counts"\n', b"Energy (MeV),Counts\n", b"Energy (((keV,Counts\n",
                 b"Channel,Counts\n", b"Energy;Counts\n", b"a,b,c,d,e\n")


def csv_structure(data: bytes, rng: np.random.Generator) -> bytes:
    """Insert a hostile comment or header line at a random line start."""
    starts = [m.start() for m in re.finditer(rb"^", data, re.MULTILINE)][:50]
    i = _pick(rng, starts)
    return data[:i] + _pick(rng, CSV_MUTATIONS) + data[i:]


SPE_MUTATIONS = (b"$DATA:\n0 4000000000\n", b"$DATA:\n5 2\n", b"$DATA:\n-3 10\n",
                 b"$MCA_CAL:\n3\n0 1e308 0 keV\n", b"$MCA_CAL:\n2\n1e300 1e300 keV\n",
                 b"$MCA_CAL:\n99999999999\n1 2\n", b"$ENER_FIT:\n0 1e308\n",
                 b"$MEAS_TIM:\n1e308 1e308\n", b"$MEAS_TIM:\nnan 5\n", b"$DATA:\n",
                 b"$DATE_MEA:\n99/99/9999 99:99:99\n", b"$SPEC_ID:\n" + b"x" * 70_000 + b"\n")


def spe_structure(data: bytes, rng: np.random.Generator) -> bytes:
    """Insert or replace an .Spe section with a hostile one."""
    sections = [m.start() for m in re.finditer(rb"^\$", data, re.MULTILINE)] or [0]
    i = _pick(rng, sections)
    return data[:i] + _pick(rng, SPE_MUTATIONS) + data[i:]


def _deep(depth: int) -> bytes:
    return b"<x>" * depth + b"1" + b"</x>" * depth


def n42_structure(data: bytes, rng: np.random.Generator) -> bytes:
    """XML attacks and oddities: nesting, many spectra, entities, encodings, non-XML."""
    choice = int(rng.integers(10))
    if choice == 0:  # deep nesting inside the document
        depth = int(_pick(rng, (100, 1000, 100_000, 3_000_000)))
        return data.replace(b"</ChannelData>", b"</ChannelData>" + _deep(depth), 1)
    if choice == 1:  # many spectra in one measurement
        match = re.search(rb"<Spectrum\b.*?</Spectrum>", data, re.DOTALL)
        if match is None:
            return data
        times = int(_pick(rng, (1000, 20_000, 50_000)))
        return data[:match.end()] + match.group(0) * times + data[match.end():]
    if choice == 2:  # billion laughs
        entities = [b'<!ENTITY a0 "aaaaaaaaaa">'] + [
            b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10)]
        body = re.sub(rb"<\?xml[^>]*\?>", b"", data).replace(b"</ChannelData>",
                                                             b"&a9;</ChannelData>", 1)
        return b"<!DOCTYPE r [" + b"".join(entities) + b"]>" + body
    if choice == 3:  # encodings in the declaration
        declaration = b'<?xml version="1.0" encoding="%s"?>' % _pick(
            rng, (b"utf-32", b"bogus", b"utf-16", b"cp500", b"UTF-7", b"shift_jis", b"latin-1"))
        return declaration + re.sub(rb"<\?xml[^>]*\?>", b"", data)
    if choice == 4:  # not XML at all behind an .n42 name
        return _pick(rng, (b"1 2 3\n4 5 6\n", b"Counts\n" + b"1\n" * 100, b"\xff\xfe\x00junk",
                           b"1 " + b"(" * 100_000))
    if choice == 5:  # external entity
        return (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                + re.sub(rb"<\?xml[^>]*\?>", b"", data).replace(b"</ChannelData>",
                                                               b"&e;</ChannelData>", 1))
    if choice == 6:  # a huge attribute / comment / processing instruction
        blob = b"a" * int(rng.integers(10_000, 300_000))
        return data.replace(b"<ChannelData", b"<!--" + blob + b"--><ChannelData x='" + blob
                            + b"'", 1)
    if choice == 7:  # compression codes and run lengths
        return data.replace(b"CountedZeroes", _pick(rng, (b"None", b"Bogus", b"")), 1)
    if choice == 8:  # a prefixed namespace and CDATA
        return data.replace(b"<ChannelData", b"<n:ChannelData xmlns:n='urn:x'", 1)\
            .replace(b"</ChannelData>", b"</n:ChannelData>", 1)
    return data.replace(b"</ChannelData>", b" 0 4000000000</ChannelData>", 1)


TEXT_MUTATORS: dict[str, Mutator] = {
    "hostile_number": hostile_number, "huge_number": huge_number, "long_field": long_field,
    "pathological_line": pathological_line, "reencode": reencode,
    "line_endings": line_endings, "repeat_rows": repeat_rows}
FORMAT_MUTATORS: dict[str, dict[str, Mutator]] = {
    "csv": {"csv_structure": csv_structure}, "spe": {"spe_structure": spe_structure},
    "n42": {"n42_structure": n42_structure}, "cnf": {}}
#: Relative weight of the rarely useful, slow mutators.
SLOW = {"repeat_rows": 0.15, "pathological_line": 0.3, "long_field": 0.5,
        "h5_many_events": 0.5, "root_many_hits": 0.5}
#: Prefixes of the format-aware mutators (drawn twice as often as a byte-level one).
STRUCTURED = ("h5_", "root_", "dicom_", "nifti_", "metaimage_", "tiff_", "json_", "png_",
              "semset_", "luna_")
#: Mutators whose cases are megabytes: left out of the smoke run.
LARGE = frozenset({"repeat_rows", "h5_many_events", "root_many_hits"})


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    """One generated input: format, index, mutator name, suffix and content."""

    fmt: str
    index: int
    mutator: str
    suffix: str
    data: bytes


def mutators_for(fmt: str) -> dict[str, Mutator]:
    """Mutator name -> function for ``fmt`` (byte level, text, and format-aware ones)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    table = dict(BYTE_MUTATORS)
    if fmt in ("csv", "spe", "n42"):
        table.update(TEXT_MUTATORS)
        table.update(FORMAT_MUTATORS[fmt])
    elif fmt in ("hdf5", "root"):
        from tests.fuzz.structured import structured_mutators

        table.update(structured_mutators(fmt))
    elif fmt in IMAGING_FORMATS:
        from tests.fuzz.imaging import imaging_mutators

        table.update(imaging_mutators(fmt))
    elif fmt in SIDECAR_FORMATS:
        from tests.fuzz.sidecars import sidecar_mutators

        table.update(sidecar_mutators(fmt))
    elif fmt in SEM_FORMATS:
        from tests.fuzz.sem import sem_mutators

        table.update(sem_mutators(fmt))
    elif fmt in LUNA_FORMATS:
        from tests.fuzz.luna import luna_mutators

        table.update(luna_mutators(fmt))
    return table


def make_case(fmt: str, seed: int, index: int, quick: bool = False) -> Case:
    """Case ``index`` of a run with ``seed``: a seed file of ``fmt`` through 1-2 mutators.

    ``quick`` (the smoke run in ``make test``) leaves out the mutators that only make large
    files (:data:`LARGE`); everything else is drawn as in a long run.
    """
    rng = np.random.default_rng([seed, FORMATS.index(fmt), index])
    table = mutators_for(fmt)
    names = sorted(n for n in table if not (quick and n in LARGE))
    weights = np.array([SLOW.get(n, 2.0 if n.startswith(STRUCTURED) else 1.0)
                        for n in names])
    suffix, data = seeds(fmt)[int(rng.integers(len(seeds(fmt))))]
    chosen = [str(rng.choice(names, p=weights / weights.sum()))]
    data = table[chosen[0]](data, rng)
    if data and rng.random() < 0.25:  # a second, byte-level mutation on top
        chosen.append(str(rng.choice(sorted(BYTE_MUTATORS))))
        data = BYTE_MUTATORS[chosen[1]](data, rng)
    return Case(fmt, index, "+".join(chosen), suffix if fmt != "n42" or rng.random() < 0.9
                else ".xml", data)


__all__ = ["BYTE_MUTATORS", "Case", "SUFFIX", "make_case", "mutators_for"]
