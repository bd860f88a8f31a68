"""Count-conserving rebinning via the cumulative counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.core.errors import InputError
from engines.spectrum.rebin import overlap_fraction, rebin, rebin_counts
from engines.spectrum.spectrum import Calibration, EnergyGrid, Spectrum


def test_identity_when_grids_match():
    counts = np.random.default_rng(0).poisson(20, 300).astype(float)
    grid = EnergyGrid(Calibration((2.0727, 0.704981)), 300)
    np.testing.assert_allclose(rebin(Spectrum(counts, grid.calibration), grid), counts,
                               atol=1e-9)


def test_half_channel_shift_splits_counts_evenly():
    counts = np.array([0.0, 10.0, 0.0, 0.0])
    source = Calibration((0.0, 1.0)).edges(4)  # -0.5, 0.5, ... 3.5
    target = source + 0.5
    np.testing.assert_allclose(rebin_counts(counts, source, target), [5.0, 5.0, 0.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(offset=st.floats(-50, 50), gain=st.floats(0.05, 3.0), quad=st.floats(-1e-5, 1e-5),
       n=st.integers(2, 400), seed=st.integers(0, 2**16))
def test_total_conserved_when_target_covers_source(offset, gain, quad, n, seed):
    source = Calibration((offset, gain, quad))
    if np.any(np.diff(source.edges(n)) <= 0):
        return  # not a valid calibration for this many channels
    counts = np.random.default_rng(seed).poisson(5, n).astype(float)
    spectrum = Spectrum(counts, source)
    lo, hi = spectrum.edges[0], spectrum.edges[-1]
    target = EnergyGrid(Calibration((lo - 7.3, (hi - lo + 20) / 257)), 257)
    result = rebin(spectrum, target)
    assert result.shape == (257,) and result.dtype == np.float64
    assert np.all(result >= 0)
    assert result.sum() == pytest.approx(counts.sum(), rel=1e-9, abs=1e-9)


def test_peak_lands_at_its_energy_with_a_quadratic_source():
    source = Calibration((-3.0, 0.4, 2e-5))
    n = 4000
    line_kev = 1460.8
    centre = source.channel(line_kev)
    channels = np.arange(n)
    counts = 1e4 * np.exp(-0.5 * ((channels - centre) / 3.0) ** 2)
    grid = EnergyGrid(Calibration((2.0727, 0.704981)), 4000)
    result = rebin(Spectrum(counts, source), grid)
    centroid = (result * grid.energies).sum() / result.sum()
    assert centroid == pytest.approx(line_kev, abs=0.05)
    assert grid.energies[np.argmax(result)] == pytest.approx(line_kev, abs=0.71)


def test_counts_outside_the_grid_are_dropped_and_uncovered_channels_are_zero():
    counts = np.ones(100)  # 1 count per keV from -0.5 to 99.5 keV
    spectrum = Spectrum(counts, Calibration((0.0, 1.0)))
    grid = EnergyGrid(Calibration((50.0, 2.0)), 60)  # 49 .. 169 keV
    result = rebin(spectrum, grid)
    assert result.sum() == pytest.approx(99.5 - 49.0)
    assert result[25] == pytest.approx(0.5)  # 99..101 keV: half inside the source
    assert np.all(result[grid.edges[:-1] >= 99.5] == 0)
    assert overlap_fraction(spectrum, grid) == pytest.approx(50.5 / 100)


def test_overlap_fraction_of_an_empty_spectrum_is_zero():
    empty = Spectrum(np.zeros(100), Calibration((0.0, 1.0)))
    assert overlap_fraction(empty, EnergyGrid(Calibration((0.0, 1.0)), 100)) == 0.0


def test_batched_matches_single():
    rng = np.random.default_rng(3)
    counts = rng.poisson(8, (5, 3, 120)).astype(float)
    source = Calibration((1.0, 0.9, 1e-4)).edges(120)
    target = np.linspace(-5.0, 140.0, 77)
    batched = rebin_counts(counts, source, target)
    assert batched.shape == (5, 3, 76)
    single = np.array([rebin_counts(c, source, target) for c in counts.reshape(15, 120)])
    np.testing.assert_allclose(batched.reshape(15, 76), single, atol=1e-9)


@pytest.mark.parametrize(("counts", "source", "target", "message"), [
    (np.ones(3), np.arange(5.0), np.arange(3.0), "do not match"),
    (np.ones(3), np.array([0.0, 1.0, 1.0, 2.0]), np.arange(3.0), "strictly increasing"),
    (np.ones(3), np.arange(4.0), np.array([0.0]), "at least 2"),
    (np.ones(3), np.arange(4.0), np.array([0.0, np.nan]), "finite"),
])
def test_bad_inputs(counts, source, target, message):
    with pytest.raises(InputError, match=message):
        rebin_counts(counts, source, target)
