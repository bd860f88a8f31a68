"""RSM-3 (numpy and torch, both torch paths) and RSM-2: exact totals, moments, errors.

Statistical checks use fixed seeds and 5-sigma bounds: they are deterministic, yet a wrong
distribution (e.g. Poisson instead of multinomial, a biased channel) fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.core.errors import InputError
from engines.spectrum import rsm
from engines.spectrum.rsm import (
    counts_for_live_time,
    live_time_for_counts,
    rsm2,
    rsm3,
    rsm3_torch,
    to_probabilities,
)

P = np.array([0.40, 0.25, 0.0, 0.20, 0.10, 0.05])
K = 400
DRAWS = 4000


def _draws(kind: str) -> np.ndarray:
    """(DRAWS, 6) multinomial draws of K counts from P by one implementation."""
    if kind == "numpy":
        return rsm3(np.tile(P, (DRAWS, 1)), K, np.random.default_rng(11)).astype(np.float64)
    generator = torch.Generator().manual_seed(12)
    probabilities = torch.tensor(P).repeat(DRAWS, 1)
    return rsm3_torch(probabilities, torch.full((DRAWS,), K), generator, method=kind).double().numpy()


@pytest.mark.parametrize("kind", ["numpy", "cdf", "tree"])
def test_draws_have_multinomial_moments(kind):
    x = _draws(kind)
    assert np.all(x.sum(axis=1) == K)
    assert np.all(x[:, 2] == 0)  # a zero-probability channel never gets counts
    mean_sigma = np.sqrt(K * P * (1 - P) / DRAWS)
    ok = P > 0
    assert np.all(np.abs(x.mean(axis=0) - K * P)[ok] < 5 * mean_sigma[ok])
    variance = x.var(axis=0, ddof=1)[ok]
    assert np.allclose(variance, (K * P * (1 - P))[ok], rtol=0.1)
    # multinomial channels are anti-correlated: cov(i, j) = -K p_i p_j (Poisson would give 0)
    covariance = np.cov(x[:, 0], x[:, 1])[0, 1]
    assert covariance == pytest.approx(-K * P[0] * P[1], rel=0.15)


def test_numpy_and_torch_agree_in_distribution():
    samples = {kind: _draws(kind) for kind in ("numpy", "cdf", "tree")}
    sigma_diff = np.sqrt(2 * K * P * (1 - P) / DRAWS)
    ok = P > 0
    for kind in ("cdf", "tree"):
        diff = samples[kind].mean(axis=0) - samples["numpy"].mean(axis=0)
        assert np.all(np.abs(diff[ok]) < 5 * sigma_diff[ok]), kind
        # same distribution of one channel: histograms agree (chi-square, 5-sigma bound)
        bins = np.arange(120, 200, 8)
        a = np.histogram(samples["numpy"][:, 0], bins)[0]
        b = np.histogram(samples[kind][:, 0], bins)[0]
        chi2 = np.sum((a - b) ** 2 / np.maximum(a + b, 1))
        dof = len(bins) - 2
        assert chi2 < dof + 5 * np.sqrt(2 * dof), kind


@pytest.mark.parametrize("method", ["auto", "cdf", "tree"])
def test_torch_totals_per_row_and_dtype(method):
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.rand(5, 37, generator=generator)
    counts = torch.tensor([0, 1, 7, 100, 3000])
    out = rsm3_torch(probabilities, counts, generator, method=method)
    assert out.dtype == torch.float32 and out.shape == (5, 37)
    assert out.sum(dim=1).tolist() == counts.float().tolist()
    assert bool((out >= 0).all())


def test_torch_is_reproducible_with_a_generator():
    probabilities = torch.rand(3, 50)
    first = rsm3_torch(probabilities, torch.tensor([10, 20, 30]), torch.Generator().manual_seed(3))
    again = rsm3_torch(probabilities, torch.tensor([10, 20, 30]), torch.Generator().manual_seed(3))
    assert torch.equal(first, again)


def test_cdf_path_chunks_draws(monkeypatch):
    monkeypatch.setattr(rsm, "_CDF_CHUNK_ELEMENTS", 16)  # 8 events per chunk for 2 rows
    probabilities = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]])
    out = rsm3_torch(probabilities, torch.tensor([50, 33]), torch.Generator().manual_seed(1),
                     method="cdf")
    assert out.sum(dim=1).tolist() == [50.0, 33.0]
    assert out[0, 2] == 0 and out[1, 0] == 0


def test_large_k_batch_is_exact_and_bounded():
    # 500 000 counts x 128 rows x 16384 channels: the tree path holds ~2 x 128 x 16384 doubles
    generator = torch.Generator().manual_seed(5)
    probabilities = torch.rand(128, 16384, generator=generator)
    out = rsm3_torch(probabilities, torch.full((128,), 500_000), generator)
    assert bool((out.sum(dim=1) == 500_000).all())
    expected = 500_000 * probabilities[0].double() / probabilities[0].double().sum()
    z = (out[0].double() - expected) / expected.sqrt()
    assert abs(float(z.mean())) < 0.1 and 0.9 < float(z.var()) < 1.1


def test_numpy_rsm3_shapes_and_int_counts():
    rng = np.random.default_rng(0)
    one = rsm3(P, 50, rng)
    assert one.shape == (6,) and one.dtype == np.int64 and one.sum() == 50
    batch = rsm3(np.tile(P, (3, 1)), np.array([1, 2, 3]), rng)
    assert batch.sum(axis=1).tolist() == [1, 2, 3]


def test_rsm2_expectation_and_errors():
    rng = np.random.default_rng(4)
    spectra = np.array([[1000, 0, 250, 40]] * 2000)
    thinned = rsm2(spectra, 0.25, rng)
    assert thinned.shape == spectra.shape and np.all(thinned <= spectra)
    sigma = np.sqrt(spectra[0] * 0.25 * 0.75 / 2000)
    assert np.all(np.abs(thinned.mean(axis=0) - 0.25 * spectra[0]) <= 5 * sigma + 1e-12)
    for bad in (0.0, 1.5, np.nan):
        with pytest.raises(InputError):
            rsm2(spectra, bad, rng)
    with pytest.raises(InputError):
        rsm2(-spectra, 0.5, rng)


def test_bad_input_raises_input_error():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        rsm3(P, -1, rng)
    with pytest.raises(InputError):
        rsm3(P, 2.5, rng)
    with pytest.raises(InputError):
        rsm3(np.zeros(4), 5, rng)
    with pytest.raises(InputError):
        rsm3(np.array([0.5, np.nan]), 5, rng)
    with pytest.raises(InputError):
        rsm3(np.tile(P, (2, 1)), np.array([1, 2, 3]), rng)
    probabilities = torch.tensor([[0.5, 0.5]])
    with pytest.raises(InputError):
        rsm3_torch(probabilities, torch.tensor([-1]))
    with pytest.raises(InputError):
        rsm3_torch(torch.tensor([[0.5, -0.5]]), torch.tensor([3]))
    with pytest.raises(InputError):
        rsm3_torch(torch.tensor([0.5, 0.5]), torch.tensor([3]))
    with pytest.raises(InputError):
        rsm3_torch(probabilities, torch.tensor([3, 4]))
    with pytest.raises(InputError, match="valid names"):
        rsm3_torch(probabilities, torch.tensor([3]), method="fast")
    with pytest.raises(InputError):
        to_probabilities(np.array([[1.0, 2.0], [0.0, 0.0]]))


def test_live_time_conversions_follow_the_paper():
    assert counts_for_live_time(2.479) == 19650
    assert live_time_for_counts(19650) == pytest.approx(2.479)
    assert counts_for_live_time(0.0) == 1
    assert live_time_for_counts(500_000, count_rate=500_000 / 24.44) == pytest.approx(24.44)
    with pytest.raises(InputError):
        counts_for_live_time(-1.0)
    with pytest.raises(InputError):
        live_time_for_counts(10, count_rate=0.0)
