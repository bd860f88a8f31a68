"""Spectrum benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: RSM-3 draws/s (k = 19650 on 16384 channels, batch 128; numpy and torch), inference
latency (1 spectrum) and throughput (batch 256) of the CPU preset and of the bundled demo model,
training step time, accuracy per count level (CNN, the hybrid as it calls, the ML bound, NCC,
chi-squared) on freshly generated synthetic libraries, the open-set test of the demo model
(in-library acceptance, AUROC and false accepts at 95 % true accepts against 7 materials it was
never trained on; once from the same detector, once from varied detectors and calibrations), and
its verdict on the real HPGe spectra of ../shared/data/spectra. Every device: the CPU, plus CUDA
when available.

Environment variables
---------------------
LABLENS_BENCH_MODEL_MATERIALS12, LABLENS_BENCH_MODEL_ALUMINIUM4, LABLENS_BENCH_MODEL_COPPER5
    Model to evaluate on that library (materials12 falls back to the bundled demo model); without
    one only the peers' curves are printed (templates from measurement 0, draws from 1).
LABLENS_BENCH_DRAWS
    Draws per class and count level (default 50).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from engines.core.device import describe_device
from engines.core.model import demo_model_path
from engines.core.progress import drive
from engines.spectrum.rsm import PAPER_COUNT_RATE, PAPER_COUNTS
from tests.benchmarks import print_table

torch = pytest.importorskip("torch")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LEVELS = (100, 1000, 5000, 19650, 100_000, 500_000)
DRAWS = int(os.environ.get("LABLENS_BENCH_DRAWS", "50"))
BENCH_SEED = 20240  # fresh sample data, not the seed the demo model was trained on


def _timed(fn, repeats: int, device: torch.device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@pytest.fixture(scope="module")
def expected12():
    from engines.spectrum.synthetic import expected_spectra

    return expected_spectra("materials12")


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    from engines.spectrum.synthetic import write_sample_library

    root = tmp_path_factory.mktemp("bench_samples")
    for library in ("materials12", "aluminium4", "copper5"):
        write_sample_library(root, library, seed=BENCH_SEED, measurements_per_class=2)
    return root


@pytest.mark.parametrize("name", DEVICES)
def test_rsm_draw_rate(name, expected12):
    from engines.spectrum.rsm import rsm3, rsm3_torch, to_probabilities

    device = torch.device(name)
    probabilities = to_probabilities(expected12[1])[np.arange(128) % 12]
    rows = []
    if device.type == "cpu":
        rng = np.random.default_rng(0)
        seconds = _timed(lambda: rsm3(probabilities, PAPER_COUNTS, rng), 5, device)
        rows.append(["numpy multinomial", 128 / seconds, seconds * 1e3])
    weights = torch.as_tensor(probabilities, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    for method in ("cdf", "tree", "auto"):
        seconds = _timed(lambda m=method: rsm3_torch(weights, PAPER_COUNTS, generator, method=m),
                         5, device)
        rows.append([f"torch {method}", 128 / seconds, seconds * 1e3])
    print_table(f"RSM-3 draws, k = {PAPER_COUNTS}, 16384 channels, batch 128 on "
                f"{describe_device(device)}", ["method", "draws/s", "ms/batch"], rows)


def _inference_row(label: str, classifier, device: torch.device) -> list:
    classifier.to(device)
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(classifier.grid.n_channels), 256)
    spectra = rng.multinomial(PAPER_COUNTS, probabilities).astype(np.float32)
    single = _timed(lambda: classifier.predict_proba(spectra[:1]), 10, device)
    batch = _timed(lambda: classifier.predict_proba(spectra, batch_size=256), 3, device)
    params = sum(p.numel() for p in classifier.model.parameters())
    return [label, params, single * 1e3, 256 / batch]


@pytest.mark.parametrize("name", DEVICES)
def test_inference_cpu_presets(name):
    from engines.spectrum.classifier import SpectrumClassifier
    from engines.spectrum.models import create_model
    from engines.spectrum.preprocessing import PreprocessConfig
    from engines.spectrum.spectrum import PAPER_GRID

    device = torch.device(name)
    preprocess = PreprocessConfig()
    rows = []
    for arch in ("inception_resnet_1d", "small_cnn"):
        torch.manual_seed(0)
        model = create_model(arch, 12, preprocess.in_channels, preset="cpu")
        classifier = SpectrumClassifier(model, [f"c{i}" for i in range(12)], PAPER_GRID,
                                        preprocess)
        rows.append(_inference_row(f"{arch} (cpu preset)", classifier, device))
    print_table(f"Inference, 16384 channels (7896 kept), on {describe_device(device)}",
                ["model", "parameters", "latency ms (1)", "spectra/s (256)"], rows)


def _demo_classifier(device: torch.device):
    from engines.spectrum.classifier import SpectrumClassifier

    path = demo_model_path("spectrum")
    if path is None:
        pytest.skip("bundled demo model not present; build it with "
                    "`make demo-models`")
    return SpectrumClassifier.load(path, device)


@pytest.mark.parametrize("name", DEVICES)
def test_inference_demo_model(name):
    device = torch.device(name)
    classifier = _demo_classifier(device)
    print_table(f"Inference of the bundled demo model on {describe_device(device)}",
                ["model", "parameters", "latency ms (1)", "spectra/s (256)"],
                [_inference_row(f"demo ({classifier.arch})", classifier, device)])


@pytest.mark.parametrize("name", DEVICES)
def test_training_step_time(name, expected12):
    from engines.spectrum.references import ReferenceSet
    from engines.spectrum.spectrum import PAPER_GRID
    from engines.spectrum.training import TrainConfig, train

    classes, counts = expected12
    references = ReferenceSet(classes, PAPER_GRID, counts, np.arange(len(classes)))
    rows = []
    for arch, batch in (("inception_resnet_1d", 128), ("small_cnn", 128)):
        config = TrainConfig(arch=arch, preset="cpu", batch_size=batch, steps=4, val_every=1000,
                             val_draws=2, device=name, hybrid=False, open_set=False)
        stamps = []
        drive(train(references, config),
              lambda r, s=stamps: s.append(time.perf_counter()) if "step" in r.metrics else None)
        per_step = float(np.median(np.diff(stamps)))  # the first step (warm-up) is excluded
        rows.append([arch, batch, per_step, batch / per_step])
    print_table(f"Training step (RSM-3 draws at {PAPER_COUNTS} counts + forward + backward + Adam) on "
                f"{describe_device(torch.device(name))}", ["model", "batch", "s/step", "draws/s"], rows)


def _bench_model(library: str, device: torch.device):
    from engines.spectrum.classifier import SpectrumClassifier

    value = os.environ.get(f"LABLENS_BENCH_MODEL_{library.upper()}")
    if value:
        return SpectrumClassifier.load(value, device), value
    if library == "materials12":
        path = demo_model_path("spectrum")
        if path is not None:
            return SpectrumClassifier.load(path, device), "demo"
    return None, None


@pytest.mark.parametrize("library", ["materials12", "aluminium4", "copper5"])
def test_accuracy_per_count_level(library, sample_root):
    from engines.spectrum.evaluation import (
        EvaluateConfig,
        evaluate,
        evaluate_peers,
        format_table,
    )
    from engines.spectrum.library import load_library
    from engines.spectrum.preprocessing import PreprocessConfig
    from engines.spectrum.references import from_library
    from engines.spectrum.synthetic import library_spec

    device = torch.device(DEVICES[-1])
    config = EvaluateConfig(counts=LEVELS, draws_per_class=DRAWS, seed=1)
    classifier, source = _bench_model(library, device)
    if classifier is not None:
        data = load_library(sample_root / library, classifier.grid)
        started = time.perf_counter()
        result = drive(evaluate(classifier, data, config))
        what = f"CNN = {source} ({classifier.arch}), templates = the model's"
    else:
        data = load_library(sample_root / library)
        spec = library_spec(library)
        first, stop = spec.kept_channels
        keep = PreprocessConfig(discard=[r for r in ((0, first), (stop, 16384)) if r[0] < r[1]])
        is_first = np.array([f.stem.endswith("_0") for f in data.files])
        templates = from_library(data.subset(np.flatnonzero(is_first))).templates(keep)
        held_out = data.subset(np.flatnonzero(~is_first))
        started = time.perf_counter()
        result = drive(evaluate_peers(templates, data.classes, data.grid,
                                      keep.keep_mask(data.grid.n_channels), held_out, config))
        what = (f"no model given (LABLENS_BENCH_MODEL_{library.upper()}): peers only, templates "
                f"from measurement 0, draws from measurement 1, channels {spec.kept_channels}")
    seconds = time.perf_counter() - started
    print(f"\nAccuracy per count level, synthetic {library} (seed {BENCH_SEED}), {DRAWS} draws "
          f"per class; {what}; {result.count_rate_cps:.0f} counts/s; {seconds:.1f} s on "
          f"{describe_device(device)}")
    print(format_table(result))


def test_time_to_decision_of_the_demo_model(sample_root):
    from engines.spectrum.library import load_library
    from engines.spectrum.live import LiveConfig, time_to_decision_stats

    device = torch.device(DEVICES[-1])
    classifier = _demo_classifier(device)
    data = load_library(sample_root / "materials12", classifier.grid)
    runs = max(1, DRAWS // 5)
    config = LiveConfig(rate_cps=PAPER_COUNT_RATE, update_interval_s=0.1, max_live_time_s=30.0,
                        threshold=0.95)
    stats = time_to_decision_stats(classifier, data, config, runs_per_class=runs)
    rows = [[r["class"][:24], r["decided_fraction"], r["median_s"], r["p90_s"],
             r["decision_accuracy"]] for r in [*stats.per_class(),
                                               {"class": "all", **stats.summary()}]]
    print_table(f"Time to decision of the demo model (threshold 0.95, {PAPER_COUNT_RATE:.0f} counts/s,"
                f" {runs} runs per class, updates every 0.1 s) on {describe_device(device)}",
                ["class", "decided", "median s", "p90 s", "accuracy"], rows)


def _mixed19_same_detector(seed: int):
    """Two long measurements per material of the 19-material library, generated exactly as the
    demo's training data (same detector, 7200 s at the paper's rate): 12 known, 7 foreign."""
    from engines.spectrum.references import ReferenceSet
    from engines.spectrum.spectrum import PAPER_GRID
    from engines.spectrum.synthetic.library import spectrum_shapes
    from engines.spectrum.synthetic.materials import MATERIAL_LIBRARIES

    materials = MATERIAL_LIBRARIES["mixed19"]
    rng = np.random.default_rng(seed)
    shapes = spectrum_shapes(materials, PAPER_GRID.edges)
    spectra = rng.poisson(np.repeat(shapes, 2, axis=0) * PAPER_COUNT_RATE * 7200.0)
    return ReferenceSet([m.name for m in materials], PAPER_GRID, spectra.astype(np.float64),
                        np.repeat(np.arange(len(materials)), 2))


@pytest.mark.parametrize("source", ["same detector", "varied detectors"])
def test_open_set_against_materials_outside_the_library(source, tmp_path):
    from engines.spectrum.evaluation import EvaluateConfig, evaluate, format_table
    from engines.spectrum.library import load_library
    from engines.spectrum.synthetic.varied import Variation, iter_varied_library

    device = torch.device(DEVICES[-1])
    classifier = _demo_classifier(device)
    if source == "same detector":
        data = _mixed19_same_detector(BENCH_SEED)
    else:  # files as a real library holds them: own calibration, channels, resolution
        root = drive(iter_varied_library(tmp_path, "mixed19", seed=BENCH_SEED,
                                         variation=Variation(files_per_class=(2, 2))))
        data = load_library(root / "test", classifier.grid)
    config = EvaluateConfig(counts=LEVELS[:-1], draws_per_class=DRAWS, seed=1)
    started = time.perf_counter()
    result = drive(evaluate(classifier, data, config))
    print(f"\nOpen set of the demo model (alpha {classifier.open_set.alpha:g}) on synthetic mixed19, "
          f"{source} (seed {BENCH_SEED}): 12 library materials, 7 foreign; {DRAWS} draws per "
          f"class; {time.perf_counter() - started:.1f} s on {describe_device(device)}")
    print(format_table(result))


def test_real_foreign_spectra_come_out_not_in_the_library():
    from engines.spectrum.foreign import foreign_rejection, format_foreign
    from engines.spectrum.readers import read_spectrum
    from tests.conftest import SHARED_SPECTRA

    if not SHARED_SPECTRA.is_dir():
        pytest.skip(f"real spectra not available: {SHARED_SPECTRA} does not exist")
    device = torch.device(DEVICES[-1])
    classifier = _demo_classifier(device)
    files = sorted(p for p in SHARED_SPECTRA.iterdir() if p.suffix.lower() in (".spe", ".cnf"))
    started = time.perf_counter()
    result = drive(foreign_rejection(classifier, [read_spectrum(p) for p in files],
                                     draws=DRAWS))
    print(f"\nReal HPGe spectra (none a PGNAA material of the demo library), whole files and "
          f"{DRAWS} RSM-3 draws per level; {time.perf_counter() - started:.1f} s on "
          f"{describe_device(device)}")
    print(format_foreign(result))


@pytest.mark.parametrize("head", [True, False], ids=["likelihood head", "plain network"])
def test_training_on_a_real_shaped_folder(head, tmp_path):
    """The training defaults on a real-shaped folder (19 materials, 10-20 .Spe files each with
    its own calibration, live time and resolution), evaluated on held-out files at 1000 and
    19650 counts against the ML bound (README, "Training on a real folder")."""
    from engines.spectrum.evaluation import EvaluateConfig, evaluate, format_table
    from engines.spectrum.library import load_library
    from engines.spectrum.synthetic.varied import REAL_SHAPE, iter_varied_library
    from engines.spectrum.training import TrainConfig, train

    root = drive(iter_varied_library(tmp_path, "mixed19", seed=7, variation=REAL_SHAPE))
    started = time.perf_counter()
    library = load_library(root / "train")
    config = TrainConfig(likelihood_head=head, hybrid=False, open_set=False,
                         device=DEVICES[-1])
    classifier = drive(train(library, config))
    seconds = time.perf_counter() - started
    result = drive(evaluate(classifier, load_library(root / "test", classifier.grid),
                            EvaluateConfig(counts=(1000, 19650), draws_per_class=100, seed=5)))
    training = classifier.training
    print(f"\nReal-shaped folder (mixed19, seed 7, {len(library.files)} training files), "
          f"{'likelihood head' if head else 'plain network'}: {training['steps_run']} steps, "
          f"{seconds:.0f} s with loading, 95 % of the best validation after "
          f"{training['seconds_to_95pct']} s, on {training['device']}")
    print(format_table(result))
