"""Shared fixtures: the materials sample library (written once into $LABLENS_DATA_DIR), a tiny
trained model, a calibrated stand-in classifier, and a shown workspace (the task host is in
tests/widgets/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.core.progress import drive
from engines.core.resources import sample_data_dir
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.library import load_library
from engines.spectrum.models import create_model
from engines.spectrum.preprocessing import PreprocessConfig, check_counts
from engines.spectrum.synthetic import write_sample_library
from engines.spectrum.training import TrainConfig, train

TINY_TRAINING = {"arch": "small_cnn", "model_config": {"channels": (4, 8), "kernels": (5, 3),
                                                       "stem_stride": 8},
                 "device": "cpu", "batch_size": 8, "counts": (5000, 50_000), "val_every": 2,
                 "val_draws": 2, "hybrid": False, "open_set": False, "max_minutes": None}


class BayesClassifier(SpectrumClassifier):
    """Exact multinomial posterior on the kept channels (calibrated, decides quickly): a stand-in
    where a test needs confident calls without training for minutes."""

    def predict_logits(self, counts: np.ndarray, batch_size: int = 256) -> np.ndarray:
        counts = check_counts(counts, self.grid.n_channels).astype(np.float64)
        return counts[:, self.keep_mask] @ np.log(np.maximum(self.templates, 1e-12)).T


@pytest.fixture(scope="session")
def sample_folder() -> Path:
    """materials12 written where the workspace looks for it (so activation only loads it)."""
    root = sample_data_dir("spectrum")
    folder = root / "materials12"
    if not folder.is_dir():
        write_sample_library(root, "materials12")
    return folder


@pytest.fixture(scope="session")
def library(sample_folder):
    return load_library(sample_folder)


@pytest.fixture(scope="session")
def tiny_model(library, tmp_path_factory) -> tuple[SpectrumClassifier, Path]:
    """A few steps of real training; saved for the load-model path."""
    classifier = drive(train(library, TrainConfig(**TINY_TRAINING, steps=4)))
    path = classifier.save(tmp_path_factory.mktemp("model") / "tiny")
    return classifier, path


@pytest.fixture(scope="session")
def bayes(library) -> BayesClassifier:
    preprocess = PreprocessConfig()
    model = create_model("small_cnn", library.n_classes, preprocess.in_channels,
                         channels=(4,), kernels=(3,), stem_stride=8)
    from engines.spectrum.references import from_library

    templates = from_library(library).templates(preprocess)
    return BayesClassifier(model, library.classes, library.grid, preprocess, templates)


@pytest.fixture(scope="session")
def calibrated_bayes(library) -> BayesClassifier:
    """The exact-posterior stand-in with a (coarse) open-set calibration on the library."""
    from engines.spectrum.openset_calibration import iter_calibrate_open_set

    preprocess = PreprocessConfig()
    model = create_model("small_cnn", library.n_classes, preprocess.in_channels,
                         channels=(4,), kernels=(3,), stem_stride=8)
    from engines.spectrum.references import from_library

    classifier = BayesClassifier(model, library.classes, library.grid, preprocess,
                                 from_library(library).templates(preprocess))
    classifier.open_set = drive(iter_calibrate_open_set(classifier, library, (5000, 50_000),
                                                        levels=(100, 1000, 10_000, 100_000,
                                                                1_000_000, 10_000_000)))
    return classifier


@pytest.fixture
def workspace(qtbot, host, library, tiny_model):
    """A shown workspace with the sample library and the tiny model (no activation tasks)."""
    from widgets.spectrum.workspace import SpectrumWorkspace

    ws = SpectrumWorkspace(host)
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    ws.set_library(library, "materials12")
    ws.set_model(tiny_model[0])
    return ws
