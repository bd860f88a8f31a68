"""COMET Phase-I cylindrical drift chamber (CDC) and trigger hodoscope (CTH) geometry.

Cells
    20 wire layers, LayerID 0…19. LayerID 0 and 19 are guard layers (no read-out); LayerID
    ``L = 1…18`` is read-out layer ``i = L - 1`` with ``198 + 6·i`` wires (4482 read-out wires).
    The inner guard layer has 198 wires (as many as the first read-out layer) and the outer one
    306 (the pattern continued), so ``198 + 4482 + 306 = 4986`` cells, the number the paper
    indexes into its 71×71 "reduced" image. (Continuing the pattern inwards, 192 wires, would
    give 4980.) The same counts are used by public COMET track-finding code.
Radii
    Read-out layer ``i`` lies at ``53.0 + 1.6·i`` cm on the read-out end-plate, so LayerID ``L``
    is at ``51.4 + 1.6·L`` cm: the guard layers sit at 51.4 and 81.8 cm, the latter being the
    paper's 818 mm read-out radius. The cell is 1.6 cm deep radially.
Azimuth
    Wire ``w`` of LayerID ``L`` is at ``φ = φ0(L) + 2π·w / n(L)`` with ``φ0 = 0`` on even and
    half a cell on odd LayerIDs (a half-cell stagger; the real per-layer offsets of ICEDUST are
    not reproduced).
Stereo
    Every layer is a stereo layer with alternating sign (+ on even LayerIDs). We keep a stereo
    angle of 70 mrad as data (the TDR quotes roughly 65–75 mrad); only the read-out-plane
    positions are used for display, the synthetic-event generator also uses the azimuthal
    twist ``tan(α)/r`` per cm of z. The small radial shrink of stereo wires mid-chamber is
    neglected.
Indices
    ``cell`` 0…4985 counts wires layer by layer from the innermost (guard) layer outwards.
    ``channel`` 0…4481 counts the read-out wires the same way with the guard layers left out
    (ICEDUST's ``CDCHit.fChannel``).
CTH
    Two rings at r = 44.78 cm (counters 0…63) and 48.28 cm (counters 64…127), 64 segments each,
    segment ``s`` centred at ``φ = (s + 0.5)·2π/64`` and spanning ``2π/64`` (both rings share
    the segmentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_LAYERS = 20
GUARD_LAYERS = (0, 19)
N_READOUT_LAYERS = 18
WIRES_PER_LAYER = np.array([198] + [198 + 6 * i for i in range(N_READOUT_LAYERS)] + [306])
N_CELLS = int(WIRES_PER_LAYER.sum())  # 4986
N_READOUT = int(WIRES_PER_LAYER[1:-1].sum())  # 4482
LAYER_RADIUS_CM = 51.4 + 1.6 * np.arange(N_LAYERS)
CELL_DEPTH_CM = 1.6
STEREO_ANGLE_RAD = 0.070
CTH_RADII_CM = (44.78, 48.28)
CTH_SEGMENTS = 64
N_CTH_COUNTERS = 2 * CTH_SEGMENTS

assert N_CELLS == 4986 and N_READOUT == 4482


def wrap_angle(phi: np.ndarray | float) -> np.ndarray:
    """Wrap angles (rad) to [-π, π)."""
    return np.mod(np.asarray(phi, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class CdcGeometry:
    """Read-only geometry tables; get the shared instance with :func:`get_geometry`.

    Attributes
    ----------
    wires_per_layer : (20,) int64
    layer_radius_cm : (20,) float64
        End-plate radius of each LayerID, cm.
    layer_phi0 : (20,) float64
        Azimuth of wire 0 of each layer, rad.
    stereo_angle_rad : (20,) float64
        Signed stereo angle per layer, rad.
    stereo_twist_rad_per_cm : (20,) float64
        Azimuth change of a wire per cm of z, ``tan(α)/r``.
    first_cell : (21,) int64
        Cell index of wire 0 of each layer; ``first_cell[20] == 4986``.
    layer_of_cell, wire_in_layer : (4986,) int64
    is_guard : (4986,) bool
    cell_phi, cell_x, cell_y, cell_radius : (4986,) float64
        Wire position on the read-out end-plate (rad, cm).
    channel_of_cell : (4986,) int64
        Read-out channel, -1 for guard cells.
    cell_of_channel : (4482,) int64
    neighbour_offsets : (4987,) int64
    neighbour_indices : (n_links,) int64
        CSR neighbour lists: the neighbours of cell ``c`` are
        ``neighbour_indices[neighbour_offsets[c]:neighbour_offsets[c + 1]]``.
    neighbour_table : (4986, k_max) int64
        The same lists padded with -1.
    cth_ring : (128,) int64
        0 for the inner ring (44.78 cm), 1 for the outer (48.28 cm).
    cth_radius_cm, cth_phi_center : (128,) float64
    cth_phi_span : float
        Azimuthal span of one counter, rad.
    """

    wires_per_layer: np.ndarray
    layer_radius_cm: np.ndarray
    layer_phi0: np.ndarray
    stereo_angle_rad: np.ndarray
    stereo_twist_rad_per_cm: np.ndarray
    first_cell: np.ndarray
    layer_of_cell: np.ndarray
    wire_in_layer: np.ndarray
    is_guard: np.ndarray
    cell_phi: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    cell_radius: np.ndarray
    channel_of_cell: np.ndarray
    cell_of_channel: np.ndarray
    neighbour_offsets: np.ndarray
    neighbour_indices: np.ndarray
    neighbour_table: np.ndarray
    cth_ring: np.ndarray
    cth_radius_cm: np.ndarray
    cth_phi_center: np.ndarray
    cth_phi_span: float

    n_cells: int = N_CELLS
    n_readout: int = N_READOUT
    n_layers: int = N_LAYERS

    def cell_index(self, layer: np.ndarray | int, wire: np.ndarray | int) -> np.ndarray:
        """Cell index from LayerID (0…19) and wire number (taken modulo the layer's count)."""
        layer = np.asarray(layer, dtype=np.int64)
        return self.first_cell[layer] + np.mod(wire, self.wires_per_layer[layer])

    def neighbours(self, cell: int) -> np.ndarray:
        """Neighbour cells of ``cell``: same layer ±1 and the nearest cells of adjacent layers."""
        return self.neighbour_indices[self.neighbour_offsets[cell]:self.neighbour_offsets[cell + 1]]

    def cth_counter_at(self, phi: np.ndarray | float, ring: np.ndarray | int) -> np.ndarray:
        """CTH counter index (0…127) covering azimuth ``phi`` (rad) in ``ring`` (0 or 1)."""
        segment = np.floor(np.mod(phi, 2.0 * np.pi) / self.cth_phi_span).astype(np.int64)
        return np.asarray(ring, dtype=np.int64) * CTH_SEGMENTS + np.minimum(segment,
                                                                            CTH_SEGMENTS - 1)

    def delta_phi(self, cells: np.ndarray | int, counter: int) -> np.ndarray:
        """Azimuth of ``cells`` minus the centre of CTH ``counter``, wrapped to [-π, π).

        Returns NaN for every cell when ``counter`` is -1 (trigger counter unknown).
        """
        cells = np.asarray(cells, dtype=np.int64)
        if counter == -1:
            return np.full(cells.shape, np.nan)
        if not 0 <= counter < N_CTH_COUNTERS:
            raise ValueError(f"CTH counter {counter} is outside 0…{N_CTH_COUNTERS - 1}")
        return wrap_angle(self.cell_phi[cells] - self.cth_phi_center[counter])


def _nearest_pair(phi: np.ndarray, layer: int, first_cell: np.ndarray, phi0: np.ndarray,
                  wires: np.ndarray) -> np.ndarray:
    """The two wires of ``layer`` bracketing each azimuth in ``phi``; shape (len(phi), 2)."""
    n = wires[layer]
    position = np.mod(phi - phi0[layer], 2.0 * np.pi) / (2.0 * np.pi / n)
    lower = np.floor(position).astype(np.int64)
    return first_cell[layer] + np.stack([np.mod(lower, n), np.mod(lower + 1, n)], axis=1)


def _build_neighbours(layer_of_cell: np.ndarray, wire: np.ndarray, cell_phi: np.ndarray,
                      first_cell: np.ndarray, phi0: np.ndarray,
                      wires: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric neighbour lists in CSR form plus a -1-padded table."""
    cells = np.arange(N_CELLS)
    n = wires[layer_of_cell]
    pairs = [
        np.stack([cells, first_cell[layer_of_cell] + np.mod(wire + 1, n)], axis=1),
    ]
    for layer in range(N_LAYERS - 1):
        inner = cells[layer_of_cell == layer]
        outer = _nearest_pair(cell_phi[inner], layer + 1, first_cell, phi0, wires)
        pairs += [np.stack([inner, outer[:, 0]], axis=1), np.stack([inner, outer[:, 1]], axis=1)]
        upper = cells[layer_of_cell == layer + 1]
        lower = _nearest_pair(cell_phi[upper], layer, first_cell, phi0, wires)
        pairs += [np.stack([lower[:, 0], upper], axis=1), np.stack([lower[:, 1], upper], axis=1)]
    links = np.concatenate(pairs)
    links = np.concatenate([links, links[:, ::-1]])  # symmetric by construction
    links = np.unique(links, axis=0)  # sorted by (cell, neighbour), duplicates removed
    counts = np.bincount(links[:, 0], minlength=N_CELLS)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    table = np.full((N_CELLS, int(counts.max())), -1, dtype=np.int64)
    slot = np.arange(len(links)) - offsets[links[:, 0]]
    table[links[:, 0], slot] = links[:, 1]
    return offsets, links[:, 1].copy(), table


@lru_cache(maxsize=1)
def get_geometry() -> CdcGeometry:
    """The CDC/CTH geometry, built once (about 10 ms) and cached."""
    wires = WIRES_PER_LAYER.astype(np.int64)
    first_cell = np.concatenate([[0], np.cumsum(wires)])
    layer_of_cell = np.repeat(np.arange(N_LAYERS), wires)
    wire = np.arange(N_CELLS) - first_cell[layer_of_cell]
    phi0 = np.where(np.arange(N_LAYERS) % 2 == 1, np.pi / wires, 0.0)
    cell_phi = wrap_angle(phi0[layer_of_cell] + 2.0 * np.pi * wire / wires[layer_of_cell])
    radius = LAYER_RADIUS_CM[layer_of_cell]
    is_guard = np.isin(layer_of_cell, GUARD_LAYERS)
    channel_of_cell = np.full(N_CELLS, -1, dtype=np.int64)
    channel_of_cell[~is_guard] = np.arange(N_READOUT)
    stereo = np.where(np.arange(N_LAYERS) % 2 == 0, 1.0, -1.0) * STEREO_ANGLE_RAD
    offsets, indices, table = _build_neighbours(layer_of_cell, wire, cell_phi, first_cell, phi0,
                                                wires)
    span = 2.0 * np.pi / CTH_SEGMENTS
    cth_ring = np.repeat(np.arange(2), CTH_SEGMENTS)
    arrays = dict(
        wires_per_layer=wires, layer_radius_cm=LAYER_RADIUS_CM.copy(), layer_phi0=phi0,
        stereo_angle_rad=stereo, stereo_twist_rad_per_cm=np.tan(stereo) / LAYER_RADIUS_CM,
        first_cell=first_cell, layer_of_cell=layer_of_cell, wire_in_layer=wire,
        is_guard=is_guard, cell_phi=cell_phi, cell_x=radius * np.cos(cell_phi),
        cell_y=radius * np.sin(cell_phi), cell_radius=radius, channel_of_cell=channel_of_cell,
        cell_of_channel=np.flatnonzero(~is_guard), neighbour_offsets=offsets,
        neighbour_indices=indices, neighbour_table=table, cth_ring=cth_ring,
        cth_radius_cm=np.asarray(CTH_RADII_CM)[cth_ring],
        cth_phi_center=wrap_angle((np.arange(N_CTH_COUNTERS) % CTH_SEGMENTS + 0.5) * span),
    )
    return CdcGeometry(**{k: _frozen(np.asarray(v)) for k, v in arrays.items()},
                       cth_phi_span=span)


# Convenience functions over the shared geometry (arguments may be scalars or arrays; values
# out of range raise ValueError instead of wrapping around like negative numpy indices).

def _checked(values: np.ndarray | int, size: int, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= size):
        raise ValueError(f"{what} outside 0…{size - 1}")
    return values


def layer_of_cell(cells: np.ndarray | int) -> np.ndarray:
    """LayerID (0…19) of each cell."""
    return get_geometry().layer_of_cell[_checked(cells, N_CELLS, "cell index")]


def wire_in_layer(cells: np.ndarray | int) -> np.ndarray:
    """Wire number within its layer of each cell."""
    return get_geometry().wire_in_layer[_checked(cells, N_CELLS, "cell index")]


def is_guard(cells: np.ndarray | int) -> np.ndarray:
    """True for cells of the guard layers (LayerID 0 and 19)."""
    return get_geometry().is_guard[_checked(cells, N_CELLS, "cell index")]


def channel_to_cell(channels: np.ndarray | int) -> np.ndarray:
    """Cell index of read-out channels 0…4481."""
    return get_geometry().cell_of_channel[_checked(channels, N_READOUT, "read-out channel")]


def cell_to_channel(cells: np.ndarray | int) -> np.ndarray:
    """Read-out channel of cells; -1 for guard cells."""
    return get_geometry().channel_of_cell[_checked(cells, N_CELLS, "cell index")]


def delta_phi(cells: np.ndarray | int, counter: int) -> np.ndarray:
    """Azimuth of cells relative to the centre of CTH ``counter``, in [-π, π) (NaN if -1)."""
    return get_geometry().delta_phi(cells, counter)
