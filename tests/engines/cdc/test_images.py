"""Events -> images: pixel maps, hit selection, scaling, bit precision, labels, back-mapping."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engines.cdc.events import Event
from engines.cdc.features import HitTable, hit_table
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


def _table(time_ns, charge, trigger_known=True, delta_phi=None) -> HitTable:
    n = len(time_ns)
    return HitTable(np.zeros(n, np.int64), np.zeros(n, np.int64), np.asarray(time_ns, float),
                    np.asarray(charge, float),
                    np.full(n, np.nan) if delta_phi is None else np.asarray(delta_phi, float),
                    np.full(n, trigger_known), np.zeros(n, bool))


def test_density_selection_picks_the_signal_like_hit(density):
    # cell 500 holds an early, heavily ionising hit and a signal-like one (the event's median
    # charge is about 390, signal hits sit ~0.9 decades below it)
    event = _event([500, 500, 700, 701, 702], [-600.0, 120.0, 50.0, 800.0, 900.0],
                   [4000.0, 50.0, 55.0, 390.0, 390.0], [False, True, True, False, False])
    hits = hit_table([event])
    first = select_hits(hits, ImageConfig(hit_selection="first"), None)
    dense = select_hits(hits, ImageConfig(), density)
    np.testing.assert_array_equal(first, [0, 2, 3, 4])
    np.testing.assert_array_equal(dense, [1, 2, 3, 4])
    # without a trigger time only the charge decides
    hidden = hit_table([event.without_trigger()])
    np.testing.assert_array_equal(select_hits(hidden, ImageConfig(), density), [1, 2, 3, 4])
    with pytest.raises(ModelError, match="density"):
        select_hits(hits, ImageConfig(), None)


def test_density_selection_covers_more_signal_than_first_hit(events, density):
    covered = {}
    for mode in ("first", "density"):
        config = ImageConfig(hit_selection=mode)
        hits = hit_table(events)
        chosen = select_hits(hits, config, density)
        signal_cells = np.unique(hits.event[hits.is_signal] * N_CELLS
                                 + hits.cell[hits.is_signal])
        shown_signal = hits.event[chosen] * N_CELLS + hits.cell[chosen]
        shown_signal = shown_signal[hits.is_signal[chosen]]
        covered[mode] = np.isin(signal_cells, shown_signal).mean()
    assert covered["density"] > 0.9 and covered["density"] > covered["first"] + 0.05


def test_features_do_not_depend_on_units_or_clock(events, density):
    """The same event in other charge units, or without a trigger on a shifted absolute
    clock, gives the same time and charge channels."""
    config = ImageConfig()
    event = events[0].without_trigger()
    base = build_images([event], config, density).images
    scaled = replace(event, adc=event.adc * 250.0)
    shifted = replace(event, time_ns=event.time_ns + 1234.0)
    np.testing.assert_allclose(build_images([scaled], config, density).images, base, atol=1e-5)
    np.testing.assert_allclose(build_images([shifted], config, density).images, base,
                               atol=2e-4)


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
    values = scale_features(_table(np.linspace(-1000, 3500, 500), np.linspace(-2.5, 2.5, 500)),
                            ImageConfig(bits=bits, delta_phi=False))
    codes = np.unique(np.rint(values * ((1 << bits) - 1)))
    assert codes.size <= levels and codes.max() < (1 << bits) - 1   # white stays reserved
    if bits == 1:
        assert codes.tolist() == [0.0]                             # hit vs no hit only


def test_limited_scaling_resolves_the_signal_region_and_caps_outside():
    times = np.array([-700.0, -50.0, 175.0, 400.0, 900.0])
    config = ImageConfig(scaling="limited", delta_phi=False)
    limited = scale_features(_table(times, np.zeros(5)), config)[0]
    linear = scale_features(_table(times, np.zeros(5)), ImageConfig(delta_phi=False))[0]
    assert limited[0] == limited[1] and limited[3] == limited[4]   # capped
    assert limited[3] - limited[1] > 3 * (linear[3] - linear[1])   # finer inside
    # without a trigger time the signal region is unknown: the time stays linear
    untriggered = scale_features(_table(times, np.zeros(5), trigger_known=False), config)[0]
    np.testing.assert_allclose(untriggered, linear)


def test_unknown_trigger_gives_middle_delta_phi(density):
    event = _event([900], [100.0], [150.0], [True], counter=-1)
    batch = build_images([event], ImageConfig(), density)
    assert batch.images[0, 2].ravel()[900] == pytest.approx(0.5, abs=0.01)


def test_config_validation():
    with pytest.raises(InputError, match="format"):
        ImageConfig(format="hexagonal")
    with pytest.raises(InputError, match="bit"):
        ImageConfig(bits=17)
    assert ImageConfig.from_json(ImageConfig(bits=6).to_json()) == ImageConfig(bits=6)
    with pytest.raises(ModelError):
        ImageConfig.from_json({"bits": 99})
    with pytest.raises(ModelError, match="retrain"):
        ImageConfig.from_json({"linear_adc": [0, 2000]})


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


def test_polar_grid_shows_every_cell_and_keeps_neighbours_adjacent(events, density):
    shown = cell_of_pixel("polar").reshape(20, 320)
    geometry = get_geometry()
    assert np.all(shown >= 0) and np.unique(shown).size == N_CELLS
    assert np.all(geometry.layer_of_cell[shown] == np.arange(20)[:, None])  # a row per layer
    steps = np.diff(geometry.wire_in_layer[shown], axis=1) % geometry.wires_per_layer[
        np.arange(20)][:, None]
    assert set(np.unique(steps)) <= {0, 1}               # along a row: the same or next wire
    np.testing.assert_array_equal(shown.ravel()[pixel_of_cell("polar")], np.arange(N_CELLS))
    config = ImageConfig(format="polar")
    batch = build_images(events[:2], config, density)
    assert batch.images.shape == (2, 3, 20, 320) and batch.valid.all()
    cells = cell_scores(batch.labels, config)
    for i, event in enumerate(events[:2]):
        np.testing.assert_array_equal(np.flatnonzero(cells[i] > 0.5),
                                      np.unique(event.cell[event.is_signal]))


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
