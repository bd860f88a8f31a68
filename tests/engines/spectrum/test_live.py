"""Live acquisition: the Poisson stream, decisions, real-time pacing and decision statistics."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.live import LiveConfig, acquire, time_to_decision_stats
from engines.spectrum.models import create_model
from engines.spectrum.preprocessing import PreprocessConfig, check_counts
from engines.spectrum.spectrum import Calibration, Spectrum
from tests.engines.spectrum.test_evaluation import ml_network, similar_references

PREPROCESS = PreprocessConfig(discard=[(0, 4)])


class BayesClassifier(SpectrumClassifier):
    """Exact posterior of the multinomial model with equal priors (a calibrated classifier):
    logits are ``counts . log(template)`` on the kept channels."""

    def predict_logits(self, counts: np.ndarray, batch_size: int = 256) -> np.ndarray:
        counts = check_counts(counts, self.grid.n_channels).astype(np.float64)
        return counts[:, self.keep_mask] @ np.log(self.templates).T


def bayes(references, templates=None) -> BayesClassifier:
    model = create_model("small_cnn", references.n_classes, PREPROCESS.in_channels,
                         channels=(4,), kernels=(3,))
    templates = references.templates(PREPROCESS) if templates is None else templates
    return BayesClassifier(model, references.classes, references.grid, PREPROCESS, templates)


@pytest.fixture(scope="module")
def references():
    return similar_references()


def test_counts_arrive_as_a_poisson_stream(references):
    config = LiveConfig(rate_cps=2000.0, update_interval_s=0.25, max_live_time_s=5.0, seed=1)
    reports = []
    result = drive(acquire(ml_network(references), references.spectra[1], config),
                   reports.append)
    assert len(reports) == 20 and result.times_s.tolist() == pytest.approx(
        np.arange(1, 21) * 0.25)
    expected = 2000.0 * 5.0
    assert abs(result.total_counts[-1] - expected) < 5 * np.sqrt(expected)
    assert result.final_counts.sum() == result.total_counts[-1]
    assert np.all(np.diff(result.total_counts) >= 0)
    # the accumulated spectrum follows the reference: chi2 per channel ~ 1
    mean = references.probabilities()[1] * result.total_counts[-1]
    chi2 = np.sum((result.final_counts - mean) ** 2 / mean) / mean.size
    assert 0.6 < chi2 < 1.5
    assert result.probabilities.shape == (20, 3)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    last = reports[-1].metrics
    assert {"live_time_s", "total_counts", "probabilities", "spectrum"} <= set(last)
    assert last["total_counts"] == result.total_counts[-1]
    reports[-1].metrics["spectrum"][:] = -1  # a copy: the result is untouched
    assert result.final_counts.min() >= 0
    again = drive(acquire(ml_network(references), references.spectra[1], config))
    np.testing.assert_array_equal(again.final_counts, result.final_counts)


def test_decision_is_the_first_update_above_the_threshold(references):
    config = LiveConfig(rate_cps=1000.0, update_interval_s=0.05, max_live_time_s=20.0,
                        threshold=0.99, seed=2)
    result = drive(acquire(bayes(references), references.spectra[2], config))
    assert result.decided_name == "c" and result.decided_class == 2
    top = result.probabilities.max(axis=1)
    first = int(np.argmax(top >= 0.99))
    assert result.decision_time_s == pytest.approx(result.times_s[first])
    assert np.all(top[:first] < 0.99) and result.times_s[-1] == pytest.approx(20.0)
    stopped = drive(acquire(bayes(references), references.spectra[2],
                            LiveConfig(**{**config.__dict__, "stop_at_decision": True})))
    assert stopped.times_s[-1] == pytest.approx(result.decision_time_s)
    assert stopped.decision_time_s == result.decision_time_s


def test_indistinguishable_classes_never_decide(references):
    same = np.repeat(references.templates(PREPROCESS)[:1], 3, axis=0)
    result = drive(acquire(bayes(references, same), references.spectra[0],
                           LiveConfig(rate_cps=5000.0, max_live_time_s=1.0)))
    assert result.decision_time_s is None and result.decided_name is None
    np.testing.assert_allclose(result.probabilities, 1 / 3)


def test_realtime_follows_the_wall_clock_and_cancelling_stops(references):
    config = LiveConfig(rate_cps=100.0, update_interval_s=0.05, max_live_time_s=0.3,
                        realtime=True)
    started = time.monotonic()
    drive(acquire(bayes(references), references.spectra[0], config))
    assert time.monotonic() - started >= 0.29
    task = acquire(bayes(references), references.spectra[0],
                   LiveConfig(rate_cps=100.0, max_live_time_s=100.0, realtime=True))
    assert len(list(itertools.islice(task, 2))) == 2
    task.close()


class FakeClock:
    """Wall time that advances when slept and by ``work_s`` per classification (a slow
    machine: every update takes longer than the update interval)."""

    def __init__(self, work_s: float) -> None:
        self.now, self.work_s, self.sleeps = 100.0, work_s, []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class SlowBayes(BayesClassifier):
    clock: FakeClock

    def predict_logits(self, counts, batch_size=256):
        self.clock.now += self.clock.work_s
        return super().predict_logits(counts, batch_size)


def test_realtime_keeps_pace_with_the_clock_when_updates_are_slow(references):
    clock = FakeClock(work_s=0.7)  # 7 update intervals of work per update
    slow = bayes(references)
    slow.__class__ = SlowBayes
    slow.clock = clock
    config = LiveConfig(rate_cps=1000.0, update_interval_s=0.1, max_live_time_s=12.0,
                        realtime=True)
    started = clock.now
    reports = []
    result = drive(acquire(slow, references.spectra[0], config, clock=clock.time,
                           sleep=clock.sleep), reports.append)
    # live time is the wall time at every update, never behind it
    walls = np.array([r.metrics["live_time_s"] for r in reports])
    assert result.times_s[-1] == pytest.approx(12.0)
    assert np.all(np.diff(result.times_s) >= 0.7 - 1e-9)  # one update per 0.7 s of work
    assert len(reports) <= 12.0 / 0.7 + 2
    assert walls[-1] == pytest.approx(min(clock.now - started, 12.0), abs=0.71)
    expected = 1000.0 * 12.0  # the counts of 12 s, not of the 17 updates made
    assert abs(result.total_counts[-1] - expected) < 5 * np.sqrt(expected)
    fast = FakeClock(work_s=0.0)
    quick = bayes(references)
    quick.__class__ = SlowBayes
    quick.clock = fast
    result = drive(acquire(quick, references.spectra[0], config, clock=fast.time,
                           sleep=fast.sleep))
    assert len(result.times_s) == 120 and sum(fast.sleeps) == pytest.approx(12.0)


def test_an_out_of_library_sample_is_never_decided(references):
    from engines.spectrum.openset_calibration import iter_calibrate_open_set

    classifier = bayes(references)
    classifier.open_set = drive(iter_calibrate_open_set(classifier, references, (1000, 10_000),
                                                        levels=(100, 1000, 10_000, 100_000)))
    foreign = references.spectra[1].copy()
    foreign[60:70] *= 3.0  # a strong line no class has
    config = LiveConfig(rate_cps=5000.0, update_interval_s=0.1, max_live_time_s=3.0,
                        threshold=0.9)
    reports = []
    result = drive(acquire(classifier, foreign, config), reports.append)
    assert result.probabilities[-1].max() > 0.99  # the posterior alone would have decided
    assert result.decided_name is None and not result.in_library[-1]
    assert reports[-1].metrics["in_library"] is False and "not in the library" in \
        reports[-1].message
    assert result.withdrawn_s == [] or result.withdrawn_s[-1] <= result.times_s[-1]
    standing = [r.metrics["decided"] for r in reports]
    assert standing[-1] is None
    own = drive(acquire(classifier, references.spectra[1], config))
    assert own.decided_name == "b" and own.in_library[-1]


def test_reference_input_is_checked_and_spectra_are_rebinned(references):
    classifier = bayes(references)
    spectrum = Spectrum(references.spectra[0][::2] + references.spectra[0][1::2],
                        Calibration((5.0, 20.0)))  # the same spectrum, 2 channels per bin
    result = drive(acquire(classifier, spectrum, LiveConfig(rate_cps=500.0, max_live_time_s=0.5)))
    assert result.total_counts[-1] > 0
    with pytest.raises(InputError, match="expects"):
        drive(acquire(classifier, np.ones(64)))
    uncalibrated = Spectrum(references.spectra[0], Calibration((0.0, 1.0)), name="raw.spe",
                            metadata={"calibrated": False})
    with pytest.raises(InputError, match="raw.spe: has no energy calibration"):
        drive(acquire(classifier, uncalibrated))
    empty = np.zeros(128)
    empty[:4] = 10.0  # counts only in discarded channels
    with pytest.raises(InputError, match="channels the model keeps"):
        drive(acquire(classifier, empty))
    for bad in ({"rate_cps": 0}, {"update_interval_s": 0.0}, {"threshold": 0.3},
                {"max_live_time_s": -1}, {"max_live_time_s": 1e6, "update_interval_s": 0.001},
                {"realtime": True, "threshold": float("nan")}):
        with pytest.raises(InputError):
            LiveConfig(**bad)


def test_decision_statistics_scale_with_the_count_rate(references):
    classifier = bayes(references)
    slow = time_to_decision_stats(classifier, references, LiveConfig(
        rate_cps=1000.0, update_interval_s=0.05, max_live_time_s=30.0, threshold=0.95),
        runs_per_class=40)
    fast = time_to_decision_stats(classifier, references, LiveConfig(
        rate_cps=4000.0, update_interval_s=0.05, max_live_time_s=30.0, threshold=0.95),
        runs_per_class=40)
    for stats in (slow, fast):
        overall = stats.summary()
        assert overall["runs"] == 120 and overall["decided_fraction"] == 1.0
        assert overall["decision_accuracy"] >= 0.88  # a calibrated posterior keeps its promise
        assert overall["p10_s"] <= overall["median_s"] <= overall["p90_s"]
    ratio = fast.summary()["median_s"] / slow.summary()["median_s"]
    assert 0.15 < ratio < 0.4  # ~1/4: the decision needs counts, not seconds
    counts_ratio = fast.summary()["median_counts"] / slow.summary()["median_counts"]
    assert 0.7 < counts_ratio < 1.5
    data = json.loads(json.dumps(slow.to_json()))
    assert [row["class"] for row in data["per_class"]] == ["a", "b", "c"]
    assert data["per_class"][0]["runs"] == 40 and data["threshold"] == 0.95


def test_undecided_runs_count_as_beyond_the_acquisition(references):
    same = np.repeat(references.templates(PREPROCESS)[:1], 3, axis=0)
    stats = time_to_decision_stats(bayes(references, same), references,
                                   LiveConfig(rate_cps=1000.0, max_live_time_s=0.5),
                                   runs_per_class=3)
    overall = stats.summary()
    assert overall["decided_fraction"] == 0.0 and overall["median_s"] is None
    assert overall["decision_accuracy"] is None and np.all(np.isinf(stats.decision_times_s))
    with pytest.raises(InputError, match="runs per class"):
        time_to_decision_stats(bayes(references), references, runs_per_class=0)
