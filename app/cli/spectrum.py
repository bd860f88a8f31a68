"""PGNAA gamma spectra: sample data, info, train, evaluate per count level, classify, live.

``--model demo`` means the bundled demo model. Heavy modules (torch, the engines) are imported
inside the verb handlers so that building the parser stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.common import (
    add_config_args,
    add_device_option,
    add_json_option,
    add_model_option,
    config_from_args,
    load_model,
    run_with_bar,
    write_json,
)

VARIED = "mixed19"


def register(parser: argparse.ArgumentParser):
    from engines.spectrum.evaluation import EvaluateConfig
    from engines.spectrum.live import LiveConfig
    from engines.spectrum.options import parse_counts
    from engines.spectrum.preprocessing import PreprocessConfig
    from engines.spectrum.samples import LABELS
    from engines.spectrum.training import TrainConfig  # no torch at import: cheap

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write the synthetic sample libraries as CSV spectra")
    p.add_argument("--out", type=Path, required=True, help="folder to write DIR/<library>/...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--library", action="append", metavar="NAME",
                   help=f"only this library (repeatable; default all: {', '.join(LABELS)}); "
                        f"{VARIED}: 19 materials measured like a real library (3-12 .Spe files "
                        "per class with their own calibrations, live times and resolutions, "
                        "split by file into train/ and test/)")
    p.add_argument("--measurements", type=int, default=2,
                   help=f"long measurements per class (not for {VARIED})")
    p.add_argument("--files", type=parse_counts, default=None, metavar="MIN:MAX",
                   help=f"{VARIED} only: files per class (default 3:12; a real library's "
                        "shape: 10:20)")
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("info", help="summary of a spectrum file, dataset folder or model")
    p.add_argument("path", type=Path)
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("train", help="train a classifier on a dataset folder (RSM-3 draws)")
    p.add_argument("--data", type=Path, required=True, help="DIR/<material>/<spectra>")
    p.add_argument("--out", type=Path, required=True, help="model path (MODEL.safetensors+.json)")
    add_config_args(p, TrainConfig)
    add_config_args(p, PreprocessConfig)
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_train)

    p = verbs.add_parser("calibrate", help="choose the ML fallback level and calibrate the "
                                           "'not in the library' test of a saved model")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="the model's reference library")
    p.add_argument("--out", type=Path, required=True, help="where to save the calibrated model")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration draws")
    p.add_argument("--alpha", type=float, default=None,
                   help="significance of the open-set test (default 0.01)")
    p.add_argument("--no-hybrid", dest="hybrid", action="store_false",
                   help="no ML fallback: the network calls at every count level")
    p.add_argument("--no-open-set", dest="open_set", action="store_false",
                   help="no open-set calibration")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_calibrate)

    p = verbs.add_parser("evaluate", help="accuracy per count level: CNN vs ML, NCC, chi2")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="held-out DIR/<material>/<spectra>")
    add_config_args(p, EvaluateConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_evaluate)

    p = verbs.add_parser("classify", help="classify spectrum files (or short draws from them)")
    add_model_option(p)
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.add_argument("--counts", type=int, help="classify a seeded RSM-3 draw of K counts")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (file i: seed + i)")
    p.add_argument("--top", type=int, default=3, help="classes listed per file")
    p.add_argument("--alpha", type=float, default=None,
                   help="significance of the 'not in the library' test (default: the model's)")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_classify)

    p = verbs.add_parser("live", help="simulated live acquisition and time to decision")
    add_model_option(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("file", type=Path, nargs="?", help="reference spectrum of the sample")
    source.add_argument("--data", type=Path, help="dataset folder: decision statistics per class")
    p.add_argument("--runs", type=int, default=20, help="runs per class with --data")
    add_config_args(p, LiveConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_live)
    return verbs


def _load_library(folder: Path, grid):
    from engines.spectrum.library import find_dataset_files, iter_load_library

    find_dataset_files(folder)  # folder problems are reported before any progress bar
    return run_with_bar(iter_load_library(folder, grid), "loading")


def _sample(args: argparse.Namespace) -> int:
    from engines.spectrum.samples import LABELS
    from engines.spectrum.synthetic import iter_sample_library, library_spec
    from engines.spectrum.synthetic.varied import Variation, iter_varied_library

    names = args.library or list(LABELS)
    variation = None
    if args.files is not None:
        low, high = args.files if isinstance(args.files, tuple) else (args.files, args.files)
        variation = Variation(files_per_class=(low, high))
    for name in names:
        if name != VARIED:
            library_spec(name)  # unknown names fail before anything is written
    for name in names:
        task = (iter_varied_library(args.out, name, args.seed, variation) if name == VARIED else
                iter_sample_library(args.out, name, args.seed, args.measurements))
        root = run_with_bar(task, f"writing {name}")
        print(f"{name}: {root}")
    return 0


def _info(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.suffix.lower() in (".safetensors", ".json") or str(path) == "demo":
        classifier = _load_model(str(path), "cpu")
        result: dict[str, Any] = {"path": str(path), **classifier.metadata()}
    else:
        from engines.spectrum.library import summarize

        result = summarize(path)
    print(json.dumps(result, indent=2, default=str))
    write_json(args.json, result)
    return 0


def _train(args: argparse.Namespace) -> int:
    from engines.spectrum.preprocessing import PreprocessConfig
    from engines.spectrum.spectrum import PAPER_GRID
    from engines.spectrum.training import TrainConfig, train

    config = config_from_args(args, TrainConfig,
                              preprocess=config_from_args(args, PreprocessConfig))
    library = _load_library(args.data, PAPER_GRID)
    classifier = run_with_bar(train(library, config), "training")
    classifier.training["data"] = str(args.data)
    path = classifier.save(args.out, half=args.half)
    metrics, training = classifier.metrics, classifier.training
    print(f"saved {path} and {path.with_suffix('.json').name}")
    print(f"validation accuracy {metrics['val_accuracy']:.4f} at {metrics['val_counts']} counts "
          f"(best step {metrics['best_step']}); {training['steps_run']} steps in "
          f"{training['seconds']:.1f} s ({training['stop_reason']}) on {training['device']}")
    if training.get("seconds_to_95pct") is not None:
        print(f"95 % of the best validation accuracy after {training['seconds_to_95pct']:.0f} s; "
              f"calibration {training.get('calibration_seconds', 0):.0f} s")
    write_json(args.json, {"model": str(path), "metrics": metrics, "training": training})
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import dataclasses

    from engines.core.errors import InputError
    from engines.spectrum.calibrate import iter_calibrate

    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise InputError(f"--alpha must be in (0, 1), got {args.alpha}")
    classifier = _load_model(args.model, args.device)
    library = _load_library(args.data, classifier.grid)
    half = _stored_half(args.model)
    run_with_bar(iter_calibrate(classifier, library, seed=args.seed, hybrid=args.hybrid,
                                open_set=args.open_set), "calibrating")
    if args.alpha is not None and classifier.open_set is not None:
        classifier.open_set = dataclasses.replace(classifier.open_set, alpha=args.alpha)
    path = classifier.save(args.out, half=half)
    hybrid = classifier.metrics.get("hybrid", {})
    print(f"saved {path}")
    for row in hybrid.get("levels", []):
        print(f"  {row['counts']:>8,} counts: network {row['network_accuracy']:.4f}, "
              f"ML peer {row['ml_accuracy']:.4f}")
    print("calls: " + (f"the ML peer below {classifier.fallback_counts:,} counts, the network "
                       "above" if classifier.fallback_counts else "the network at every level"))
    write_json(args.json, {"model": str(path), "fallback_counts": classifier.fallback_counts,
                           "hybrid": hybrid, "open_set": None if classifier.open_set is None
                           else classifier.open_set.to_json()})
    return 0


def _stored_half(model: str) -> bool:
    """Whether a saved model keeps fp16 weights (its sidecar says so)."""
    from engines.core.checkpoint import model_paths
    from engines.core.model import resolve_model_path

    try:
        sidecar = model_paths(resolve_model_path(model, "spectrum"))[1]
        return bool(json.loads(sidecar.read_text()).get("stored_half"))
    except (OSError, ValueError, LookupError):
        return False


def _evaluate(args: argparse.Namespace) -> int:
    from engines.spectrum.evaluation import EvaluateConfig, evaluate, format_table

    config = config_from_args(args, EvaluateConfig)
    classifier = _load_model(args.model, args.device)
    library = _load_library(args.data, classifier.grid)
    result = run_with_bar(evaluate(classifier, library, config), "evaluating")
    print(f"model {args.model} ({classifier.arch}, {classifier.n_classes} classes); data "
          f"{args.data} ({len(result.evaluated_classes)} classes, {library.spectra.shape[0]} "
          f"files); {config.draws_per_class} draws per class; {result.count_rate_cps:.0f} counts/s")
    print(format_table(result))
    if classifier.templates is None:
        print("(the model stores no class templates, so the classical peers were not run)")
    write_json(args.json, {**result.to_json(), "model": args.model, "data": str(args.data)})
    return 0


def _classify(args: argparse.Namespace) -> int:
    from engines.core.errors import InputError
    from engines.spectrum.analysis import analyze_spectra, classification_record
    from engines.spectrum.readers import read_spectrum

    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise InputError(f"--alpha must be in (0, 1), got {args.alpha}")
    spectra = [read_spectrum(path) for path in args.files]
    classifier = _load_model(args.model, args.device)
    analyses = run_with_bar(analyze_spectra(classifier, spectra, args.counts, args.seed,
                                            args.alpha), "classifying")
    results = [classification_record(analysis, args.top) for analysis in analyses]
    for path, analysis, record in zip(args.files, analyses, results, strict=True):
        others = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in record["top"][1:])
        when = f", {analysis.live_time_s:.3f} s" if analysis.live_time_s else ""
        fit = "" if record["p_fit"] is None else (
            f"; fit p = {record['p_fit']:.2g}" + ("" if record["p_network"] is None
                                                  else f", features p = {record['p_network']:.2g}"))
        called = " by the ML peer" if analysis.method == "ml" else ""
        print(f"{path.name}: {analysis.verdict} ({analysis.confidence:.3f}{called}{fit})"
              f"{'; next: ' + others if others else ''}  "
              f"[{analysis.total_counts:.0f} counts{when}]")
        if analysis.coverage < 0.95:
            print(f"  the spectrum covers only {analysis.coverage:.0%} of the model's energy "
                  "range")
    alpha = args.alpha if args.alpha is not None else (
        classifier.open_set.alpha if classifier.open_set is not None else None)
    write_json(args.json, {"model": args.model, "counts": args.counts, "seed": args.seed,
                           "alpha": alpha, "fallback_counts": classifier.fallback_counts,
                           "classes": classifier.classes, "results": results})
    return 0


def _live(args: argparse.Namespace) -> int:
    from engines.spectrum.live import LiveConfig, acquire, iter_time_to_decision_stats

    config = config_from_args(args, LiveConfig)
    if args.data is not None:
        classifier = _load_model(args.model, args.device)
        library = _load_library(args.data, classifier.grid)
        stats = run_with_bar(iter_time_to_decision_stats(classifier, library, config, args.runs),
                     "simulating")
        out = stats.to_json()
        print(f"time to decision at {config.rate_cps:.0f} counts/s, threshold "
              f"{config.threshold} ({args.runs} runs per class, updates every "
              f"{config.update_interval_s} s, at most {config.max_live_time_s} s)")
        print(f"{'class':<28} {'decided':>8} {'median s':>9} {'p90 s':>7} {'accuracy':>9}")
        for row in [*out["per_class"], {"class": "all", **out["overall"]}]:
            print(f"{row['class'][:28]:<28} {row['decided_fraction']:>8.2f} "
                  f"{_cell(row['median_s'])} {_cell(row['p90_s'], 7)} "
                  f"{_cell(row['decision_accuracy'])}")
        write_json(args.json, {"model": args.model, "data": str(args.data), **out})
        return 0
    import numpy as np

    from engines.spectrum.readers import read_spectrum

    spectrum = read_spectrum(args.file)
    classifier = _load_model(args.model, args.device)
    result = run_with_bar(acquire(classifier, spectrum, config), "acquiring")
    if result.decided_class is None:
        top = int(result.probabilities[-1].argmax())
        if result.in_library is not None and not result.in_library[-1]:
            reason = f"not in the library (closest: {result.classes[top]})"
        else:
            reason = (f"top class {result.classes[top]} {result.probabilities[-1, top]:.3f} < "
                      f"{config.threshold}")
        print(f"{args.file.name}: no decision within {result.times_s[-1]:.2f} s "
              f"({result.total_counts[-1]:.0f} counts); {reason}")
    else:
        step = int(np.argmax(result.times_s >= result.decision_time_s))
        print(f"{args.file.name}: {result.decided_name} at {result.decision_time_s:.2f} s live "
              f"({result.total_counts[step]:.0f} counts, p = "
              f"{result.probabilities[step, result.decided_class]:.3f} >= {config.threshold})")
    write_json(args.json, {"model": args.model, "file": str(args.file),
                           "classes": result.classes, "decision_time_s": result.decision_time_s,
                           "decided": result.decided_name, "times_s": result.times_s,
                           "total_counts": result.total_counts,
                           "probabilities": result.probabilities,
                           "in_library": result.in_library})
    return 0


def _cell(value: float | None, width: int = 9) -> str:
    return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"


def _load_model(value: str, device: str):
    from engines.spectrum.classifier import SpectrumClassifier

    return load_model(SpectrumClassifier, value, "spectrum", device)
