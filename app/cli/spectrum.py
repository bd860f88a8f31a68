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


def register(parser: argparse.ArgumentParser):
    from engines.spectrum.evaluation import EvaluateConfig
    from engines.spectrum.live import LiveConfig
    from engines.spectrum.preprocessing import PreprocessConfig
    from engines.spectrum.samples import LABELS
    from engines.spectrum.training import TrainConfig  # no torch at import: cheap

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write the synthetic sample libraries as CSV spectra")
    p.add_argument("--out", type=Path, required=True, help="folder to write DIR/<library>/...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--library", action="append", metavar="NAME",
                   help=f"only this library (repeatable; default all: {', '.join(LABELS)})")
    p.add_argument("--measurements", type=int, default=2, help="long measurements per class")
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

    names = args.library or list(LABELS)
    for name in names:
        library_spec(name)  # unknown names fail before anything is written
    for name in names:
        root = run_with_bar(iter_sample_library(args.out, name, args.seed, args.measurements),
                            f"writing {name}")
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
    write_json(args.json, {"model": str(path), "metrics": metrics, "training": training})
    return 0


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
    from engines.spectrum.analysis import analyze_spectra, classification_record
    from engines.spectrum.readers import read_spectrum

    spectra = [read_spectrum(path) for path in args.files]
    classifier = _load_model(args.model, args.device)
    analyses = run_with_bar(analyze_spectra(classifier, spectra, args.counts, args.seed),
                            "classifying")
    results = [classification_record(analysis, args.top) for analysis in analyses]
    for path, analysis, record in zip(args.files, analyses, results, strict=True):
        others = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in record["top"][1:])
        when = f", {analysis.live_time_s:.3f} s" if analysis.live_time_s else ""
        print(f"{path.name}: {analysis.predicted} ({analysis.confidence:.3f})"
              f"{'; next: ' + others if others else ''}  "
              f"[{analysis.total_counts:.0f} counts{when}]")
    write_json(args.json, {"model": args.model, "counts": args.counts, "seed": args.seed,
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
        print(f"{args.file.name}: no decision within {result.times_s[-1]:.2f} s "
              f"({result.total_counts[-1]:.0f} counts); top class {result.classes[top]} "
              f"{result.probabilities[-1, top]:.3f} < {config.threshold}")
    else:
        step = int(np.argmax(result.times_s >= result.decision_time_s))
        print(f"{args.file.name}: {result.decided_name} at {result.decision_time_s:.2f} s live "
              f"({result.total_counts[step]:.0f} counts, p = "
              f"{result.probabilities[step, result.decided_class]:.3f} >= {config.threshold})")
    write_json(args.json, {"model": args.model, "file": str(args.file),
                           "classes": result.classes, "decision_time_s": result.decision_time_s,
                           "decided": result.decided_name, "times_s": result.times_s,
                           "total_counts": result.total_counts,
                           "probabilities": result.probabilities})
    return 0


def _cell(value: float | None, width: int = 9) -> str:
    return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"


def _load_model(value: str, device: str):
    from engines.spectrum.classifier import SpectrumClassifier

    return load_model(SpectrumClassifier, value, "spectrum", device)
