import numpy as np
import pytest
import torch

from engines.spectrum.augment import (
    draw_spectra,
    log_uniform_counts,
    smear,
    split_counts,
    stretch_energy_axis,
)


def peak_rows(centre: float, n: int = 400, width: float = 2.0) -> torch.Tensor:
    channels = torch.arange(n, dtype=torch.float64)
    row = torch.exp(-0.5 * ((channels - centre) / width) ** 2) + 1e-6
    return (row / row.sum())[None]


def mean_channel(rows: torch.Tensor) -> torch.Tensor:
    return (rows * torch.arange(rows.shape[1], dtype=rows.dtype)).sum(dim=1)


def test_gain_drift_moves_peaks_proportionally_and_conserves_probability():
    rows = peak_rows(200.0).repeat(3, 1)
    out = stretch_energy_axis(rows, torch.tensor([0.0, 0.01, -0.02]))
    assert out.shape == rows.shape
    assert torch.allclose(out.sum(dim=1), torch.ones(3, dtype=out.dtype))
    torch.testing.assert_close(out[0], rows[0])
    torch.testing.assert_close(mean_channel(out), torch.tensor([200.0, 202.0, 196.0],
                                                               dtype=torch.float64), atol=0.05,
                               rtol=0)
    assert (out >= 0).all()


def test_smear_widens_by_the_requested_sigma():
    rows = peak_rows(200.0, width=2.0).repeat(2, 1)
    out = smear(rows, torch.tensor([0.0, 3.0]))
    channels = torch.arange(400, dtype=torch.float64)
    variance = (out * (channels - mean_channel(out)[:, None]) ** 2).sum(dim=1)
    torch.testing.assert_close(out[0], rows[0].to(out.dtype), atol=1e-6, rtol=0)
    assert float(variance[1] - variance[0]) == pytest.approx(9.0, rel=0.02)
    assert torch.allclose(out.sum(dim=1), torch.ones(2, dtype=out.dtype))
    assert smear(rows, torch.zeros(2)) is rows


@pytest.mark.parametrize("use_numpy", [False, True])
def test_draws_have_the_requested_counts_and_shape(use_numpy):
    rows = peak_rows(100.0, n=200).repeat(4, 1)
    counts = torch.tensor([0, 10, 1000, 5000])
    rng = np.random.default_rng(0) if use_numpy else None
    draws = draw_spectra(rows, counts, torch.Generator().manual_seed(0), rng)
    assert draws.shape == (4, 200) and draws.dtype == torch.float32
    torch.testing.assert_close(draws.sum(dim=1), counts.float())
    assert float(mean_channel(draws[3:].double() / 5000)) == pytest.approx(100.0, abs=0.3)


def test_large_draws_are_exact_on_both_paths():
    rows = torch.full((2, 1000), 1e-3, dtype=torch.float64)
    counts = torch.tensor([300_000, 50])
    for rng in (None, np.random.default_rng(0)):
        draws = draw_spectra(rows, counts, torch.Generator().manual_seed(0), rng)
        torch.testing.assert_close(draws.sum(dim=1), counts.float())
        assert float(draws[0].std()) == pytest.approx(np.sqrt(300.0), rel=0.1)


def test_log_uniform_counts_and_split_counts():
    generator = torch.Generator().manual_seed(0)
    counts = log_uniform_counts(100, 100_000, 4000, generator, torch.device("cpu"))
    assert counts.min() >= 100 and counts.max() <= 100_000
    # log-uniform: a quarter of the draws in each decade-and-a-half quarter of log space
    assert 0.2 < float((counts < 562).float().mean()) < 0.3
    fixed = log_uniform_counts(19650, 19650, 3, generator, torch.device("cpu"))
    assert fixed.tolist() == [19650] * 3
    split = split_counts(torch.full((2000,), 1000), torch.full((2000,), 0.25), generator)
    assert split.dtype == torch.int64 and float(split.float().mean()) == pytest.approx(250, abs=3)
    split_np = split_counts(torch.tensor([10, 10]), torch.tensor([0.0, 1.0]),
                            rng=np.random.default_rng(1))
    assert split_np.tolist() == [0, 10]
