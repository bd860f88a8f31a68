"""Events -> images, value by value: the pixel maps computed afresh (not from the cached
maps), the exact channel values, which hit a multi-hit cell shows, cell means of the polar
grid and the per-hit scores of a stand-in signal density."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc import images
from engines.cdc.events import Event
from engines.cdc.features import HitTable
from engines.cdc.geometry import LAYER_RADIUS_CM, N_CELLS, get_geometry
from engines.cdc.images import (
    ImageConfig,
    build_images,
    cell_scores,
    cell_scores_to_hits,
    scale_features,
    select_hits,
)
from engines.core.errors import InputError, ModelError

FINE = {"bits": 16, "gap": 0.0}
STEP = 2.0 / 65535  # two 16-bit codes: the quantisation error


def test_normal_map_puts_each_cell_in_the_pixel_under_it():
    geometry = get_geometry()
    pixels = images._one_pixel_per_cell("normal")
    assert pixels.dtype == np.int64 and np.unique(pixels).size == N_CELLS
    half = float(LAYER_RADIUS_CM[-1])
    size = 2 * half / 128
    rows, cols = np.divmod(pixels, 128)
    centre_x, centre_y = -half + (cols + 0.5) * size, half - (rows + 0.5) * size  # y up
    assert np.abs(centre_x - geometry.cell_x).max() <= size / 2 + 1e-9
    assert np.abs(centre_y - geometry.cell_y).max() <= size / 2 + 1e-9
    np.testing.assert_array_equal(images._one_pixel_per_cell("reduced"), np.arange(N_CELLS))


def test_polar_map_shows_the_nearest_wire_of_each_row():
    geometry = get_geometry()
    cells = images._polar_cells()
    assert cells.shape == (20 * 320,) and cells.dtype == np.int64
    layer = np.repeat(np.arange(20), 320)
    np.testing.assert_array_equal(geometry.layer_of_cell[cells], layer)
    phi = (np.tile(np.arange(320), 20) + 0.5) * (2 * np.pi / 320)
    offset = np.angle(np.exp(1j * (phi - geometry.cell_phi[cells])))
    half_pitch = np.pi / geometry.wires_per_layer[layer]
    assert np.all(np.abs(offset) <= half_pitch + 1e-9)
    counts = np.bincount(cells, minlength=N_CELLS)
    assert counts.min() == 1 and counts.max() == 2  # 1.05 to 1.6 pixels a cell


def _table(time_ns, charge, delta_phi, trigger_known) -> HitTable:
    n = len(time_ns)
    return HitTable(np.zeros(n, np.int64), np.arange(n, dtype=np.int64),
                    np.asarray(time_ns, float), np.asarray(charge, float),
                    np.asarray(delta_phi, float), np.asarray(trigger_known, bool),
                    np.zeros(n, bool))


def test_channel_values_are_the_scaled_features():
    table = _table([125.0, 175.0, -2000.0], [0.5, -0.75, 9.0], [0.0, np.pi / 2, np.nan],
                   [True, False, True])
    linear = scale_features(table, ImageConfig(**FINE))
    assert linear.dtype == np.float32 and linear.shape == (3, 3)
    # time (−1000, 3500) ns, charge (−2.5, 2.5) decades, Δφ (−π, π); NaN Δφ: the middle
    np.testing.assert_allclose(linear[0], [1125 / 4500, 1175 / 4500, 0.0], atol=STEP)
    np.testing.assert_allclose(linear[1], [0.6, 0.35, 1 - STEP], atol=STEP)
    np.testing.assert_allclose(linear[2], [0.5, 0.75, 0.5], atol=STEP)
    limited = scale_features(table, ImageConfig(scaling="limited", delta_phi=False, **FINE))
    # time (−50, 400) ns where the trigger is known, else linear; charge (−2, 0.5) decades
    np.testing.assert_allclose(limited[0], [175 / 450, 1175 / 4500, 0.0], atol=STEP)
    np.testing.assert_allclose(limited[1], [1 - STEP, 0.5, 1 - STEP], atol=STEP)


def _event(cells, times, adcs, signal=None, counter=-1, trigger_ns=0.0):
    return Event(0, np.array(cells), np.array(times, float), np.array(adcs, float),
                 None if signal is None else np.array(signal, bool),
                 has_truth=signal is not None, trigger_counter=counter,
                 trigger_time_ns=trigger_ns)


def test_a_multi_hit_cell_shows_its_chosen_hit_and_labels_are_float32():
    # cell 500: the first hit in time is listed first, a later one after it
    event = _event([500, 500, 900], [100.0, 900.0, 300.0], [10.0, 10.0, 10.0],
                   [False, True, False], trigger_ns=5.0)
    config = ImageConfig(hit_selection="first", delta_phi=False, **FINE)
    batch = build_images([event], config)
    assert batch.labels.dtype == np.float32 and batch.images.dtype == np.float32
    assert batch.images[0, 0].ravel()[500] == pytest.approx(1100 / 4500, abs=STEP)
    assert batch.labels[0].ravel()[[500, 900]].tolist() == [1.0, 0.0]


def test_the_time_reference_percentile_reaches_the_images():
    # no trigger time: times count from a percentile of the event's hit times
    event = _event([1, 2, 3, 4], [0.0, 1000.0, 2000.0, 3000.0], [10.0] * 4)
    low = build_images([event], ImageConfig(hit_selection="first", delta_phi=False,
                                            time_reference_percentile=0.0, **FINE))
    high = build_images([event], ImageConfig(hit_selection="first", delta_phi=False,
                                             time_reference_percentile=50.0, **FINE))
    # cell 4 at 3000 ns: 3000 ns after the earliest hit, 1500 ns after the median
    assert low.images[0, 0].ravel()[4] == pytest.approx(4000 / 4500, abs=STEP)
    assert high.images[0, 0].ravel()[4] == pytest.approx(2500 / 4500, abs=STEP)


def test_polar_cell_scores_are_the_mean_of_their_pixels():
    config = ImageConfig(format="polar")
    cells = images._polar_cells()
    shared = np.flatnonzero(np.bincount(cells, minlength=N_CELLS) == 2)[0]
    pixels = np.zeros((1, 20 * 320), np.float32)
    first, second = np.flatnonzero(cells == shared)
    pixels[0, first], pixels[0, second] = 0.2, 0.6
    scores = cell_scores(pixels.reshape(1, 20, 320), config)
    assert scores.dtype == np.float32 and scores.shape == (1, N_CELLS)
    assert scores[0, shared] == pytest.approx(0.4)
    assert np.count_nonzero(scores) == 1
    with pytest.raises(ValueError) as error:
        cell_scores(np.zeros((2, 71, 71)), config)
    assert str(error.value) == "pixel scores of shape (71, 71), expected (20, 320)"


def _stand_in_density(time_ns, charge, trigger_known):
    """1 to 4: with a trigger time early hits (before 500 ns) are the denser, without one late
    hits; hits above the event's median charge count twice."""
    late = np.asarray(time_ns) > 500
    dense = np.where(trigger_known, ~late, late)
    return (1.0 + dense) * (1.0 + (np.asarray(charge) > 0))


def test_per_hit_scores_follow_the_density_relative_to_the_shown_hit():
    # charges 10, 1000, 1000, 10, 100: −1, +1, +1, −1, 0 decades from the median.
    # cell 7: 100 ns (shown: the first; density 2) and 300 ns (density 4);
    # cell 8: 200 ns (shown; density 4) and 600 ns (density 1)
    event = _event([7, 7, 8, 8, 9], [100.0, 300.0, 200.0, 600.0, 50.0],
                   [10.0, 1000.0, 1000.0, 10.0, 100.0], trigger_ns=2.0)
    config = ImageConfig(hit_selection="first")
    scores = np.zeros((1, N_CELLS))
    scores[0, [7, 8, 9]] = [0.4, 0.8, 1.7]
    per_hit = cell_scores_to_hits([event], scores, config, _stand_in_density)[0]
    assert per_hit.dtype == np.float32
    # a denser hit than the shown one keeps the cell's score (the ratio is capped at 1), a
    # less dense one is scaled down; scores are clipped to [0, 1]
    np.testing.assert_allclose(per_hit, [0.4, 0.4, 0.8, 0.2, 1.0], rtol=1e-6)
    plain = cell_scores_to_hits([event], scores - 0.5, config)[0]  # no density: shared
    np.testing.assert_allclose(plain, [0.0, 0.0, 0.3, 0.3, 1.0], rtol=1e-6)


def test_density_selection_uses_the_trigger_flag_and_time():
    hits = _table([100.0, 900.0, 100.0, 900.0], [0.0] * 4, [np.nan] * 4,
                  [True, True, False, False])
    hits = hits._replace(cell=np.array([5, 5, 6, 6]))
    assert select_hits(hits, ImageConfig(), _stand_in_density).tolist() == [0, 3]
    stamped = _event([5, 5], [100.0, 900.0], [10.0, 10.0], trigger_ns=3.0)
    untimed = _event([5, 5], [900.0, 1450.0], [10.0, 10.0])
    scores = np.full((2, N_CELLS), 0.9)
    median = cell_scores_to_hits([stamped, untimed], scores,
                                 ImageConfig(time_reference_percentile=50.0),
                                 _stand_in_density)
    # with a trigger time the early hit is shown (density 2), the late one has half of it
    np.testing.assert_allclose(median[0], [0.9, 0.45], rtol=1e-6)
    # without one, times count from the median, −275 and +275 ns: both density 1
    np.testing.assert_allclose(median[1], [0.9, 0.9], rtol=1e-6)
    earliest = cell_scores_to_hits([untimed], scores[:1], ImageConfig(), _stand_in_density)
    # from the 1st percentile (the default) the second hit is late: the denser, shown one
    np.testing.assert_allclose(earliest[0], [0.45, 0.9], rtol=1e-6)


@pytest.mark.parametrize("pair", [(5.0, 5.0), (3.0, 1.0), (1.0, 2.0, 3.0)])
def test_ranges_must_be_increasing_pairs(pair):
    with pytest.raises(InputError) as error:
        ImageConfig(linear_time_ns=pair)
    assert str(error.value) == ("Linear time range (linear_time_ns) must be an increasing "
                                "(low, high) pair")


def test_model_description_refusals_say_what_to_do():
    with pytest.raises(ModelError) as error:
        ImageConfig.from_json({"linear_adc": [0, 2000]})
    assert str(error.value) == ("the model was made for ADC features (before the unit-free "
                                "charge and time features): retrain it")
    with pytest.raises(ModelError) as error:
        ImageConfig.from_json({"bits": 40, "unknown_later_key": 1})
    assert str(error.value) == ("image configuration in the model description is invalid "
                                "(Colour bit precision (bits) must be within 1–16, got 40)")
    with pytest.raises(ModelError) as error:
        select_hits(_table([1.0], [0.0], [0.0], [True]), ImageConfig(), None)
    assert str(error.value) == ("hit selection 'density' needs the signal density of the "
                                "training data")
