"""Material compositions of the synthetic PGNAA libraries (documented in docs/synthetic_library.md).

Compositions are written the way they are usually reported (oxides for minerals, formulas for
compounds, element mass percent for metals) and converted to element mass fractions. They are
plausible, documented assumptions, not analyses of the paper's samples. Elements without capture
data in :mod:`nuclear_data` are not allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engines.core.errors import InputError
from engines.spectrum.synthetic.nuclear_data import element

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


def formula_mass_fractions(formula: str) -> dict[str, float]:
    """Element mass fractions of a formula without brackets, e.g. ``"CaSO4"`` or ``"C2H3Cl"``."""
    atoms: dict[str, float] = {}
    if not formula or "".join(m.group(0) for m in _TOKEN.finditer(formula)) != formula:
        raise InputError(f"cannot parse chemical formula {formula!r}")
    for symbol, count in _TOKEN.findall(formula):
        atoms[symbol] = atoms.get(symbol, 0.0) + (float(count) if count else 1.0)
    masses = {s: n * element(s).atomic_mass for s, n in atoms.items()}
    total = sum(masses.values())
    return {s: m / total for s, m in masses.items()}


def mass_fractions(parts: dict[str, float]) -> dict[str, float]:
    """Element mass fractions (summing to 1) from ``{formula or element: mass share}``."""
    out: dict[str, float] = {}
    for formula, share in parts.items():
        if share < 0:
            raise InputError(f"negative share {share} of {formula!r}")
        for symbol, fraction in formula_mass_fractions(formula).items():
            out[symbol] = out.get(symbol, 0.0) + share * fraction
    total = sum(out.values())
    if total <= 0:
        raise InputError("a composition needs at least one positive share")
    return {s: f / total for s, f in sorted(out.items(), key=lambda kv: -kv[1])}


@dataclass(frozen=True)
class Material:
    """One class of a synthetic library.

    Attributes
    ----------
    name
        Class name (also the folder name of its files), e.g. ``"Soil-1"``.
    slug
        File-name stem, e.g. ``"soil_1"``.
    parts
        ``{formula: mass share}`` as reported (oxides, compounds, elements).
    note
        One line on what the composition stands for.
    """

    name: str
    slug: str
    parts: tuple[tuple[str, float], ...]
    note: str = ""

    @property
    def composition(self) -> dict[str, float]:
        """Element mass fractions, summing to 1, largest first."""
        return mass_fractions(dict(self.parts))


def _material(name: str, slug: str, parts: dict[str, float], note: str) -> Material:
    return Material(name, slug, tuple(parts.items()), note)


_SOIL = {"SiO2": 62.0, "Al2O3": 12.0, "Fe2O3": 4.5, "CaO": 2.0, "MgO": 1.2, "K2O": 2.2,
         "Na2O": 1.2, "TiO2": 0.7, "Mn": 0.06, "H2O": 11.0, "C": 2.0, "S": 0.03, "Cl": 0.01,
         "B": 0.0025, "Zn": 0.008, "Cr": 0.007, "Ni": 0.003, "Cu": 0.0025, "Pb": 0.003}
_CEMENT = {"CaO": 63.5, "SiO2": 20.5, "Al2O3": 5.0, "Fe2O3": 3.0, "SO3": 3.0, "MgO": 2.0,
           "K2O": 1.0, "Na2O": 0.3, "TiO2": 0.3, "Mn": 0.08, "CaCO3": 2.0, "H2O": 0.8,
           "Cl": 0.05}
#: Effective mercury mass share (%) of the HgS-spiked soil; see docs/synthetic_library.md.
SOIL_HGS_HG_PERCENT = 0.0020

MATERIALS12: tuple[Material, ...] = (
    _material("Scrap metal powder", "scrap_metal_powder",
              {"Fe": 78.0, "O": 6.0, "Cr": 3.0, "Ni": 2.0, "Cu": 1.5, "Mn": 1.2, "Si": 1.2,
               "Al": 1.0, "Zn": 0.8, "C": 0.5, "Ca": 0.5, "S": 0.3, "H": 0.2, "Sn": 0.2,
               "Pb": 0.2}, "oxidised mixed steel/iron scrap with non-ferrous traces"),
    _material("Cement", "cement", _CEMENT, "Portland cement CEM I, dry powder"),
    _material("Stucco", "stucco",
              {"CaSO4": 74.0, "H2O": 17.0, "CaCO3": 5.0, "SiO2": 3.0, "Al2O3": 0.5,
               "MgO": 0.5, "Fe2O3": 0.3, "Cl": 0.02},
              "set gypsum plaster (CaSO4 2H2O) with limestone and sand"),
    _material("Al-AW7075", "al_aw7075",
              {"Al": 89.92, "Zn": 5.6, "Mg": 2.5, "Cu": 1.6, "Fe": 0.25, "Cr": 0.23,
               "Si": 0.15, "Mn": 0.10, "Ti": 0.05}, "wrought alloy EN AW-7075 (AlZn5.5MgCu)"),
    _material("Cu", "cu", {"Cu": 99.95, "O": 0.03, "Fe": 0.005, "Ni": 0.005, "Pb": 0.005},
              "electrolytic tough-pitch copper Cu-ETP"),
    _material("Melamine", "melamine", {"C3H6N6": 99.8, "H2O": 0.2}, "melamine C3H6N6"),
    _material("Aslikos", "aslikos",
              {**{k: 0.85 * v for k, v in _CEMENT.items() if k not in ("H2O", "CaCO3")},
               "Mg3Si2O9H4": 12.0, "H2O": 8.0, "CaCO3": 5.0},
              "assumed: asbestos-cement building board (hydrated cement + 12 % chrysotile)"),
    _material("PVC", "pvc",
              {"C2H3Cl": 88.0, "CaCO3": 9.0, "TiO2": 2.0, "Pb": 0.5, "Zn": 0.4},
              "rigid PVC with chalk filler, TiO2 pigment and Pb/Zn stabiliser"),
    _material("Soil-1", "soil_1", _SOIL, "moist loamy soil"),
    _material("Soil HgS inhomogeneous", "soil_hgs_inhomogeneous",
              {**_SOIL, "HgS": SOIL_HGS_HG_PERCENT * 232.66 / 200.59},
              "Soil-1 spiked with HgS lumps (effective Hg after self-shielding)"),
    _material("Battery NiCd", "battery_nicd",
              {"Fe": 32.0, "Ni": 22.0, "Cd": 15.0, "O": 17.0, "C": 6.0, "K": 2.0, "H": 1.2,
               "Na": 0.2}, "NiCd cells: nickel-plated steel case, Ni/Cd electrodes, KOH"),
    _material("Copper ore-A-prod", "copper_ore_a_prod",
              {"CuFeS2": 72.0, "FeS2": 6.0, "SiO2": 9.0, "Al2O3": 2.5, "CaO": 1.5, "MgO": 1.0,
               "ZnS": 2.0, "PbS": 0.8, "K2O": 0.5, "H2O": 4.0, "Cl": 0.02},
              "chalcopyrite flotation concentrate with gangue and moisture"),
)

ALUMINIUM4: tuple[Material, ...] = (
    _material("Al-1", "al_1", {"Al": 99.5, "Fe": 0.30, "Si": 0.10, "Zn": 0.02, "Cu": 0.02,
                               "Mn": 0.02, "Ti": 0.02, "Mg": 0.02}, "EN AW-1050A"),
    _material("Al-2", "al_2", {"Al": 98.7, "Si": 0.45, "Mg": 0.50, "Fe": 0.20, "Cu": 0.04,
                               "Mn": 0.05, "Zn": 0.04, "Cr": 0.02, "Ti": 0.02}, "EN AW-6060"),
    _material("Al-3", "al_3", {"Al": 98.4, "Si": 0.45, "Mg": 0.65, "Fe": 0.22, "Cu": 0.05,
                               "Mn": 0.065, "Zn": 0.05, "Cr": 0.035, "Ti": 0.02}, "EN AW-6063"),
    _material("Al-4", "al_4", {"Al": 99.2, "Fe": 0.50, "Si": 0.14, "Zn": 0.03, "Cu": 0.03,
                               "Mn": 0.02, "Ti": 0.02}, "EN AW-1200"),
)

COPPER5: tuple[Material, ...] = (
    _material("Cu-1", "cu_1", {"Cu": 93.85, "Sn": 6.0, "Fe": 0.05, "Zn": 0.1}, "CuSn6 (CW452K)"),
    _material("Cu-2", "cu_2", {"Cu": 96.05, "Sn": 3.8, "Fe": 0.05, "Zn": 0.1}, "CuSn4 (CW450K)"),
    _material("Cu-3", "cu_3", {"Cu": 99.95, "O": 0.03, "Fe": 0.005, "Ni": 0.005},
              "Cu-ETP (CW004A)"),
    _material("Cu-4", "cu_4", {"Cu": 97.48, "Fe": 2.4, "Zn": 0.12}, "CuFe2P (CW107C)"),
    _material("Cu-5", "cu_5", {"Cu": 97.7, "Ni": 1.9, "Si": 0.4}, "CuNi2Si (CW111C)"),
)

#: Seven more everyday materials (of the kinds in the NIST PGAA spectra) for the 19-class
#: library measured like a real one (:mod:`engines.spectrum.synthetic.varied`).
MORE7: tuple[Material, ...] = (
    _material("Steel", "steel", {"Fe": 97.6, "Mn": 1.2, "C": 0.4, "Si": 0.3, "Cr": 0.25,
                                 "Ni": 0.15, "Cu": 0.1}, "carbon steel S355"),
    _material("Limestone", "limestone", {"CaCO3": 94.0, "MgCO3": 2.5, "SiO2": 2.0,
                                         "Al2O3": 0.6, "Fe2O3": 0.3, "H2O": 0.6},
              "limestone (calcite with dolomite and clay)"),
    _material("Urea", "urea", {"CH4N2O": 99.5, "H2O": 0.5}, "urea fertiliser CO(NH2)2"),
    _material("Coal", "coal", {"C": 72.0, "H": 4.8, "O": 8.0, "N": 1.4, "S": 1.6, "H2O": 4.0,
                               "SiO2": 5.0, "Al2O3": 2.5, "Fe2O3": 0.7, "CaO": 0.5, "Cl": 0.05},
              "bituminous coal with ash"),
    _material("Titanium alloy", "titanium_alloy", {"Ti": 93.5, "Al": 6.2, "Fe": 0.2, "O": 0.1},
              "Ti-6Al-4V with the V omitted (no capture data), Ti in its place"),
    _material("Leaves", "leaves", {"C": 44.0, "O": 41.0, "H": 6.0, "N": 2.2, "K": 1.4,
                                   "Ca": 1.6, "Mg": 0.3, "S": 0.2, "Si": 0.3, "Cl": 0.1,
                                   "Na": 0.02, "Fe": 0.02, "Mn": 0.005, "B": 0.003},
              "dried tree leaves"),
    _material("Polyethylene", "polyethylene", {"C2H4": 99.9, "CaCO3": 0.1},
              "polyethylene with a trace of filler"),
)

MATERIAL_LIBRARIES: dict[str, tuple[Material, ...]] = {
    "materials12": MATERIALS12, "aluminium4": ALUMINIUM4, "copper5": COPPER5,
    "mixed19": MATERIALS12 + MORE7}
