"""Canberra CAM .cnf reader: the real Half Moon Bay HPGe file and synthetic CAM files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
from engines.spectrum.readers.cnf import pdp11_to_float, read_cnf

HALF_MOON_BAY = "01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf"


def pdp11_bytes(values) -> bytes:
    """Encode floats as PDP-11/VAX F (an IEEE single of 4x with its 16-bit words swapped)."""
    out = b""
    for value in values:
        ieee = struct.pack(">f", 4.0 * value)
        out += bytes([ieee[1], ieee[0], ieee[3], ieee[2]])
    return out


def build_cnf(counts, live_s=10.0, real_s=12.0, coefficients=(1.0, 0.5, 0.0, 0.0),
              channel_field=None, sample_name=b"synthetic") -> bytes:
    """A minimal CAM file: directory at 112, acquisition, sample and channel-data blocks."""
    counts = np.asarray(counts, dtype="<u4")
    acq, sample, chan = 1024, 2048, 3072
    data = bytearray(chan + 512 + 4 * counts.size)
    for i, (kind, offset) in enumerate(((0, acq), (1, sample), (5, chan))):
        entry = 112 + 48 * i
        data[entry:entry + 4] = bytes([kind, 0x20, 0x01, 0x00])
        data[entry + 10:entry + 14] = struct.pack("<I", offset)
    offset1, offset2 = 400, 200
    data[acq:acq + 2] = b"\x00\x20"
    data[acq + 34:acq + 38] = struct.pack("<HH", offset1, offset2)
    data[acq + 176:acq + 179] = b"PHA"
    field = counts.size // 256 if channel_field is None else channel_field
    data[acq + 186:acq + 188] = struct.pack("<H", field)
    times = acq + 48 + offset2 + 1
    mask = 0xFFFFFFFFFFFFFFFF
    data[times:times + 24] = struct.pack("<QQQ", int((3506716800 + 1.7e9) * 1e7),
                                         ~int(real_s * 1e7) & mask, ~int(live_s * 1e7) & mask)
    calibration = acq + 48 + 32 + offset1 + 36
    data[calibration:calibration + 16] = pdp11_bytes(coefficients)
    data[sample:sample + 2] = b"\x01\x20"
    data[sample + 48:sample + 48 + len(sample_name)] = sample_name
    data[chan:chan + 2] = b"\x05\x20"
    data[chan + 512:] = counts.tobytes()
    return bytes(data)


@pytest.mark.parametrize("value", [1.0, -2.5, 0.71899295, 1460.82, 3.0e-7, -1.25e5])
def test_pdp11_decoding(value):
    decoded = pdp11_to_float(np.frombuffer(pdp11_bytes([value]), np.uint8))
    assert decoded[0] == pytest.approx(value, rel=1e-7)


def test_pdp11_zero_exponent_is_zero():
    assert pdp11_to_float(np.zeros(4, np.uint8))[0] == 0.0


def test_synthetic_cnf(tmp_path):
    counts = np.arange(512) % 17
    path = tmp_path / "synthetic.CNF"
    path.write_bytes(build_cnf(counts, live_s=10.0, real_s=12.5,
                               coefficients=(1.0, 0.5, 1e-5, 0.0)))
    spectrum = read_spectrum(path)
    assert spectrum.metadata["format"] == "cnf" and spectrum.metadata["calibrated"]
    np.testing.assert_array_equal(spectrum.counts, counts)
    assert spectrum.live_time_s == pytest.approx(10.0) and spectrum.real_time_s == 12.5
    np.testing.assert_allclose(spectrum.calibration.coefficients, (1.0, 0.5, 1e-5), rtol=1e-6)
    assert spectrum.metadata["sample_name"] == "synthetic"
    assert spectrum.metadata["start_time"].startswith("2023-11-14")


def test_times_stored_in_first_channels_are_zeroed(tmp_path):
    counts = np.full(256, 3)
    counts[:2] = (10, 12)  # integer live and real time, as some Genie files store them
    path = tmp_path / "times.cnf"
    path.write_bytes(build_cnf(counts, live_s=10.0, real_s=12.0))
    np.testing.assert_array_equal(read_cnf(path).counts[:3], [0, 0, 3])


def test_missing_calibration_falls_back_to_channels(tmp_path):
    path = tmp_path / "nocal.cnf"
    path.write_bytes(build_cnf(np.ones(256), coefficients=(0.0, 0.0, 0.0, 0.0)))
    spectrum = read_cnf(path)
    assert not spectrum.metadata["calibrated"]
    assert spectrum.calibration.coefficients == (0.0, 1.0)


def test_cubic_term_is_refitted_or_refused(tmp_path):
    small = tmp_path / "small_cubic.cnf"
    small.write_bytes(build_cnf(np.ones(256), coefficients=(0.0, 1.0, 0.0, 1e-12)))
    assert read_cnf(small).metadata["calibrated"]
    large = tmp_path / "large_cubic.cnf"
    large.write_bytes(build_cnf(np.ones(256), coefficients=(0.0, 1.0, 0.0, 1e-4)))
    assert "not quadratic" in read_cnf(large).metadata["calibration_problem"]


@pytest.mark.parametrize(("field", "message"), [
    (0xFFFF, "acquisition block declares 16776960 channels"),  # refused before anything is allocated
    (64, "channel data block at byte 3072 lies beyond the end"),  # 16384 declared, 256 stored
    (0, "acquisition block declares 0 channels"),
])
def test_bad_channel_field_is_refused(tmp_path, field, message):
    path = tmp_path / "huge.cnf"
    path.write_bytes(build_cnf(np.ones(256), channel_field=field))
    with pytest.raises(InputError, match=f"huge.cnf: {message}"):
        read_cnf(path)


@pytest.mark.needs_shared
def test_half_moon_bay_hpge(shared_spectra):
    spectrum = read_spectrum(shared_spectra / HALF_MOON_BAY)
    assert spectrum.metadata["format"] == "cnf" and spectrum.metadata["calibrated"]
    assert spectrum.n_channels == 4096  # PHA record: 16 x 256 channels
    assert spectrum.live_time_s == pytest.approx(841.42, abs=0.01)
    assert spectrum.real_time_s == pytest.approx(849.51, abs=0.01)
    assert spectrum.total_counts == 683658
    np.testing.assert_allclose(spectrum.calibration.coefficients, (-0.209713, 0.718993),
                               rtol=1e-5)
    e, c = spectrum.energies, spectrum.counts
    for line_kev in (1460.82, 2614.51):  # K-40 and Tl-208 in a beach background
        window = np.flatnonzero(np.abs(e - line_kev) < 5)
        top = window[np.argmax(c[window])]
        continuum = np.median(c[(e > line_kev - 25) & (e < line_kev - 10)])
        net = np.clip(c[top - 3:top + 4] - continuum, 0, None)
        centroid = (net * e[top - 3:top + 4]).sum() / net.sum()
        assert centroid == pytest.approx(line_kev, abs=1.5)  # file calibration: -0.6/+1.1 keV
        assert c[top] > 3 * continuum
