"""Charged-particle paths through the CDC: helix points, the cells they cross, and back.

Shared by the synthetic signal (:mod:`engines.cdc.synthetic_signal`), the synthetic background
tracks (:mod:`engines.cdc.synthetic_background`) and the track fit (:mod:`engines.cdc.trackfit`),
so the three agree on one geometry.

Helix
    In the solenoid field B (along +z) a particle of charge ``q`` (units of e) and transverse
    momentum p_T moves on a circle of radius ``R = p_T / (0.3·B)`` (p_T in GeV/c, R in m;
    35 cm at 105 MeV/c and 1 T). Seen from +z, negative particles turn anticlockwise. It
    advances ``R·cot θ`` in z per radian of turning.
Cells
    A point inside the sense volume (``|z| ≤ half_length_cm``) lies in the LayerID whose 1.6 cm
    radial band contains it and in the cell of the nearest wire of that layer *at its z*: stereo
    wires turn by ``tan α / r`` per cm of z away from the read-out end-plate at
    ``readout_plate_z_cm`` (see :mod:`engines.cdc.geometry`).
Stereo positions
    :func:`wire_xy` places a cell's wire at any z; the display and the track fit use the
    chamber's middle (z = 0) as the best single end-view position of a wire whose hit z is
    unknown (its offset from the true crossing is at most ``tan α · half_length`` ≈ 5 cm).
"""

from __future__ import annotations

import numpy as np

from engines.cdc.geometry import CELL_DEPTH_CM, LAYER_RADIUS_CM, get_geometry

SPEED_OF_LIGHT_CM_PER_NS = 29.9792458
#: p_T [MeV/c] = MEV_PER_CM_TESLA · B [T] · R [cm]  (p_T = 0.3·B·R in GeV/c, T, m)
MEV_PER_CM_TESLA = 2.99792458
HALF_LENGTH_CM = 75.0
READOUT_PLATE_Z_CM = 75.0


def radius_cm(pt: np.ndarray | float, field_t: float = 1.0) -> np.ndarray | float:
    """Helix radius (cm) of transverse momentum ``pt`` (MeV/c) in ``field_t`` (T)."""
    return pt / (MEV_PER_CM_TESLA * field_t)


def pt_mev(radius: np.ndarray | float, field_t: float = 1.0) -> np.ndarray | float:
    """Transverse momentum (MeV/c) of a helix of ``radius`` cm: p_T = 0.3·B·R."""
    return MEV_PER_CM_TESLA * field_t * radius


def wire_xy(cells: np.ndarray, z_cm: np.ndarray | float = 0.0,
            readout_plate_z_cm: float = READOUT_PLATE_Z_CM, stereo: bool = True
            ) -> tuple[np.ndarray, np.ndarray]:
    """End-view position (cm) of the wires of ``cells`` at height ``z_cm``."""
    geometry = get_geometry()
    cells = np.asarray(cells, dtype=np.int64)
    layer = geometry.layer_of_cell[cells]
    phi = geometry.cell_phi[cells]
    if stereo:
        phi = phi + geometry.stereo_twist_rad_per_cm[layer] * (np.asarray(z_cm)
                                                               - readout_plate_z_cm)
    radius = geometry.layer_radius_cm[layer]
    return radius * np.cos(phi), radius * np.sin(phi)


def cells_at(x: np.ndarray, y: np.ndarray, z: np.ndarray,
             half_length_cm: float = HALF_LENGTH_CM,
             readout_plate_z_cm: float = READOUT_PLATE_Z_CM, stereo: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The read-out cells that points (x, y, z) (cm, any shape, flattened) lie in.

    Returns
    -------
    index : (k,) int64
        Indices into the flattened points that lie in a read-out cell (guard layers, points
        outside the layers or beyond ``|z| ≤ half_length_cm`` are left out).
    cell : (k,) int64
        Their cells.
    distance_cm : (k,) float64
        Distance of each point from its cell's wire (in the end view, at the point's z).
    """
    geometry = get_geometry()
    x, y, z = (np.ravel(np.asarray(v, dtype=np.float64)) for v in (x, y, z))
    r = np.hypot(x, y)
    layer = np.rint((r - LAYER_RADIUS_CM[0]) / CELL_DEPTH_CM).astype(np.int64)
    inside = (layer >= 0) & (layer < geometry.n_layers) & (np.abs(z) <= half_length_cm)
    index = np.flatnonzero(inside)
    layer, x, y, z = layer[index], x[index], y[index], z[index]
    shift = (geometry.stereo_twist_rad_per_cm[layer] * (z - readout_plate_z_cm)
             if stereo else np.zeros(len(index)))
    pitch = 2.0 * np.pi / geometry.wires_per_layer[layer]
    wire = np.rint((np.arctan2(y, x) - geometry.layer_phi0[layer] - shift) / pitch
                   ).astype(np.int64)
    cell = geometry.cell_index(layer, wire)
    wire_phi = geometry.cell_phi[cell] + shift
    distance = np.hypot(x - LAYER_RADIUS_CM[layer] * np.cos(wire_phi),
                        y - LAYER_RADIUS_CM[layer] * np.sin(wire_phi))
    readout = ~geometry.is_guard[cell]
    return index[readout], cell[readout], distance[readout]


def helix_points(x0: np.ndarray, y0: np.ndarray, z0: np.ndarray, phi_dir: np.ndarray,
                 radius: np.ndarray, charge: np.ndarray, cot_theta: np.ndarray,
                 n_steps: int, step_cm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray]:
    """Points of many helices at once, every ``step_cm`` of transverse path.

    Parameters
    ----------
    x0, y0, z0 : (m,)
        Start points, cm.
    phi_dir : (m,)
        Azimuth of the transverse direction of motion at the start, rad.
    radius : (m,)
        Helix radii, cm (finite; a large radius makes a straight-ish track).
    charge : (m,)
        Sign of the charge (negative turns anticlockwise seen from +z).
    cot_theta : (m,)
        p_z / p_T.

    Returns
    -------
    x, y, z, s : (m, n_steps)
        Positions (cm) and the transverse path length from the start (cm).
    """
    s = np.arange(n_steps)[None, :] * float(step_cm)
    radius = np.asarray(radius, dtype=np.float64)[:, None]
    turn = -np.sign(np.asarray(charge, dtype=np.float64))[:, None]  # +1 anticlockwise
    phi = np.asarray(phi_dir, dtype=np.float64)[:, None]
    angle = phi + turn * (s / radius)
    x = np.asarray(x0, dtype=np.float64)[:, None] + turn * radius * (np.sin(angle) - np.sin(phi))
    y = np.asarray(y0, dtype=np.float64)[:, None] - turn * radius * (np.cos(angle) - np.cos(phi))
    z = np.asarray(z0, dtype=np.float64)[:, None] + s * np.asarray(cot_theta)[:, None]
    return x, y, z, np.broadcast_to(s, x.shape)


def first_cells(track: np.ndarray, cell: np.ndarray, order_key: np.ndarray
                ) -> np.ndarray:
    """Index of the first (lowest ``order_key``) point of every distinct (track, cell).

    Returns indices into the inputs, sorted by (track, order_key).
    """
    key = track.astype(np.int64) * 10_000 + cell
    order = np.lexsort((order_key, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if len(order) else order
    return first[np.lexsort((order_key[first], track[first]))]
