"""Events -> images: pixel maps, hit selection, scaling, bit precision, labels, back-mapping."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.events import Event
from engines.cdc.geometry import N_CELLS, get_geometry
from engines.cdc.images import (
    ImageConfig,
    build_images,
    cell_of_pixel,
    cell_scores,
    pixel_of_cell,
    pixel_scores_to_hits,
    scale_features,
    select_hits,
    valid_mask,
)
from engines.cdc.signal_density import SignalDensity
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError, ModelError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(12, occupancy=0.4, seed=5)))


@pytest.fixture(scope="module")
def density(events):
    return SignalDensity.fit(events)


def _event(cells, times, adcs, signal, counter=10):
    return Event(0, np.array(cells), np.array(times, float), np.array(adcs, float),
                 np.array(signal, bool), has_truth=True, trigger_counter=counter)


@pytest.mark.parametrize("fmt, shape, share", [("reduced", (71, 71), 4986 / 5041),
                                               ("normal", (128, 128), 0.3043)])
def test_pixel_maps_are_one_to_one(fmt, shape, share):
    pixels = pixel_of_cell(fmt)
    assert pixels.shape == (N_CELLS,) and np.unique(pixels).size == N_CELLS
    back = cell_of_pixel(fmt)
    assert back.shape == (shape[0] * shape[1],)
    np.testing.assert_array_equal(back[pixels], np.arange(N_CELLS))
    assert valid_mask(fmt).mean() == pytest.approx(share, abs=1e-3)


def test_reduced_is_row_major_and_normal_follows_the_end_plate():
    assert tuple(np.divmod(pixel_of_cell("reduced")[100], 71)) == (1, 29)
    geometry = get_geometry()
    rows, cols = np.divmod(pixel_of_cell("normal"), 128)
    right = geometry.cell_x > 70          # right side of the chamber -> right of the image
    top = geometry.cell_y > 70            # y up -> small row numbers
    assert cols[right].min() > 100 and rows[top].max() < 28


def test_density_selection_picks_the_signal_like_hit(density):
    # cell 500 holds an early background-like hit and a signal-like one
    event = _event([500, 500, 700], [-600.0, 120.0, 50.0], [1500.0, 150.0, 140.0],
                   [False, True, True])
    e = np.zeros(3, dtype=np.int64)
    first = select_hits(e, event.cell.astype(np.int64), event.time_ns, event.adc,
                        ImageConfig(hit_selection="first"), None)
    dense = select_hits(e, event.cell.astype(np.int64), event.time_ns, event.adc,
                        ImageConfig(), density)
    np.testing.assert_array_equal(first, [0, 2])
    np.testing.assert_array_equal(dense, [1, 2])
    with pytest.raises(ModelError, match="density"):
        select_hits(e, event.cell.astype(np.int64), event.time_ns, event.adc, ImageConfig(), None)


def test_density_selection_covers_more_signal_than_first_hit(events, density):
    covered = {}
    for mode in ("first", "density"):
        batch = build_images(events, ImageConfig(hit_selection=mode), density)
        config = ImageConfig(hit_selection=mode)
        # a signal cell is covered when its shown hit is the signal hit: compare time pixels
        shown = []
        for i, event in enumerate(events):
            sig = event.is_signal
            cell_time = batch.images[i, 0].ravel()[pixel_of_cell("reduced")[event.cell[sig]]]
            expected = scale_features(event.time_ns[sig], event.adc[sig], None,
                                      ImageConfig(delta_phi=False, hit_selection=mode))[0]
            shown.append(np.isclose(cell_time, expected))
        covered[mode] = np.concatenate(shown).mean()
        assert config.channels == 3
    assert covered["density"] > 0.9 and covered["density"] > covered["first"] + 0.1


def test_images_have_reserved_values_labels_and_mask(events, density):
    config = ImageConfig()
    batch = build_images(events, config, density)
    n = len(events)
    assert batch.images.shape == (n, 3, 71, 71) and batch.images.dtype == np.float32
    assert batch.labels.shape == batch.valid.shape == (n, 71, 71)
    outside = ~batch.valid[0]
    assert np.all(batch.images[:, :, outside] == 0.0)              # black: no cell
    for i, event in enumerate(events):
        hit = np.zeros(N_CELLS, bool)
        hit[event.cell] = True
        px = pixel_of_cell("reduced")
        values = batch.images[i].reshape(3, -1)[:, px]
        assert np.all(values[:, ~hit] == 1.0)                      # white: empty cell
        assert np.all((values[:, hit] >= config.gap - 1e-6) & (values[:, hit] < 1.0 - config.gap + 1e-6))
        truth = np.zeros(N_CELLS, np.float32)
        truth[event.cell[event.is_signal]] = 1
        np.testing.assert_array_equal(batch.labels[i].ravel()[px], truth)


def test_delta_phi_channel_is_optional_and_normal_format_shape(events, density):
    batch = build_images(events[:2], ImageConfig(format="normal", delta_phi=False), density)
    assert batch.images.shape == (2, 2, 128, 128)


@pytest.mark.parametrize("bits, levels", [(1, 1), (2, 3), (4, 15)])
def test_bit_precision_limits_the_hit_codes(bits, levels):
    values = scale_features(np.linspace(-800, 1200, 500), np.linspace(0, 2000, 500), None,
                            ImageConfig(bits=bits, delta_phi=False))
    codes = np.unique(np.rint(values * ((1 << bits) - 1)))
    assert codes.size <= levels and codes.max() < (1 << bits) - 1   # white stays reserved
    if bits == 1:
        assert codes.tolist() == [0.0]                             # hit vs no hit only


def test_limited_scaling_resolves_the_signal_region_and_caps_outside():
    times = np.array([-700.0, -50.0, 175.0, 400.0, 900.0])
    limited = scale_features(times, np.full(5, 100.0), None,
                             ImageConfig(scaling="limited", delta_phi=False))[0]
    linear = scale_features(times, np.full(5, 100.0), None, ImageConfig(delta_phi=False))[0]
    assert limited[0] == limited[1] and limited[3] == limited[4]   # capped
    assert limited[3] - limited[1] > 3 * (linear[3] - linear[1])   # finer inside


def test_unknown_trigger_gives_middle_delta_phi(density):
    event = _event([900], [100.0], [150.0], [True], counter=-1)
    batch = build_images([event], ImageConfig(), density)
    assert batch.images[0, 2].ravel()[900] == pytest.approx(0.5, abs=0.01)


def test_config_validation():
    with pytest.raises(InputError, match="format"):
        ImageConfig(format="polar")
    with pytest.raises(InputError, match="bit"):
        ImageConfig(bits=17)
    assert ImageConfig.from_json(ImageConfig(bits=6).to_json()) == ImageConfig(bits=6)
    with pytest.raises(ModelError):
        ImageConfig.from_json({"bits": 99})


def test_pixel_scores_map_back_to_cells_and_hits(events, density):
    config = ImageConfig()
    batch = build_images(events, config, density)
    scores = pixel_scores_to_hits(events, batch.labels, config, density)
    assert [s.shape for s in scores] == [(e.n_hits,) for e in events]
    cells = cell_scores(batch.labels, config)
    for i, event in enumerate(events):
        # a perfect cell score gives every signal hit of a covered cell score 1 and no hit in a
        # background-only cell more than 0
        assert np.all(scores[i][~np.isin(event.cell, event.cell[event.is_signal])] == 0)
        assert np.all(cells[i, event.cell[event.is_signal]] == 1)
    all_scores = np.concatenate(scores)
    labels = np.concatenate([e.is_signal for e in events])
    assert all_scores[labels].mean() > 0.9
    # background hits sharing a signal cell are scaled down by their density
    shared = np.concatenate([np.isin(e.cell, e.cell[e.is_signal]) & ~e.is_signal for e in events])
    assert all_scores[shared].mean() < 0.5


def test_events_without_hits(density):
    empty = Event(3, np.zeros(0, int), np.zeros(0), np.zeros(0), has_truth=True)
    batch = build_images([empty], ImageConfig(), density)
    assert np.all(batch.images[0][:, batch.valid[0]] == 1.0) and batch.labels.sum() == 0
    scores = pixel_scores_to_hits([empty], np.ones((1, 71, 71)), ImageConfig(), density)
    assert scores[0].shape == (0,)


def test_delta_phi_is_cell_minus_trigger_counter():
    """Cells on either side of the trigger counter get Δφ of opposite signs: the channel grows
    with Δφ = φ(cell) − φ(counter centre), wrapped to [−π, π) (about (Δφ + π) / 2π, with the
    small gaps the colour scale leaves)."""
    geometry = get_geometry()
    counter = 10
    centre = geometry.cth_phi_center[counter]
    layer0 = np.flatnonzero(geometry.layer_of_cell == 5)
    offsets = np.angle(np.exp(1j * (geometry.cell_phi[layer0] - centre)))
    cells = [layer0[np.argmin(np.abs(offsets - target))] for target in (0.4, -0.4, 3.0)]
    event = _event(cells, [100.0] * 3, [150.0] * 3, [False] * 3, counter=counter)
    config = ImageConfig(hit_selection="first")
    channel = build_images([event], config).images[0, 2].ravel()[pixel_of_cell(config.format)]
    expected = (geometry.delta_phi(np.array(cells), counter) + np.pi) / (2 * np.pi)
    np.testing.assert_allclose(channel[cells], expected, atol=0.03)
    assert channel[cells[1]] < 0.5 < channel[cells[0]] < channel[cells[2]]  # before, after
    assert expected[0] == pytest.approx(0.5 + 0.4 / (2 * np.pi), abs=0.01)
