"""Small reference libraries for the model/training tests (no dependence on the sample-data
generator): prompt-gamma lines from DESIGN.md with HPGe resolution, escape peaks and a falling
continuum, or plain Gaussian peaks on a few hundred channels."""

from __future__ import annotations

import numpy as np

from engines.spectrum.references import ReferenceSet
from engines.spectrum.spectrum import PAPER_GRID, Calibration, EnergyGrid

LINES = {  # keV, relative intensity
    "H": [(2223.3, 1.0)],
    "Cl": [(1164.8, 0.27), (517.1, 0.24), (6110.7, 0.20), (1951.2, 0.19), (7413.9, 0.10)],
    "Fe": [(7631.1, 0.29), (7645.5, 0.24), (352.3, 0.12), (6018.3, 0.09), (5920.3, 0.09)],
    "Al": [(7723.8, 0.27), (3033.7, 0.08), (1778.8, 0.4)],
    "Cu": [(278.0, 0.34), (7915.0, 0.29), (159.0, 0.17), (7636.7, 0.16), (608.5, 0.10)],
    "Si": [(3539.0, 0.6), (4933.8, 0.6)],
    "Ca": [(1942.7, 0.7), (6419.7, 0.14), (4418.5, 0.06)],
    "Hg": [(368.0, 0.8), (5967.0, 0.2), (1693.3, 0.15)],
    "Zn": [(1077.3, 0.2), (7863.5, 0.06)],
    "Mg": [(3916.7, 0.4), (585.0, 0.3)],
}

# Material -> element weights; pairs differ only slightly ("same species" classes).
MATERIALS = {
    "soil-a": {"H": 1.0, "Si": 2.0, "Ca": 0.6, "Fe": 0.5, "Al": 0.7},
    "soil-b": {"H": 1.0, "Si": 2.0, "Ca": 0.6, "Fe": 0.5, "Al": 0.7, "Hg": 0.02},
    "steel": {"H": 0.2, "Fe": 3.0, "Cu": 0.05},
    "alloy-cu": {"H": 0.2, "Cu": 3.0, "Zn": 0.9, "Fe": 0.1},
    "alloy-cuzn": {"H": 0.2, "Cu": 3.0, "Zn": 1.0, "Fe": 0.1},
    "pvc": {"H": 2.0, "Cl": 2.5},
}


def fwhm_kev(energy: np.ndarray) -> np.ndarray:
    return np.sqrt(0.745**2 + 2.355**2 * 0.12 * 2.96e-3 * energy)


def line_spectrum(lines: list[tuple[float, float]], grid: EnergyGrid) -> np.ndarray:
    """Expected counts shape (n_channels,) of lines with escape peaks and a continuum."""
    edges = grid.edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    out = np.zeros(grid.n_channels)
    for energy, intensity in lines:
        peaks = [(energy, intensity)]
        if energy > 1022:
            peaks += [(energy - 511.0, 0.4 * intensity), (energy - 1022.0, 0.25 * intensity)]
        for e, a in peaks:
            sigma = fwhm_kev(e) / 2.355
            cdf = 0.5 * (1 + _erf((edges - e) / (np.sqrt(2) * sigma)))
            out += a * np.diff(cdf)
        compton_edge = 2 * energy**2 / (511.0 + 2 * energy)
        out += 0.6 * intensity * (centres < compton_edge) / max(compton_edge, 1.0) * np.diff(edges)
    out += 0.4 * np.exp(-centres / 1500.0) / 1500.0 * np.diff(edges)
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


def pgnaa_references(grid: EnergyGrid = PAPER_GRID, materials: dict | None = None,
                     total: float = 5e6) -> ReferenceSet:
    """One expected-count reference per material on ``grid``."""
    materials = materials or MATERIALS
    spectra = []
    for weights in materials.values():
        lines = [(e, w * a) for element, w in weights.items() for e, a in LINES[element]]
        spectrum = line_spectrum(lines, grid)
        spectra.append(spectrum / spectrum.sum() * total)
    return ReferenceSet(list(materials), grid, np.array(spectra), np.arange(len(materials)))


def gaussian_references(n_classes: int = 3, n_channels: int = 256, refs_per_class: int = 1,
                        seed: int = 0) -> ReferenceSet:
    """Tiny toy set: each class a flat background plus 3 Gaussian peaks at its own positions."""
    rng = np.random.default_rng(seed)
    channels = np.arange(n_channels)
    grid = EnergyGrid(Calibration((0.0, 10.0)), n_channels)
    spectra, labels = [], []
    for c in range(n_classes):
        centres = rng.uniform(0.1, 0.9, 3) * n_channels
        for _ in range(refs_per_class):
            spectrum = np.full(n_channels, 2.0)
            for centre in centres:
                spectrum += 60.0 * np.exp(-0.5 * ((channels - centre) / 3.0) ** 2)
            spectra.append(spectrum * 1000)
            labels.append(c)
    return ReferenceSet([f"class-{c}" for c in range(n_classes)], grid, np.array(spectra), labels)


def ml_accuracy(references: ReferenceSet, counts: int, keep: np.ndarray, n_per_class: int,
                seed: int = 0) -> float:
    """Multinomial maximum-likelihood accuracy on the kept channels (the physical bound)."""
    rng = np.random.default_rng(seed)
    templates = references.probabilities()[:, keep]
    templates = templates / templates.sum(axis=1, keepdims=True)
    log_t = np.log(np.maximum(templates, 1e-300))
    labels = np.repeat(np.arange(references.n_classes), n_per_class)
    draws = rng.multinomial(counts, references.probabilities()[labels])[:, keep]
    return float(np.mean((draws @ log_t.T).argmax(axis=1) == labels))
