"""ANSI N42.42 reader (2006 and 2011 editions) and the 2011 writer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.core.errors import InputError
from engines.spectrum.readers import detect_format, read_spectrum
from engines.spectrum.readers.n42 import (
    decode_counted_zeroes,
    encode_counted_zeroes,
    read_n42,
    write_n42,
)
from engines.spectrum.spectrum import Calibration, Spectrum

NS_2011 = ' xmlns="http://physics.nist.gov/N42/2011/N42"'
NS_2006 = ' xmlns="http://physics.nist.gov/Divisions/Div846/Gp4/ANSIN4242/2005/ANSIN4242"'


def _measurement_2011(index: int, klass: str, data: str, code: str = "None") -> str:
    return f"""
  <RadMeasurement id="m{index}">
    <MeasurementClassCode>{klass}</MeasurementClassCode>
    <StartDateTime>2003-11-22T23:45:19-07:00</StartDateTime>
    <RealTimeDuration>PT60S</RealTimeDuration>
    <Spectrum id="s{index}" energyCalibrationReference="cal-b">
      <LiveTimeDuration>PT59.61S</LiveTimeDuration>
      <ChannelData compressionCode="{code}">{data}</ChannelData>
    </Spectrum>
  </RadMeasurement>"""


def _doc_2011(measurements: str, namespace: str = NS_2011) -> str:
    return f"""<?xml version="1.0"?>
<RadInstrumentData{namespace}>
  <EnergyCalibration id="cal-a"><CoefficientValues>0 100</CoefficientValues></EnergyCalibration>
  <EnergyCalibration id="cal-b">
    <CoefficientValues>-21.8 12.1 6.55e-03</CoefficientValues>
  </EnergyCalibration>{measurements}
</RadInstrumentData>"""


@pytest.mark.parametrize("namespace", [NS_2011, ""])
def test_2011_single_spectrum(tmp_path, namespace):
    path = tmp_path / "annex_b.n42"
    path.write_text(_doc_2011(_measurement_2011(1, "Foreground", "\n 0 0 0 22 421 847 \n"),
                              namespace))
    spectrum = read_spectrum(path)
    np.testing.assert_array_equal(spectrum.counts, [0, 0, 0, 22, 421, 847])
    assert spectrum.calibration.coefficients == (-21.8, 12.1, 6.55e-3)  # the referenced one
    assert spectrum.live_time_s == pytest.approx(59.61) and spectrum.real_time_s == 60.0
    assert spectrum.metadata["n42_version"] == "2011"
    assert spectrum.metadata["selection"] == "only spectrum"
    assert spectrum.metadata["start_time"] == "2003-11-22T23:45:19-07:00"


def test_2011_takes_first_foreground_and_decodes_counted_zeroes(tmp_path):
    path = tmp_path / "several.xml"
    path.write_text(_doc_2011(_measurement_2011(1, "Background", "9 9 9 9")
                              + _measurement_2011(2, "Foreground", "5 0 3 7 0 1 2", "CountedZeroes")
                              + _measurement_2011(3, "Foreground", "1 1 1 1")))
    spectrum = read_n42(path)
    np.testing.assert_array_equal(spectrum.counts, [5, 0, 0, 0, 7, 0, 2])
    assert spectrum.metadata["spectra_in_file"] == 3
    assert spectrum.metadata["spectrum_index"] == 1
    assert "spectrum 2 of 3 (foreground)" in spectrum.metadata["selection"]


DOC_2006 = f"""<?xml version="1.0" encoding="UTF-8"?>
<N42InstrumentData{NS_2006}>
 <Measurement>
  <Spectrum Type="PHA" CalibrationIDs="en">
   <SourceType>Item</SourceType>
   <StartTime>2005-01-02T03:04:05Z</StartTime>
   <RealTime>PT1M0.5S</RealTime>
   <LiveTime>PT1M</LiveTime>
   <ChannelData Compression="CountedZeroes">0 2 4 5 0 1 6</ChannelData>
  </Spectrum>
  <Calibration Type="Energy" EnergyUnits="MeV" ID="en">
   <Equation Model="Polynomial"><Coefficients>0.001 0.003 0</Coefficients></Equation>
  </Calibration>
 </Measurement>
</N42InstrumentData>"""


def test_2006_with_referenced_mev_calibration(tmp_path):
    path = tmp_path / "detector.n42"
    path.write_text(DOC_2006)
    spectrum = read_n42(path)
    np.testing.assert_array_equal(spectrum.counts, [0, 0, 4, 5, 0, 6])
    np.testing.assert_allclose(spectrum.calibration.coefficients, (1.0, 3.0))
    assert (spectrum.live_time_s, spectrum.real_time_s) == (60.0, 60.5)
    assert spectrum.metadata["n42_version"] == "2006"
    assert spectrum.metadata["measurement_class"] == "item"


def test_2006_calibration_points(tmp_path):
    points = "".join(f"<PointXY><X>{x}</X><Y>{5 + 2 * x}</Y></PointXY>" for x in (0, 10, 20))
    doc = (f"<N42InstrumentData><Measurement><Spectrum><ChannelData>1 2 3 4</ChannelData>"
           f"<Calibration Type='Energy'><ArrayXY>{points}</ArrayXY></Calibration>"
           f"</Spectrum></Measurement></N42InstrumentData>")
    path = tmp_path / "points.n42"
    path.write_text(doc)
    np.testing.assert_allclose(read_n42(path).energies, [5, 7, 9, 11], atol=1e-9)


def test_energy_boundary_values(tmp_path):
    doc = ("<RadInstrumentData><EnergyCalibration id='c'><EnergyBoundaryValues>0 2 4 6 8"
           "</EnergyBoundaryValues></EnergyCalibration><RadMeasurement><Spectrum "
           "energyCalibrationReference='c'><ChannelData>1 2 3 4</ChannelData></Spectrum>"
           "</RadMeasurement></RadInstrumentData>")
    path = tmp_path / "edges.n42"
    path.write_text(doc)
    np.testing.assert_allclose(read_n42(path).edges, [0, 2, 4, 6, 8], atol=1e-9)


def test_xml_with_spe_suffix_is_sniffed(tmp_path):
    path = tmp_path / "mislabelled.spe"
    path.write_text(DOC_2006)
    assert detect_format(path) == "n42"
    assert read_spectrum(path).metadata["format"] == "n42"


@pytest.mark.parametrize(("duration", "seconds"), [("PT1H2M3.5S", 3723.5), ("12.25", 12.25),
                                                   ("P1DT1S", 86401.0)])
def test_durations(tmp_path, duration, seconds):
    doc = _doc_2011(_measurement_2011(1, "Foreground", "1 2")).replace("PT59.61S", duration)
    path = tmp_path / "d.n42"
    path.write_text(doc)
    assert read_n42(path).live_time_s == pytest.approx(seconds)


def test_write_n42_round_trip(tmp_path):
    counts = np.array([0, 0, 0, 4, 5, 0, 7, 0, 0])
    original = Spectrum(counts, Calibration((3.0, 0.5, 1e-4)), live_time_s=12.5,
                        real_time_s=13.25, name="Cu")
    path = write_n42(tmp_path / "cu.n42", original)
    assert b'compressionCode="CountedZeroes"' in path.read_bytes()
    spectrum = read_n42(path)
    np.testing.assert_array_equal(spectrum.counts, counts)
    np.testing.assert_allclose(spectrum.calibration.coefficients, (3.0, 0.5, 1e-4))
    assert (spectrum.live_time_s, spectrum.real_time_s) == (12.5, 13.25)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0, 0, 0, 1, 2, 17]), min_size=2, max_size=60))
def test_counted_zeroes_round_trip(values):
    counts = np.array(values, dtype=np.float64)
    tokens = np.array(encode_counted_zeroes(counts), dtype=np.float64)
    np.testing.assert_array_equal(decode_counted_zeroes(None, tokens), counts)


@pytest.mark.parametrize(("tokens", "message"), [
    ([1, 0], "ends with a 0"), ([0, 0, 3], "whole numbers >= 1"), ([0, 2.5], "whole numbers"),
    ([0, 1e12], "expands to"),
])
def test_bad_counted_zeroes(tmp_path, tokens, message):
    with pytest.raises(InputError, match=message):
        decode_counted_zeroes(tmp_path / "x.n42", np.array(tokens, dtype=np.float64))


# ----------------------------------------------------------- exact behaviour (mutation round 7)

def _n42(tmp_path, doc: str, name: str = "x.n42"):
    path = tmp_path / name
    path.write_text(doc)
    return path


def _refusal(path) -> str:
    with pytest.raises(InputError) as info:
        read_n42(path)
    return str(info.value)


def _one_2011(data: str = "1 2 3", code: str = "None", calibration: str = "",
              spectrum_extra: str = "", measurement_extra: str = "") -> str:
    return (f"<RadInstrumentData>{calibration}<RadMeasurement>{measurement_extra}<Spectrum"
            f"{spectrum_extra}><ChannelData compressionCode='{code}'>{data}</ChannelData>"
            "</Spectrum></RadMeasurement></RadInstrumentData>")


def test_write_n42_document_is_exact(tmp_path):
    spectrum = Spectrum(np.array([0.0, 0.0, 2.5, 1.0]), Calibration((1.5, 0.25)),
                        live_time_s=9.5, real_time_s=10.0, name="",
                        metadata={"start_time": "2020-02-03T04:05:06"})
    root = __import__("xml.etree.ElementTree", fromlist=["x"]).fromstring(
        write_n42(tmp_path / "stem.n42", spectrum).read_bytes())
    ns = "{http://physics.nist.gov/N42/2011/N42}"
    texts = {el.tag.removeprefix(ns): (el.text or "").strip() for el in root.iter()}
    assert texts["RadInstrumentManufacturerName"] == "LabLens export"
    assert texts["RadInstrumentModelName"] == "stem"
    assert texts["RadInstrumentClassCode"] == "Spectroscopic Personal Radiation Detector"
    assert texts["RadDetectorCategoryCode"] == "Gamma"
    assert texts["CoefficientValues"] == "1.5 0.25"
    assert texts["MeasurementClassCode"] == "Foreground"
    assert texts["StartDateTime"] == "2020-02-03T04:05:06"
    assert texts["RealTimeDuration"] == "PT10S" and texts["LiveTimeDuration"] == "PT9.5S"
    assert texts["ChannelData"] == "0 2 2.5 1"
    read = read_n42(tmp_path / "stem.n42")
    assert read.metadata["start_time"] == "2020-02-03T04:05:06"
    bare = write_n42(tmp_path / "bare.n42", Spectrum(np.ones(2), Calibration((0.0, 1.0)),
                                                     name="Named"))
    text = bare.read_text()
    assert "<RadInstrumentModelName>Named<" in text
    assert "StartDateTime" not in text and "Duration" not in text


@pytest.mark.parametrize(("counts", "tokens"), [
    ([0, 0, 3, 0], ["0", "2", "3", "0", "1"]),
    ([4, 0, 5, 6], ["4", "0", "1", "5", "6"]),
    ([0.5, 0, 0, 0, 2], ["0.5", "0", "3", "2"]),
    ([1 / 3, 1], ["0.333333333", "1"]),
    ([1234567890, 0, 0], ["1234567890", "0", "2"]),  # whole: not "1.23456789e+09"
    ([2.5e-10, 0, 1], ["2.5e-10", "0", "1", "1"]),
])
def test_counted_zeroes_tokens(counts, tokens):
    assert encode_counted_zeroes(np.array(counts, dtype=np.float64)) == tokens


@pytest.mark.parametrize(("tokens", "message"), [
    ([1, 0], "CountedZeroes data ends with a 0 but no run length"),
    ([0, 0.5, 2], "CountedZeroes run lengths must be whole numbers >= 1"),
    ([0, 3, 0, 1048574], "CountedZeroes data expands to 1048577 channels (limit 1048576)"),
])
def test_counted_zeroes_refusals_are_exact(tmp_path, tokens, message):
    with pytest.raises(InputError) as info:
        decode_counted_zeroes(tmp_path / "z.n42", np.array(tokens, dtype=np.float64))
    assert str(info.value) == f"z.n42: {message}"


def test_counted_zeroes_at_the_channel_limit():
    counts = decode_counted_zeroes(None, np.array([0, 1048575, 7], dtype=np.float64))
    assert counts.size == 1048576 and counts[-1] == 7 and counts[:-1].sum() == 0


@pytest.mark.parametrize(("code", "data", "counts"), [
    ("None", "1 2 3", [1, 2, 3]), ("", "1 2 3", [1, 2, 3]), (" countedzeroes ", "0 2 3", [0, 0, 3]),
])
def test_compression_codes(tmp_path, code, data, counts):
    path = _n42(tmp_path, _one_2011(data, code))
    np.testing.assert_array_equal(read_n42(path).counts, counts)


def test_2006_compression_attribute_and_no_code(tmp_path):
    doc = ("<N42InstrumentData><Measurement><Spectrum><ChannelData Compression='CountedZeroes'>"
           "0 3 1</ChannelData></Spectrum></Measurement></N42InstrumentData>")
    np.testing.assert_array_equal(read_n42(_n42(tmp_path, doc)).counts, [0, 0, 0, 1])
    plain = doc.replace(" Compression='CountedZeroes'", "")
    np.testing.assert_array_equal(read_n42(_n42(tmp_path, plain, "p.n42")).counts, [0, 3, 1])


@pytest.mark.parametrize(("doc", "message"), [
    (_one_2011(code="Zip"), "unsupported ChannelData compression 'Zip'"),
    (_one_2011("1 two 3"), "ChannelData: value 2 is not a number: 'two'"),
    ("<RadInstrumentData><RadMeasurement><Spectrum/></RadMeasurement></RadInstrumentData>",
     "N42 file holds no Spectrum with ChannelData"),
    ("<Other><Spectrum/></Other>", "XML root <Other> is not an ANSI N42.42 document"),
    ("<" + "R" * 80 + "/>", f"XML root <{'R' * 60}> is not an ANSI N42.42 document"),
    (_one_2011(spectrum_extra="", data="1 2").replace(
        "<Spectrum>", "<Spectrum><LiveTimeDuration>soon</LiveTimeDuration>"),
     "LiveTimeDuration 'soon' is not a duration"),
    (_one_2011(measurement_extra="<RealTimeDuration>PT</RealTimeDuration>"),
     "RealTimeDuration 'PT' is not a duration"),
    (_one_2011(measurement_extra="<RealTimeDuration>P</RealTimeDuration>"),
     "RealTimeDuration 'P' is not a duration"),
    (_one_2011(measurement_extra="<RealTimeDuration>-4</RealTimeDuration>"),
     "RealTimeDuration '-4' is not a valid duration"),
    (_one_2011(measurement_extra="<RealTimeDuration>inf</RealTimeDuration>"),
     "RealTimeDuration 'inf' is not a valid duration"),
])
def test_refusals_are_exact(tmp_path, doc, message):
    assert _refusal(_n42(tmp_path, doc, "r.n42")) == f"r.n42: {message}"


def test_too_many_channel_numbers_and_too_large_a_file(tmp_path, monkeypatch):
    from engines.spectrum.readers import n42
    monkeypatch.setattr(n42, "MAX_TOKENS", 4)
    path = _n42(tmp_path, _one_2011("1 2 3 4"), "ok.n42")
    np.testing.assert_array_equal(read_n42(path).counts, [1, 2, 3, 4])
    assert _refusal(_n42(tmp_path, _one_2011("1 2 3 4 5"), "r.n42")) == (
        "r.n42: ChannelData holds more than 4 numbers")
    size = path.stat().st_size
    monkeypatch.setattr(n42, "MAX_FILE_BYTES", size)
    assert read_n42(path).n_channels == 4
    monkeypatch.setattr(n42, "MAX_FILE_BYTES", size - 1)
    assert _refusal(path) == "ok.n42: file of 0 MiB is too large for a spectrum (limit 0 MiB)"


@pytest.mark.parametrize(("duration", "seconds"), [
    ("PT1.5M", 90.0), ("PT2H", 7200.0), ("P2D", 172800.0), (" PT0S ", 0.0), ("  ", None),
    ("P1DT1H1M1S", 90061.0),
])
def test_more_durations(tmp_path, duration, seconds):
    doc = _one_2011(measurement_extra=f"<RealTimeDuration>{duration}</RealTimeDuration>")
    assert read_n42(_n42(tmp_path, doc)).real_time_s == seconds


def _classed(*classes: str, source_in_measurement: bool = False) -> str:
    parts = []
    for i, klass in enumerate(classes):
        code = f"<MeasurementClassCode>{klass}</MeasurementClassCode>" if klass else ""
        if source_in_measurement and klass:
            code = f"<SourceType>{klass}</SourceType>"
        parts.append(f"<RadMeasurement>{code}<Spectrum><ChannelData>{i + 1} {i + 1}"
                     "</ChannelData></Spectrum></RadMeasurement>")
    return "<RadInstrumentData>" + "".join(parts) + "</RadInstrumentData>"


@pytest.mark.parametrize(("classes", "index", "selection"), [
    (("Background", "", "Foreground"), 2, "spectrum 3 of 3 (foreground)"),
    (("Intrinsic Activity", "Calibration", ""), 2, "spectrum 3 of 3 (unlabelled)"),
    (("Background", "QC", "Calibration"), 1, "spectrum 2 of 3 (qc)"),
    (("Background", "QC", "Item"), 2, "spectrum 3 of 3 (item)"),
    (("Background", "Calibration"), 0, "spectrum 1 of 2 (background)"),
])
def test_which_spectrum_is_read(tmp_path, classes, index, selection):
    for in_measurement in (False, True):
        doc = _classed(*classes, source_in_measurement=in_measurement)
        spectrum = read_n42(_n42(tmp_path, doc))
        assert spectrum.metadata["spectrum_index"] == index
        assert spectrum.metadata["selection"] == (
            f"{selection}; the first foreground spectrum is read")
        np.testing.assert_array_equal(spectrum.counts, [index + 1, index + 1])


def test_class_code_of_the_spectrum_comes_before_its_measurement(tmp_path):
    doc = ("<N42InstrumentData><Measurement><SourceType>Background</SourceType>"
           "<Spectrum><ChannelData>1 1</ChannelData></Spectrum>"
           "<Spectrum><SourceType> Item </SourceType><ChannelData>2 2</ChannelData></Spectrum>"
           "<Spectrum><ChannelData>3 3</ChannelData></Spectrum>"
           "</Measurement></N42InstrumentData>")
    spectrum = read_n42(_n42(tmp_path, doc))
    assert spectrum.metadata["spectrum_index"] == 1
    assert spectrum.metadata["measurement_class"] == "item"
    only = read_n42(_n42(tmp_path, _one_2011(), "o.n42"))
    assert only.metadata["measurement_class"] == "" and only.metadata["spectra_in_file"] == 1


@pytest.mark.parametrize(("calibration", "reference", "energies", "problem"), [
    ("", "", None, "no EnergyCalibration"),
    ("<EnergyCalibration id='a'><CoefficientValues>1 2</CoefficientValues></EnergyCalibration>"
     "<EnergyCalibration id='b'><CoefficientValues>5 1</CoefficientValues></EnergyCalibration>",
     " energyCalibrationReference='zzz'", [1, 3, 5], None),
    ("<EnergyCalibration id='a'><CoefficientValues>1 2</CoefficientValues></EnergyCalibration>"
     "<EnergyCalibration id='b'><CoefficientValues>5 1</CoefficientValues></EnergyCalibration>",
     " energyCalibrationReference='b'", [5, 6, 7], None),
    ("<EnergyCalibration><CoefficientValues>1 2</CoefficientValues></EnergyCalibration>",
     "", [1, 3, 5], None),
    ("<EnergyCalibration><CoefficientValues>1 x</CoefficientValues></EnergyCalibration>",
     "", None, "calibration coefficients '1 x' are not numbers"),
    ("<EnergyCalibration><EnergyBoundaryValues>0 1 2 3</EnergyBoundaryValues>"
     "</EnergyCalibration>", "", [0.5, 1.5, 2.5], None),
    ("<EnergyCalibration><EnergyBoundaryValues>0 1 2</EnergyBoundaryValues>"
     "</EnergyCalibration>", "", None,
     "EnergyCalibration has no usable CoefficientValues or EnergyBoundaryValues"),
    ("<EnergyCalibration><EnergyBoundaryValues>0 1 a 3</EnergyBoundaryValues>"
     "</EnergyCalibration>", "", None, "EnergyBoundaryValues are not numbers"),
])
def test_2011_calibrations(tmp_path, calibration, reference, energies, problem):
    spectrum = read_n42(_n42(tmp_path, _one_2011(calibration=calibration,
                                                 spectrum_extra=reference)))
    assert spectrum.metadata["calibrated"] is (energies is not None)
    if energies is None:
        assert spectrum.metadata["calibration_problem"] == problem
        np.testing.assert_array_equal(spectrum.energies, [0, 1, 2])
    else:
        assert spectrum.metadata["calibration_source"] == "N42 energy calibration"
        np.testing.assert_allclose(spectrum.energies, energies, atol=1e-9)


def _doc_2006(calibrations: str, ids: str = "", inside: str = "") -> str:
    ref = f" CalibrationIDs='{ids}'" if ids else ""
    return (f"<N42InstrumentData><Measurement><Spectrum{ref}><ChannelData>1 2 3</ChannelData>"
            f"{inside}</Spectrum>{calibrations}</Measurement></N42InstrumentData>")


def _cal_2006(coefficients: str, kind: str = "Energy", units: str = "", ident: str = "") -> str:
    attributes = (f" Type='{kind}'" if kind else "") + (f" EnergyUnits='{units}'" if units else "")
    attributes += f" ID='{ident}'" if ident else ""
    return (f"<Calibration{attributes}><Equation><Coefficients>{coefficients}</Coefficients>"
            "</Equation></Calibration>")


@pytest.mark.parametrize(("doc", "energies", "problem"), [
    (_doc_2006(_cal_2006("1 2", kind="FWHM") + _cal_2006("4 1")), [4, 5, 6], None),
    (_doc_2006(_cal_2006("1 2", kind="") ), [1, 3, 5], None),
    (_doc_2006(_cal_2006("1000 2000", units="eV")), [1, 3, 5], None),
    (_doc_2006(_cal_2006("1 2", units="parsec")), [1, 3, 5], None),
    (_doc_2006(_cal_2006("1 2", ident="x") + _cal_2006("7 1", ident="y"), ids="q y"),
     [7, 8, 9], None),
    (_doc_2006(_cal_2006("1 2"), inside=_cal_2006("3 3")), [3, 6, 9], None),
    (_doc_2006(_cal_2006("1 2", kind="FWHM")), None, "no energy Calibration"),
    (_doc_2006(""), None, "no energy Calibration"),
])
def test_2006_calibrations(tmp_path, doc, energies, problem):
    spectrum = read_n42(_n42(tmp_path, doc))
    if energies is None:
        assert spectrum.metadata["calibration_problem"] == problem
    else:
        np.testing.assert_allclose(spectrum.energies, energies, atol=1e-9)


def _points(*xy, units: str = "") -> str:
    unit = f" EnergyUnits='{units}'" if units else ""
    body = "".join(f"<PointXY><X>{x}</X><Y>{y}</Y></PointXY>" for x, y in xy)
    return f"<Calibration Type='Energy'{unit}><ArrayXY>{body}</ArrayXY></Calibration>"


@pytest.mark.parametrize(("calibration", "energies", "problem"), [
    (_points((0, 1), (2, 5)), [1, 3, 5], None),  # two points: a line
    (_points((0, 0.001), (1, 0.003), (2, 0.007), units="MeV"), [1, 3, 7], None),  # quadratic
    (_points((1, 5), (1, 5), (1, 5)), None, "no energy Calibration"),  # one distinct channel
    (_points((1, 5)), None, "no energy Calibration"),
    (_points((1, 5), (1, 6)) + _points((0, 2), (1, 3)), [2, 3, 4], None),
])
def test_2006_calibration_points_fit(tmp_path, calibration, energies, problem):
    spectrum = read_n42(_n42(tmp_path, _doc_2006(calibration)))
    if energies is None:
        assert spectrum.metadata["calibration_problem"] == problem
    else:
        np.testing.assert_allclose(spectrum.energies, energies, atol=1e-9)


def test_2006_calibration_point_without_a_value(tmp_path):
    path = _n42(tmp_path, _doc_2006(_points((0, 1), (2, ""))), "r.n42")
    assert _refusal(path) == "r.n42: Calibration points: value 4 is not a number: ''"


def test_2006_times_and_start(tmp_path):
    doc = _doc_2006("", inside="<LiveTime>PT4S</LiveTime><RealTime>PT5S</RealTime>")
    doc = doc.replace("</Spectrum>", "</Spectrum><StartTime> 2001-01-01T00:00:00 </StartTime>")
    spectrum = read_n42(_n42(tmp_path, doc))
    assert (spectrum.live_time_s, spectrum.real_time_s) == (4.0, 5.0)
    assert spectrum.metadata["start_time"] == "2001-01-01T00:00:00"
    assert "start_time" not in read_n42(_n42(tmp_path, _doc_2006(""), "n.n42")).metadata


def test_write_n42_bytes_are_exact(tmp_path):
    spectrum = Spectrum(np.array([1.0, 0.0, 2.0]), Calibration((1.0, 2.0)), live_time_s=1.0,
                        real_time_s=2.0, name="A")
    assert write_n42(tmp_path / "a.n42", spectrum).read_text(encoding="utf-8") == """\
<?xml version='1.0' encoding='utf-8'?>
<RadInstrumentData xmlns="http://physics.nist.gov/N42/2011/N42">
  <RadInstrumentInformation id="instrument">
    <RadInstrumentManufacturerName>LabLens export</RadInstrumentManufacturerName>
    <RadInstrumentModelName>A</RadInstrumentModelName>
    <RadInstrumentClassCode>Spectroscopic Personal Radiation Detector</RadInstrumentClassCode>
  </RadInstrumentInformation>
  <RadDetectorInformation id="detector">
    <RadDetectorCategoryCode>Gamma</RadDetectorCategoryCode>
  </RadDetectorInformation>
  <EnergyCalibration id="calibration">
    <CoefficientValues>1 2</CoefficientValues>
  </EnergyCalibration>
  <RadMeasurement id="measurement">
    <MeasurementClassCode>Foreground</MeasurementClassCode>
    <RealTimeDuration>PT2S</RealTimeDuration>
    <Spectrum id="spectrum" radDetectorInformationReference="detector" \
energyCalibrationReference="calibration">
      <LiveTimeDuration>PT1S</LiveTimeDuration>
      <ChannelData compressionCode="CountedZeroes">1 0 1 2</ChannelData>
    </Spectrum>
  </RadMeasurement>
</RadInstrumentData>
"""


def test_2011_without_reference_takes_the_first_calibration(tmp_path):
    calibration = ("<EnergyCalibration id='a'><CoefficientValues>1 2</CoefficientValues>"
                   "</EnergyCalibration><EnergyCalibration><CoefficientValues>5 1"
                   "</CoefficientValues></EnergyCalibration>")
    spectrum = read_n42(_n42(tmp_path, _one_2011(calibration=calibration)))
    np.testing.assert_allclose(spectrum.energies, [1, 3, 5])


def test_2006_calibration_inside_the_spectrum_comes_first(tmp_path):
    doc = ("<N42InstrumentData><Measurement>" + _cal_2006("1 2") + "<Spectrum><ChannelData>"
           "1 2 3</ChannelData>" + _cal_2006("3 3") + "</Spectrum></Measurement>"
           "</N42InstrumentData>")
    np.testing.assert_allclose(read_n42(_n42(tmp_path, doc)).energies, [3, 6, 9])


def test_2006_points_are_fitted_by_a_quadratic_at_most(tmp_path):
    """Four points off any quadratic: the least-squares quadratic, not the exact cubic."""
    spectrum = read_n42(_n42(tmp_path, _doc_2006(_points((0, 10), (1, 20), (2, 31), (3, 45)))))
    np.testing.assert_allclose(spectrum.calibration.coefficients, (10.1, 8.6, 1.0), rtol=1e-12)


def test_unreadable_coefficients_are_quoted_to_sixty_characters(tmp_path):
    words = " ".join(["abcdefghij"] * 8)
    calibration = f"<EnergyCalibration><CoefficientValues>{words}</CoefficientValues></EnergyCalibration>"
    spectrum = read_n42(_n42(tmp_path, _one_2011(calibration=calibration)))
    assert spectrum.metadata["calibration_problem"] == (
        f"calibration coefficients {words[:60]!r} are not numbers")


@pytest.mark.parametrize(("doc", "message"), [
    (_doc_2006("", inside="<LiveTime>soon</LiveTime>"), "LiveTime 'soon' is not a duration"),
    (_doc_2006("", inside="<RealTime>-1</RealTime>"), "RealTime '-1' is not a valid duration"),
    (_one_2011("1 -2 3"), "ChannelData: negative count -2 in channel 1"),
    (_one_2011(""), "ChannelData: need at least 2 channels, found 0"),
    (_one_2011(measurement_extra="<RealTimeDuration>" + "x" * 50 + "</RealTimeDuration>"),
     f"RealTimeDuration {'x' * 40!r} is not a duration"),
    (_one_2011(measurement_extra="<RealTimeDuration>-" + "1" * 50 + "</RealTimeDuration>"),
     f"RealTimeDuration {('-' + '1' * 50)[:40]!r} is not a valid duration"),
])
def test_more_refusals_are_exact(tmp_path, doc, message):
    assert _refusal(_n42(tmp_path, doc, "r.n42")) == f"r.n42: {message}"


def test_blank_compression_code_and_2006_start_in_the_spectrum(tmp_path):
    np.testing.assert_array_equal(read_n42(_n42(tmp_path, _one_2011(code="  "))).counts, [1, 2, 3])
    doc = _doc_2006("", inside="<StartTime>2002-02-02T02:02:02</StartTime>")
    doc = doc.replace("</Spectrum>", "</Spectrum><StartTime>1999-01-01T00:00:00</StartTime>")
    assert read_n42(_n42(tmp_path, doc, "s.n42")).metadata["start_time"] == "2002-02-02T02:02:02"
