"""Lung nodules on chest CT: sample data, info, train the SSD, detect, evaluate (LUNA16 FROC).

``--model demo`` means the bundled demo model. Heavy modules (torch, SimpleITK, the engines)
are imported inside the verb handlers so that building the parser stays fast.
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
    echo_validations,
    load_model,
    run_with_bar,
    write_json,
)


def register(parser: argparse.ArgumentParser):
    from engines.nodules.detect import DetectConfig
    from engines.nodules.detectors import DetectorConfig
    from engines.nodules.preprocess import PreprocessConfig
    from engines.nodules.synthetic import FORMATS
    from engines.nodules.training import TrainConfig

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write seeded synthetic chest CT with nodules")
    p.add_argument("--out", type=Path, required=True, help="folder to write (replaced when it "
                   "holds an earlier synthetic set)")
    p.add_argument("--scans", type=int, default=4, help="number of scans (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=FORMATS, default="luna16",
                   help="luna16: subset0/<seriesuid>.mhd + .raw; dicom: a series per scan")
    p.add_argument("--compression", choices=("rle", "jpeg2000", "jpegls"),
                   help="DICOM transfer syntax (default uncompressed)")
    p.add_argument("--small", action="store_true",
                   help="tiny 96×96 scans of 3.5 mm pixels (tests, quick trials)")
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("info", help="summary of a scan, a LUNA16 folder or a model")
    p.add_argument("path", help='scan (.mhd, .nii, DICOM folder), dataset folder, model, '
                   'or "demo"')
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("train", help="train the nodule SSD on a LUNA16-style folder")
    p.add_argument("--data", type=Path, required=True, help="folder with scans and "
                   "annotations.csv")
    p.add_argument("--out", type=Path, required=True, help="model path (MODEL.safetensors+.json)")
    add_config_args(p, TrainConfig)
    add_config_args(p, DetectorConfig)
    add_config_args(p, PreprocessConfig)
    p.add_argument("--init", metavar="PATH", help="local backbone weights (.safetensors, or a "
                   "torch.save state dict read with weights_only=True)")
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_train)

    p = verbs.add_parser("detect", help="find nodules in a scan; write LUNA16 candidates")
    add_model_option(p)
    p.add_argument("--scan", type=Path, required=True, help="scan file or DICOM folder")
    p.add_argument("--series-uid", help="DICOM: which series of the folder")
    p.add_argument("--out", type=Path, required=True, help="CANDIDATES.csv (seriesuid, "
                   "coordX, coordY, coordZ, probability, diameter_mm)")
    add_config_args(p, DetectConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_detect)

    p = verbs.add_parser("evaluate", help="per-slice counts, FROC and CPM on a LUNA16 folder")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="folder with scans and "
                   "annotations.csv")
    p.add_argument("--peer", action="store_true", help="also score the classical CAD peer")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap samples of the CPM "
                   "interval (default 1000)")
    add_config_args(p, DetectConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_evaluate)
    return verbs


def _load(value: str, device: str):
    from engines.nodules.model import NoduleDetector

    return load_model(NoduleDetector, value, "nodules", device)


def _sample(args: argparse.Namespace) -> int:
    from engines.nodules.samples import iter_write_dataset
    from engines.nodules.synthetic import SyntheticConfig, small_config

    config = small_config() if args.small else SyntheticConfig()
    path = run_with_bar(iter_write_dataset(args.out, args.scans, args.seed, args.format, config,
                                           args.compression), "generating")
    print(f"wrote {path} ({args.scans} scans, {args.format}, seed {args.seed})")
    return 0


def _is_model(text: str) -> bool:
    return text == "demo" or Path(text).suffix.lower() in (".safetensors", ".json")


def _info(args: argparse.Namespace) -> int:
    text = str(args.path)
    path = Path(text)
    if _is_model(text):
        model = _load(text, "cpu")
        meta = model.metadata()
        meta["training"] = {k: v for k, v in meta["training"].items() if k != "history"}
        result: dict[str, Any] = {"path": text, **meta, "description": model.describe()}
    elif path.is_dir() and any((path / name).is_file() for name in
                               ("annotations.csv", "CSVFILES/annotations.csv")):
        from engines.nodules.luna16 import open_dataset

        dataset = open_dataset(path)
        result = {"path": text, "scans": len(dataset.scans),
                  "nodules": len(dataset.annotations),
                  "excluded": None if dataset.excluded is None else len(dataset.excluded),
                  "candidates": None if dataset.candidates is None else len(dataset.candidates),
                  "series": [{"seriesuid": e.seriesuid, "path": str(e.path),
                              "nodules": len(dataset.nodules_of(e.seriesuid))}
                             for e in dataset.scans]}
    else:
        from engines.nodules.scan import scan_info

        result = scan_info(path)
    print(json.dumps(result, indent=2, default=str))
    write_json(args.json, result)
    return 0


def _train(args: argparse.Namespace) -> int:
    from engines.nodules.detectors import DetectorConfig
    from engines.nodules.luna16 import open_dataset
    from engines.nodules.preprocess import PreprocessConfig
    from engines.nodules.training import TrainConfig, train_detector

    config = config_from_args(args, TrainConfig, device=args.device)
    detector = config_from_args(args, DetectorConfig)
    preprocess = config_from_args(args, PreprocessConfig)
    dataset = open_dataset(args.data)
    result = run_with_bar(echo_validations(train_detector(dataset, config, detector, preprocess,
                                                          args.init)), "training")
    model = result.model
    model.training["data"] = str(args.data)
    path = model.save(args.out, half=args.half)
    figures = result.validation.to_json()
    print(f"saved {path} and {path.with_suffix('.json').name}")
    _print_figures("validation", figures)
    write_json(args.json, {"model": str(path), "history": result.history, "split": result.split,
                           "validation": figures})
    return 0


def _detect_config(args: argparse.Namespace, model):
    """The model's detection settings with the options given on the command line."""
    import dataclasses

    from engines.nodules.detect import DetectConfig, detect_config_for

    names = {f.name for f in dataclasses.fields(DetectConfig)}
    return detect_config_for(model, **{k: v for k, v in vars(args).items() if k in names})


def _detect(args: argparse.Namespace) -> int:
    from engines.nodules.batch import analyze_scan

    model = _load(args.model, args.device)
    config = _detect_config(args, model)
    result = run_with_bar(_as_task(lambda: analyze_scan(model, args.scan, args.out, config,
                                                        args.series_uid)), "detecting")
    print(f"wrote {args.out}: {result['candidates']} candidates at probability ≥ "
          f"{result['threshold']:.3f} in {result['slices']} slices of {result['seriesuid']}"
          + ("" if result["lungs_found"] else " (no lungs found: nothing masked)"))
    write_json(args.json, result)
    return 0


def _as_task(function):
    """A blocking call as a one-step task (for run_with_bar)."""
    from engines.core.progress import Progress

    yield Progress(0.0, "running")
    return function()


def _print_figures(name: str, figures: dict[str, Any]) -> None:
    from engines.nodules.evaluation import PAPER_NOTE

    s = figures.get("slice")
    if s:
        print(f"{name}: per slice (IoU ≥ 0.5, threshold {figures['slice_threshold']:.3f}): "
              f"TP {s['tp']} FP {s['fp']} FN {s['fn']}  precision {s['precision']:.4f}  "
              f"recall (sensitivity) {s['recall']:.4f}  F1 {s['f1']:.4f}")
        print(f"{name}: per-slice recall by circle diameter "
              + "  ".join(_size_bin(b, "boxes") for b in figures.get("slice_by_size") or []))
    lo, hi = figures["cpm_ci"]
    print(f"{name}: per scan ({figures['scans']} scans, {figures['nodules']} nodules): CPM "
          f"{figures['cpm']:.4f} (95 % CI {lo if lo is not None else float('nan'):.3f}–"
          f"{hi if hi is not None else float('nan'):.3f}); FROC "
          + "  ".join(f"{k}:{v:.3f}" for k, v in figures["froc"].items()))
    print(f"{name}: at threshold {figures['threshold']:.3f}: sensitivity "
          f"{figures['sensitivity']:.4f}, {figures['fp_per_scan']:.2f} FP/scan; by size "
          + "  ".join(_size_bin(b) for b in figures["by_size"]))
    print(f"note: {PAPER_NOTE}")


def _size_bin(row: dict[str, Any], count: str = "nodules") -> str:
    span = (f"{row['min_mm']:g}–{row['max_mm']:g}" if row["max_mm"] is not None
            else f"≥{row['min_mm']:g}")
    return f"{span} mm {row['found']}/{row[count]}"


def _evaluate(args: argparse.Namespace) -> int:
    from engines.nodules.evaluation import iter_evaluate
    from engines.nodules.luna16 import open_dataset

    model = _load(args.model, args.device)
    dataset = open_dataset(args.data)
    config = _detect_config(args, model)
    result = run_with_bar(iter_evaluate(model, dataset, config, bootstrap=args.bootstrap),
                          "evaluating")
    figures = result.to_json()
    _print_figures("model", figures)
    out = {**figures, "model": args.model, "data": str(args.data)}
    if args.peer:
        from engines.nodules.peer import iter_evaluate_peer

        peer = run_with_bar(iter_evaluate_peer(dataset, bootstrap=args.bootstrap), "peer")
        peer_figures = peer.to_json()
        _print_figures("peer", peer_figures)
        out["peer"] = peer_figures
    write_json(args.json, out)
    return 0
