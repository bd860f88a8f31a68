"""Peaks and net areas, the classical explainable peer beside the CNN and its CAM.

* **Search** (:func:`search_peaks`): a zero-area filter (negated second derivative of a
  Gaussian of the detector's width at that energy) over the spectrum; its response divided by
  its Poisson standard deviation is a significance, and local maxima above the threshold are
  peak candidates (Mariscotti's method in its usual form).
* **Fit** (:func:`fit_peaks`): every group of overlapping candidates is fitted by Poisson
  maximum likelihood (least squares on deviance residuals) as channel-integrated Gaussians on a
  linear background over ``+- roi_fwhm`` FWHM. Each peak gets its centroid, FWHM and net area
  (the Gaussian's area) with standard uncertainties from the inverse Fisher information.
* **Identify** (:func:`identify`): prompt-gamma lines of the elements (their single and double
  escape peaks above 1022 keV), the annihilation line and common natural/activation lines
  within half the detector FWHM (or two centroid uncertainties) of each centroid.
* **Calibrate** (:func:`refit_calibration`): a linear (two lines) or quadratic (three or more)
  energy calibration through the centroids' channels and the identified lines' energies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.special import ndtr

from engines.core.config import param, validate
from engines.core.errors import InputError
from engines.spectrum.spectrum import Calibration, Spectrum
from engines.spectrum.synthetic.nuclear_data import (
    ANNIHILATION_KEV,
    ELECTRON_MASS_KEV,
    ELEMENTS,
    K40_KEV,
    TL208_KEV,
)

SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Natural-background and common activation lines (keV) besides the capture lines.
DECAY_LINES: dict[str, float] = {
    "e+e- annihilation": ANNIHILATION_KEV, "K-40": K40_KEV, "Tl-208": TL208_KEV,
    "Tl-208 583": 583.2, "Bi-214 609": 609.3, "Bi-214 1764": 1764.5, "Pb-214 352": 351.9,
    "Ac-228 911": 911.2, "Cs-137": 661.7, "Co-60 1173": 1173.2, "Co-60 1332": 1332.5,
    "Na-24 1369": 1368.6, "Na-24 2754": 2754.0, "Mn-56 847": 846.8,
    "Eu-152 122": 121.8, "Eu-152 344": 344.3, "Eu-152 779": 778.9, "Eu-152 964": 964.1,
    "Eu-152 1112": 1112.1, "Eu-152 1408": 1408.0, "Sc-46 889": 889.3, "Sc-46 1121": 1120.5,
    "Cs-134 605": 604.7, "Cs-134 796": 795.9,
}
ESCAPE_MIN_YIELD = 0.1  # escape peaks are listed for capture lines at least this strong


@dataclass
class PeakConfig:
    """Peak search and fit settings."""

    fwhm_1332_kev: float = param(1.8, label="FWHM at 1332 keV", unit="keV",
                                 range=(0.1, 200.0), step=0.1, decimals=2,
                                 help="detector resolution; FWHM^2 = a^2 + b E with "
                                      "a = min(0.745 keV, FWHM/2)")
    threshold: float = param(4.0, label="Significance", unit="sigma", range=(1.0, 100.0),
                             step=0.5, help="smallest filter significance of a peak")
    roi_fwhm: float = param(3.0, label="Fit region", unit="FWHM", range=(1.5, 10.0), step=0.5,
                            help="half width of a fit region around the outermost centroids")
    max_peaks: int = param(300, label="At most", range=(1, 5000), help="strongest peaks kept")

    def __post_init__(self) -> None:
        validate(self)

    def fwhm(self, energy_kev: np.ndarray | float) -> np.ndarray:
        """Expected FWHM in keV at ``energy_kev``."""
        noise = min(0.745, 0.5 * self.fwhm_1332_kev)
        slope = (self.fwhm_1332_kev ** 2 - noise ** 2) / 1332.0
        return np.sqrt(noise ** 2 + slope * np.maximum(np.asarray(energy_kev, float), 0.0))


@dataclass
class Peak:
    """A fitted peak (energies in keV, area in counts; ``*_err`` are standard uncertainties)."""

    centroid_kev: float
    centroid_err: float
    fwhm_kev: float
    fwhm_err: float
    area: float
    area_err: float
    channel: float
    significance: float
    background_per_kev: float  # fitted background at the centroid, counts per keV
    background_slope: float  # counts per keV per keV
    matches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def background(self) -> float:
        """Background counts under +-1 FWHM of the centroid."""
        return max(self.background_per_kev, 0.0) * 2.0 * self.fwhm_kev

    @property
    def line(self) -> str:
        """The best-matching line, or ``""``."""
        return self.matches[0]["line"] if self.matches else ""

    def to_json(self) -> dict[str, Any]:
        return {"centroid_kev": self.centroid_kev, "centroid_err": self.centroid_err,
                "fwhm_kev": self.fwhm_kev, "fwhm_err": self.fwhm_err, "area": self.area,
                "area_err": self.area_err, "channel": self.channel,
                "significance": self.significance, "background": self.background,
                "matches": self.matches}


def filter_significance(spectrum: Spectrum, config: PeakConfig) -> np.ndarray:
    """Significance (n_channels,) of the zero-area filter at every channel."""
    counts, energies = spectrum.counts, spectrum.energies
    widths = np.diff(spectrum.edges)
    sigma_ch = np.maximum(config.fwhm(energies) * SIGMA_PER_FWHM / widths, 0.8)
    out = np.zeros(counts.size)
    # channels whose width in channels agrees within 10 % share one kernel
    bands = np.floor(np.log(sigma_ch) / np.log(1.1)).astype(np.int64)
    for band in np.unique(bands):
        rows = bands == band
        sigma = float(np.median(sigma_ch[rows]))
        half = int(np.ceil(4.0 * sigma))
        x = np.arange(-half, half + 1, dtype=np.float64)
        kernel = (1.0 - (x / sigma) ** 2) * np.exp(-0.5 * (x / sigma) ** 2)
        kernel -= kernel.mean()
        response = np.convolve(counts, kernel[::-1], mode="same")
        variance = np.convolve(counts, (kernel ** 2)[::-1], mode="same")
        out[rows] = response[rows] / np.sqrt(np.maximum(variance[rows], 1.0))
    return out


def search_peaks(spectrum: Spectrum, config: PeakConfig | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Candidate peak channels (P,) int64 and their significance (P,), strongest first (at
    most ``max_peaks``), from local maxima of :func:`filter_significance` above the threshold
    at least half a FWHM apart."""
    config = config or PeakConfig()
    z = filter_significance(spectrum, config)
    local = np.r_[False, (z[1:-1] > z[:-2]) & (z[1:-1] >= z[2:]), False]
    candidates = np.flatnonzero(local & (z >= config.threshold))
    order = candidates[np.argsort(z[candidates])[::-1]]
    energies = spectrum.energies
    kept: list[int] = []
    for channel in order:
        half = 0.5 * float(config.fwhm(energies[channel]))
        if all(abs(energies[channel] - energies[k]) >= half for k in kept):
            kept.append(int(channel))
        if len(kept) >= config.max_peaks:
            break
    kept_array = np.array(kept, dtype=np.int64)
    return kept_array, z[kept_array]


def _model(params: np.ndarray, n_peaks: int, lo: np.ndarray, hi: np.ndarray,
           reference: float) -> np.ndarray:
    """Expected counts per channel of ``n_peaks`` Gaussians (area, centroid, sigma) and a
    linear background (counts per keV at ``reference``, slope per keV)."""
    out = (params[-2] + params[-1] * (0.5 * (lo + hi) - reference)) * (hi - lo)
    for p in range(n_peaks):
        area, mu, sigma = params[3 * p:3 * p + 3]
        out = out + area * (ndtr((hi - mu) / sigma) - ndtr((lo - mu) / sigma))
    return out


def _deviance_residuals(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    expected = np.maximum(expected, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(observed > 0, observed * np.log(observed / expected), 0.0)
    return np.sign(observed - expected) * np.sqrt(np.maximum(2.0 * (expected - observed + term),
                                                             0.0))


def _fit_group(spectrum: Spectrum, channels: list[int], significance: list[float],
               config: PeakConfig) -> list[Peak]:
    edges, counts, energies = spectrum.edges, spectrum.counts, spectrum.energies
    centres = energies[channels]
    widths = config.fwhm(centres)
    low = centres.min() - config.roi_fwhm * widths[np.argmin(centres)]
    high = centres.max() + config.roi_fwhm * widths[np.argmax(centres)]
    start = int(np.searchsorted(edges, low, side="right")) - 1
    stop = int(np.searchsorted(edges, high, side="left"))
    if start < 0 or stop > spectrum.n_channels or stop - start < 3 * len(channels) + 3:
        return []  # the fit region is cut by the end of the spectrum, or too narrow
    lo, hi, y = edges[start:stop], edges[start + 1:stop + 1], counts[start:stop]
    reference = 0.5 * (lo[0] + hi[-1])
    side = max(2, (stop - start) // 8)
    edge_level = np.r_[y[:side], y[-side:]] / np.r_[hi[:side] - lo[:side],
                                                    hi[-side:] - lo[-side:]]
    background = float(np.median(edge_level))
    sigmas = widths * SIGMA_PER_FWHM
    initial, lower, upper = [], [], []
    for mu, s in zip(centres, sigmas, strict=True):
        window = (lo > mu - 2 * s) & (hi < mu + 2 * s)
        net = float(y[window].sum() - background * (hi[window] - lo[window]).sum())
        initial += [max(net, 1.0), mu, s]
        lower += [0.0, mu - 2.0 * s, 0.4 * s]
        upper += [np.inf, mu + 2.0 * s, 2.5 * s]
    initial += [max(background, 1e-3), 0.0]
    lower += [0.0, -np.inf]
    upper += [np.inf, np.inf]
    n = len(channels)
    initial = np.clip(initial, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    fit = least_squares(lambda p: _deviance_residuals(y, _model(p, n, lo, hi, reference)),
                        initial, bounds=(lower, upper), x_scale="jac", max_nfev=400)
    params = fit.x
    expected = np.maximum(_model(params, n, lo, hi, reference), 1e-9)
    jacobian = np.empty((y.size, params.size))
    for j in range(params.size):
        step = 1e-6 * max(abs(params[j]), 1e-3)
        shifted = params.copy()
        shifted[j] += step
        jacobian[:, j] = (_model(shifted, n, lo, hi, reference) - expected) / step
    fisher = jacobian.T @ (jacobian / expected[:, None])
    covariance = np.linalg.pinv(fisher)
    errors = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    peaks = []
    at_bound = np.isclose(params, lower) | np.isclose(params, upper)
    for p, z in enumerate(significance):
        area, mu, sigma = params[3 * p:3 * p + 3]
        if at_bound[3 * p + 1] or at_bound[3 * p + 2]:
            continue  # centroid or width ran into its limit: not a peak of this shape
        fwhm = sigma / SIGMA_PER_FWHM
        level = params[-2] + params[-1] * (mu - reference)
        peaks.append(Peak(float(mu), float(errors[3 * p + 1]), float(fwhm),
                          float(errors[3 * p + 2] / SIGMA_PER_FWHM), float(area),
                          float(errors[3 * p]), float(spectrum.calibration.channel(mu)),
                          float(z), float(level), float(params[-1])))
    return peaks


def fit_peaks(spectrum: Spectrum, channels: np.ndarray, significance: np.ndarray | None = None,
              config: PeakConfig | None = None) -> list[Peak]:
    """Fit peaks at candidate ``channels`` (overlapping ones together); sorted by energy.

    Dropped: peaks whose fit region runs past an end of the spectrum, whose centroid or width
    ends at its limit (+-2 sigma, 0.4-2.5 times the expected width) and whose area is not
    above zero.
    """
    config = config or PeakConfig()
    channels = np.asarray(channels, dtype=np.int64).ravel()
    if channels.size and (channels.min() < 0 or channels.max() >= spectrum.n_channels):
        raise InputError("peak channels lie outside the spectrum")
    z = np.zeros(channels.size) if significance is None else np.asarray(significance, float)
    strength = dict(zip(channels.tolist(), z.tolist(), strict=True))
    channels = np.unique(channels)
    energies = spectrum.energies
    groups: list[list[int]] = []
    for channel in channels.tolist():
        reach = 2.0 * config.roi_fwhm * float(config.fwhm(energies[channel]))
        if groups and energies[channel] - energies[groups[-1][-1]] < reach:
            groups[-1].append(channel)
        else:
            groups.append([channel])
    peaks = []
    for group in groups:
        peaks += _fit_group(spectrum, group, [strength[c] for c in group], config)
    return sorted((p for p in peaks if p.area > 0), key=lambda p: p.centroid_kev)


def find_peaks(spectrum: Spectrum, config: PeakConfig | None = None) -> list[Peak]:
    """Search, fit and identify the peaks of a calibrated spectrum."""
    config = config or PeakConfig()
    if not spectrum.metadata.get("calibrated", True):
        name = spectrum.source.name if spectrum.source else (spectrum.name or "spectrum")
        raise InputError(f"{name}: has no energy calibration; peaks need energies")
    channels, significance = search_peaks(spectrum, config)
    peaks = fit_peaks(spectrum, channels, significance, config)
    for peak in peaks:
        peak.matches = identify(peak, config)
    return peaks


def line_library() -> list[tuple[str, float, float]]:
    """``(label, energy keV, weight)`` of every line a peak may be: capture lines (weight =
    photons per capture), their escape peaks, and :data:`DECAY_LINES` (weight 1)."""
    lines = []
    for symbol, element in ELEMENTS.items():
        for energy, intensity in element.lines:
            lines.append((f"{symbol} {energy:.1f}", energy, intensity))
            if energy > 2 * ELECTRON_MASS_KEV and intensity >= ESCAPE_MIN_YIELD:
                lines.append((f"{symbol} {energy:.1f} SE", energy - ELECTRON_MASS_KEV,
                              0.5 * intensity))
                lines.append((f"{symbol} {energy:.1f} DE", energy - 2 * ELECTRON_MASS_KEV,
                              0.3 * intensity))
    lines += [(name, energy, 1.0) for name, energy in DECAY_LINES.items()]
    return lines


def identify(peak: Peak, config: PeakConfig | None = None, limit: int = 4
             ) -> list[dict[str, Any]]:
    """Lines within ``max(FWHM / 2, 2 * centroid uncertainty)`` of the centroid, closest first:
    ``[{"line", "energy_kev", "delta_kev"}, ...]`` (at most ``limit``)."""
    config = config or PeakConfig()
    tolerance = max(0.5 * float(config.fwhm(peak.centroid_kev)), 2.0 * peak.centroid_err)
    found = [(abs(energy - peak.centroid_kev) / tolerance - 0.05 * weight, label, energy)
             for label, energy, weight in line_library()
             if abs(energy - peak.centroid_kev) <= tolerance]
    return [{"line": label, "energy_kev": energy, "delta_kev": peak.centroid_kev - energy}
            for _, label, energy in sorted(found)[:limit]]


def refit_calibration(channels: np.ndarray, energies_kev: np.ndarray, degree: int | None = None
                      ) -> tuple[Calibration, np.ndarray]:
    """Energy calibration through (channel, energy) pairs of identified peaks.

    Parameters
    ----------
    channels, energies_kev
        (n,) fitted centroid channels and the identified lines' energies, n >= 2.
    degree
        1 or 2 (default: 1 for two pairs, 2 for three or more).

    Returns
    -------
    The calibration and the residuals (n,) in keV (line energy minus calibrated centroid).
    """
    channels = np.asarray(channels, dtype=np.float64)
    energies = np.asarray(energies_kev, dtype=np.float64)
    if channels.shape != energies.shape or channels.ndim != 1 or channels.size < 2:
        raise InputError("a calibration needs at least two identified peaks")
    if np.unique(np.round(channels, 3)).size < channels.size:
        raise InputError("two identified peaks share one channel")
    degree = (1 if channels.size == 2 else 2) if degree is None else int(degree)
    if degree not in (1, 2) or channels.size <= degree:
        raise InputError(f"a degree-{degree} calibration needs at least {degree + 1} peaks")
    coefficients = np.polynomial.polynomial.polyfit(channels, energies, degree)
    calibration = Calibration(tuple(float(c) for c in coefficients))
    if np.any(np.diff(calibration.energy(np.sort(channels))) <= 0):
        raise InputError("the identified lines do not increase with the channel")
    return calibration, energies - calibration.energy(channels)


def peak_curve(peak: Peak, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fitted model (Gaussian on its linear background) over +-3 FWHM: channel centres (m,)
    in keV and expected counts (m,) per channel of ``edges``."""
    sigma = peak.fwhm_kev * SIGMA_PER_FWHM
    rows = np.flatnonzero((edges[:-1] > peak.centroid_kev - 3 * peak.fwhm_kev)
                          & (edges[1:] < peak.centroid_kev + 3 * peak.fwhm_kev))
    lo, hi = edges[rows], edges[rows + 1]
    centres = 0.5 * (lo + hi)
    background = (peak.background_per_kev
                  + peak.background_slope * (centres - peak.centroid_kev)) * (hi - lo)
    gaussian = peak.area * (ndtr((hi - peak.centroid_kev) / sigma)
                            - ndtr((lo - peak.centroid_kev) / sigma))
    return centres, gaussian + np.maximum(background, 0.0)


def evidence_at(peaks: list[Peak], edges: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Largest evidence (CAM) value within +-1 FWHM of each peak, relative to the largest
    |evidence| anywhere, (P,) in [-1, 1] (NaN where the model discards the channels)."""
    evidence = np.asarray(evidence, dtype=np.float64)
    finite = evidence[np.isfinite(evidence)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    out = np.full(len(peaks), np.nan)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for i, peak in enumerate(peaks):
        near = np.abs(centres - peak.centroid_kev) <= peak.fwhm_kev
        values = evidence[near]
        values = values[np.isfinite(values)]
        if values.size and scale > 0:
            out[i] = float(values[np.argmax(np.abs(values))] / scale)
    return out


@dataclass
class PeakReport:
    """What the peak search of one spectrum found, ready to draw.

    Attributes
    ----------
    peaks
        Fitted, identified peaks by energy.
    evidence
        (P,) class-activation (or ML-evidence) value at each peak (:func:`evidence_at`), None
        when no map was given.
    curves
        Per peak the fitted model over +-3 FWHM: ``(channel centres keV, counts)``.
    """

    peaks: list[Peak]
    evidence: np.ndarray | None
    curves: list[tuple[np.ndarray, np.ndarray]]


def iter_peak_report(spectrum: Spectrum, config: PeakConfig | None = None,
                     evidence: np.ndarray | None = None):
    """:func:`find_peaks` as a one-step task (a generator) returning a :class:`PeakReport`;
    ``evidence`` (n_channels,) is the map shown over the spectrum, if any."""
    from engines.core.progress import Progress

    name = spectrum.source.name if spectrum.source else (spectrum.name or "spectrum")
    yield Progress(0.0, f"searching peaks in {name}")
    peaks = find_peaks(spectrum, config)
    edges = spectrum.edges
    mapped = None
    if evidence is not None and np.asarray(evidence).shape == (spectrum.n_channels,):
        mapped = evidence_at(peaks, edges, evidence)
    yield Progress(1.0, f"{len(peaks)} peaks in {name}")
    return PeakReport(peaks, mapped, [peak_curve(p, edges) for p in peaks])


def with_calibration(spectrum: Spectrum, calibration: Calibration, lines: list[str]) -> Spectrum:
    """A copy of ``spectrum`` with the re-fitted ``calibration`` (named "... (recalibrated)")."""
    metadata = {**spectrum.metadata, "calibrated": True,
                "calibration_source": f"re-fit from {len(lines)} lines: {', '.join(lines)}"}
    metadata.pop("calibration_problem", None)
    name = f"{spectrum.name or 'spectrum'} (recalibrated)"
    return Spectrum(spectrum.counts.copy(), calibration, spectrum.live_time_s,
                    spectrum.real_time_s, name, spectrum.source, metadata)
