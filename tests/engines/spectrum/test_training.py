import itertools
import json

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.training import TrainConfig, train, validation_set
from tests.engines.spectrum.toy_references import gaussian_references

TINY = {"arch": "small_cnn", "model_config": {"channels": (8, 16), "kernels": (5, 3)},
        "preprocess": PreprocessConfig(discard=[(0, 8), (248, 256)]), "device": "cpu",
        "batch_size": 32, "val_every": 10, "val_draws": 30, "likelihood_head": False}


@pytest.fixture(scope="module")
def references():
    return gaussian_references(3, 256, refs_per_class=2)


def test_config_validation_and_json_roundtrip():
    config = TrainConfig(counts=(100, 10_000), gain_drift=0.002, target_accuracy=0.9)
    assert config.count_range == (100, 10_000) and config.validation_counts == 1000
    again = TrainConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config
    assert TrainConfig(counts=500).validation_counts == 500
    assert TrainConfig(counts=(100, 1000), val_counts=300).validation_counts == 300
    for bad in ({"counts": 0}, {"counts": (500, 100)}, {"counts": (1, 2, 3)}, {"steps": 0},
                {"lr": 1.0}, {"target_accuracy": 1.5}, {"batch_size": True},
                {"gain_drift": 0.5}):
        with pytest.raises(InputError):
            TrainConfig(**bad)
    with pytest.raises(InputError, match="unknown training settings: epochs"):
        TrainConfig.from_json({"epochs": 3})


def test_training_reaches_the_target_and_returns_the_best_weights(references):
    config = TrainConfig(**TINY, counts=2000, lr=1e-2, steps=150, target_accuracy=0.95)
    reports = []
    classifier = drive(train(references, config), reports.append)
    assert isinstance(classifier, SpectrumClassifier)
    assert all(isinstance(r, Progress) for r in reports)
    steps = [r for r in reports if "step" in r.metrics]
    assert {"loss", "accuracy", "lr"} <= set(steps[0].metrics)
    validated = [r.metrics["val_accuracy"] for r in steps if "val_accuracy" in r.metrics]
    assert len(validated) == len(steps) // 10 + (len(steps) % 10 > 0)
    assert classifier.training["stop_reason"] == "target reached"
    assert len(steps) < config.steps and max(validated) >= 0.95
    # the returned weights are the best validation step's weights
    assert classifier.metrics["val_accuracy"] == max(validated)
    val_counts, val_labels = validation_set(references, 2000, 30, config.seed)
    accuracy = float(np.mean(classifier.predict(val_counts, hybrid=False) == val_labels))
    assert accuracy == pytest.approx(classifier.metrics["val_accuracy"], abs=1e-6)
    assert classifier.templates.shape == (3, 240)
    assert np.array(classifier.metrics["val_confusion"]).shape == (3, 3)
    assert classifier.training["config"]["counts"] == 2000


def test_same_seed_same_losses_and_cancelling_stops_cleanly(references):
    config = TrainConfig(**TINY, counts=(200, 300_000), steps=50, gain_drift=0.003,
                         resolution_sigma=1.5)

    def losses():
        task = train(references, config)
        reports = [r for r in itertools.islice(task, 5) if "loss" in r.metrics]
        task.close()  # what a cancelled GUI task does
        return [r.metrics["loss"] for r in reports]

    first = losses()
    assert len(first) == 4 and first == losses()
    other = TrainConfig(**{**TINY, "seed": 1}, counts=(200, 300_000), steps=50)
    assert [r.metrics["loss"] for r in itertools.islice(train(references, other), 1, 3)] != \
        first[:2]


def test_inception_model_trains_a_step_with_a_library_object(references):
    from types import SimpleNamespace

    library = SimpleNamespace(classes=references.classes, grid=references.grid,
                              spectra=references.spectra, labels=references.labels)
    config = TrainConfig(preset="cpu", model_config={"width": 0.0625, "blocks": (1, 1, 1)},
                         preprocess=PreprocessConfig(discard=[(0, 8)]), device="cpu",
                         batch_size=8, steps=2, val_every=1, val_draws=4, counts=500)
    classifier = drive(train(library, config))
    assert classifier.arch == "inception_resnet_1d" and classifier.training["steps_run"] == 2
    assert classifier.predict_proba(references.spectra).shape == (6, 3)


def test_a_reference_without_kept_counts_is_an_input_error(references):
    spectra = references.spectra.copy()
    spectra[0, 8:] = 0.0
    bad = type(references)(references.classes, references.grid, spectra, references.labels)
    with pytest.raises(InputError, match="no counts in the kept channels"):
        next(train(bad, TrainConfig(**TINY, steps=1)))


def test_curriculum_lowers_the_count_floor_and_focus_weights_confused_classes(references):
    import torch

    from engines.spectrum.training import _Sampler

    config = TrainConfig(**TINY, counts=(100, 100_000), curriculum=0.5, focus=0.8)
    sampler = _Sampler(references, config, torch.device("cpu"))
    assert sampler.count_range(0.0) == (3162, 100_000)
    assert sampler.count_range(0.25)[0] == pytest.approx(562, abs=2)
    assert sampler.count_range(0.5) == sampler.count_range(1.0) == (100, 100_000)
    sampler.focus(np.array([1.0, 0.5, 0.9]))
    weights = sampler.class_weights.numpy()
    assert weights[1] > weights[2] > weights[0] > 0 and weights.sum() == pytest.approx(1.0)
    _, labels = sampler.batch()
    counts = np.bincount(labels.numpy(), minlength=3)
    assert counts[1] > counts[0]
    plain = _Sampler(references, TrainConfig(**TINY), torch.device("cpu"))
    plain.focus(np.array([1.0, 0.5, 0.9]))  # focus 0: stays uniform
    assert plain.class_weights is None


def test_count_channel_and_post_training_calibrations(references):
    preprocess = PreprocessConfig(discard=[(0, 8), (248, 256)], count_channel=True)
    config = TrainConfig(**{**TINY, "preprocess": preprocess}, counts=(200, 20_000), steps=20,
                         lr=1e-2, hybrid=True, open_set=True)
    classifier = drive(train(references, config))
    assert classifier.model.in_channels == 2
    assert classifier.open_set is not None and "hybrid" in classifier.metrics
    assert classifier.training["calibration_seconds"] > 0
    assert classifier.training["seconds_to_95pct"] is not None
    assert [r["step"] for r in classifier.training["history"]] == [10, 20]


def test_the_likelihood_head_starts_at_the_ml_call_and_survives_save_and_load(references,
                                                                            tmp_path):
    import torch

    from engines.spectrum.models import create_model
    from engines.spectrum.peers import ml_scores
    from engines.spectrum.preprocessing import prepare_input

    preprocess = PreprocessConfig(discard=[(0, 8), (248, 256)], count_channel=True)
    keep = preprocess.keep_mask(256)
    templates = references.templates(preprocess)
    model = create_model("small_cnn", 3, 2, channels=(8, 16), kernels=(5, 3))
    model.add_likelihood_head(templates, "fraction", 1, 1000)
    torch.nn.init.zeros_(model.classifier.weight)
    torch.nn.init.zeros_(model.classifier.bias)
    counts, labels = references.draw(300, 40, seed=9)
    with torch.no_grad():
        logits = model.eval()(prepare_input(counts, preprocess)).double().numpy()
    ml = ml_scores(counts[:, keep], templates)
    # the head is the exact multinomial log-likelihood, up to a constant per spectrum
    np.testing.assert_allclose(logits - logits[:, :1], ml - ml[:, :1], rtol=1e-4, atol=1e-2)
    classifier = SpectrumClassifier(model, references.classes, references.grid, preprocess,
                                    templates)
    np.testing.assert_array_equal(classifier.predict(counts), ml.argmax(axis=1))
    path = classifier.save(tmp_path / "head")
    again = SpectrumClassifier.load(path)
    assert again.metadata()["likelihood_head"]["count_index"] == 1
    np.testing.assert_allclose(again.predict_logits(counts), classifier.predict_logits(counts),
                               rtol=1e-6, atol=1e-4)
    cam = again.cam(counts[:4])  # the map's mean over the kept channels is the logit
    called = again.predict_logits(counts[:4])[np.arange(4), cam.class_index]
    np.testing.assert_allclose(np.nanmean(cam.maps, axis=1), called, rtol=1e-3, atol=1e-2)


def test_training_with_the_likelihood_head_is_at_least_the_ml_peer(references):
    from tests.engines.spectrum.toy_references import ml_accuracy

    config = TrainConfig(**{**TINY, "likelihood_head": True}, counts=(100, 1000), steps=20)
    classifier = drive(train(references, config))
    assert classifier.model.likelihood is not None
    counts, labels = references.draw(150, 60, seed=3)
    accuracy = float(np.mean(classifier.predict(counts, hybrid=False) == labels))
    assert accuracy >= ml_accuracy(references, 150, classifier.keep_mask, 60, seed=3) - 0.05
