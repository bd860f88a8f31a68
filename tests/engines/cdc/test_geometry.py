import numpy as np
import pytest

from engines.cdc import geometry as geo
from engines.cdc.geometry import get_geometry


@pytest.fixture(scope="module")
def g():
    return get_geometry()


def test_cell_counts_and_guard_layers(g):
    assert g.n_cells == 4986 and g.n_readout == 4482
    assert g.wires_per_layer[0] == 198 and g.wires_per_layer[19] == 306
    assert list(g.wires_per_layer[1:19]) == [198 + 6 * i for i in range(18)]
    assert np.count_nonzero(~g.is_guard) == 4482
    assert np.count_nonzero(g.is_guard) == 198 + 306
    assert set(g.layer_of_cell[g.is_guard]) == {0, 19}


def test_radii_and_wire_positions(g):
    readout = g.layer_radius_cm[1:19]
    np.testing.assert_allclose(readout, 53.0 + 1.6 * np.arange(18))
    assert g.layer_radius_cm[0] == pytest.approx(51.4)
    assert g.layer_radius_cm[19] == pytest.approx(81.8)
    np.testing.assert_allclose(np.hypot(g.cell_x, g.cell_y), g.cell_radius)
    np.testing.assert_allclose(np.arctan2(g.cell_y, g.cell_x), g.cell_phi, atol=1e-12)
    # wires of one layer are evenly spaced by 2π/n
    layer5 = g.cell_phi[g.layer_of_cell == 5]
    np.testing.assert_allclose(np.diff(np.unwrap(layer5)), 2 * np.pi / g.wires_per_layer[5])


def test_cells_are_numbered_inner_to_outer_layer_by_layer(g):
    assert np.all(np.diff(g.layer_of_cell) >= 0)
    assert g.first_cell[1] == 198 and g.first_cell[-1] == 4986
    cells = np.arange(g.n_cells)
    np.testing.assert_array_equal(g.cell_index(g.layer_of_cell, g.wire_in_layer), cells)
    assert geo.layer_of_cell(4985) == 19 and geo.wire_in_layer(4985) == 305


def test_channel_cell_round_trip(g):
    channels = np.arange(4482)
    cells = geo.channel_to_cell(channels)
    np.testing.assert_array_equal(geo.cell_to_channel(cells), channels)
    assert cells[0] == 198 and cells[-1] == 4986 - 306 - 1
    assert not geo.is_guard(cells).any()
    assert np.all(geo.cell_to_channel(np.flatnonzero(g.is_guard)) == -1)
    with pytest.raises(ValueError):
        geo.channel_to_cell(4482)
    with pytest.raises(ValueError):
        geo.channel_to_cell(-1)
    with pytest.raises(ValueError):
        geo.layer_of_cell(4986)


def test_neighbours_are_symmetric_and_local(g):
    for cell in range(g.n_cells):
        for other in g.neighbours(cell):
            assert cell in g.neighbours(other)
            assert other != cell
            layer_gap = abs(g.layer_of_cell[other] - g.layer_of_cell[cell])
            assert layer_gap <= 1
            coarser = min(g.wires_per_layer[g.layer_of_cell[[cell, other]]])
            assert abs(geo.wrap_angle(g.cell_phi[other] - g.cell_phi[cell])) <= 2 * np.pi / coarser + 1e-9
    # same-layer ±1 (with wrap-around) are neighbours
    assert {1, 197} <= set(g.neighbours(0))
    # every cell has at least one neighbour in each adjacent layer
    for cell in (0, 500, 2500, 4985):
        layers = set(g.layer_of_cell[g.neighbours(cell)])
        expected = {g.layer_of_cell[cell] + d for d in (-1, 1)} & set(range(20))
        assert expected <= layers
    table = g.neighbour_table
    assert table.shape[0] == g.n_cells
    assert sorted(table[200][table[200] >= 0]) == sorted(g.neighbours(200))


def test_stereo_alternates(g):
    signs = np.sign(g.stereo_angle_rad)
    assert np.all(signs[:-1] == -signs[1:])
    assert np.all(np.abs(g.stereo_angle_rad) > 0.05)


def test_cth_counters(g):
    assert len(g.cth_phi_center) == 128
    assert set(g.cth_radius_cm) == {44.78, 48.28}
    assert g.cth_phi_span == pytest.approx(2 * np.pi / 64)
    counters = np.arange(128)
    np.testing.assert_array_equal(g.cth_counter_at(g.cth_phi_center, g.cth_ring), counters)


def test_delta_phi_wraps_to_minus_pi_pi(g):
    dphi = geo.delta_phi(np.arange(g.n_cells), 0)
    assert dphi.min() >= -np.pi and dphi.max() < np.pi
    # a cell just below φ = +π against the counter just above φ = -π: a small angle, not ~2π
    near_pi = int(np.argmax(np.where(g.layer_of_cell == 10, g.cell_phi, -10.0)))
    assert g.cell_phi[near_pi] > np.pi - 0.05
    counter = int(g.cth_counter_at(-np.pi + 0.01, 0))
    assert g.cth_phi_center[counter] < -np.pi + 0.1
    value = float(geo.delta_phi(near_pi, counter))
    assert -0.2 < value < 0
    # the opposite side of the chamber is about ±π away
    opposite = int(np.argmin(np.abs(geo.wrap_angle(g.cell_phi - g.cth_phi_center[5] - np.pi))))
    assert abs(float(geo.delta_phi(opposite, 5))) > np.pi - 0.05
    assert np.all(np.isnan(geo.delta_phi([0, 1], -1)))
    with pytest.raises(ValueError):
        geo.delta_phi([0], 128)
