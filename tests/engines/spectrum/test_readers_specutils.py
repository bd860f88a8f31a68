"""The SpecUtils path: the formats InterSpec reads that ours do not, round trips through
SpecUtils' own writers, hostile files as InputErrors, and the cross-check with our readers on
the real spectra."""

from __future__ import annotations

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
