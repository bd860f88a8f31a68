import json

import numpy as np
import pytest
import torch

from engines.core.errors import InputError, ModelError
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.models import create_model
from engines.spectrum.preprocessing import PreprocessConfig
from tests.engines.spectrum.toy_references import gaussian_references

SMALL = {"channels": (8, 16), "kernels": (5, 3)}


def make_classifier(coord: bool = True) -> SpectrumClassifier:
    references = gaussian_references(3, 256)
    preprocess = PreprocessConfig(discard=[(0, 16), (240, 256)], coord_channel=coord)
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, preprocess.in_channels, **SMALL)
    return SpectrumClassifier(model, references.classes, references.grid, preprocess,
                              references.templates(preprocess), training={"steps_run": 5},
                              metrics={"val_accuracy": 0.5})


@pytest.fixture
def counts():
    return np.random.default_rng(0).poisson(3.0, (5, 256)).astype(np.float64)


def test_predict_proba_shapes_and_normalisation(counts):
    classifier = make_classifier()
    proba = classifier.predict_proba(counts, batch_size=2)
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert classifier.predict_proba(counts[0]).shape == (1, 3)
    np.testing.assert_array_equal(classifier.predict(counts), proba.argmax(axis=1))
    assert classifier.predict_proba(np.zeros((0, 256))).shape == (0, 3)


def test_wrong_channel_count_is_an_input_error():
    with pytest.raises(InputError, match="expects 256"):
        make_classifier().predict_proba(np.ones((2, 255)))


def test_save_load_roundtrip(tmp_path, counts):
    classifier = make_classifier()
    path = classifier.save(tmp_path / "model")
    assert path.name == "model.safetensors"
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["arch"] == "small_cnn" and meta["classes"] == classifier.classes
    assert meta["preprocessing"]["discard"] == [[0, 16], [240, 256]]
    assert meta["grid"]["n_channels"] == 256 and "torch" in meta["libraries"]
    assert meta["training"] == {"steps_run": 5} and meta["metrics"] == {"val_accuracy": 0.5}
    loaded = SpectrumClassifier.load(tmp_path / "model.json")
    np.testing.assert_allclose(loaded.predict_proba(counts), classifier.predict_proba(counts),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loaded.templates, classifier.templates, rtol=1e-6, atol=1e-12)
    assert loaded.preprocess == classifier.preprocess and loaded.grid == classifier.grid


def test_half_precision_file_is_smaller_and_close(tmp_path, counts):
    classifier = make_classifier()
    full = classifier.save(tmp_path / "full").stat().st_size
    half = classifier.save(tmp_path / "half", half=True).stat().st_size
    assert half < full
    loaded = SpectrumClassifier.load(tmp_path / "half")
    np.testing.assert_allclose(loaded.predict_proba(counts), classifier.predict_proba(counts),
                               atol=5e-3)
    assert loaded.templates.min() >= 0 and np.allclose(loaded.templates.sum(axis=1), 1.0)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(n_classes=4), "n_classes=4"),
    (lambda m: m.update(classes=["a", "b", "c", "d"]), "n_classes=3"),
    (lambda m: m["model_config"].update(channels=[8, 32]), "do not fit"),
    (lambda m: m["preprocessing"].update(coord_channel=False), "input channels"),
    (lambda m: m.update(arch="resnet"), "valid names"),
    (lambda m: m.pop("grid"), "missing entry 'grid'"),
    (lambda m: m.update(kind="something else"), "not a spectrum classifier"),
    (lambda m: m.update(classes="abc"), "list of names"),
    (lambda m: m["model_config"].update(kernels=[4, 3]), "odd"),
])
def test_sidecar_that_does_not_match_the_weights_is_a_model_error(tmp_path, change, message):
    make_classifier().save(tmp_path / "m")
    meta_path = tmp_path / "m.json"
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message):
        SpectrumClassifier.load(tmp_path / "m")


@pytest.mark.parametrize(("in_channels", "message"), [
    (10**12, r"weights do not fit the described architecture \(.* of shape \(8, 1000000000000, "),
    (2**70, r"invalid model description \(.*[Oo]verflow"),
])
def test_a_hostile_width_is_refused_in_one_line_before_anything_is_allocated(tmp_path,
                                                                              in_channels,
                                                                              message):
    """A fuzzed sidecar asked torch for 240 TB (an escaping RuntimeError); another's overflow
    message ran over two lines."""
    make_classifier().save(tmp_path / "m")
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["in_channels"] = in_channels
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=rf"^m\.json: {message}") as caught:
        SpectrumClassifier.load(tmp_path / "m")
    assert "\n" not in str(caught.value)


def test_mismatched_parts_are_rejected_at_construction():
    references = gaussian_references(3, 64)
    model = create_model("small_cnn", 3, 1, **SMALL)
    with pytest.raises(ModelError, match="class names"):
        SpectrumClassifier(model, ["a", "b"], references.grid, PreprocessConfig(discard=[]))
    with pytest.raises(ModelError, match="input channels"):
        SpectrumClassifier(model, references.classes, references.grid,
                           PreprocessConfig(discard=[], coord_channel=True))
    with pytest.raises(ModelError, match="templates"):
        SpectrumClassifier(model, references.classes, references.grid,
                           PreprocessConfig(discard=[]), templates=np.ones((3, 10)))


def test_describe_names_the_model():
    text = make_classifier().describe()
    assert "small_cnn" in text and "class-0, class-1, class-2" in text
    assert "224 kept channels" in text and "val_accuracy=0.5" in text


def test_bundled_demo_model_reaches_its_recorded_accuracy(tmp_path):
    """Fresh materials12 measurements (a seed the model never saw) at the paper's 19650 counts:
    the recorded validation accuracy within a small-sample tolerance, and close to the
    multinomial maximum-likelihood bound on the same draws."""
    from engines.core.model import demo_model_path
    from engines.core.progress import drive
    from engines.spectrum.evaluation import EvaluateConfig, evaluate
    from engines.spectrum.library import load_library
    from engines.spectrum.synthetic import write_sample_library

    path = demo_model_path("spectrum")
    if path is None:
        pytest.skip("no bundled spectrum demo model")
    classifier = SpectrumClassifier.load(path, "cpu")
    library = load_library(write_sample_library(tmp_path, "materials12", seed=97,
                                                measurements_per_class=1))
    result = drive(evaluate(classifier, library,
                            EvaluateConfig(counts=(19650,), draws_per_class=40, peers=("ml",))))
    level = result.levels[0]
    assert level.accuracy >= classifier.metrics["val_accuracy"] - 0.03
    assert level.accuracy >= 0.97 and level.accuracy >= level.peer_accuracy("ml") - 0.02
    # the recorded hybrid: the ML peer below the fallback level, the network above
    recorded = classifier.metrics["hybrid"]
    assert classifier.fallback_counts == recorded["fallback_counts"] == 2000
    below = drive(evaluate(classifier, library, EvaluateConfig(counts=(1000,), draws_per_class=40,
                                                               peers=("ml",)))).levels[0]
    assert below.ml_called == 1.0 and below.hybrid_accuracy == below.peer_accuracy("ml")
    # the open-set test accepts fresh measurements of library materials at its alpha
    assert classifier.open_set is not None and classifier.open_set.has_network
    assert level.open_set["true_accept"] >= 0.9 and below.open_set["true_accept"] >= 0.9
