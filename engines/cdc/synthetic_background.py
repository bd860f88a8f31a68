"""Background hits calibrated to a real ICEDUST simulation file, per particle species.

The paper resampled one-dimensional distributions hit by hit (Sec. 3.2) and notes that the
cluster patterns of the full simulation are lost. Real background is not uncorrelated hits:
44 % of its hits come from proton tracks of 20–40 hits, 27 % from electrons (mostly short,
curling), 13 % are neutron-induced, 6 % deuterons, 5 % muons (``icedust_marginals.json``, see
:mod:`engines.cdc.marginals`). This generator therefore builds *sources* — tracks and isolated
hits — per species, and resamples each species' own histograms of that file for what a source
does not determine geometrically. Per event:

Occupancy
    The event's read-out occupancy is ``occupancy · (1 + occupancy_spread · N(0, 1))``, clipped
    to [0.01, 0.95]. Sources are drawn in the file's particle mix in random order until that
    many distinct read-out cells are hit (so the occupancy is exact and the mix is the file's).
Species and their sources
    ``proton`` and ``deuteron``: straight-ish tracks (positive charge, radius
    ``proton_radius_cm``) entering through the inner or the outer wall at a slant (or, a few,
    starting in the gas), crossing the layers until they leave the chamber or reach their
    length (hits per track resampled from the file's proton track lengths; the file has none
    for deuterons, which take the proton's).
    ``e-``, ``e+``, ``mu-``, ``pi-``: curling tracks starting anywhere in the gas, with their
    file track lengths (e-: half of them one or two hits) and a helix radius that makes such a
    length a ``curl_turns``-fraction of a turn; e+ curl the other way.
    ``neutron``, ``gamma``, ``triton``, ``alpha``: isolated hits, in layers resampled from the
    file's layer profile of that species (neutrons rise outwards).
    Every track is a helix through the stereo wires (:mod:`engines.cdc.trajectory`), so its cells
    zig-zag between layers like the signal's do.
Per hit
    Charge (``fCharge``, simulation units): resampled from the species' log10-charge histogram,
    correlated within a track through a Gaussian copula of correlation ``charge_correlation``
    (a proton's hits are all heavily ionising). Drift time: resampled from the species' drift
    histogram. Detected time: a track's time resampled from the species' detected-time histogram
    (absolute, −100…3500 ns, with the beam bunch structure: flashes after 0 and 1170 ns) minus
    the mean drift, plus each hit's drift time; an isolated hit's time is resampled directly.
    Hits outside ``window_ns`` are dropped.
Multi-hit cells
    They arise where sources overlap (and where a curler comes back). Hits of one cell closer
    than ``double_hit_separation_ns`` are one pulse: the earlier is kept.
Truth
    Each hit carries its species' PDG code, its source's track number (1…; isolated hits too),
    the momentum of a track at the hit (from its radius, p_T = 0.3·B·R) and its turn number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.special import ndtr

from engines.cdc.geometry import CELL_DEPTH_CM, LAYER_RADIUS_CM, N_READOUT, get_geometry
from engines.cdc.marginals import Histogram, length_histogram, reference, species_histogram
from engines.cdc.trajectory import cells_at, first_cells, helix_points, pt_mev
from engines.core.config import param, validate

INNER_WALL_CM = float(LAYER_RADIUS_CM[0] - CELL_DEPTH_CM)
OUTER_WALL_CM = float(LAYER_RADIUS_CM[-1] + CELL_DEPTH_CM / 2)
STEP_CM = 0.4


@dataclass(frozen=True)
class Species:
    """A background particle: PDG code, source kind (``track``, ``curler`` or ``isolated``),
    charge sign, and the reference histograms it resamples (by the file's particle name)."""

    name: str
    pdg: int
    kind: str
    charge: int
    histograms: str
    lengths: str | None = None


SPECIES = (
    Species("proton", 2212, "track", +1, "proton", "proton"),
    Species("deuteron", 1000010020, "track", +1, "deuteron", "proton"),
    Species("e-", 11, "curler", -1, "e-", "e-"),
    Species("e+", -11, "curler", +1, "e-", "e+"),
    Species("mu-", 13, "curler", -1, "mu-", "mu-"),
    Species("pi-", -211, "curler", -1, "mu-", "mu-"),
    Species("neutron", 2112, "isolated", 0, "neutron"),
    Species("gamma", 22, "isolated", 0, "gamma"),
    Species("triton", 1000010030, "isolated", 0, "deuteron"),
    Species("alpha", 1000020040, "isolated", 0, "deuteron"),
)


@dataclass(frozen=True)
class BackgroundConfig:
    """Parameters of the calibrated background (the histograms come from the reference)."""

    occupancy_spread: float = param(0.07, label="Occupancy spread", range=(0.0, 0.5),
                                    help="relative σ of the per-event occupancy (reference "
                                         "file: 0.27–0.37 around 0.32)")
    window_ns: tuple[float, float] = param((-100.0, 3500.0), label="Read-out window", unit="ns",
                                           range=(-1e4, 1e5), help="absolute, as in ICEDUST")
    double_hit_separation_ns: float = param(30.0, label="Double-hit separation", unit="ns",
                                            range=(0.0, 200.0),
                                            help="closer hits of one cell are one pulse")
    charge_correlation: float = param(0.6, label="Charge correlation in a track",
                                      range=(0.0, 0.99))
    proton_radius_cm: tuple[float, float] = param((40.0, 150.0), label="Proton track radius",
                                                  unit="cm", range=(5.0, 1000.0))
    proton_from_wall: float = param(0.9, label="Protons from the walls", range=(0.0, 1.0),
                                    help="share entering through the inner or the outer wall "
                                         "(half each); the others start anywhere in the gas "
                                         "in any direction")
    proton_entry_angle: tuple[float, float] = param(
        (-1.5, -0.2), label="Proton entry angle", unit="rad", range=(-1.55, 1.55),
        help="angle of the entering direction to the wall's normal, uniform; negative "
             "angles run along the layers as the track bends (the file's 20–40-hit tracks)")
    curl_turns: tuple[float, float] = param((0.6, 1.6), label="Curler path", range=(0.1, 5.0),
                                            help="path of a curler in turns of its helix")
    cot_theta: float = param(0.3, label="Largest |cot θ| of tracks", range=(0.0, 5.0),
                             help="p_z / p_T, uniform in ± this")

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class BackgroundHits:
    """Background hits of one event, absolute times.

    Attributes
    ----------
    cell : (n,) int64
    time_abs_ns, adc, drift_time_ns : (n,) float64
        Absolute detected time (ns), charge (simulation units), drift time (ns).
    pid, track_id, turn_id : (n,) int32
    momentum_mev : (n, 3) float32
        NaN for isolated hits.
    occupancy : float
        The event's drawn occupancy (fraction of read-out cells hit).
    """

    cell: np.ndarray
    time_abs_ns: np.ndarray
    adc: np.ndarray
    drift_time_ns: np.ndarray
    pid: np.ndarray
    track_id: np.ndarray
    turn_id: np.ndarray
    momentum_mev: np.ndarray
    occupancy: float


def moyal(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard Moyal variates (mode 0), a closed-form approximation of the Landau shape."""
    return -np.log(np.maximum(rng.standard_normal(size) ** 2, 1e-300))


@dataclass(frozen=True)
class _Calibration:
    fraction: np.ndarray            # (n_species,) hit fraction in the file's mix
    mean_hits: np.ndarray           # (n_species,) mean hits per source, as generated
    charge: tuple[Histogram, ...]
    time: tuple[Histogram, ...]     # detected times (isolated) or deconvolved track times
    drift: tuple[Histogram, ...]
    layer: tuple[Histogram, ...]
    lengths: tuple[Histogram | None, ...]


def deconvolve(target: Histogram, kernel: Histogram, grid_ns: float = 10.0,
               iterations: int = 200) -> Histogram:
    """The density ``f`` on a ``grid_ns`` grid over ``target``'s range whose convolution with
    ``kernel`` (a delay ≥ its first edge) gives ``target`` (Richardson–Lucy iterations)."""
    edges = np.arange(target.edges[0] - kernel.edges[-1], target.edges[-1] + grid_ns, grid_ns)
    centres = edges[:-1] + grid_ns / 2
    want = np.interp(centres, target.edges[:-1] + np.diff(target.edges) / 2,
                     target.probabilities / np.diff(target.edges), left=0.0, right=0.0)
    delays = np.arange(kernel.edges[0], kernel.edges[-1], grid_ns) + grid_ns / 2
    k = kernel.probabilities[np.clip(np.searchsorted(kernel.edges, delays) - 1, 0,
                                     len(kernel.counts) - 1)]
    k = k / k.sum()
    shift = int(round((delays[0] - grid_ns / 2) / grid_ns))
    n = len(centres)

    def blur(f: np.ndarray) -> np.ndarray:
        out = np.convolve(f, k)[:n]
        return np.roll(out, shift) if shift >= 0 else np.r_[out[-shift:], np.zeros(-shift)]

    def blur_t(g: np.ndarray) -> np.ndarray:
        g = np.roll(g, -shift) if shift >= 0 else np.r_[np.zeros(-shift), g[:shift]]
        return np.convolve(g, k[::-1])[len(k) - 1:len(k) - 1 + n]

    f = np.full(n, 1.0 / n)
    for _ in range(iterations):
        f *= blur_t(want / np.maximum(blur(f), 1e-12))
    return Histogram(edges, np.maximum(f, 0.0))


@cache
def _calibration() -> _Calibration:
    ref = reference()
    fraction = np.array([ref["pid_hit_fraction"].get(s.name, 0.0) for s in SPECIES])
    lengths = tuple(None if s.lengths is None else length_histogram(s.lengths) for s in SPECIES)
    drift = tuple(species_histogram(s.histograms, "drift_time_ns") for s in SPECIES)
    detected = tuple(species_histogram(s.histograms, "detected_time_ns") for s in SPECIES)
    time = tuple(d if s.kind == "isolated" else deconvolve(d, k)
                 for s, d, k in zip(SPECIES, detected, drift, strict=True))
    # hits per source as this generator makes them (tracks leave the chamber early)
    rng = np.random.default_rng(0)
    config = BackgroundConfig()
    mean_hits = np.array([
        1.0 if s.kind == "isolated" else
        len(_track_hits(rng, 400, s, _lengths(rng, h, 400), config).cell) / 400.0
        for s, h in zip(SPECIES, lengths, strict=True)])
    return _Calibration(
        fraction / fraction.sum(), mean_hits,
        tuple(species_histogram(s.histograms, "log10_charge") for s in SPECIES),
        time, drift,
        tuple(Histogram.from_json(ref["by_pid_background"][s.histograms]["layer"])
              for s in SPECIES), lengths)


def _lengths(rng: np.random.Generator, hist: Histogram, n: int) -> np.ndarray:
    edges = hist.edges.copy()
    edges[-1] = 2 * edges[-2]
    return np.maximum(1, np.floor(Histogram(edges, hist.counts).sample(rng, n))).astype(np.int64)


@dataclass
class _Sources:
    """Hits of many sources before the occupancy cut (one entry per hit)."""

    source: np.ndarray     # source index within its species
    cell: np.ndarray
    order: np.ndarray      # position along the source's path
    momentum: np.ndarray   # (n, 3)
    turn: np.ndarray


def _track_hits(rng: np.random.Generator, n: int, species: Species, lengths: np.ndarray,
                config: BackgroundConfig) -> _Sources:
    """Cells of ``n`` helical tracks of ``species`` with at most ``lengths`` hits each."""
    phi0 = rng.uniform(0.0, 2.0 * np.pi, n)
    if species.kind == "track":
        wall = rng.random(n) < config.proton_from_wall
        outer = wall & (rng.random(n) < 0.5)
        r0 = np.where(wall, np.where(outer, OUTER_WALL_CM, INNER_WALL_CM),
                      np.sqrt(rng.uniform(INNER_WALL_CM**2, OUTER_WALL_CM**2, n)))
        # inwards through the outer wall, outwards through the inner one
        entry = phi0 + np.where(outer, np.pi, 0.0) + species.charge * np.where(
            outer, -1.0, 1.0) * rng.uniform(*config.proton_entry_angle, n)
        direction = np.where(wall, entry, rng.uniform(0.0, 2.0 * np.pi, n))
        radius = rng.uniform(*config.proton_radius_cm, n)
        path = np.minimum(2.5 * (OUTER_WALL_CM - INNER_WALL_CM), 3.0 * lengths + 8.0)
    else:
        r0 = np.sqrt(rng.uniform(INNER_WALL_CM**2, OUTER_WALL_CM**2, n))
        direction = rng.uniform(0.0, 2.0 * np.pi, n)
        turns = rng.uniform(*config.curl_turns, n)
        # a path of `lengths` cells of ~1.7 cm is `turns` turns of the helix
        radius = np.maximum(0.35, lengths * 1.7 / (2.0 * np.pi * turns))
        path = 2.0 * np.pi * radius * turns + lengths + 2.0
    cot = rng.uniform(-config.cot_theta, config.cot_theta, n)
    z0 = rng.uniform(-50.0, 50.0, n)
    path = np.minimum(path, 400.0)
    # tracks in groups of similar path length, so short curlers need few points
    group = np.searchsorted(np.array([8.0, 30.0, 90.0]), path)
    parts = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        steps = int(np.ceil(path[members].max() / STEP_CM)) + 1
        x, y, z, s = helix_points(r0[members] * np.cos(phi0[members]),
                                  r0[members] * np.sin(phi0[members]), z0[members],
                                  direction[members], radius[members],
                                  np.full(len(members), species.charge), cot[members], steps,
                                  STEP_CM)
        within = s <= path[members, None]
        index, cell, _distance = cells_at(np.where(within, x, 1e9), y, z)
        parts.append((members[index // steps], cell, s.ravel()[index]))
    point_track = np.concatenate([p[0] for p in parts])
    cell = np.concatenate([p[1] for p in parts])
    point_s = np.concatenate([p[2] for p in parts])
    first = first_cells(point_track, cell, point_s)
    hit_track = point_track[first]
    hit_s = point_s[first]
    start = np.flatnonzero(np.r_[True, hit_track[1:] != hit_track[:-1]])
    rank = np.arange(len(hit_track)) - np.repeat(start, np.diff(np.r_[start, len(hit_track)]))
    keep = rank < lengths[hit_track]
    hit_track, hit_s, cell = hit_track[keep], hit_s[keep], cell[first][keep]
    pt = pt_mev(radius[hit_track])
    angle = direction[hit_track] - np.sign(species.charge) * hit_s / radius[hit_track]
    momentum = np.stack([pt * np.cos(angle), pt * np.sin(angle), pt * cot[hit_track]], axis=1)
    turn = np.floor(hit_s / (2.0 * np.pi * radius[hit_track])).astype(np.int64)
    return _Sources(hit_track, cell, hit_s, momentum, turn)


def _isolated_hits(rng: np.random.Generator, n: int, layers: Histogram) -> _Sources:
    geometry = get_geometry()
    layer = np.clip(np.floor(layers.sample(rng, n) + 0.5).astype(np.int64), 0, 17) + 1
    wire = rng.integers(0, geometry.wires_per_layer[layer])
    cell = geometry.cell_index(layer, wire)
    return _Sources(np.arange(n), cell, np.zeros(n), np.full((n, 3), np.nan), np.zeros(n, np.int64))


def _copula_charge(rng: np.random.Generator, hist: Histogram, source: np.ndarray,
                   n_sources: int, rho: float) -> np.ndarray:
    common = rng.standard_normal(n_sources)[source]
    z = rho * common + np.sqrt(1.0 - rho**2) * rng.standard_normal(len(source))
    return 10.0 ** hist.quantile(ndtr(z))


def draw_background(rng: np.random.Generator, occupancy: float,
                    config: BackgroundConfig) -> BackgroundHits:
    """Draw the background hits of one event at mean read-out occupancy ``occupancy``."""
    cal = _calibration()
    occ = float(np.clip(occupancy * (1.0 + config.occupancy_spread * rng.standard_normal()),
                        0.01, 0.95))
    target = max(1, int(round(occ * N_READOUT)))
    # enough sources for the target (random overlaps, plus a margin), in the file's mix
    hits_needed = -N_READOUT * np.log(1.0 - min(occ, 0.97)) * 1.25 + 50
    n_sources = rng.poisson(hits_needed * cal.fraction / cal.mean_hits) + 1
    parts = []
    first_id = 1
    for k, species in enumerate(SPECIES):
        n = int(n_sources[k])
        if species.kind == "isolated":
            src = _isolated_hits(rng, n, cal.layer[k])
        else:
            src = _track_hits(rng, n, species, _lengths(rng, cal.lengths[k], n), config)
        m = len(src.cell)
        drift = cal.drift[k].sample(rng, m)
        t_source = cal.time[k].sample(rng, n)
        time = t_source[src.source] + (0.0 if species.kind == "isolated" else drift)
        charge = _copula_charge(rng, cal.charge[k], src.source, n, config.charge_correlation)
        parts.append((src.source + first_id, src.cell, time, charge, drift,
                      np.full(m, species.pdg), src.turn, src.momentum))
        first_id += n
    source, cell, time, charge, drift, pid, turn, momentum = (
        np.concatenate([p[i] for p in parts]) for i in range(8))
    inside = (time >= config.window_ns[0]) & (time <= config.window_ns[1])
    source, cell, time, charge, drift, pid, turn, momentum = (
        a[inside] for a in (source, cell, time, charge, drift, pid, turn, momentum))
    # sources in random order until `target` distinct read-out cells are hit
    rank = rng.permutation(first_id)[source]
    first_rank = np.full(get_geometry().n_cells, np.iinfo(np.int64).max)
    np.minimum.at(first_rank, cell, rank)
    reached = np.sort(first_rank[first_rank < np.iinfo(np.int64).max])
    cut = reached[min(target, len(reached)) - 1]
    keep = rank <= cut
    # one pulse per cell within the double-hit separation: the earlier hit stays
    index = np.flatnonzero(keep)
    index = index[np.lexsort((time[index], cell[index]))]
    same = np.r_[False, cell[index][1:] == cell[index][:-1]]
    gap = np.r_[np.inf, np.diff(time[index])]
    index = index[~(same & (gap < config.double_hit_separation_ns))]
    return BackgroundHits(cell[index], time[index], charge[index], drift[index],
                          pid[index].astype(np.int32), source[index].astype(np.int32),
                          turn[index].astype(np.int32), momentum[index].astype(np.float32),
                          len(np.unique(cell[index])) / N_READOUT)
