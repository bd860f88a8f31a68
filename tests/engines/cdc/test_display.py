"""Display data of one event: the hit window, the cell view and the model-view images."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.display import HitWindow, cell_view, model_images
from engines.cdc.events import Event
from engines.cdc.features import hit_table
from engines.cdc.images import ImageConfig, cell_of_pixel, pixel_of_cell
from engines.cdc.signal_density import SignalDensity
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def event() -> Event:
    return drive(generate_events(1, occupancy=0.4, seed=21))[0]


def _handmade() -> Event:
    # cell 7: two hits (the later one signal); cell 9: one background hit
    return Event(3, np.array([7, 9, 7]), np.array([300.0, -20.0, 120.0]),
                 np.array([900.0, 80.0, 150.0]), np.array([False, False, True]),
                 has_truth=True, trigger_counter=5)


def test_hit_window_masks_and_validates():
    event = _handmade()
    assert HitWindow().is_open and HitWindow().mask(event).all()
    window = HitWindow(time_ns=(0.0, 500.0), adc=(100.0, np.inf))
    assert not window.is_open
    np.testing.assert_array_equal(window.mask(event), [True, False, True])
    assert window.describe() == "time 0…500 ns, charge ≥ 100"
    assert HitWindow().describe() == "time no limit, charge no limit"
    assert HitWindow(time_ns=(-np.inf, 400.0)).describe().startswith("time ≤ 400 ns")
    with pytest.raises(InputError, match="low 5 is above high 1"):
        HitWindow(adc=(5.0, 1.0))


def test_cell_view_first_hit_window_and_scores():
    event = _handmade()
    view = cell_view(event, cells=np.array([7, 9]), scores=np.array([0.8, 0.1]))
    assert np.flatnonzero(view.hit).tolist() == [7, 9] and view.n_hits[7] == 2
    assert view.selected[7] == 2 and view.time_ns[7] == 120.0  # first in time
    assert view.signal[7] and not view.signal[9] and view.has_scores
    assert view.score[7] == pytest.approx(0.8) and np.isnan(view.score[8])
    assert view.hits_of(event, 7).tolist() == [2, 0]
    hidden = cell_view(event, window=HitWindow(adc=(200.0, np.inf)))
    assert np.flatnonzero(hidden.shown).tolist() == [7] and hidden.selected[7] == 0
    assert hidden.hit[9] and hidden.adc[7] == 900.0 and np.isnan(hidden.adc[9])
    assert not hidden.has_scores


def test_cell_view_density_selection_prefers_the_signal_like_hit(event):
    density = SignalDensity.fit([event])
    config = ImageConfig(hit_selection="density")
    view = cell_view(event, image_config=config, density=density)
    cells, counts = np.unique(event.cell, return_counts=True)
    assert np.array_equal(np.flatnonzero(view.hit), cells)
    assert view.n_hits.sum() == event.n_hits and (counts > 1).any()
    assert np.all(event.cell[view.selected[cells]] == cells)
    hits = hit_table([event])
    q = density(hits.time_ns, hits.charge, hits.trigger_known)
    for cell in cells[counts > 1][:20]:
        hits = np.flatnonzero(event.cell == cell)
        assert q[view.selected[cell]] == pytest.approx(q[hits].max())


@pytest.mark.parametrize("image_format, shape", [("reduced", (71, 71)), ("normal", (128, 128)),
                                                 ("polar", (20, 320))])
def test_model_images_mark_cells_hits_scores_and_truth(event, image_format, shape):
    cells = np.unique(event.cell)
    scores = np.linspace(0, 1, cells.size).astype(np.float32)
    images = model_images(event, image_format, cells=cells, scores=scores)
    assert images.rgb.shape == (*shape, 3) and images.score.shape == shape
    flat_rgb, flat_score = images.rgb.reshape(-1, 3), images.score.ravel()
    pixels = pixel_of_cell(image_format)
    empty = np.setdiff1d(np.arange(4986), cells)
    assert np.all(flat_rgb[pixels[empty]] == 1.0)                        # white: no hit
    no_cell = np.flatnonzero(cell_of_pixel(image_format) < 0)
    assert np.all(flat_rgb[no_cell] == 0.0)                              # black: no cell
    assert np.all(flat_rgb[pixels[cells]].max(axis=1) < 1.0)
    np.testing.assert_allclose(flat_score[pixels[cells]], scores)
    assert np.isnan(flat_score[pixels[empty]]).all()
    signal_cells = np.unique(event.cell[event.is_signal])
    truth_pixels = np.flatnonzero(np.isin(cell_of_pixel(image_format), signal_cells))
    assert np.flatnonzero(images.truth.ravel()).tolist() == truth_pixels.tolist()
    assert images.cell.ravel()[pixels[123]] == 123
    two = model_images(event, image_format, ImageConfig(delta_phi=False, hit_selection="first"))
    assert np.all(two.rgb.reshape(-1, 3)[pixels[empty]] == 1.0) and np.isnan(two.score).all()
    with pytest.raises(InputError, match="image format"):
        model_images(event, "hexagonal")
