"""Source term of a PGNAA measurement: captures in the sample plus the set-up's own background.

Sample: element ``i`` with mass fraction ``w_i`` captures in proportion to its macroscopic
cross section per mass, ``r_i = w_i / A_i * sigma_i`` (barn/u). The sample as a whole captures
a fraction ``1 - exp(-R / R0)`` of the neutrons (``R = sum r_i``), so a strong absorber (Cd, Cl,
B) saturates instead of growing without bound (self-shielding). Element ``i`` then emits
``(1 - exp(-R / R0)) * r_i / R * yield`` photons per line, per unit flux.

Facility (same in every spectrum): the 2223.3 keV hydrogen line of the moderator, capture lines
of the shielding / detector housing (Fe, Pb, Al), the 511 keV annihilation line (a constant part
plus pair creation by the sample's high-energy gammas in the surroundings), the natural
background lines of 40K (1460.8 keV) and 208Tl (2614.5 keV) and a falling ambient continuum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.spectrum.synthetic.detector import DetectorModel
from engines.spectrum.synthetic.nuclear_data import (
    ANNIHILATION_DOPPLER_FWHM_KEV,
    ANNIHILATION_KEV,
    ELECTRON_MASS_KEV,
    K40_KEV,
    TL208_KEV,
    element,
)


@dataclass(frozen=True)
class Facility:
    """Sample-independent part of the set-up, in photons per unit neutron flux.

    Attributes
    ----------
    capture_scale_b_per_u
        ``R0`` of the capture saturation, barn/u (0.005-0.2).
    moderator_hydrogen
        H 2223.3 keV photons from the moderator reaching the detector (0-1).
    structure
        ``((element, captures), ...)`` in shielding and detector housing (each 0-0.1).
    annihilation_photons
        Constant 511 keV photons (0-0.1).
    pair_annihilation_fraction
        511 keV photons per sample photon above 1022 keV, times ``1 - 1022/E`` (0-0.2).
    k40_photons, tl208_photons
        Natural background lines 1460.8 and 2614.5 keV (0-0.1).
    ambient_counts
        Detected counts of the room-background continuum (0-1).
    ambient_shape
        ``((decay_kev, share), ...)``: the continuum is a sum of falling exponentials.
    """

    capture_scale_b_per_u: float = 0.03
    moderator_hydrogen: float = 0.05
    structure: tuple[tuple[str, float], ...] = (("Fe", 0.012), ("Pb", 0.006), ("Al", 0.004))
    annihilation_photons: float = 0.01
    pair_annihilation_fraction: float = 0.05
    k40_photons: float = 0.008
    tl208_photons: float = 0.003
    ambient_counts: float = 0.06
    ambient_shape: tuple[tuple[float, float], ...] = ((250.0, 0.80), (1500.0, 0.15),
                                                      (6000.0, 0.05))


def element_captures(composition: dict[str, float], facility: Facility) -> dict[str, float]:
    """Captures per unit flux in each element of a sample.

    Parameters
    ----------
    composition
        ``{symbol: mass fraction}``.

    Returns
    -------
    ``{symbol: captures}``; the total is ``1 - exp(-R / R0)`` (at most 1).
    """
    rates = {s: w / element(s).atomic_mass * element(s).sigma_b for s, w in composition.items()
             if w > 0}
    total = sum(rates.values())
    if total <= 0:
        return {}
    captured = -np.expm1(-total / facility.capture_scale_b_per_u)
    return {s: captured * r / total for s, r in rates.items()}


def element_lines(symbol: str, facility: Facility) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines emitted per capture in ``symbol``, with the 511 keV photons its pairs make.

    Returns
    -------
    energies_kev, photons, extra_fwhm_kev
        (L,) arrays; the last entry is the annihilation line.
    """
    data = element(symbol)
    energies = np.array([e for e, _ in data.lines])
    photons = np.array([y for _, y in data.lines])
    pair = facility.pair_annihilation_fraction * np.sum(
        photons * np.clip(1.0 - 2 * ELECTRON_MASS_KEV / energies, 0.0, None))
    extra = np.full(energies.size, data.doppler_fwhm_kev)
    return (np.append(energies, ANNIHILATION_KEV), np.append(photons, pair),
            np.append(extra, ANNIHILATION_DOPPLER_FWHM_KEV))


def element_responses(symbols: list[str], edges_kev: np.ndarray, detector: DetectorModel,
                      facility: Facility) -> np.ndarray:
    """Detected spectrum per capture of each element.

    Returns
    -------
    (len(symbols), n_channels) expected counts per capture.
    """
    out = np.zeros((len(symbols), edges_kev.size - 1))
    for row, symbol in enumerate(symbols):
        energies, photons, extra = element_lines(symbol, facility)
        out[row] = detector.response(energies, photons, edges_kev, extra)
    return out


def facility_response(edges_kev: np.ndarray, detector: DetectorModel,
                      facility: Facility) -> np.ndarray:
    """Detected spectrum of the set-up's own background, (n_channels,) expected counts."""
    out = np.zeros(edges_kev.size - 1)
    hydrogen_kev = element("H").lines[0][0]
    lines = [(np.array([hydrogen_kev]), np.array([facility.moderator_hydrogen]), 0.0),
             (np.array([ANNIHILATION_KEV]), np.array([facility.annihilation_photons]),
              ANNIHILATION_DOPPLER_FWHM_KEV),
             (np.array([K40_KEV, TL208_KEV]),
              np.array([facility.k40_photons, facility.tl208_photons]), 0.0)]
    for symbol, captures in facility.structure:
        energies, photons, extra = element_lines(symbol, facility)
        lines.append((energies, captures * photons, extra))
    for energies, photons, extra in lines:
        out += detector.response(energies, photons, edges_kev, extra)
    centre = 0.5 * (edges_kev[1:] + edges_kev[:-1])
    width = np.diff(edges_kev)
    ambient = sum(share * np.exp(-centre / decay) / decay for decay, share in facility.ambient_shape)
    ambient = ambient * width * detector.total_efficiency(centre) / detector.total_efficiency(1000.0)
    out += facility.ambient_counts * ambient / ambient.sum()
    return out
