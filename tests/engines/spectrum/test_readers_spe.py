"""ORTEC .Spe reader and writer, checked on the real files in ../shared/data/spectra."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
from engines.spectrum.readers.spe import read_spe, write_spe
from engines.spectrum.spectrum import Calibration, Spectrum

POPTOP_CAL = (-0.035087, 0.1828039, -6.86613e-10)
# name -> (channels, live s, real s, calibration or None, total counts), read off the files.
REAL_FILES = {
    "1110C NAA cave background May 2017.spe": (16384, 437817, 437903, POPTOP_CAL, 1052900),
    "1110C NAA cave pottery.Spe": (16384, 16543, 16557, POPTOP_CAL, 304706),
    "Mendocino_07-10-13_Acq-10-10-13.Spe": (8192, 595642, 595798, (0.0, 0.378444), 2279915),
    "SGM102432.spe": (4094, 300, 300, None, 166239),
    "nai_detector.spe": (1001, 3600, 3600, None, 398163),
}


@pytest.mark.needs_shared
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_files(shared_spectra, name):
    channels, live, real, calibration, total = REAL_FILES[name]
    spectrum = read_spectrum(shared_spectra / name)
    assert spectrum.metadata["format"] == "spe"
    assert spectrum.n_channels == channels
    assert (spectrum.live_time_s, spectrum.real_time_s) == (live, real)
    assert spectrum.total_counts == total
    assert spectrum.metadata["calibrated"] is (calibration is not None)
    if calibration is None:  # no $ENER_FIT/$MCA_CAL: energy axis = channel number
        assert spectrum.calibration.coefficients == (0.0, 1.0)
    else:
        np.testing.assert_allclose(spectrum.calibration.coefficients, calibration, rtol=1e-9)
        assert spectrum.metadata["calibration_source"] == "$MCA_CAL"


def _peak_kev(spectrum: Spectrum, near_kev: float) -> float:
    """Background-subtracted centroid of the largest peak within 4 keV of ``near_kev``."""
    e, c = spectrum.energies, spectrum.counts
    window = np.flatnonzero(np.abs(e - near_kev) < 4)
    top = window[np.argmax(c[window])]
    background = np.median(c[(e > near_kev - 20) & (e < near_kev - 8)])
    net = np.clip(c[top - 4:top + 5] - background, 0, None)
    return float((net * e[top - 4:top + 5]).sum() / net.sum())


@pytest.mark.needs_shared
@pytest.mark.parametrize(("name", "tolerance_kev"), [
    ("Mendocino_07-10-13_Acq-10-10-13.Spe", 0.3),
    ("1110C NAA cave background May 2017.spe", 1.5),  # this file's calibration reads ~1 keV high
])
def test_calibration_places_background_lines(shared_spectra, name, tolerance_kev):
    spectrum = read_spe(shared_spectra / name)
    for line_kev in (1460.82, 2614.51):  # K-40, Tl-208
        assert _peak_kev(spectrum, line_kev) == pytest.approx(line_kev, abs=tolerance_kev)


SPE_TEMPLATE = ("$SPEC_ID:\r\ntest\r\n$MEAS_TIM:\r\n10 12\r\n$DATA:\r\n0 3\r\n1\r\n2\r\n3\r\n4\r\n"
                "{calibration}")


@pytest.mark.parametrize(("calibration", "expected", "source"), [
    ("$ENER_FIT:\r\n1.0 2.0\r\n$MCA_CAL:\r\n3\r\n5.0E+000 3.0E+000 1.0E-002 keV\r\n",
     (5.0, 3.0, 0.01), "$MCA_CAL"),
    ("$MCA_CAL:\r\n2\r\n5 3\r\n$ENER_FIT:\r\n1.0 2.0\r\n", (5.0, 3.0), "$MCA_CAL"),
    ("$ENER_FIT:\r\n1.0 2.0\r\n", (1.0, 2.0), "$ENER_FIT"),
    ("$MCA_CAL:\r\n3\r\n0.005 0.003 0 MeV\r\n", (5.0, 3.0), "$MCA_CAL"),
    ("$MCA_CAL:\r\n3\r\n0 0 0 keV\r\n$ENER_FIT:\r\n1 2\r\n", (1.0, 2.0), "$ENER_FIT"),
])
def test_calibration_preference(tmp_path, calibration, expected, source):
    path = tmp_path / "cal.Spe"
    path.write_bytes(SPE_TEMPLATE.format(calibration=calibration).encode())
    spectrum = read_spectrum(path)
    np.testing.assert_allclose(spectrum.calibration.coefficients, expected)
    assert spectrum.metadata["calibration_source"] == source
    assert (spectrum.live_time_s, spectrum.real_time_s) == (10.0, 12.0)
    np.testing.assert_array_equal(spectrum.counts, [1, 2, 3, 4])


def test_unusable_calibration_falls_back_to_channels(tmp_path):
    path = tmp_path / "flat.spe"
    path.write_bytes(SPE_TEMPLATE.format(calibration="$ENER_FIT:\n0.000 0.000\n").encode())
    spectrum = read_spe(path)
    assert not spectrum.metadata["calibrated"]
    assert "$ENER_FIT" in spectrum.metadata["calibration_problem"]
    np.testing.assert_array_equal(spectrum.energies, [0, 1, 2, 3])


def test_several_counts_per_data_line(tmp_path):
    path = tmp_path / "packed.spe"
    path.write_text("$SPEC_ID:\nx\n$DATA:\n5 10\n1 2 3\n4 5 6\n$ENER_FIT:\n0 1\n")
    np.testing.assert_array_equal(read_spe(path).counts, [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("counts", [np.arange(20.0), np.linspace(0, 3, 20) ** 2])
def test_write_spe_round_trip(tmp_path, counts):
    original = Spectrum(counts, Calibration((-1.5, 0.25, 3e-6)), live_time_s=99.5,
                        real_time_s=100.0, name="Fe plate",
                        metadata={"start_time": "2024-03-01T12:30:00"})
    path = write_spe(tmp_path / "out.Spe", original)
    assert b"\r\n" in path.read_bytes()
    spectrum = read_spe(path)
    np.testing.assert_allclose(spectrum.counts, original.counts, rtol=1e-6)
    np.testing.assert_allclose(spectrum.calibration.coefficients, (-1.5, 0.25, 3e-6))
    assert (spectrum.live_time_s, spectrum.real_time_s) == (99.5, 100.0)
    assert spectrum.metadata["description"] == "Fe plate"
    assert spectrum.metadata["start_time"] == "2024-03-01T12:30:00"


def test_write_spe_without_times_omits_meas_tim(tmp_path):
    path = write_spe(tmp_path / "t.spe", Spectrum(np.ones(4), Calibration((0.0, 1.0))))
    assert b"$MEAS_TIM" not in path.read_bytes()
    assert read_spe(path).live_time_s is None


# ----------------------------------------------------------- exact behaviour (mutation round 7)

def _spe(tmp_path, text: str, name: str = "x.spe"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def _refusal(path) -> str:
    with pytest.raises(InputError) as info:
        read_spe(path)
    return str(info.value)


def test_write_spe_text_is_exact(tmp_path):
    """Description before name, the date in Maestro's format, a missing time repeating the
    other, integer counts, and both calibration sections with a padded quadratic term."""
    spectrum = Spectrum(np.array([4.0, 0.0, 17.0]), Calibration((1.5, 0.25)), live_time_s=7.25,
                        name="plate", metadata={"description": "Fe on Cu",
                                                "start_time": "2021-07-04T08:09:10"})
    path = write_spe(tmp_path / "w.Spe", spectrum)
    assert path.read_bytes() == (
        b"$SPEC_ID:\r\nFe on Cu\r\n$DATE_MEA:\r\n07/04/2021 08:09:10\r\n$MEAS_TIM:\r\n"
        b"7.25 7.25\r\n$DATA:\r\n0 2\r\n4\r\n0\r\n17\r\n$ENER_FIT:\r\n1.5 0.25\r\n$MCA_CAL:\r\n"
        b"3\r\n1.5000000000E+00 2.5000000000E-01 0.0000000000E+00 keV\r\n")


def test_write_spe_fallbacks(tmp_path):
    """Real time alone is written for both; no name: the file's stem; a start time that is not
    ISO is left out; fractional counts with 9 significant digits."""
    spectrum = Spectrum(np.array([0.5, 1.0 / 3.0]), Calibration((0.0, 1.0)), real_time_s=3.5,
                        metadata={"start_time": "yesterday"})
    lines = write_spe(tmp_path / "stem_only.spe", spectrum).read_text().splitlines()
    assert lines[:8] == ["$SPEC_ID:", "stem_only", "$MEAS_TIM:", "3.5 3.5", "$DATA:", "0 1",
                         "0.5", "0.333333333"]
    named = Spectrum(np.ones(2), Calibration((0.0, 1.0)), name="named")
    assert write_spe(tmp_path / "n.spe", named).read_text().splitlines()[1] == "named"


@pytest.mark.parametrize(("date", "iso"), [
    ("07/04/2021 08:09:10", "2021-07-04T08:09:10"), ("07/04/21 08:09:10", "2021-07-04T08:09:10"),
    ("04-Jul-2021 08:09:10", "2021-07-04T08:09:10"), ("  sometime  ", "sometime")])
def test_measurement_dates(tmp_path, date, iso):
    path = _spe(tmp_path, f"$SPEC_ID:\n a \n b \n$DATE_MEA:\n{date}\n$DATA:\n0 1\n1\n2\n")
    spectrum = read_spe(path)
    assert spectrum.metadata["start_time"] == iso
    assert spectrum.metadata["description"] == "a b"  # the $SPEC_ID lines, joined


def test_first_section_of_a_name_wins_and_a_second_data_is_ignored(tmp_path):
    path = _spe(tmp_path, "$SPEC_ID:\nfirst\n$DATA:\n0 1\n3\n4\n$SPEC_ID:\nsecond\n"
                          "$DATA:\n0 2\n9\n9\n9\n$MEAS_TIM:\n2 3\n")
    spectrum = read_spe(path)
    np.testing.assert_array_equal(spectrum.counts, [3, 4])
    assert spectrum.metadata["description"] == "first"
    assert (spectrum.live_time_s, spectrum.real_time_s) == (2.0, 3.0)
    assert "description" not in read_spe(_spe(tmp_path, "$DATA:\n0 1\n3\n4\n", "n.spe")).metadata


def test_section_lines_and_description_are_bounded(tmp_path, monkeypatch):
    from engines.spectrum.readers import spe
    monkeypatch.setattr(spe, "MAX_SECTION_LINES", 3)
    words = "\n".join(f"w{i}" for i in range(6))
    spectrum = read_spe(_spe(tmp_path, f"$SPEC_ID:\n{words}\n$DATA:\n0 1\n1\n2\n"))
    assert spectrum.metadata["description"] == "w0 w1 w2"
    long = read_spe(_spe(tmp_path, "$SPEC_ID:\n" + "y" * 2500 + "\n$DATA:\n0 1\n1\n2\n", "l.spe"))
    assert long.metadata["description"] == "y" * 2000


def test_counts_stream_in_blocks(tmp_path, monkeypatch):
    """Counts parsed in blocks of _BLOCK tokens land where they belong; a bad token is named by
    its place in the whole $DATA section, not in its block."""
    from engines.spectrum.readers import spe
    monkeypatch.setattr(spe, "_BLOCK", 3)
    counts = "\n".join(["1 2", "3 4 5", "6", "7 8 9 10"])
    spectrum = read_spe(_spe(tmp_path, f"$DATA:\n0 9\n{counts}\n$ENER_FIT:\n0 2\n"))
    np.testing.assert_array_equal(spectrum.counts, np.arange(1, 11))
    bad = _spe(tmp_path, "$DATA:\n0 6\n1 2 3\n4\nx 6 7\n", "bad.spe")
    assert _refusal(bad) == "bad.spe: $DATA counts: value 5 is not a number: 'x'"


@pytest.mark.parametrize(("text", "message"), [
    ("text first\n$DATA:\n0 1\n1\n2\n", "not an ORTEC .Spe file (no '$SECTION:' lines at the "
                                        "start)"),
    ("\n\n", "not an ORTEC .Spe file (no '$SECTION:' lines at the start)"),
    ("$SPEC_ID:\nno data\n", "no $DATA section"),
    ("$DATA:\n$MEAS_TIM:\n1 2\n", "$DATA section is empty"),
    ("$DATA:\n0\n1\n2\n", "$DATA range line must be 'first last', got '0'"),
    ("$DATA:\n0.5 2\n1\n2\n", "$DATA range line must be 'first last', got '0.5 2'"),
    ("$DATA:\n-1 2\n1\n2\n", "$DATA range line must be 'first last', got '-1 2'"),
    ("$DATA:\n0 1 \n1\n2\n3\n", "$DATA declares 2 channels (0..1) but holds 3 values"),
    ("$DATA:\n2 4\n1\n2\n", "$DATA declares 3 channels (2..4) but holds 2 values (truncated "
                            "file?)"),
    ("$DATA:\n3 3\n1\n", "$DATA declares 1 channels (expected 2 to 1048576)"),
    ("$MEAS_TIM:\n1 2 3\n$DATA:\n0 1\n1\n2\n", "$MEAS_TIM must be 'live real' seconds, got "
                                              "'1 2 3'"),
    ("$MEAS_TIM:\n-1 2\n$DATA:\n0 1\n1\n2\n", "$MEAS_TIM must be 'live real' seconds, got "
                                             "'-1 2'"),
    ("$MEAS_TIM:\n1 x\n$DATA:\n0 1\n1\n2\n", "$MEAS_TIM: value 2 is not a number: 'x'"),
    ("$DATA:\n0 1\n1\n2\n$MCA_CAL:\n3\n1 2 keV\n", "$MCA_CAL declares '3' coefficients but "
                                                  "lists 2"),
    ("$DATA:\n0 1\n1\n2\n$MCA_CAL:\nthree\n1 2 keV\n", "$MCA_CAL coefficient count: value 1 "
                                                      "is not a number: 'three'"),
    ("$DATA:\n0 1\n1\n2\n$MCA_CAL:\n2\n1 b keV\n", "$MCA_CAL coefficients: value 2 is not a "
                                                  "number: 'b'"),
    ("$DATA:\n0 1\n1\n2\n$ENER_FIT:\n1 q\n", "$ENER_FIT: value 2 is not a number: 'q'"),
])
def test_refusals_are_exact(tmp_path, text, message):
    assert _refusal(_spe(tmp_path, text, "r.spe")) == f"r.spe: {message}"


@pytest.mark.parametrize(("calibration", "expected", "problem"), [
    ("$MCA_CAL:\n2\n1000 2000 eV\n", (1.0, 2.0), None),
    ("$MCA_CAL:\n2\n3 4\n", (3.0, 4.0), None),  # no unit: keV
    ("$MCA_CAL:\n2\n3 4 furlong\n$ENER_FIT:\n5 6\n", (5.0, 6.0), None),
    ("$MCA_CAL:\n2\n3 4 furlong\n", None, "$MCA_CAL: unknown energy unit 'furlong'"),
    ("$MCA_CAL:\n2\n0 0 keV\n$ENER_FIT:\n0 0\n", None,
     "$MCA_CAL: no usable energy calibration (0.0, 0.0); "
     "$ENER_FIT: no usable energy calibration (0.0, 0.0)"),
    ("$MCA_CAL:\n2\n", None, "no $MCA_CAL or $ENER_FIT section"),
    ("", None, "no $MCA_CAL or $ENER_FIT section"),
])
def test_calibration_sources_and_problems(tmp_path, calibration, expected, problem):
    spectrum = read_spe(_spe(tmp_path, f"$DATA:\n0 2\n1\n2\n3\n{calibration}"))
    assert spectrum.metadata["calibrated"] is (expected is not None)
    if expected is None:
        assert spectrum.metadata["calibration_problem"] == problem
        assert spectrum.calibration.coefficients == (0.0, 1.0)
    else:
        np.testing.assert_allclose(spectrum.calibration.coefficients, expected, rtol=1e-12)


def test_write_spe_large_whole_and_tiny_counts(tmp_path):
    whole = Spectrum(np.array([1234567890.0, 0.0]), Calibration((0.0, 1.0)))
    assert write_spe(tmp_path / "w.spe", whole).read_text().splitlines()[4:6] == ["1234567890", "0"]
    tiny = Spectrum(np.array([2.5e-10, 1.0]), Calibration((0.0, 1.0)))
    assert write_spe(tmp_path / "t.spe", tiny).read_text().splitlines()[4:6] == ["2.5e-10", "1"]


def test_counts_stream_line_by_line(tmp_path, monkeypatch):
    """One line per text block (a 1-character read size) and a block of 3 tokens: counts from
    many pieces land in order, the last token of a block is kept, extra tokens are counted
    without being stored, and a bad token is named by its place in the section."""
    from engines.core import safe_text
    from engines.spectrum.readers import spe
    monkeypatch.setattr(safe_text, "_TEXT_CHUNK", 1)
    monkeypatch.setattr(spe, "_BLOCK", 3)
    spectrum = read_spe(_spe(tmp_path, "$DATA:\n0 9\n1 2 3\n4 5 6\n7 8 9\n10\n$ENER_FIT:\n0 1\n"))
    np.testing.assert_array_equal(spectrum.counts, np.arange(1, 11))
    assert _refusal(_spe(tmp_path, "$DATA:\n0 3\n1 2\n3 4 5 6 7\n", "more.spe")) == (
        "more.spe: $DATA declares 4 channels (0..3) but holds 7 values")
    assert _refusal(_spe(tmp_path, "$DATA:\n0 6\n1 2 3\n4\nx 6 7\n", "bad.spe")) == (
        "bad.spe: $DATA counts: value 5 is not a number: 'x'")


@pytest.mark.parametrize(("text", "message"), [
    ("$DATA:\n0 x\n1\n2\n", "$DATA channel range: value 2 is not a number: 'x'"),
    ("$DATA:\n0.5 " + "1" * 50 + "\n1\n", f"$DATA range line must be 'first last', got "
                                          f"{('0.5 ' + '1' * 50)[:40]!r}"),
    ("$DATA:\n0 1\n-1\n2\n", "$DATA: negative count -1 in channel 0"),
    ("$MEAS_TIM:\n1 2 " + "3" * 50 + "\n$DATA:\n0 1\n1\n2\n",
     f"$MEAS_TIM must be 'live real' seconds, got {('1 2 ' + '3' * 50)[:40]!r}"),
    ("$DATA:\n0 1\n1\n2\n$MCA_CAL:\n2 " + "z" * 30 + "\n1 2 3 keV\n",
     f"$MCA_CAL declares {('2 ' + 'z' * 30)[:20]!r} coefficients but lists 3"),
])
def test_more_refusals_are_exact(tmp_path, text, message):
    assert _refusal(_spe(tmp_path, text, "r.spe")) == f"r.spe: {message}"


def test_only_the_first_numbers_of_range_and_count_lines_are_read(tmp_path):
    spectrum = read_spe(_spe(tmp_path, "$MEAS_TIM:\n0.5 0.5\n$DATA:\n0 1 99\n1\n2\n"
                                       "$MCA_CAL:\n2 coefficients\n3 4 keV\n"))
    np.testing.assert_array_equal(spectrum.counts, [1, 2])
    assert spectrum.calibration.coefficients == (3.0, 4.0)
    assert (spectrum.live_time_s, spectrum.real_time_s) == (0.5, 0.5)
    zero = read_spe(_spe(tmp_path, "$MEAS_TIM:\n0 0\n$DATA:\n0 1\n1\n2\n", "z.spe"))
    assert (zero.live_time_s, zero.real_time_s) == (0.0, 0.0)


def test_inline_section_content_name_source_and_limits(tmp_path, monkeypatch):
    """Content on the ``$NAME:`` line itself counts; the result names its file; at most 100
    $SPEC_ID lines make the description; the line limit holds for a .Spe file."""
    from engines.spectrum.readers import spe
    path = _spe(tmp_path, "$SPEC_ID: inline words\n$DATA: 0 1\n1\n2\n", "Fe plate.Spe")
    spectrum = read_spe(path)
    assert spectrum.metadata["description"] == "inline words"
    np.testing.assert_array_equal(spectrum.counts, [1, 2])
    assert spectrum.name == "Fe plate" and spectrum.source == path
    words = "\n".join(f"w{i}" for i in range(101))
    many = read_spe(_spe(tmp_path, f"$SPEC_ID:\n{words}\n$DATA:\n0 1\n1\n2\n", "m.spe"))
    assert many.metadata["description"] == " ".join(f"w{i}" for i in range(100))
    monkeypatch.setattr(spe, "MAX_LINES", 5)
    assert read_spe(_spe(tmp_path, "$DATA:\n0 2\n1\n2\n3\n", "five.spe")).n_channels == 3
    with pytest.raises(InputError, match="^six.spe: more than 5 lines"):
        read_spe(_spe(tmp_path, "$DATA:\n0 3\n1\n2\n3\n4\n", "six.spe"))
