import json

import numpy as np
import pytest
import torch

from engines.core.errors import InputError
from engines.spectrum.preprocessing import (
    PreprocessConfig,
    check_counts,
    normalise_kept,
    prepare_input,
    select_kept,
)


def test_paper_default_keeps_channels_104_to_7999():
    config = PreprocessConfig()
    kept = config.kept_channels(16384)
    assert kept[0] == 104 and kept[-1] == 7999 and kept.size == 7896
    assert config.kept_runs(16384) == [(104, 8000)]
    assert config.in_channels == 1 and config.normalisation == "fraction"
    assert PreprocessConfig(coord_channel=True).in_channels == 2


def test_ranges_are_clipped_to_short_grids_and_may_overlap():
    config = PreprocessConfig(discard=[(0, 10), (5, 20), (90, 1000)])
    mask = config.keep_mask(100)
    assert mask.sum() == 70 and mask[20] and not mask[19] and not mask[90]
    assert config.kept_runs(100) == [(20, 90)]


def test_json_roundtrip():
    config = PreprocessConfig(discard=[(0, 50), (300, 400)], normalisation="sqrt",
                              coord_channel=False)
    again = PreprocessConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config and again.in_channels == 1


@pytest.mark.parametrize("bad", [
    {"discard": [(10, 5)]}, {"discard": [(-1, 5)]}, {"discard": [(1, 2, 3)]},
    {"normalisation": "log"},
])
def test_invalid_settings_raise_input_error(bad):
    with pytest.raises(InputError):
        PreprocessConfig(**bad)


def test_unknown_json_keys_are_rejected():
    with pytest.raises(InputError, match="unknown preprocessing"):
        PreprocessConfig.from_json({"discard": [], "crop": 3})


def test_discarding_everything_is_an_input_error():
    with pytest.raises(InputError, match="remove all"):
        PreprocessConfig(discard=[(0, 64)]).keep_mask(64)


def test_fraction_input_is_independent_of_the_count_level():
    rng = np.random.default_rng(0)
    counts = rng.poisson(5.0, (3, 200)).astype(np.float64)
    config = PreprocessConfig(discard=[(0, 10), (150, 200)], coord_channel=True)
    x1 = prepare_input(counts, config)
    x2 = prepare_input(counts * 37.0, config)
    assert x1.shape == (3, 2, 140) and x1.dtype == torch.float32
    torch.testing.assert_close(x1, x2)
    # mean 1 per kept channel; discarded channels do not enter the total
    torch.testing.assert_close(x1[:, 0].mean(dim=1), torch.ones(3))
    assert torch.equal(x1[:, 1, 0], -torch.ones(3)) and torch.equal(x1[:, 1, -1], torch.ones(3))


def test_sqrt_normalisation_and_empty_rows():
    counts = np.zeros((2, 20))
    counts[0, 5] = 4.0
    config = PreprocessConfig(discard=[], normalisation="sqrt", coord_channel=False)
    x = prepare_input(counts, config)
    assert x.shape == (2, 1, 20)
    assert float(x[0, 0, 5]) == pytest.approx(np.sqrt(20.0))
    assert torch.count_nonzero(x[1]) == 0 and torch.isfinite(x).all()


def test_select_and_normalise_match_prepare_input():
    counts = torch.arange(60, dtype=torch.float32).reshape(2, 30)
    config = PreprocessConfig(discard=[(0, 3), (10, 12), (25, 30)], coord_channel=True)
    kept = select_kept(counts, config)
    assert kept.shape == (2, 20) and kept[0, 0] == 3 and kept[0, 7] == 12
    torch.testing.assert_close(normalise_kept(kept, config), prepare_input(counts, config))


def test_check_counts_messages():
    assert check_counts(np.ones(8), 8).shape == (1, 8)
    with pytest.raises(InputError, match="has 7 channels but the model expects 8"):
        check_counts(np.ones(7), 8, "run.spe")
    with pytest.raises(InputError, match="NaN"):
        check_counts(np.full(8, np.nan), 8)
    with pytest.raises(InputError, match=">= 0"):
        check_counts(-np.ones((2, 8)), 8)


def test_check_counts_keeps_empty_channels_and_gives_float32():
    counts = np.array([0, 3, 0, 0, 7, 0, 1, 0], dtype=np.int64)  # zeros are ordinary counts
    checked = check_counts(counts, 8)
    assert checked.dtype == np.float32 and checked.tolist() == [counts.tolist()]
    assert check_counts(np.zeros((3, 8)), 8).shape == (3, 8)
    with pytest.raises(InputError, match=r"^spectrum: has 0 channels but the model expects 8; "
                                         r"rebin it to the model's energy grid first$"):
        check_counts(np.float64(5.0), 8)
    with pytest.raises(InputError, match=r"^spectrum: counts must be >= 0$"):
        check_counts(np.array([0, 0, 0, 0, 0, 0, 0, -1e-3]), 8)


def test_preprocess_settings_must_be_an_object():
    with pytest.raises(InputError, match=r"^preprocessing settings must be a JSON object, got "
                                         r"list$"):
        PreprocessConfig.from_json([1, 2])


def test_the_count_level_channel_tells_the_network_the_counts():
    import torch

    config = PreprocessConfig(discard=[(0, 2)], count_channel=True)
    assert config.in_channels == 2
    counts = torch.zeros(2, 12)
    counts[0, 2:] = 10.0  # 100 counts kept
    counts[1, 2:] = 10_000.0  # 100 000
    x = prepare_input(counts, config)
    assert x.shape == (2, 2, 10)
    assert torch.allclose(x[0, 1], torch.full((10,), -1.0))
    assert torch.allclose(x[1, 1], torch.full((10,), 1.0))
    again = PreprocessConfig.from_json(config.to_json())
    assert again.count_channel and again == config


# --- survivors of `python -m tests.mutation engines/spectrum/preprocessing.py` (this round)

@pytest.mark.parametrize(("discard", "message"), [
    ([(5,)], r"^discard range \(5,\) is not a \(start, stop\) pair$"),
    ([(7, 7)], r"^discard range \(7, 7\) must satisfy 0 <= start < stop$"),  # empty range
    ([(-1, 3)], r"^discard range \(-1, 3\) must satisfy"),
])
def test_discard_ranges_are_checked_with_their_values(discard, message):
    with pytest.raises(InputError, match=message):
        PreprocessConfig(discard=discard)


def test_preprocessing_json_keys_and_unknown_settings():
    config = PreprocessConfig(discard=[(0, 4)], count_channel=True, coord_channel=False)
    assert PreprocessConfig.from_json(config.to_json()) == config
    assert PreprocessConfig.from_json({"count_channel": True}).count_channel is True
    with pytest.raises(InputError, match=r"^unknown preprocessing settings: a, b$"):
        PreprocessConfig.from_json({"a": 1, "b": 2, "discard": []})


def test_prepare_input_moves_to_the_device_and_checks_the_shape():
    import torch

    config = PreprocessConfig(discard=[(0, 2)])
    counts = np.arange(12, dtype=np.float32).reshape(2, 6)
    on_cpu = prepare_input(counts, config, device="cpu")
    assert on_cpu.device.type == "cpu" and on_cpu.shape[0] == 2
    torch.testing.assert_close(on_cpu, prepare_input(counts, config))
    with pytest.raises(InputError, match=r"^expected counts of shape \(B, n_channels\), got "
                                         r"\(6,\)$"):
        prepare_input(counts[0], config, device="cpu")


# --- survivors of the 89 % run (round 5)

def test_the_keep_mask_selects_the_kept_counts():
    counts = np.arange(10.0) * 3.0
    mask = PreprocessConfig(discard=[(0, 3), (8, 10)]).keep_mask(10)
    assert counts[mask].tolist() == [9.0, 12.0, 15.0, 18.0, 21.0]  # a boolean mask, not 0/1


def test_totals_below_one_count_are_normalised_too():
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, (2, 40)).astype(np.float64)
    config = PreprocessConfig(discard=[(0, 4)], count_channel=True)
    scaled = counts * 1e-3  # e.g. a background-subtracted, scaled spectrum: totals of ~0.07
    x, y = prepare_input(counts, config), prepare_input(scaled, config)
    torch.testing.assert_close(y[:, 0], x[:, 0])
    # the count level: log10 of at least one count, so totals <= 1 sit at (0 - 3.5) / 1.5
    one = np.zeros((2, 40))
    one[0, 10] = 1.0
    for level in (prepare_input(scaled, config)[:, 1], prepare_input(one, config)[:, 1]):
        torch.testing.assert_close(level, torch.full((2, 36), -3.5 / 1.5))


def test_every_input_channel_is_built_on_the_target_device():
    config = PreprocessConfig(discard=[(0, 2)], coord_channel=True, count_channel=True)
    x = prepare_input(np.ones((2, 6), dtype=np.float32), config, device="meta")
    assert x.device.type == "meta" and x.shape == (2, 3, 4)
