"""The checks every spectrum reader shares: numbers, counts, channel counts, calibrations, times."""

import re
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import _common
from engines.spectrum.readers._common import (
    calibration_problem,
    check_channel_count,
    check_counts,
    check_time,
    fit_calibration,
    make_spectrum,
    parse_numbers,
    polynomial_calibration,
    shift_calibration,
)
from engines.spectrum.spectrum import MAX_CHANNELS, Calibration

PATH = Path("/data/run 7.csv")


def test_parse_numbers_names_the_first_bad_token_and_where_it_is():
    values = parse_numbers(PATH, ["1", " 2.5", "-3e2"], "counts")
    assert values.dtype == np.float64 and values.tolist() == [1.0, 2.5, -300.0]
    with pytest.raises(InputError, match=r"^run 7.csv: counts: line 7 is not a number: "
                                         r"'x{40}'$"):
        parse_numbers(PATH, ["1", "x" * 50, "y"], "counts", positions=[4, 7, 9])
    with pytest.raises(InputError, match=r"^run 7.csv: data: value 13 is not a number: 'abc'$"):
        parse_numbers(PATH, ["1", "2", "abc", "d"], "data", first_index=10)
    with pytest.raises(InputError, match=r"^run 7.csv: counts: value 2 is 'nan' \(NaN or "
                                         r"infinite\)$"):
        parse_numbers(PATH, ["1", "nan", "inf"], "counts")
    with pytest.raises(InputError, match=r"^run 7.csv: counts: line 9 is '1e999'"):
        parse_numbers(PATH, ["1", "2", "1e999"], "counts", positions=[5, 8, 9])


def test_check_counts_refusals_name_the_problem():
    checked = check_counts(PATH, np.array([0, 3, 1], dtype=np.int32))
    assert checked.dtype == np.float64 and checked.tolist() == [0.0, 3.0, 1.0]
    for counts, message in (
            (np.ones(1), r"^run 7.csv: counts: need at least 2 channels, found 1$"),
            (np.ones((2, 3)), r"^run 7.csv: counts: need at least 2 channels, found 6$"),
            (np.array([1.0, np.inf]), r"^run 7.csv: counts: NaN or infinite counts$"),
            (np.array([1.0, 1e300]), r"^run 7.csv: counts: value 1e\+300 at index 1"),
            (np.array([0.0, 1.0, -2.5, -1.0]),
             r"^run 7.csv: counts: negative count -2.5 in channel 2$")):
        with pytest.raises(InputError, match=message):
            check_counts(PATH, counts)
    with pytest.raises(InputError, match=r"^run 7.csv: spectrum 2: need at least"):
        check_counts(PATH, np.ones(1), "spectrum 2")


def test_check_counts_channel_limit_is_exact(monkeypatch):
    monkeypatch.setattr(_common, "MAX_CHANNELS", 4)
    assert check_counts(PATH, np.ones(4)).size == 4
    with pytest.raises(InputError, match=r"^run 7.csv: counts: 5 channels exceeds the limit of "
                                         r"4$"):
        check_counts(PATH, np.ones(5))


@pytest.mark.parametrize("n", [2, MAX_CHANNELS, np.int64(300)])
def test_channel_counts_in_range(n):
    assert check_channel_count(PATH, n, "header") == n
    assert type(check_channel_count(PATH, n, "header")) is int


@pytest.mark.parametrize("n", [1, 0, -5, MAX_CHANNELS + 1])
def test_channel_counts_out_of_range(n):
    with pytest.raises(InputError, match=rf"^run 7.csv: \$MCA_CAL declares {n} channels "
                                         rf"\(expected 2 to {MAX_CHANNELS}\)$"):
        check_channel_count(PATH, n, "$MCA_CAL")


@pytest.mark.parametrize(("coefficients", "expected"), [
    ((5.0, 2.0), (5.0, 2.0)),
    ((5.0, 2.0, 0.0, 0.0), (5.0, 2.0)),  # vanishing higher terms are dropped
    ((-1.0, 0.5, 1e-4, 0.0), (-1.0, 0.5, 1e-4)),
    ((0.0, 1.0, 0.0, 0.0, 0.0), (0.0, 1.0)),
])
def test_polynomial_calibration_keeps_what_is_needed(coefficients, expected):
    calibration, reason = polynomial_calibration(coefficients, 100)
    assert calibration.coefficients == expected and reason == ""


def test_polynomial_calibration_refits_a_negligible_cubic():
    calibration, reason = polynomial_calibration((2.0, 0.5, 1e-6, 1e-13), 1000)
    assert reason == "" and len(calibration.coefficients) == 3
    channels = np.arange(1000.0)
    exact = 2.0 + 0.5 * channels + 1e-6 * channels**2 + 1e-13 * channels**3
    assert np.max(np.abs(calibration.energy(channels) - exact)) < 0.2 * 0.5


@pytest.mark.parametrize(("coefficients", "reason"), [
    ((1.0,), r"^no usable energy calibration \(1\.0,\)$"),
    ((), r"^no usable energy calibration \(\)$"),
    ((3.0, 0.0, 0.01), r"^no usable energy calibration \(3\.0, 0\.0, 0\.01\)$"),
    ((0.0, 1.0, float("nan")), r"^no usable energy calibration \(0\.0, 1\.0, nan\)$"),
    ((0.0, 1.0, 0.0, 1e-3), r"^calibration \(0\.0, 1\.0, 0\.0, 0\.001\) is not quadratic: "
                            r"energies are not a linear or quadratic function"),
    ((100.0, -1.0), r"^energy calibration \(100\.0, -1\.0\) is not increasing$"),
])
def test_polynomial_calibration_says_why_not(coefficients, reason):
    calibration, why = polynomial_calibration(coefficients, 1000)
    assert calibration is None
    assert re.match(reason, why), why


def test_calibration_problem_bounds_are_exact():
    assert calibration_problem(Calibration((5e7, 1e8)), 10) == ""  # top edge exactly 1e9 keV
    assert calibration_problem(Calibration((-1e9 + 5e7, 1e8)), 10) == ""  # bottom edge -1e9
    assert calibration_problem(Calibration((5e7 + 1, 1e8)), 10) == (
        "energy calibration (50000001.0, 100000000.0) gives energies beyond 1e+09 keV over 10 "
        "channels")
    assert "beyond" in calibration_problem(Calibration((-2e9, 1.0)), 10)
    assert "beyond" in calibration_problem(Calibration((0.0, 1e308)), 10)  # overflows to inf
    assert calibration_problem(Calibration((0.0, 1.0)), 1) == \
        "energy calibration (0.0, 1.0) is not increasing"
    # a quadratic that turns back inside the grid (at channel 50)
    assert calibration_problem(Calibration((0.0, 1.0, -0.01)), 100).endswith("not increasing")
    assert calibration_problem(Calibration((0.0, 1.0, -0.01)), 50) == ""


@pytest.mark.parametrize("seconds", [0, 0.0, 12, 1e10])
def test_plausible_times(seconds):
    assert check_time(PATH, seconds, "live time") == seconds
    assert type(check_time(PATH, seconds, "live time")) is float
    assert check_time(PATH, None, "live time") is None


@pytest.mark.parametrize(("seconds", "shown"), [(-1, "-1"), (1.5e10, "1.5e+10"),
                                                (float("nan"), "nan"), (-1e-9, "-1e-09")])
def test_implausible_times(seconds, shown):
    with pytest.raises(InputError, match=rf"^run 7.csv: real time of {re.escape(shown)} s is not a "
                                         r"plausible time \(0 to 1e\+10 s\)$"):
        check_time(PATH, seconds, "real time")


def test_make_spectrum_checks_counts_calibration_and_both_times():
    spectrum = make_spectrum(PATH, np.array([1, 2, 3]), Calibration((0.0, 2.0)), 10, 12.5,
                             name="x")
    assert spectrum.live_time_s == 10.0 and spectrum.real_time_s == 12.5
    assert spectrum.source == PATH and spectrum.counts.tolist() == [1.0, 2.0, 3.0]
    assert spectrum.name == "x"
    with pytest.raises(InputError, match=r"^run 7.csv: energy calibration \(0\.0, 1\.0, -0\.5\) "
                                         r"is not increasing$"):
        make_spectrum(PATH, np.ones(4), Calibration((0.0, 1.0, -0.5)), None, None)
    with pytest.raises(InputError, match=r"^run 7.csv: live time of -2 s"):
        make_spectrum(PATH, np.ones(4), Calibration((0.0, 1.0)), -2, 5)
    with pytest.raises(InputError, match=r"^run 7.csv: real time of -3 s"):
        make_spectrum(PATH, np.ones(4), Calibration((0.0, 1.0)), 2, -3)
    with pytest.raises(InputError, match=r"^run 7.csv: counts: negative"):
        make_spectrum(PATH, -np.ones(4), Calibration((0.0, 1.0)), 2, 3)


def test_fit_calibration_of_channels_not_starting_at_zero():
    calibration, reason = fit_calibration(np.array([10.0, 20.0, 30.0]), np.array([5.0, 7.0, 9.0]))
    assert reason == "" and calibration.coefficients == pytest.approx((3.0, 0.2))
    calibration, _ = fit_calibration(np.array([5.0, 6.0]), np.array([10.0, 12.0]))
    assert calibration.coefficients == pytest.approx((0.0, 2.0))
    channels = np.array([100.0, 300.0, 700.0, 1500.0])
    energies = 4.0 + 0.3 * channels + 2e-5 * channels**2
    calibration, reason = fit_calibration(channels, energies)
    assert reason == "" and calibration.coefficients == pytest.approx((4.0, 0.3, 2e-5))
    # a line rounded to 0.001 keV stays a line (the quadratic only fits the rounding)
    channels = np.arange(0.0, 4000.0, 250.0)
    calibration, _ = fit_calibration(channels, np.round(1.7 + 0.36 * channels, 3))
    assert len(calibration.coefficients) == 2


@pytest.mark.parametrize(("channels", "energies", "reason"), [
    ([3.0], [10.0], r"^fewer than 2 energies$"),
    ([0.0, 1.0], [1.0, np.nan], r"^energies are not finite$"),
    ([0.0, 1.0], [1.0, -2e9], r"^energies beyond 1e\+09 keV are not gamma-ray energies$"),
    ([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 2.0, 4.0], r"^energies do not increase \(row 3: 2 keV\)$"),
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 10.0, 11.0],
     r"^energies are not a linear or quadratic function of the channel \(best fit is off by "
     r"[0-9.]+ keV, more than 0.2 channel\)$"),
    ([0.0, 1.0, 2.0], [1e8, 5e8, 1e9], r"^energy calibration .* gives energies beyond"),
])
def test_fit_calibration_says_why_not(channels, energies, reason):
    calibration, why = fit_calibration(np.array(channels), np.array(energies))
    assert calibration is None
    assert re.match(reason, why), why


def test_shift_calibration_of_a_line_and_a_quadratic():
    assert shift_calibration(Calibration((1.0, 2.0)), 3.0).coefficients == (7.0, 2.0)
    shifted = shift_calibration(Calibration((1.0, 2.0, 0.5)), -4.0)
    assert shifted.coefficients == (1.0 - 8.0 + 8.0, 2.0 - 4.0, 0.5)
    channels = np.array([0.0, 3.0, 10.0])
    np.testing.assert_allclose(shifted.energy(channels),
                               Calibration((1.0, 2.0, 0.5)).energy(channels - 4.0))


def test_exact_lines_at_scattered_channels_stay_lines():
    """Rounding residuals (1e-11 keV) must not make the quadratic look better than the line."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        channels = np.sort(rng.choice(16384, rng.integers(3, 40), replace=False)).astype(float)
        offset, slope = rng.uniform(-20, 20), rng.uniform(0.05, 3)
        calibration, reason = fit_calibration(channels, offset + slope * channels)
        assert reason == "" and len(calibration.coefficients) == 2
        assert calibration.coefficients == pytest.approx((offset, slope), abs=1e-6)


def test_channels_too_far_apart_to_fit():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's overflow warnings on the way to the error
        assert fit_calibration(np.array([0.0, 1e200, 2e200]), np.array([1.0, 2.0, 3.0])) == \
            (None, "energies cannot be fitted by a polynomial")


def test_calibration_problem_zero_width_channel_and_no_warnings():
    import warnings

    # edges -0.625, 0.375, 0.375 keV: the second channel has no width
    assert calibration_problem(Calibration((0.0, 1.0, -0.5)), 2).endswith("is not increasing")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow must not print a warning line as well
        assert "beyond" in calibration_problem(Calibration((1e308, 1e308, 1e308)), 100)


@pytest.mark.parametrize("module, reader, name, text, kind", [
    ("csv_format", "read_csv", "io.csv", "Energy,Counts\n1,2\n2,3\n", "CSV spectrum"),
    ("spe", "read_spe", "io.spe", "$DATA:\n0 1\n1\n2\n", ".Spe spectrum"),
])
def test_a_read_fault_names_the_kind_of_file(tmp_path, monkeypatch, module, reader, name, text,
                                             kind):
    """An OSError while reading a text reader's file is one InputError naming the file and
    the kind of file it was read as."""
    import importlib

    readers = importlib.import_module(f"engines.spectrum.readers.{module}")

    def failing(*args, **kwargs):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(readers, "open_text_limited", failing)
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        getattr(readers, reader)(path)
    assert str(info.value).startswith(f"{name}: not a readable {kind} (")
