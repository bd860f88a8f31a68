"""Hostile and broken files: every reader answers with ``InputError("<file name>: ...")``.

Each case is built in tmp_path from a small valid file of the format (or from the real files in
../shared/data/spectra for the truncations); nothing else may escape (no ValueError, KeyError,
struct/XML errors, no huge allocation).
"""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
from engines.spectrum.spectrum import Spectrum
from tests.engines.spectrum.test_readers_cnf import HALF_MOON_BAY, build_cnf

N = 64
GOOD_COUNTS = [str(v) for v in np.random.default_rng(1).integers(0, 50, N)]


def make(fmt: str, counts: list[str] = GOOD_COUNTS, declared: str | None = None) -> bytes:
    """A small valid file of ``fmt`` (csv, spe, n42, cnf) with the given count tokens."""
    if fmt == "csv":
        rows = [f"{1.5 + 0.7 * i:.4f},{c}" for i, c in enumerate(counts)]
        return ('"Energy (keV)","Counts"\n' + "\n".join(rows) + "\n").encode()
    if fmt == "spe":
        declared = declared or f"0 {len(counts) - 1}"
        return (f"$SPEC_ID:\nhostile\n$MEAS_TIM:\n5 6\n$DATA:\n{declared}\n" + "\n".join(counts)
                + "\n$ENER_FIT:\n0.5 0.7\n").encode()
    if fmt == "n42":
        return ("<RadInstrumentData><EnergyCalibration id='c'><CoefficientValues>0 1"
                "</CoefficientValues></EnergyCalibration><RadMeasurement><Spectrum "
                "energyCalibrationReference='c'><ChannelData compressionCode='CountedZeroes'>"
                + " ".join(counts) + "</ChannelData></Spectrum></RadMeasurement>"
                "</RadInstrumentData>").encode()
    return build_cnf(np.array(counts, dtype=np.int64) if counts is not GOOD_COUNTS
                     else np.arange(4 * N) % 7)


def _with(token: str):
    return lambda fmt: make(fmt, GOOD_COUNTS[:5] + [token] + GOOD_COUNTS[6:])


def _truncated(fmt: str) -> bytes:
    data = make(fmt)
    half = data[: len(data) // 2]
    return half[: half.rfind(b",")] if fmt == "csv" else half  # csv: cut inside a row


def _missing_section(fmt: str) -> bytes:
    if fmt == "spe":
        return b"$SPEC_ID:\nno data\n$MEAS_TIM:\n5 6\n$ENER_FIT:\n0 1\n"
    if fmt == "n42":
        return b"<RadInstrumentData><RadMeasurement><Spectrum/></RadMeasurement></RadInstrumentData>"
    if fmt == "cnf":
        data = bytearray(make("cnf"))
        data[112 + 2 * 48] = 7  # the channel-data directory entry becomes another block type
        return bytes(data)
    return b'# only a header\n"Energy (keV)","Counts"\n'


def _wrong_shape(fmt: str) -> bytes | None:
    if fmt == "spe":
        return make("spe", declared=f"0 {N + 9}")
    if fmt == "csv":
        return make("csv").replace(b"\n", b"\n3.5\n", 1)  # a row without its counts
    if fmt == "n42":
        return make("n42", ["5"])  # a single channel
    return build_cnf(np.ones(256), channel_field=64)  # declares 16384 channels, holds 256


def _absurd_size(fmt: str) -> bytes | None:
    return {"spe": make("spe", declared="0 4000000000"),
            "n42": make("n42", ["3", "0", "1000000000000"]),
            "cnf": build_cnf(np.ones(256), channel_field=0xFFFF)}.get(fmt)


def _bad_encoding(fmt: str) -> bytes | None:
    if fmt == "cnf":
        return None
    return make(fmt).replace(b"0", b"\x81\x8d\xfe", 40)


CASES = {
    "empty": lambda fmt: b"",
    "binary_junk": lambda fmt: np.random.default_rng(7).integers(0, 256, 3000, np.uint8).tobytes(),
    "truncated": _truncated,
    "non_numeric": lambda fmt: None if fmt == "cnf" else _with("12abc")(fmt),
    "negative": lambda fmt: None if fmt == "cnf" else _with("-5")(fmt),
    "nan": lambda fmt: None if fmt == "cnf" else _with("nan")(fmt),
    "infinite": lambda fmt: None if fmt == "cnf" else _with("inf")(fmt),
    "wrong_shape": _wrong_shape,
    "absurd_size": _absurd_size,
    "missing_section": _missing_section,
    "bad_encoding": _bad_encoding,
}
FORMATS = {"csv": ".csv", "spe": ".Spe", "n42": ".n42", "cnf": ".cnf"}
PARAMS = [(fmt, case) for fmt in FORMATS for case in CASES if CASES[case](fmt) is not None]


def _expect_input_error(path, match: str | None = None) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        read_spectrum(path)
    assert str(info.value).startswith(f"{path.name}: "), str(info.value)
    return info.value


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_good_files_read(tmp_path, fmt):
    path = tmp_path / f"good{FORMATS[fmt]}"
    path.write_bytes(make(fmt))
    assert read_spectrum(path).metadata["format"] == fmt


@pytest.mark.parametrize(("fmt", "case"), PARAMS)
def test_bad_file_raises_input_error(tmp_path, fmt, case):
    path = tmp_path / f"bad_{case}{FORMATS[fmt]}"
    path.write_bytes(CASES[case](fmt))
    _expect_input_error(path)


@pytest.mark.parametrize("suffix", [*FORMATS.values(), ".xml", ".txt", ".dat"])
def test_missing_path_and_folder(tmp_path, suffix):
    _expect_input_error(tmp_path / f"absent{suffix}", "file not found")
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    _expect_input_error(folder, "is a folder")


def test_unknown_content_lists_supported_formats(tmp_path):
    path = tmp_path / "mystery.bin"
    path.write_bytes(bytes(range(256)) * 4)
    error = _expect_input_error(path, "supported formats")
    assert ".Spe" in str(error) and ".cnf" in str(error) and "N42" in str(error)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<RadInstrumentData><RadMeasurement><Spectrum><ChannelData>&lol3;</ChannelData></Spectrum>
</RadMeasurement></RadInstrumentData>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<RadInstrumentData><RadMeasurement><Spectrum><ChannelData>&secret;</ChannelData></Spectrum>
</RadMeasurement></RadInstrumentData>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
@pytest.mark.parametrize("suffix", [".n42", ".xml", ".spe"])
def test_xml_declarations_are_refused(tmp_path, doc, suffix):
    path = tmp_path / f"attack{suffix}"
    path.write_text(doc)
    _expect_input_error(path, "DOCTYPE/ENTITY")


@pytest.mark.parametrize("doc", ["<RadInstrumentData><unclosed></RadInstrumentData>",
                                 "<html><body>not a spectrum</body></html>",
                                 "<RadInstrumentData/>"])
def test_malformed_or_foreign_xml(tmp_path, doc):
    path = tmp_path / "odd.xml"
    path.write_text(doc)
    _expect_input_error(path)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_random_corruption_never_escapes_as_other_errors(tmp_path, fmt):
    rng = np.random.default_rng(2024)
    good = np.frombuffer(make(fmt), np.uint8)
    for trial in range(40):
        data = good.copy()
        where = rng.integers(0, data.size, rng.integers(1, 8))
        data[where] = rng.integers(0, 256, where.size)
        path = tmp_path / f"fuzz{trial}{FORMATS[fmt]}"
        path.write_bytes(data.tobytes())
        try:
            assert isinstance(read_spectrum(path), Spectrum)
        except InputError as error:
            assert str(error).startswith(f"{path.name}: ")


REAL_FILES = [HALF_MOON_BAY, "1110C NAA cave pottery.Spe", "Mendocino_07-10-13_Acq-10-10-13.Spe",
              "SGM102432.spe", "nai_detector.spe"]


@pytest.mark.needs_shared
@pytest.mark.parametrize("name", REAL_FILES)
@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.9])
def test_truncated_real_files(shared_spectra, tmp_path, name, fraction):
    data = (shared_spectra / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * fraction)])
    _expect_input_error(path)
