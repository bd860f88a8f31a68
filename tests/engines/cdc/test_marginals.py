"""The calibrated generator against the marginals of a real ICEDUST file (histogram distances
within the stated tolerances), and the measures themselves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engines.cdc.marginals import (
    TOLERANCES,
    Histogram,
    compare,
    reference,
    reference_occupancy,
    tv_distance,
)
from engines.cdc.synthetic import generate_events
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    """Windows at the reference file's occupancy (about 32 %), most with a signal track."""
    return list(drive(generate_events(30, reference_occupancy(), seed=17,
                                      signal_fraction=0.8)))


def test_generated_marginals_are_within_the_tolerances(events):
    results = compare(events)
    assert {r.name for r in results} == set(TOLERANCES)
    failing = [f"{r.name}: {r.distance:.3f} > {r.tolerance}" for r in results if not r.passes]
    assert not failing, failing


def test_a_wrong_sample_fails_the_comparison(events):
    """ADC-like charges ten times too small, or times relative to a trigger, are caught."""
    scaled = [replace(e, adc=e.adc / 10.0) for e in events]
    by_name = {r.name: r for r in compare(scaled)}
    assert not by_name["background log10_charge"].passes
    shifted = [replace(e, trigger_time_ns=0.0) for e in events]  # forget the absolute clock
    assert not {r.name: r for r in compare(shifted)}["background detected_time_ns"].passes


def test_reference_and_measures():
    ref = reference()
    assert ref["events"] == 25 and ref["read_out_cells"] == 4482
    assert 0.3 < reference_occupancy() < 0.34
    hist = Histogram(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))
    samples = hist.sample(np.random.default_rng(0), 20_000)
    assert not np.any((samples > 1.0) & (samples < 2.0))   # empty bins stay empty
    assert np.mean(samples > 2.0) == pytest.approx(0.75, abs=0.02)
    np.testing.assert_array_equal(hist.count([-5.0, 0.5, 2.5, 9.0]), [2, 0, 2])
    assert tv_distance([1, 0], [0, 1]) == 1.0 and tv_distance([2, 2], [1, 1]) == 0.0
