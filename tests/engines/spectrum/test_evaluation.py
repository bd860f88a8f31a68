"""Evaluation per count level: CNN and peers on the same draws, class mapping, JSON contract."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.evaluation import (
    EvaluateConfig,
    evaluate,
    evaluate_peers,
    format_table,
    match_classes,
)
from engines.spectrum.models.layers import GapClassifier
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.references import ReferenceSet
from engines.spectrum.rsm import PAPER_COUNT_RATE
from engines.spectrum.spectrum import Calibration, EnergyGrid

PREPROCESS = PreprocessConfig(discard=[(0, 4)])
LEVELS = (10, 100, 1000, 3000)


def similar_references(names=("a", "b", "c"), n_channels: int = 128, amplitude: float = 0.3,
                       grid: EnergyGrid | None = None) -> ReferenceSet:
    """Classes sharing a background and a big peak, differing by one weak peak each."""
    grid = grid or EnergyGrid(Calibration((0.0, 10.0)), n_channels)
    energy = grid.energies
    base = 1.0 + 3.0 * np.exp(-0.5 * ((energy - 400.0) / 30.0) ** 2)
    centres = {"a": 700.0, "b": 850.0, "c": 1000.0}
    spectra = [(base + amplitude * np.exp(-0.5 * ((energy - centres[n]) / 20.0) ** 2)) * 1e4
               * (10.0 / (energy[1] - energy[0])) for n in names]
    return ReferenceSet(list(names), grid, np.array(spectra), np.arange(len(names)))


def ml_network(references: ReferenceSet, preprocess: PreprocessConfig = PREPROCESS,
               templates: np.ndarray | None = None) -> SpectrumClassifier:
    """A real network that *is* the multinomial ML classifier: a full-width convolution with
    weights log(template) on the normalised counts, then the identity."""
    exact = references.templates(preprocess)
    conv = nn.Conv1d(preprocess.in_channels, references.n_classes, exact.shape[1], bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, 0, :] = torch.from_numpy(np.log(exact)).float()
    model = GapClassifier(nn.Sequential(conv), references.n_classes, references.n_classes, 0.0,
                          "ml", None)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.eye(references.n_classes))
        model.classifier.bias.zero_()
    return SpectrumClassifier(model, references.classes, references.grid, preprocess,
                              exact if templates is None else templates)


@pytest.fixture(scope="module")
def references():
    return similar_references()


@pytest.fixture(scope="module")
def result(references):
    config = EvaluateConfig(counts=LEVELS, draws_per_class=150, batch_size=128)
    return drive(evaluate(ml_network(references), references, config))


def test_cnn_equal_to_the_ml_peer_when_the_network_is_the_ml_classifier(result):
    counts, cnn = result.curve("cnn")
    _, ml = result.curve("ml")
    assert counts.tolist() == list(LEVELS)
    np.testing.assert_allclose(cnn, ml, atol=2 / 450)  # same draws, same decision
    assert ml[0] < 0.5 and ml[-1] > 0.85 and np.all(np.diff(ml) > 0)
    for method in ("ncc", "chi2"):
        curve = result.curve(method)[1]
        assert np.all(curve <= ml + 0.03) and curve[-1] > 0.7  # the bound holds


def test_levels_confusions_and_json_contract(result):
    for level in result.levels:
        assert level.n == 450 and level.cnn_confusion.sum(axis=1).tolist() == [150] * 3
        assert level.live_time_s == pytest.approx(level.counts / PAPER_COUNT_RATE)
    data = json.loads(json.dumps(result.to_json()))
    assert data["classes"] == ["a", "b", "c"] and len(data["results"]) == len(LEVELS)
    row = data["results"][-1]
    assert set(row) == {"counts", "live_time_s", "accuracy", "hybrid_accuracy", "ml_called",
                        "ml_accuracy", "ncc_accuracy", "chi2_accuracy", "n", "open_set"}
    assert row["hybrid_accuracy"] is None and row["open_set"] is None
    assert row["counts"] == 3000 and row["accuracy"] == result.levels[-1].accuracy
    matrices = data["confusion"]["3000"]
    assert set(matrices) == {"counts", "row_normalised", "ml_counts", "ml_row_normalised"}
    assert np.trace(matrices["counts"]) == round(row["accuracy"] * 450)
    np.testing.assert_allclose(np.sum(matrices["row_normalised"], axis=1), 1.0, atol=1e-3)
    table = format_table(result).splitlines()
    assert "CNN" in table[0] and "ML bound" in table[0] and len(table) == 1 + len(LEVELS)


def test_peers_use_the_models_templates_not_the_data(references):
    shifted = np.roll(references.templates(PREPROCESS), 1, axis=0)  # class c gets c-1's template
    config = EvaluateConfig(counts=(5000,), draws_per_class=40)
    level = drive(evaluate(ml_network(references, templates=shifted), references,
                           config)).levels[0]
    assert level.accuracy > 0.85  # the network keeps its own weights
    assert level.peer_accuracy("ml") < 0.1  # the peers follow the stored templates


def test_classes_are_matched_by_name(references):
    subset = similar_references(names=("c", "a"))
    result = drive(evaluate(ml_network(references), subset,
                            EvaluateConfig(counts=(5000,), draws_per_class=40)))
    level = result.levels[0]
    assert result.classes == ["a", "b", "c"] and result.evaluated_classes == ["c", "a"]
    assert level.n == 80 and level.cnn_confusion[1].sum() == 0  # "b" has no draws
    assert level.cnn_confusion[0, 0] + level.cnn_confusion[2, 2] >= 70
    assert match_classes(["a", "b"], ["b", "a", "b"]).tolist() == [1, 0, 1]
    unknown = ReferenceSet(["a", "zinc", "lead"], references.grid, references.spectra, [0, 1, 2])
    result = drive(evaluate(ml_network(references), unknown,
                            EvaluateConfig(counts=(5000,), draws_per_class=20)))
    assert result.unknown_classes == ["zinc", "lead"] and result.levels[0].n == 20
    assert result.levels[0].open_set is None  # the network has no open-set calibration
    with pytest.raises(InputError, match="knows none of its classes.*knows: a, b, c"):
        drive(evaluate(ml_network(references),
                       ReferenceSet(["zinc", "lead"], references.grid, references.spectra[:2],
                                    [0, 1])))


def test_same_seed_same_draws_and_progress_per_batch(references):
    classifier = ml_network(references)
    config = EvaluateConfig(counts=(300, 30), draws_per_class=50, batch_size=40, seed=3)
    reports = []
    first = drive(evaluate(classifier, references, config), reports.append)
    assert config.counts == (30, 300)  # sorted
    assert all(isinstance(r, Progress) for r in reports)
    assert len(reports) == 2 * 4 + 2  # 4 batches per level + one summary per level
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    summaries = [r.metrics for r in reports if "counts" in r.metrics]
    assert [s["counts"] for s in summaries] == [30, 300] and "ml_accuracy" in summaries[0]
    again = drive(evaluate(classifier, references, config))
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    other = drive(evaluate(classifier, references, EvaluateConfig(counts=(300, 30),
                  draws_per_class=50, batch_size=40, seed=4)))
    assert other.to_json()["confusion"] != first.to_json()["confusion"]
    # a level's draws do not depend on the other levels
    alone = drive(evaluate(classifier, references, EvaluateConfig(counts=(300,),
                  draws_per_class=50, batch_size=40, seed=3)))
    assert alone.to_json()["confusion"]["300"] == first.to_json()["confusion"]["300"]


def test_peers_only_run_gives_the_same_peer_results(references, result):
    keep = PREPROCESS.keep_mask(references.grid.n_channels)
    peers = drive(evaluate_peers(references.templates(PREPROCESS), references.classes,
                                 references.grid, keep, references,
                                 EvaluateConfig(counts=LEVELS, draws_per_class=150,
                                                batch_size=128)))
    for mine, full in zip(peers.levels, result.levels, strict=True):
        assert mine.cnn_confusion is None and mine.accuracy is None
        for method in ("ml", "ncc", "chi2"):
            np.testing.assert_array_equal(mine.peer_confusion[method],
                                          full.peer_confusion[method])
    assert peers.to_json()["results"][0]["accuracy"] is None
    assert "CNN" not in format_table(peers).splitlines()[0]


def test_other_grid_is_rebinned_and_live_times_give_the_rate(references):
    fine = similar_references(grid=EnergyGrid(Calibration((-2.5, 5.0)), 256))
    library = SimpleNamespace(classes=fine.classes, grid=fine.grid, spectra=fine.spectra,
                              labels=fine.labels, live_times=np.array([100.0, np.nan, 300.0]))
    result = drive(evaluate(ml_network(references), library,
                            EvaluateConfig(counts=(5000,), draws_per_class=40)))
    rate = (fine.spectra[0].sum() + fine.spectra[2].sum()) / 400.0
    assert result.count_rate_cps == pytest.approx(rate)
    assert result.levels[0].live_time_s == pytest.approx(5000 / rate)
    assert result.levels[0].accuracy > 0.85 and result.levels[0].peer_accuracy("ml") > 0.85


def test_model_without_templates_runs_only_the_cnn(references):
    classifier = ml_network(references)
    classifier.templates = None
    level = drive(evaluate(classifier, references,
                           EvaluateConfig(counts=(1000,), draws_per_class=20))).levels[0]
    assert level.accuracy is not None and level.peer_confusion == {}
    assert level.peer_accuracy("ml") is None


@pytest.mark.parametrize("bad", [{"counts": ()}, {"counts": (0, 10)}, {"counts": (2.5,)},
                                 {"draws_per_class": 0}, {"batch_size": True},
                                 {"peers": ("ml", "svm")}, {"count_rate_cps": -1.0}])
def test_config_validation(bad):
    with pytest.raises(InputError):
        EvaluateConfig(**bad)
    assert EvaluateConfig(counts=500).counts == (500,)
    assert EvaluateConfig(peers=("chi2", "ml")).peers == ("ml", "chi2")
    assert EvaluateConfig(peers="ncc").peers == ("ncc",)


def test_confusions_handed_to_the_cli_and_gui_have_the_true_class_in_rows():
    """Same asymmetric case as the peer test: flat single-count draws are called "narrow" 1
    time in 8, narrow draws are never called "flat". The CNN (here the ML network), the ML
    peer and the JSON agree. All channels are kept, where the kept mass once summed to
    1 + 2e-16 and the binomial draw refused it."""
    grid = EnergyGrid(Calibration((0.0, 10.0)), 8)
    spectra = np.array([np.full(8, 100.0), np.r_[800.0, np.full(7, 1e-4)]])
    references = ReferenceSet(["flat", "narrow"], grid, spectra, np.arange(2))
    network = ml_network(references, PreprocessConfig(discard=[]))
    result = drive(evaluate(network, references, EvaluateConfig(
        counts=(1,), draws_per_class=800, peers=("ml",), batch_size=256)))
    level = result.levels[0]
    for confusion in (level.cnn_confusion, level.peer_confusion["ml"]):
        assert confusion[1].tolist() == [0, 800]
        assert 60 < confusion[0, 1] < 140
    matrices = result.to_json()["confusion"]["1"]
    assert matrices["counts"] == level.cnn_confusion.tolist()
    assert matrices["ml_counts"] == level.peer_confusion["ml"].tolist()
