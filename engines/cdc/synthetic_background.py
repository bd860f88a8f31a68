"""Background hits by resampling distributions (paper Sec. 3.2), vectorised over one event.

Like the paper's resampling, hits are drawn independently from one-dimensional distributions,
so the cluster patterns of the full beam simulation are not reproduced. Per event:

Occupancy
    The event's background occupancy is ``occupancy · (1 + occupancy_spread · N(0, 1))``,
    clipped to [0.01, 0.95] (the paper's beam-bunch intensity fluctuates from bunch to bunch,
    Fig. 4). That fraction of the 4482 read-out cells is hit; guard layers are never hit.
Which cells
    Cells are drawn without replacement with a weight that falls exponentially from the
    innermost to the outermost read-out layer, ``inner_outer_ratio`` times higher inside (low
    momentum beam and decay-in-orbit electrons curl in the inner layers).
Multiplicity
    Hits per hit cell follow a geometric distribution on 1, 2, 3, … with mean
    ``multiplicity_mean`` (1.7 in the paper, Fig. 6), capped at ``max_multiplicity``.
Times
    Absolute times over the read-out window (500–1620 ns after the proton pulse):
    a ``1 − flash_fraction`` uniform part plus a ``flash_fraction`` part decaying
    exponentially (``flash_decay_ns``) from the window start, the tail of the beam flash.
    Hits of one cell are at least ``double_hit_separation_ns`` apart (a cell cannot record a
    second pulse during the first); hits pushed past the window end are dropped.
ADC
    A mixture: ``1 − proton_fraction`` electron-like hits, Landau-like (Moyal) with most
    probable value ``electron_adc_mpv`` and width ``electron_adc_width``, and
    ``proton_fraction`` proton-like heavily ionising hits, log-normal with median
    ``proton_adc_median`` and log-width ``proton_adc_sigma``; clipped to [0, ``adc_max``].
    This is broader than the signal's Landau (see :mod:`engines.cdc.synthetic_signal`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.cdc.geometry import N_READOUT, get_geometry
from engines.core.config import param, validate


@dataclass(frozen=True)
class BackgroundConfig:
    """Parameters of the background resampling."""

    occupancy_spread: float = param(0.15, label="Occupancy spread", range=(0.0, 0.5),
                                    help="relative σ of the per-event occupancy")
    inner_outer_ratio: float = param(2.0, label="Inner/outer hit ratio", range=(1.0, 10.0),
                                     help="hit weight of the innermost over the outermost layer")
    multiplicity_mean: float = param(1.7, label="Hits per hit cell", range=(1.0, 4.0))
    max_multiplicity: int = param(8, label="Most hits per cell", range=(1, 11))
    window_ns: tuple[float, float] = param((500.0, 1620.0), label="Read-out window", unit="ns",
                                           range=(-1e4, 1e5), help="absolute")
    flash_fraction: float = param(0.2, label="Flash fraction", range=(0.0, 1.0),
                                  help="share of the decaying early component")
    flash_decay_ns: float = param(300.0, label="Flash decay", unit="ns", range=(10.0, 2000.0))
    double_hit_separation_ns: float = param(100.0, label="Double-hit separation", unit="ns",
                                            range=(0.0, 200.0),
                                            help="minimal spacing of hits in one cell")
    proton_fraction: float = param(0.25, label="Proton fraction", range=(0.0, 1.0),
                                   help="share of proton-like hits")
    electron_adc_mpv: float = param(110.0, label="Electron ADC MPV", range=(10.0, 500.0))
    electron_adc_width: float = param(45.0, label="Electron ADC width", range=(1.0, 200.0))
    proton_adc_median: float = param(450.0, label="Proton ADC median", range=(50.0, 2000.0))
    proton_adc_sigma: float = param(0.7, label="Proton ADC log-σ", range=(0.1, 2.0))
    adc_max: float = param(2000.0, label="ADC saturation", range=(100.0, 1e5))

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class BackgroundHits:
    """Background hits of one event, absolute times.

    Attributes
    ----------
    cell : (n,) int64
    time_abs_ns : (n,) float64
        Time after the proton pulse, ns.
    adc : (n,) float64
    occupancy : float
        The event's drawn background occupancy (fraction of read-out cells hit).
    """

    cell: np.ndarray
    time_abs_ns: np.ndarray
    adc: np.ndarray
    occupancy: float


def moyal(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard Moyal variates (mode 0), a closed-form approximation of the Landau shape."""
    return -np.log(np.maximum(rng.standard_normal(size) ** 2, 1e-300))


def _cell_weights(config: BackgroundConfig) -> np.ndarray:
    geometry = get_geometry()
    readout = geometry.cell_of_channel
    layer = geometry.layer_of_cell[readout] - 1  # read-out layer 0…17
    return config.inner_outer_ratio ** (-(layer / 17.0))


def _draw_times(rng: np.random.Generator, n: int, config: BackgroundConfig) -> np.ndarray:
    start, stop = config.window_ns
    width = stop - start
    flash = rng.random(n) < config.flash_fraction
    times = start + width * rng.random(n)
    # exponential truncated to the window, by inverse CDF
    u = rng.random(int(flash.sum()))
    tail = 1.0 - np.exp(-width / config.flash_decay_ns)
    times[flash] = start - config.flash_decay_ns * np.log1p(-u * tail)
    return times


def _separate(cell_rank: np.ndarray, times: np.ndarray, gap: float) -> np.ndarray:
    """Push hits of the same cell apart to at least ``gap`` ns (input sorted by rank, time)."""
    first = np.flatnonzero(np.r_[True, cell_rank[1:] != cell_rank[:-1]])
    position = np.arange(len(times)) - np.repeat(first, np.diff(np.r_[first, len(times)]))
    shifted = times - gap * position
    # segmented running maximum: offset each cell's values above all earlier cells
    offset = cell_rank * 1e7
    running = np.maximum.accumulate(shifted + offset) - offset
    return running + gap * position


def draw_background(rng: np.random.Generator, occupancy: float,
                    config: BackgroundConfig) -> BackgroundHits:
    """Draw the background hits of one event at mean read-out occupancy ``occupancy``."""
    occ = float(np.clip(occupancy * (1.0 + config.occupancy_spread * rng.standard_normal()),
                        0.01, 0.95))
    n_cells = int(round(occ * N_READOUT))
    weights = _cell_weights(config)
    # weighted sampling without replacement (Efraimidis–Spirakis): top-k of log(u)/w
    keys = np.log(rng.random(N_READOUT)) / weights
    chosen = np.argpartition(keys, N_READOUT - n_cells)[N_READOUT - n_cells:]
    cells = get_geometry().cell_of_channel[np.sort(chosen)]
    multiplicity = np.minimum(rng.geometric(1.0 / config.multiplicity_mean, n_cells),
                              config.max_multiplicity)
    rank = np.repeat(np.arange(n_cells), multiplicity)
    times = _draw_times(rng, len(rank), config)
    order = np.lexsort((times, rank))
    rank, times = rank[order], times[order]
    times = _separate(rank, times, config.double_hit_separation_ns)
    keep = times <= config.window_ns[1]
    rank, times = rank[keep], times[keep]
    n = len(rank)
    proton = rng.random(n) < config.proton_fraction
    adc = config.electron_adc_mpv + config.electron_adc_width * moyal(rng, n)
    adc[proton] = config.proton_adc_median * np.exp(
        config.proton_adc_sigma * rng.standard_normal(int(proton.sum())))
    adc = np.clip(adc, 0.0, config.adc_max)
    return BackgroundHits(cells[rank], times, adc, occ)
