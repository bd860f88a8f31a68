"""Thermal-neutron capture data for the synthetic PGNAA spectra.

Per element: standard atomic mass (u), thermal (2200 m/s) capture cross section of the natural
element (barn) and its strongest prompt-gamma lines with the yield per capture (photons per
neutron captured). Energies are from the IAEA/Budapest PGAA database (Choi et al., *Database of
Prompt Gamma Rays from Slow Neutron Capture for Elemental Analysis*, IAEA 2007; Molnar (ed.),
*Handbook of Prompt Gamma Activation Analysis*, 2004) rounded to 0.1 keV. Cross sections are
Mughabghab/Sears values. Yields are the database's partial cross sections divided by the
element cross section, rounded: good to roughly 20-30 % for the strongest lines, which is what
a classification benchmark needs (relative line pattern, not quantitative analysis). Weak lines
and unresolved cascades of each element are not listed; their energy is not in the spectrum.

Special cases
-------------
* B: the 477.6 keV line comes from 10B(n,alpha)7Li* (93.7 % of reactions to the excited
  state); the cross section given is the absorption cross section (767 b) and the line is Doppler
  broadened (recoiling 7Li, ~15 keV FWHM).
* Al: 1778.9 keV follows the beta decay of 28Al (2.24 min); under continuous irradiation it is
  in equilibrium, one photon per capture, so it is listed as a capture line.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.core.errors import InputError

ELECTRON_MASS_KEV = 510.999


@dataclass(frozen=True)
class Element:
    """Capture data of one natural element.

    Attributes
    ----------
    symbol
        Chemical symbol, e.g. ``"Fe"``.
    atomic_mass
        Standard atomic weight in u (g/mol).
    sigma_b
        Thermal capture (for B: absorption) cross section in barn.
    lines
        ``((energy_kev, photons_per_capture), ...)`` prompt-gamma lines.
    doppler_fwhm_kev
        Extra Gaussian FWHM (keV) of every line of the element, added in quadrature to the
        detector resolution (0 except for the Doppler-broadened B line).
    """

    symbol: str
    atomic_mass: float
    sigma_b: float
    lines: tuple[tuple[float, float], ...]
    doppler_fwhm_kev: float = 0.0


def _element(symbol: str, mass: float, sigma: float, lines: dict[float, float],
             doppler: float = 0.0) -> Element:
    return Element(symbol, mass, sigma, tuple(sorted(lines.items())), doppler)


ELEMENTS: dict[str, Element] = {e.symbol: e for e in (
    _element("H", 1.008, 0.3326, {2223.3: 1.0}),
    _element("B", 10.81, 767.0, {477.6: 0.937}, doppler=15.0),
    _element("C", 12.011, 0.00353, {4945.3: 0.67, 1261.8: 0.30, 3684.0: 0.30}),
    _element("N", 14.007, 0.0795, {10829.1: 0.14, 5269.2: 0.30, 5297.8: 0.21, 1884.8: 0.19,
                                   4508.7: 0.17, 5533.4: 0.20, 6322.4: 0.18}),
    _element("O", 15.999, 0.00019, {870.7: 0.8, 3272.0: 0.7, 2184.4: 0.2}),
    _element("Na", 22.990, 0.530, {472.2: 0.90, 6395.4: 0.22, 3587.1: 0.08, 3981.1: 0.08,
                                   874.4: 0.07}),
    _element("Mg", 24.305, 0.063, {585.0: 0.32, 1808.7: 0.48, 3916.8: 0.38, 2828.1: 0.22}),
    _element("Al", 26.982, 0.231, {7723.8: 0.27, 1778.9: 1.0, 3033.9: 0.07, 983.0: 0.08,
                                   4733.8: 0.06, 2282.8: 0.04}),
    _element("Si", 28.085, 0.171, {3539.0: 0.68, 4933.8: 0.66, 2092.9: 0.22, 1273.3: 0.18,
                                   6379.8: 0.12, 7199.2: 0.08}),
    _element("S", 32.06, 0.53, {841.0: 0.72, 5420.6: 0.59, 2379.7: 0.42, 3220.5: 0.24}),
    _element("Cl", 35.45, 33.5, {1164.9: 0.268, 517.1: 0.237, 6110.8: 0.200, 1951.1: 0.190,
                                 788.4: 0.160, 1959.4: 0.125, 786.3: 0.104, 7413.9: 0.100,
                                 7790.3: 0.081, 6619.6: 0.078}),
    _element("K", 39.098, 2.1, {770.3: 0.43, 1158.8: 0.11, 5380.3: 0.09, 5697.3: 0.09}),
    _element("Ca", 40.078, 0.43, {1942.7: 0.70, 6419.6: 0.40, 4418.5: 0.16, 2001.3: 0.08}),
    _element("Ti", 47.867, 6.09, {1381.7: 0.85, 6760.1: 0.49, 6418.4: 0.32, 341.7: 0.30,
                                  1585.9: 0.08}),
    _element("Cr", 51.996, 3.05, {834.8: 0.28, 8884.4: 0.30, 9719.8: 0.10, 749.1: 0.15,
                                  7938.5: 0.06}),
    _element("Mn", 54.938, 13.3, {212.0: 0.15, 314.4: 0.11, 7243.5: 0.10, 7057.8: 0.10,
                                  6783.4: 0.07}),
    _element("Fe", 55.845, 2.56, {7631.1: 0.255, 7645.5: 0.214, 352.3: 0.107, 6018.5: 0.089,
                                  5920.4: 0.088, 692.0: 0.055, 1612.8: 0.048, 7278.8: 0.054}),
    _element("Ni", 58.693, 4.49, {8998.4: 0.33, 465.0: 0.18, 8533.5: 0.16, 6837.5: 0.11,
                                  282.9: 0.08, 7819.5: 0.08}),
    _element("Cu", 63.546, 3.78, {278.3: 0.235, 7915.6: 0.19, 159.3: 0.13, 7637.4: 0.12,
                                  608.5: 0.07, 203.7: 0.06, 385.8: 0.045, 7307.3: 0.06}),
    _element("Zn", 65.38, 1.11, {1077.3: 0.25, 7863.5: 0.12, 115.2: 0.25}),
    _element("Cd", 112.41, 2520.0, {558.3: 0.74, 651.2: 0.14, 805.9: 0.05, 1209.7: 0.02,
                                    1364.3: 0.02}),
    _element("Sn", 118.71, 0.626, {1171.3: 0.28, 1229.7: 0.12, 1293.6: 0.14}),
    _element("Hg", 200.59, 372.0, {368.1: 0.67, 5967.0: 0.17, 1693.3: 0.20, 1570.3: 0.10}),
    _element("Pb", 207.2, 0.171, {7367.8: 0.86, 6737.5: 0.03}),
)}

# Lines that are not neutron capture in the sample (keV).
ANNIHILATION_KEV = ELECTRON_MASS_KEV  # positron annihilation
ANNIHILATION_DOPPLER_FWHM_KEV = 2.5
K40_KEV = 1460.8  # 40K decay, natural background (concrete, walls)
TL208_KEV = 2614.5  # 208Tl decay (thorium chain), natural background


def element(symbol: str) -> Element:
    """Look up an element; unknown symbols raise :class:`InputError` listing the known ones."""
    try:
        return ELEMENTS[symbol]
    except KeyError:
        raise InputError(f"no capture data for element {symbol!r}; known elements: "
                         f"{', '.join(sorted(ELEMENTS))}") from None
