"""Regressions of the fuzzer's findings in the spectrum readers, and property tests of the CSV
and N42 parsers: a hostile file ends in one InputError naming the file, within the fuzz
worker's budget (10 s alarm, 2 GiB address space), never in wrong data."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.core.errors import InputError
from engines.spectrum import library
from engines.spectrum.readers import csv_format, read_spectrum
from engines.spectrum.readers.csv_format import read_csv, write_csv
from engines.spectrum.readers.n42 import read_n42, write_n42
from engines.spectrum.readers.spe import write_spe
from engines.spectrum.spectrum import Calibration, Spectrum
from tests.fuzz.runner import Job, Pool
from tests.fuzz.seeds import N42_2006

COUNTS = np.array([0, 3, 7, 12, 40, 9, 2, 0, 1, 5], dtype=np.float64)
SPECTRUM = Spectrum(COUNTS, Calibration((1.5, 0.7)), live_time_s=4.0, real_time_s=5.0)


@pytest.fixture(scope="module")
def pool():
    with Pool(workers=1) as pool:
        yield pool


def _refused(path, *words) -> str:
    with pytest.raises(InputError) as info:
        read_spectrum(path)
    message = str(info.value)
    assert message.startswith(f"{path.name}: ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def _in_worker(pool, fmt, suffix, data):
    """Outcome of reading ``data`` in a fuzz worker (alarm and memory limit)."""
    return next(pool.run([Job(fmt, suffix=suffix, data=data)]))


# --------------------------------------------------------------------------- CSV

def test_field_longer_than_the_csv_modules_limit(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('"Energy (keV)","Counts"\n1,"' + "a" * 140_000 + '"\n')
    _refused(path, "line 2 is longer than")


@pytest.mark.parametrize("line", ["1 " + "(" * 100_000, "1 " + "[" * 100_000,
                                  "Energy " + "(" * 50_000 + " Counts", "1 " + "( " * 50_000])
def test_bracket_lines_cannot_make_the_tokenizer_backtrack(pool, line):
    """A 100 kB line of opening brackets took > 150 s in a backtracking cell regex."""
    result = _in_worker(pool, "csv", ".txt", (line[:60_000] + "\n1 2\n").encode())
    assert result.outcome == "input_error", result.detail


def test_whitespace_cells_keep_units_with_their_names():
    assert csv_format._whitespace_cells('"Energy (keV)"  Counts') == ['"Energy (keV)"', "Counts"]
    assert csv_format._whitespace_cells("Energy (keV) Counts") == ["Energy (keV)", "Counts"]
    assert csv_format._whitespace_cells("Energy [k eV] Counts") == ["Energy [k eV]", "Counts"]
    assert csv_format._whitespace_cells("1.5   7") == ["1.5", "7"]


def test_n42_name_with_text_content(tmp_path):
    path = tmp_path / "not_xml.n42"
    path.write_text("1 " + "(" * 100_000)
    _refused(path)


def test_channel_limit_is_checked_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_format, "MAX_CHANNELS", 1000)
    path = tmp_path / "rows.csv"
    rows = "\n".join(f"{i},1" for i in range(1001))
    path.write_text("Energy,Counts\n" + rows + "\n" + "garbage,!\n" * 10)  # never reached
    _refused(path, "more than 1000 data rows")


def test_memory_follows_the_channels_not_the_text(tmp_path):
    """200 000 rows (5 MB): the old reader held every cell as a Python string (~100 MB)."""
    path = tmp_path / "big.csv"
    energies = np.char.mod("%.4f", 1.5 + 0.7 * np.arange(200_000))
    path.write_text('"Energy (keV)","Counts"\n' + "\n".join(
        np.char.add(np.char.add(energies, ","), np.full(200_000, "17")).tolist()) + "\n")
    tracemalloc.start()
    try:
        spectrum = read_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert spectrum.n_channels == 200_000
    assert peak < 40 << 20, f"peak {peak / 2**20:.0f} MiB"


# --------------------------------------------------------------------------- N42

@pytest.mark.parametrize(("encoding", "words"), [("utf-32", "unsupported encoding"),
                                                 ("bogus", "unknown encoding")])
def test_n42_declared_encodings(tmp_path, encoding, words):
    path = tmp_path / f"{encoding}.n42"
    write_n42(path, SPECTRUM)
    path.write_bytes(re.sub(rb"<\?xml[^>]*\?>", f'<?xml version="1.0" encoding="{encoding}"?>'
                            .encode(), path.read_bytes()))
    _refused(path, words)


def test_n42_in_utf16_still_reads(tmp_path):
    path = tmp_path / "utf16.n42"
    path.write_bytes(N42_2006.format(data="1 2 3 0 2 4").replace('"UTF-8"', '"UTF-16"')
                     .encode("utf-16"))
    np.testing.assert_array_equal(read_spectrum(path).counts, [1, 2, 3, 0, 0, 4])


def test_many_spectra_in_one_measurement(pool, tmp_path):
    """50 000 spectra took 83 s (findtext over the parent for every spectrum)."""
    spectra = "<Spectrum><ChannelData>1 2 3</ChannelData></Spectrum>" * 50_000
    # no class code: every spectrum's search for one went through all 50 000 siblings
    data = (f"<RadInstrumentData><RadMeasurement>{spectra}</RadMeasurement>"
            "</RadInstrumentData>").encode()
    result = _in_worker(pool, "n42", ".n42", data)
    assert result.outcome == "valid", result.detail
    path = tmp_path / "many.n42"
    path.write_bytes(data)
    assert read_n42(path).metadata["spectra_in_file"] == 50_000


def test_deep_nesting_is_refused_at_once(tmp_path):
    path = tmp_path / "deep.n42"
    path.write_bytes(b"<RadInstrumentData>" + b"<x>" * 3_000_000 + b"</x>" * 3_000_000
                     + b"</RadInstrumentData>")
    _refused(path, "nested deeper than")


# --------------------------------------------------------------------------- float range

def _with_counts(tmp_path, fmt, counts):
    text = {"csv": "Energy,Counts\n" + "\n".join(f"{1 + i},{c}" for i, c in enumerate(counts)),
            "spe": "$SPEC_ID:\nx\n$DATA:\n0 {}\n{}\n$ENER_FIT:\n1 1\n".format(
                len(counts) - 1, "\n".join(counts)),
            "n42": "<RadInstrumentData><RadMeasurement><Spectrum><ChannelData>{}</ChannelData>"
                   "</Spectrum></RadMeasurement></RadInstrumentData>".format(" ".join(counts))}
    path = tmp_path / f"counts.{fmt}"
    path.write_text(text[fmt])
    return path


@pytest.mark.parametrize("fmt", ["csv", "spe", "n42"])
@pytest.mark.parametrize("value", ["1e300", "1e308", "3.5e38"])
def test_counts_beyond_float32_are_refused(tmp_path, fmt, value):
    _refused(_with_counts(tmp_path, fmt, ["1", value, "2", "3"]), "float32")


def test_a_1e308_calibration(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text("# calibration_kev: 0 1e308\nCounts\n1\n2\n3\n")
    _refused(path, "gives energies beyond")
    spe = write_spe(tmp_path / "cal.spe", SPECTRUM)
    spe.write_text(spe.read_text().replace("$MCA_CAL:", "$X:").split("$ENER_FIT:")[0]
                   + "$ENER_FIT:\n0 1e308\n")
    spectrum = read_spectrum(spe)  # an unusable calibration: read as channel numbers
    assert not spectrum.metadata["calibrated"]
    assert "beyond" in spectrum.metadata["calibration_problem"]
    assert np.all(np.isfinite(spectrum.edges))


@pytest.mark.parametrize("line", ["# live_time_s: 1e308", "# real_time_s: 1e11"])
def test_implausible_times(tmp_path, line):
    path = tmp_path / "times.csv"
    path.write_text(f"{line}\nEnergy,Counts\n1,2\n2,3\n")
    _refused(path, "not a plausible time")


def test_library_loading_names_the_file_when_rebin_refuses(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "steel"
    folder.mkdir(parents=True)
    write_csv(folder / "a.csv", SPECTRUM)

    def refuse(spectrum, grid):
        raise InputError("rebin: source edges must be finite and strictly increasing")

    monkeypatch.setattr(library, "rebin", refuse)
    with pytest.raises(InputError, match=r"^a.csv: rebin: source edges"):
        library.load_library(tmp_path / "data")


# --------------------------------------------------------------------------- properties

_line = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
            max_size=40),
    st.lists(st.sampled_from(["1", "2.5", "-3", "nan", "1e300", "inf", "", "(keV)", '"a"',
                              "Counts", "Energy"]), max_size=4).map(",".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_line, min_size=1, max_size=12))
def test_any_text_is_a_valid_spectrum_or_an_input_error(tmp_path, lines):
    path = tmp_path / "any.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        spectrum = read_csv(path)
    except InputError as error:
        assert str(error).startswith("any.csv: ") and "\n" not in str(error)
        return
    assert np.all(np.isfinite(spectrum.counts.astype(np.float32))) and spectrum.counts.min() >= 0
    assert np.all(np.isfinite(spectrum.edges)) and np.all(np.diff(spectrum.edges) > 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(0, 10**9), min_size=2, max_size=300),
       c0=st.floats(-50, 50), c1=st.floats(0.05, 5), c2=st.floats(0, 1e-5),
       fmt=st.sampled_from(["csv", "n42"]))
def test_round_trip_of_written_files(tmp_path, counts, c0, c1, c2, fmt):
    original = Spectrum(np.array(counts, float), Calibration((c0, c1, c2)), live_time_s=3.0)
    path = (write_csv if fmt == "csv" else write_n42)(tmp_path / f"rt.{fmt}", original)
    spectrum = read_spectrum(path)
    np.testing.assert_array_equal(spectrum.counts, original.counts)
    np.testing.assert_allclose(spectrum.energies, original.energies, atol=2e-3, rtol=1e-6)
    assert spectrum.live_time_s == 3.0
