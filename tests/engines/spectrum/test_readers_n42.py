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
