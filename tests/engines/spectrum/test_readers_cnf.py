"""Canberra CAM .cnf reader: the real Half Moon Bay HPGe file and synthetic CAM files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
from engines.spectrum.readers.cnf import looks_like_cnf, pdp11_to_float, read_cnf

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


# ----------------------------------------------------------- exact behaviour (mutation round 7)
# build_cnf's layout: directory entries at 112 (acquisition -> 1024), 160 (sample -> 2048),
# 208 (channel data -> 3072); times at 1024 + 48 + 200 + 1; calibration at 1024 + 516.

def _refusal(tmp_path, data: bytes) -> str:
    path = tmp_path / "r.cnf"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_cnf(path)
    return str(info.value)


def _read(tmp_path, data: bytes):
    path = tmp_path / "ok.cnf"
    path.write_bytes(data)
    return read_cnf(path)


def _patched(data: bytes, at: int, raw: bytes) -> bytes:
    out = bytearray(data)
    out[at:at + len(raw)] = raw
    return bytes(out)


def _entry(kind: int, offset: int) -> bytes:
    return bytes([kind, 0x20, 0x01, 0x00]) + bytes(6) + struct.pack("<I", offset)


GOOD = build_cnf(np.arange(256) % 5 + 1)


@pytest.mark.parametrize(("at", "raw", "message"), [
    (115, b"\x01", "not a Canberra CNF file (no CAM block directory at byte 112)"),
    (112, b"\x09", "no acquisition block in the CAM block directory"),
    (208, b"\x07", "no channel data block in the CAM block directory"),
    (161, b"\x21", "no channel data block in the CAM block directory"),  # the directory ends
    (1024, b"\x03", "acquisition block at byte 1024 has a bad header"),
    (1025, b"\x21", "acquisition block at byte 1024 has a bad header"),
    (3073, b"\x00", "channel data block at byte 3072 has a bad header"),
    (122, struct.pack("<I", 4417), "acquisition block at byte 4417 lies beyond the end of the "
                                   "4608-byte file (truncated?)"),
])
def test_refusals_are_exact(tmp_path, at, raw, message):
    assert _refusal(tmp_path, _patched(GOOD, at, raw)) == f"r.cnf: {message}"


def test_timing_record_beyond_the_end(tmp_path):
    data = _patched(GOOD, 1024 + 36, struct.pack("<H", 3512))  # record ends 1 byte past the file
    assert _refusal(tmp_path, data) == ("r.cnf: timing record lies beyond the end of the file "
                                        "(truncated?)")
    at_end = _patched(GOOD, 1024 + 36, struct.pack("<H", 3511))  # ends at the file's last byte
    assert _read(tmp_path, at_end).n_channels == 256


def test_directory_is_bounded(tmp_path, monkeypatch):
    from engines.spectrum.readers import cnf
    monkeypatch.setattr(cnf, "MAX_ENTRIES", 2)  # the channel-data entry is the third
    assert _refusal(tmp_path, GOOD) == "r.cnf: no channel data block in the CAM block directory"
    monkeypatch.setattr(cnf, "MAX_ENTRIES", 3)
    assert _read(tmp_path, GOOD).n_channels == 256


def test_looks_like_cnf_needs_the_whole_entry_head():
    assert looks_like_cnf(GOOD[:116])
    assert not looks_like_cnf(GOOD[:115])
    assert not looks_like_cnf(_patched(GOOD, 114, b"\x02"))


def test_time_channels_are_zeroed_only_when_they_hold_the_times(tmp_path):
    counts = np.full(256, 3)
    counts[:3] = (12, 10, 10)  # real, live, and a channel past the first two
    spectrum = _read(tmp_path, build_cnf(counts, live_s=10.0, real_s=12.0))
    np.testing.assert_array_equal(spectrum.counts[:4], [0, 0, 10, 3])
    counts[:2] = (1, 1)  # implausible times (live > real): nothing is zeroed
    spectrum = _read(tmp_path, build_cnf(counts, live_s=12.0, real_s=10.0))
    np.testing.assert_array_equal(spectrum.counts[:3], [1, 1, 10])
    assert spectrum.live_time_s is None and spectrum.real_time_s is None
    assert spectrum.metadata["time_problem"] == "implausible live/real time 12/10 s"


@pytest.mark.parametrize(("live", "real", "plausible"), [
    (10.0, 10.0, True), (10.0, 9.999995, True), (10.0, 9.99999, False), (0.0, 5.0, False),
    (5.0, 2e9, True), (5.0, 1e10, False)])
def test_time_plausibility_bounds(tmp_path, live, real, plausible):
    spectrum = _read(tmp_path, build_cnf(np.full(256, 3), live_s=live, real_s=real))
    assert (spectrum.live_time_s is not None) is plausible
    assert ("time_problem" in spectrum.metadata) is not plausible
    if plausible:
        assert spectrum.live_time_s == pytest.approx(live, abs=1e-7)
        assert spectrum.real_time_s == pytest.approx(real, abs=1e-7)


def test_start_time_and_an_unrepresentable_one(tmp_path):
    assert _read(tmp_path, GOOD).metadata["start_time"] == "2023-11-14T22:13:20"
    data = _patched(GOOD, 1024 + 48 + 200 + 1, struct.pack("<Q", 2**64 - 1))
    assert "start_time" not in _read(tmp_path, data).metadata


def test_calibration_from_the_record_without_offset(tmp_path):
    data = _patched(build_cnf(np.ones(256), coefficients=(0.0, 0.0, 0.0, 0.0)),
                    1024 + 48 + 32 + 36, pdp11_bytes((2.0, 0.5, 0.0, 0.0)))
    spectrum = _read(tmp_path, data)
    assert spectrum.metadata["calibration_source"] == "acquisition block"
    np.testing.assert_allclose(spectrum.calibration.coefficients, (2.0, 0.5))


def test_calibration_problem_is_the_first_records(tmp_path):
    spectrum = _read(tmp_path, build_cnf(np.ones(256), coefficients=(0.0, 1.0, 0.0, 1e-4)))
    problem = spectrum.metadata["calibration_problem"]
    assert problem.startswith("calibration (0.0, 1.0, 0.0, 9.99999") and "not quadratic" in problem
    zero = _read(tmp_path, build_cnf(np.ones(256), coefficients=(0.0, 0.0, 0.0, 0.0)))
    assert zero.metadata["calibration_problem"] == (
        "no usable energy calibration (0.0, 0.0, 0.0, 0.0)")


def test_a_second_acquisition_block_holds_the_calibration(tmp_path):
    """Genie files may list the acquisition block twice; the second one's record is used."""
    data = _patched(GOOD, 256, _entry(0, 2300))
    data = _patched(data, 2300 + 48 + 32 + 400 + 36, pdp11_bytes((7.0, 3.0, 0.0, 0.0)))
    np.testing.assert_allclose(_read(tmp_path, data).calibration.coefficients, (7.0, 3.0))
    beyond = _read(tmp_path, _patched(GOOD, 256, _entry(0, 4600)))
    assert beyond.metadata["calibration_problem"] == (
        "calibration record lies beyond the end of the file")
    assert not beyond.metadata["calibrated"]
    fits = 4608 - (48 + 32 + 36 + 16)  # the record without offset ends at the file's end
    at_end = _patched(_patched(GOOD, 256, _entry(0, fits)), 4608 - 16,
                      pdp11_bytes((9.0, 1.0, 0.0, 0.0)))
    np.testing.assert_allclose(_read(tmp_path, at_end).calibration.coefficients, (9.0, 1.0))


@pytest.mark.parametrize(("raw", "expected"), [
    (b"Sample\x00A", "Sample A"), (b"  \x00 ", None), (b"bad\x07bell", None),
    (b"n" * 70, "n" * 64)])
def test_sample_names(tmp_path, raw, expected):
    spectrum = _read(tmp_path, build_cnf(np.ones(256), sample_name=raw))
    assert spectrum.metadata.get("sample_name") == expected


def test_pdp11_reserved_negative_zero_and_exact_bits():
    raw = np.array([0x00, 0x80, 0x00, 0x00,   # sign set, exponent 0: reserved -> NaN
                    0x80, 0x40, 0x00, 0x00,   # exponent 129, fraction 0.5: 1.0
                    0xC0, 0xC0, 0x01, 0x00,   # sign, exponent 129, fraction .5 + .25 + 2^-24: -1.5..
                    0x00, 0x00, 0x05, 0x00], dtype=np.uint8)
    decoded = pdp11_to_float(raw)
    assert np.isnan(decoded[0])
    assert decoded[1] == 1.0
    assert decoded[2] == -(0.5 + 0.25 + 1 / 2**24) * 2.0
    assert decoded[3] == 0.0  # exponent 0, positive: zero whatever the fraction


def test_more_layout_edges(tmp_path, monkeypatch):
    """A head longer than the entry is still a CNF head; byte 14 of an entry is no part of the
    offset; a 1 s live time in channel 0 is zeroed; a sub-second live time is plausible; a
    calibration record cut by the end of the file is skipped; the result names its file."""
    assert looks_like_cnf(GOOD[:200])
    assert _read(tmp_path, _patched(GOOD, 112 + 14, b"\x07")).n_channels == 256
    counts = np.full(256, 3)
    counts[0] = 1
    spectrum = _read(tmp_path, build_cnf(counts, live_s=1.0, real_s=1.5))
    assert spectrum.counts[0] == 0 and spectrum.live_time_s == 1.0
    short = _read(tmp_path, build_cnf(np.full(256, 3), live_s=0.5, real_s=1.0))
    assert short.live_time_s == 0.5
    cut = _read(tmp_path, _patched(GOOD, 256, _entry(0, 4490)))  # record ends 14 bytes late
    assert cut.metadata["calibration_problem"] == "calibration record lies beyond the end of the file"
    assert spectrum.name == "ok" and spectrum.source == tmp_path / "ok.cnf"
    from engines.spectrum.readers import cnf

    def failing(*args, **kwargs):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(cnf, "read_bytes_limited", failing)
    assert _refusal(tmp_path, GOOD).startswith("r.cnf: not a readable Canberra CNF file (")


def test_acquisition_block_may_end_at_the_end_of_the_file(tmp_path):
    data = _patched(_patched(GOOD, 122, struct.pack("<I", 4416)), 4416, b"\x00\x20")
    with pytest.raises(InputError) as info:
        _read(tmp_path, data)
    assert "acquisition block at byte 4416" not in str(info.value)
