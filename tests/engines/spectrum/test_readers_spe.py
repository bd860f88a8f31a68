"""ORTEC .Spe reader and writer, checked on the real files in ../shared/data/spectra."""

from __future__ import annotations

import numpy as np
import pytest

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
