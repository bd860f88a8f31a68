"""The SpecUtils path: the formats InterSpec reads that ours do not, round trips through
SpecUtils' own writers, hostile files as InputErrors, and the cross-check with our readers on
the real spectra."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
from engines.spectrum.readers.specutils import WRITE_FORMATS, read_specutils, write_specutils
from engines.spectrum.spectrum import Calibration, Spectrum

SpecUtils = pytest.importorskip("SpecUtils", reason="sandiaspecutils is not installed")

SUFFIX = {"chn": ".chn", "spc": ".spc", "pcf": ".pcf", "iaea": ".iaea", "tka": ".tka",
          "n42": ".n42", "cnf": ".cnf"}


@pytest.fixture(scope="module")
def spectrum() -> Spectrum:
    counts = np.random.default_rng(0).poisson(30, 2048).astype(float)
    return Spectrum(counts, Calibration((1.5, 0.73, 2e-7)), live_time_s=100.0,
                    real_time_s=105.0, name="x")


@pytest.mark.parametrize("kind", sorted(WRITE_FORMATS))
def test_round_trip_through_specutils(tmp_path, spectrum, kind):
    path = write_specutils(tmp_path / f"a{SUFFIX[kind]}", spectrum, kind)
    read = read_specutils(path)
    inner = slice(2, -2) if kind == "chn" else slice(None)  # SpecUtils zeroes CHN end channels
    np.testing.assert_array_equal(read.counts[inner], spectrum.counts[inner])
    assert read.live_time_s == pytest.approx(100.0) and read.real_time_s == pytest.approx(105.0)
    assert read.metadata["reader"] == "sandiaspecutils"
    assert read.metadata["format"] == f"specutils:{SUFFIX[kind][1:]}"
    if kind == "tka":  # TKA holds no calibration: said so, not assumed
        assert not read.metadata["calibrated"]
    else:
        assert np.max(np.abs(read.energies - spectrum.energies)) < 1e-3


def test_chn_and_pcf_open_through_read_spectrum(tmp_path, spectrum):
    for kind in ("chn", "pcf", "spc"):
        path = write_specutils(tmp_path / f"b{SUFFIX[kind]}", spectrum, kind)
        opened = read_spectrum(path)
        assert opened.metadata["reader"] == "sandiaspecutils" and opened.n_channels == 2048


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, bytes(range(256)) * 40,
                                     b"$SPEC_ID:\nnothing\n", b"<?xml version='1.0'?><a/>"])
@pytest.mark.parametrize("suffix", [".chn", ".spc", ".pcf", ".mca", ".tka"])
def test_hostile_files_are_input_errors_naming_the_file(tmp_path, content, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"^bad\\{suffix}: "):
        read_specutils(path)
    with pytest.raises(InputError, match=f"^bad\\{suffix}: "):
        read_spectrum(path)


@pytest.mark.parametrize("kind", ["chn", "spc", "pcf"])
def test_truncated_and_corrupted_files_stay_input_errors(tmp_path, spectrum, kind):
    data = write_specutils(tmp_path / f"c{SUFFIX[kind]}", spectrum, kind).read_bytes()
    rng = np.random.default_rng(1)
    for i in range(40):
        broken = bytearray(data[:max(1, int(len(data) * rng.uniform(0.01, 1.0)))])
        for _ in range(int(rng.integers(0, 8))):
            broken[int(rng.integers(len(broken)))] = int(rng.integers(256))
        path = tmp_path / f"t{i}{SUFFIX[kind]}"
        path.write_bytes(bytes(broken))
        try:
            read_specutils(path)
        except InputError as error:
            assert str(error).startswith(path.name + ": ")


def test_missing_and_folder(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_specutils(tmp_path / "none.chn")
    with pytest.raises(InputError, match="is a folder"):
        read_specutils(tmp_path)


CROSS_CHECK = ["01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf",
               "1110C NAA cave background May 2017.spe", "1110C NAA cave pottery.Spe",
               "Mendocino_07-10-13_Acq-10-10-13.Spe", "SGM102432.spe", "nai_detector.spe"]


@pytest.mark.parametrize("name", CROSS_CHECK)
def test_ours_agree_with_specutils_on_the_real_spectra(shared_spectra, name):
    ours, theirs = read_spectrum(shared_spectra / name), read_specutils(shared_spectra / name)
    assert ours.metadata["reader"] == "lablens"
    assert ours.n_channels == theirs.n_channels
    np.testing.assert_array_equal(ours.counts, theirs.counts)
    assert ours.live_time_s == pytest.approx(theirs.live_time_s, rel=1e-6)
    assert ours.real_time_s == pytest.approx(theirs.real_time_s, rel=1e-6)
    assert ours.metadata["calibrated"] == theirs.metadata["calibrated"]
    if ours.metadata["calibrated"]:
        # SpecUtils reads the polynomial as lower channel edges, ours as channel centres
        shift = theirs.energies - ours.energies
        half = 0.5 * np.diff(ours.edges)
        np.testing.assert_allclose(shift, half, rtol=2e-4, atol=2e-3)


def test_an_implausible_live_time_is_an_input_error(tmp_path, spectrum):
    """Found by the fuzzer: a flipped bit made a .pcf live time 2e20 s."""
    bad = Spectrum(spectrum.counts, spectrum.calibration, live_time_s=2e20, real_time_s=3e20)
    path = write_specutils(tmp_path / "long.pcf", bad, "pcf")
    with pytest.raises(InputError, match=r"^long\.pcf: live time of 2e\+20 s is not a plausible time"):
        read_spectrum(path)


# ----------------------------------------------------------- exact behaviour (mutation round 7)
from engines.spectrum.readers import specutils as su  # noqa: E402


def test_calibration_from_lower_edges():
    cal, problem = su._calibration(np.array([0.0, 2.0, 4.0, 6.0, 8.0]), 4)  # with upper edge
    assert problem == "" and cal.coefficients == pytest.approx((1.0, 2.0))
    cal, _ = su._calibration(np.array([10.0, 11.0, 12.0]), 3)  # last edge extended by a width
    assert cal.coefficients == pytest.approx((10.5, 1.0))
    assert su._calibration(np.zeros(0), 3) == (
        None, "the file has no energy calibration (SpecUtils would assume one)")
    for edges in (np.array([0.0, 1.0]), np.array([0.0, np.nan, 2.0])):
        assert su._calibration(edges, 3) == (None, "SpecUtils reports no usable channel energies")
    cal, problem = su._calibration(np.array([0.0, 4.0, 0.0, 4.0, 0.0]), 4)  # flat centres
    assert cal is None and problem.startswith("calibration is not a linear or quadratic "
                                              "polynomial (")


def test_short_messages():
    assert su._short(RuntimeError("  a\n  b  ")) == "a b"
    assert su._short(RuntimeError("")) == "RuntimeError"
    assert su._short(ValueError("x" * 120)) == "x" * 120
    assert su._short(ValueError("x" * 121)) == "x" * 120 + "…"


def test_writer_and_size_refusals(tmp_path, spectrum, monkeypatch):
    with pytest.raises(InputError) as info:
        write_specutils(tmp_path / "a.xyz", spectrum, "xyz")
    assert str(info.value) == ("unknown SpecUtils format 'xyz'; valid: chn, spc, pcf, iaea, tka, "
                               "n42, cnf")
    path = write_specutils(tmp_path / "a.chn", spectrum, "chn")
    monkeypatch.setattr(su, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputError) as info:
        read_specutils(path)
    assert str(info.value) == "a.chn: file of 0 MiB is too large for a spectrum (limit 0 MiB)"
    monkeypatch.setattr(su, "MAX_FILE_BYTES", path.stat().st_size)
    assert read_specutils(path).n_channels == 2048


def test_metadata_of_a_read(tmp_path, spectrum):
    read = read_specutils(write_specutils(tmp_path / "m.pcf", spectrum, "pcf"))
    assert read.metadata["records"] == 1 and read.metadata["calibrated"] is True
    assert read.metadata["calibration_source"].startswith("SpecUtils ")
    assert read.name == "m" and read.source == tmp_path / "m.pcf"
    untimed = Spectrum(spectrum.counts, spectrum.calibration)
    read = read_specutils(write_specutils(tmp_path / "u.pcf", untimed, "pcf"))
    assert read.live_time_s is None and read.real_time_s is None


# --------------------------------------------- multi-record and edge files (mutation round 8)
def _record(counts, sample=1, detector="A", source="Foreground", live=10.0, real=11.0,
            calibration=(0.0, 1.0)):
    """One SpecUtils gamma record: lower channel edges E(ch) = polynomial ``calibration``."""
    record = SpecUtils.Measurement.new()
    record.setGammaCounts([float(c) for c in counts], live, real)
    record.setEnergyCalibration(SpecUtils.EnergyCalibration.fromPolynomial(
        len(counts), list(calibration)))
    record.setSampleNumber(sample)
    record.setDetectorName(detector)
    record.setSourceType(getattr(SpecUtils.SourceType, source))
    return record


def _n42(path, records, manufacturer="", model=""):
    """Write ``records`` as one N42-2012 file with SpecUtils' own writer."""
    spec_file = SpecUtils.SpecFile()
    for index, record in enumerate(records):
        spec_file.addMeasurement(record, index == len(records) - 1)
    if manufacturer:
        spec_file.setInstrumentManufacturer(manufacturer)
    if model:
        spec_file.setInstrumentModel(model)
    spec_file.writeAllToFile(str(path), SpecUtils.SaveSpectrumAsType.N42_2012)
    return path


def test_only_the_foreground_records_are_summed(tmp_path):
    """Background (2, A) shares a sample with foreground (2, B) and a detector with (1, A):
    SpecUtils' sumMeasurements over samples x detectors would add it in (it did, before)."""
    path = _n42(tmp_path / "f.n42", [
        _record([1, 2, 3, 4], 1, "A"), _record([10, 20, 30, 40], 2, "B", real=12.0),
        _record([100, 200, 300, 400], 2, "A", "Background")], "Maker", "Model9")
    read = read_specutils(path)
    np.testing.assert_array_equal(read.counts, [11, 22, 33, 44])
    assert read.live_time_s == 20.0 and read.real_time_s == 23.0
    assert read.metadata["records"] == 2 and read.metadata["instrument"] == "Maker Model9"
    assert read.energies == pytest.approx([0.5, 1.5, 2.5, 3.5])


def test_without_foreground_every_gamma_record_is_summed(tmp_path):
    path = _n42(tmp_path / "u.n42", [_record([1] * 5, 1, source="UnknownSourceType"),
                                     _record([10] * 5, 2, source="UnknownSourceType")])
    read = read_specutils(path)
    np.testing.assert_array_equal(read.counts, [11] * 5)
    assert read.metadata["records"] == 2 and "instrument" not in read.metadata
    one = read_specutils(_n42(tmp_path / "one.n42", [_record([3, 4], live=0.5, real=0.75)]))
    np.testing.assert_array_equal(one.counts, [3, 4])  # 2 channels suffice; SpecUtils' sum
    assert one.metadata["records"] == 1  # would refuse so few, a single record is not summed
    assert one.live_time_s == 0.5 and one.real_time_s == 0.75  # under 1 s is still a time


def test_records_too_short_for_specutils_to_sum(tmp_path):
    path = _n42(tmp_path / "s.n42", [_record([1, 2, 3], 1, "A"), _record([1, 2, 3], 1, "B")])
    with pytest.raises(InputError) as info:
        read_specutils(path)
    assert str(info.value) == "s.n42: SpecUtils could not sum the 2 gamma records"


def test_channel_limits_and_bad_counts(tmp_path, monkeypatch):
    single = SpecUtils.Measurement.new()
    single.setGammaCounts([7.0], 10.0, 11.0)
    cases = {"one.n42": ([single], "1 channels (expected 2 to 1048576)"),
             "neg.n42": ([_record([7, -1, 3])], "counts: negative count -1 in channel 1"),
             "late.n42": ([_record([1, 2, 3], live=5.0, real=3e20)],
                          "real time of 3e+20 s is not a plausible time (0 to 1e+10 s)")}
    neutrons = SpecUtils.Measurement.new()
    neutrons.setNeutronCounts([5.0], 10.0)
    cases["neutron.n42"] = ([neutrons], "SpecUtils found no gamma spectrum in the file")
    for name, (records, problem) in cases.items():
        with pytest.raises(InputError) as info:
            read_specutils(_n42(tmp_path / name, records))
        assert str(info.value) == f"{name}: {problem}"
    monkeypatch.setattr(su, "MAX_CHANNELS", 4)
    assert read_specutils(_n42(tmp_path / "four.n42", [_record([1] * 4)])).n_channels == 4
    with pytest.raises(InputError) as info:
        read_specutils(_n42(tmp_path / "five.n42", [_record([1] * 5)]))
    assert str(info.value) == "five.n42: 5 channels (expected 2 to 4)"


def test_quadratic_cubic_and_assumed_calibrations(tmp_path, spectrum):
    quadratic = read_specutils(_n42(tmp_path / "q.n42", [
        _record(range(100), calibration=(1.0, 2.0, 0.01))]))
    # centre of channel ch = mean of its edges E(ch), E(ch + 1)
    assert quadratic.calibration.coefficients == pytest.approx((2.005, 2.01, 0.01), rel=1e-6)
    assert quadratic.metadata["calibration_source"] == "SpecUtils Polynomial"
    assert "calibration_problem" not in quadratic.metadata
    cubic = read_specutils(_n42(tmp_path / "c.n42", [
        _record(range(100), calibration=(1.0, 2.0, 0.01, 0.001))]))
    assert not cubic.metadata["calibrated"] and cubic.calibration.coefficients == (0.0, 1.0)
    assert cubic.metadata["calibration_problem"].startswith(
        "calibration is not a linear or quadratic polynomial (energies are not a linear")
    assumed = read_specutils(write_specutils(tmp_path / "a.tka", spectrum, "tka"))
    assert assumed.metadata["calibration_problem"] == (
        "the file has no energy calibration (SpecUtils would assume one)")
    assert "calibration_source" not in assumed.metadata


def test_format_names_and_instrument(tmp_path, spectrum):
    upper = read_specutils(write_specutils(tmp_path / "A.XML", spectrum, "n42"))
    assert upper.metadata["format"] == "specutils:xml"
    bare = read_specutils(write_specutils(tmp_path / "noext", spectrum, "pcf"))
    assert bare.metadata["format"] == "specutils:auto"
    for maker, model, instrument in (("Maker", "", "Maker"), ("", "M9", "M9")):
        read = read_specutils(_n42(tmp_path / f"i{model}.n42", [_record([1] * 4)], maker, model))
        assert read.metadata["instrument"] == instrument


def test_failures_inside_specutils_become_input_errors(tmp_path, monkeypatch):
    path = tmp_path / "bad.chn"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(InputError) as info:
        read_specutils(path)
    message = str(info.value)  # SpecUtils' own words, with the file name for the full path
    assert message.startswith("bad.chn: not a spectrum file SpecUtils can read (")
    assert message.endswith(" bad.chn)") and str(tmp_path) not in message

    class FailingSum(SpecUtils.SpecFile):
        def sumMeasurements(self, samples, detectors):  # noqa: N802 (SpecUtils' name)
            raise RuntimeError("sum failed")

    two = _n42(tmp_path / "two.n42", [_record([1] * 4, 1), _record([1] * 4, 2)])
    monkeypatch.setattr(SpecUtils, "SpecFile", FailingSum)
    with pytest.raises(InputError) as info:
        read_specutils(two)
    assert str(info.value) == "two.n42: SpecUtils could not read the spectrum (sum failed)"


def test_without_the_package(tmp_path, monkeypatch, spectrum):
    path = write_specutils(tmp_path / "p.pcf", spectrum, "pcf")
    assert su.available()
    monkeypatch.setitem(sys.modules, "SpecUtils", None)  # import SpecUtils -> ImportError
    assert not su.available()
    with pytest.raises(InputError) as info:
        read_specutils(path)
    assert str(info.value) == ("p.pcf: this format needs the sandiaspecutils package "
                               "(pip install sandiaspecutils)")


def test_size_limit_message_and_write_failure(tmp_path, monkeypatch, spectrum):
    path = tmp_path / "big.pcf"
    path.write_bytes(b"\x00" * (3 * 2**20))  # the size is checked before any parsing
    monkeypatch.setattr(su, "MAX_FILE_BYTES", 2 * 2**20)
    with pytest.raises(InputError) as info:
        read_specutils(path)
    assert str(info.value) == "big.pcf: file of 3 MiB is too large for a spectrum (limit 2 MiB)"
    with pytest.raises(InputError) as info:
        write_specutils(tmp_path / "missing" / "w.chn", spectrum, "chn")
    assert re.fullmatch(r"w\.chn: SpecUtils could not write it \(.+ for writing\)",
                        str(info.value))


def test_written_n42_is_a_cleaned_up_document(tmp_path, spectrum):
    text = write_specutils(tmp_path / "d.n42", spectrum, "n42").read_text()
    assert re.search(r'n42DocUUID="[0-9a-f-]{36}"', text)  # N42-2012 requires a document UUID


def test_calibration_ignores_edges_past_the_last_channel():
    cal, problem = su._calibration(np.array([0.0, 2.0, 4.0, 6.0, 8.0, 99.0]), 4)
    assert problem == "" and cal.coefficients == pytest.approx((1.0, 2.0))
