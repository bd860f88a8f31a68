"""Peaks: search, Gaussian + linear background fits checked against hand-computed net areas,
line identification, calibration re-fit, and a real spectrum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.spectrum.peaks import (
    PeakConfig,
    evidence_at,
    find_peaks,
    fit_peaks,
    identify,
    iter_peak_report,
    peak_curve,
    refit_calibration,
    search_peaks,
    with_calibration,
)
from engines.spectrum.spectrum import Calibration, Spectrum

CALIBRATION = Calibration((0.0, 0.5))
N = 4000
CONFIG = PeakConfig(fwhm_1332_kev=1.6)


def synthetic(seed: int, peaks=((1000.3, 5000.0, 1.5),), background=(20.0, 0.005),
              noise: bool = True) -> Spectrum:
    """Gaussian peaks ``(centre keV, area, FWHM keV)`` on ``a + b * channel`` counts."""
    edges = CALIBRATION.edges(N)
    expected = background[0] + background[1] * np.arange(N)
    for centre, area, fwhm in peaks:
        sigma = fwhm / 2.3548
        expected = expected + area * np.diff(ndtr((edges - centre) / sigma))
    counts = np.random.default_rng(seed).poisson(expected) if noise else expected
    return Spectrum(counts.astype(float), CALIBRATION, name=f"synthetic {seed}")


def hand_net_area(spectrum: Spectrum, centre: float, fwhm: float, side: int = 10
                  ) -> tuple[float, float]:
    """The classical ROI method by hand: gross counts within +-1.5 FWHM (99.9 % of a Gaussian)
    minus the background interpolated from ``side`` channels on each side, with its Poisson
    uncertainty."""
    channel = spectrum.calibration.channel(centre)
    half = int(np.ceil(1.5 * fwhm / spectrum.calibration.coefficients[1]))
    lo, hi = int(round(channel)) - half, int(round(channel)) + half + 1
    gross = spectrum.counts[lo:hi].sum()
    left = spectrum.counts[lo - side:lo].mean()
    right = spectrum.counts[hi:hi + side].mean()
    width = hi - lo
    net = gross - 0.5 * (left + right) * width
    variance = gross + (width / 2) ** 2 * (left + right) / side
    return float(net / 0.99932), float(np.sqrt(variance) / 0.99932)


def test_fitted_area_agrees_with_the_hand_computation_and_the_truth():
    spectrum = synthetic(3)
    peaks = [p for p in fit_peaks(spectrum, *search_peaks(spectrum, CONFIG), CONFIG)
             if abs(p.centroid_kev - 1000.3) < 2]
    assert len(peaks) == 1
    peak = peaks[0]
    hand, hand_err = hand_net_area(spectrum, 1000.3, 1.5)
    assert abs(peak.area - hand) < 2 * hand_err
    assert abs(peak.area - 5000) < 3 * peak.area_err
    assert peak.area_err < hand_err  # the fit uses the peak shape: smaller uncertainty
    assert peak.centroid_kev == pytest.approx(1000.3, abs=4 * peak.centroid_err)
    assert peak.fwhm_kev == pytest.approx(1.5, abs=4 * peak.fwhm_err)
    assert peak.background_per_kev == pytest.approx((20 + 0.005 * 2000.6) / 0.5, rel=0.15)


def test_the_uncertainties_are_calibrated_over_many_measurements():
    pulls = []
    for seed in range(60):
        spectrum = synthetic(100 + seed)
        [peak] = [p for p in fit_peaks(spectrum, *search_peaks(spectrum, CONFIG), CONFIG)
                  if abs(p.centroid_kev - 1000.3) < 2]
        pulls.append((peak.area - 5000) / peak.area_err)
    assert abs(np.mean(pulls)) < 0.35 and 0.7 < np.std(pulls) < 1.3


def test_an_exact_spectrum_gives_the_exact_areas_of_a_doublet():
    spectrum = synthetic(0, peaks=((700.0, 3000.0, 1.4), (703.0, 1500.0, 1.4)), noise=False)
    peaks = fit_peaks(spectrum, spectrum.calibration.channel(np.array([700.0, 703.0])).round()
                      .astype(int), None, CONFIG)
    assert [round(p.centroid_kev, 2) for p in peaks] == [700.0, 703.0]
    assert [round(p.area) for p in peaks] == [3000, 1500]
    centres, model = peak_curve(peaks[0], spectrum.edges)
    assert model.max() > spectrum.counts[int(spectrum.calibration.channel(700.0))] * 0.6


def test_search_finds_the_significant_peaks_and_nothing_in_flat_noise():
    flat = synthetic(4, peaks=())
    assert len(find_peaks(flat, PeakConfig(fwhm_1332_kev=1.6, threshold=5.0))) == 0
    spectrum = synthetic(5, peaks=((600.0, 4000.0, 1.3), (1500.0, 800.0, 1.9),
                                   (1600.0, 30.0, 1.9)))
    found = [p.centroid_kev for p in find_peaks(spectrum, PeakConfig(fwhm_1332_kev=1.6,
                                                                      threshold=5.0))]
    assert any(abs(e - 600) < 1 for e in found) and any(abs(e - 1500) < 1 for e in found)
    assert not any(abs(e - 1600) < 2 for e in found)  # 30 counts on ~2000: not significant


def test_identification_within_half_the_resolution():
    spectrum = synthetic(6, peaks=((1460.8, 3000.0, 1.9), (7631.1 - 511.0, 0, 1.0)))
    [peak] = [p for p in find_peaks(spectrum, CONFIG) if abs(p.centroid_kev - 1460.8) < 2]
    assert peak.line == "K-40"
    far = type(peak)(**{**peak.__dict__, "centroid_kev": 1466.0, "matches": []})
    assert all(abs(m["energy_kev"] - 1466.0) <= 0.5 * float(CONFIG.fwhm(1466.0)) + 1e-9
               for m in identify(far, CONFIG))
    escape = type(peak)(**{**peak.__dict__, "centroid_kev": 7120.1, "centroid_err": 0.05})
    assert "Fe 7631.1 SE" in [m["line"] for m in identify(escape, CONFIG)]


def test_calibration_refit_recovers_the_true_calibration():
    true = Calibration((1.2, 0.7021, 3e-9))
    channels = np.array([500.0, 2100.0, 6300.0, 10800.0])
    energies = true.energy(channels)
    refit, residuals = refit_calibration(channels, energies)
    np.testing.assert_allclose(refit.coefficients, true.coefficients, rtol=1e-6, atol=1e-9)
    assert np.max(np.abs(residuals)) < 1e-6
    linear, _ = refit_calibration(channels[:2], energies[:2])
    assert len(linear.coefficients) == 2
    for bad in ((channels[:1], energies[:1]), (channels[:2], energies[:2][::-1])):
        with pytest.raises(InputError):
            refit_calibration(*bad)
    spectrum = synthetic(7)
    again = with_calibration(spectrum, refit, ["a", "b", "c", "d"])
    assert again.calibration == refit and "re-fit from 4 lines" in \
        again.metadata["calibration_source"] and again.name.endswith("(recalibrated)")


def test_report_carries_curves_and_the_cam_at_each_peak():
    spectrum = synthetic(8)
    evidence = np.zeros(N)
    evidence[int(spectrum.calibration.channel(1000.3))] = -2.0
    evidence[10] = 4.0
    report = drive(iter_peak_report(spectrum, CONFIG, evidence))
    index = [i for i, p in enumerate(report.peaks) if abs(p.centroid_kev - 1000.3) < 2][0]
    assert report.evidence[index] == pytest.approx(-0.5)
    assert len(report.curves) == len(report.peaks)
    assert np.isnan(evidence_at(report.peaks, spectrum.edges, np.full(N, np.nan))).all()
    uncalibrated = Spectrum(spectrum.counts, CALIBRATION, metadata={"calibrated": False})
    with pytest.raises(InputError, match="no energy calibration"):
        find_peaks(uncalibrated)


def test_real_spectrum_natural_lines(shared_spectra):
    from engines.spectrum.readers import read_spectrum

    beach = read_spectrum(shared_spectra / "01122014152731-GT01122014182338-GA37.4963000N-"
                                           "GO122.4633000W.cnf")
    peaks = find_peaks(beach, PeakConfig(fwhm_1332_kev=1.9, threshold=5.0))
    lines = {p.line for p in peaks}
    assert {"Pb-214 352", "Tl-208 583", "Ac-228 911", "Tl-208"} <= lines
    tl = next(p for p in peaks if p.line == "Tl-208")
    assert 1000 < tl.area < 2500 and tl.area_err < 0.05 * tl.area
