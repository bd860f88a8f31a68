"""COMET CDC drift-chamber events: sample data, info, train, evaluate vs the GBDT peer, analyze.

``--model demo`` means the bundled demo model. Heavy modules (torch, h5py, the engines) are
imported inside the verb handlers so that building the parser stays fast.

``train`` learns from a file's events (``--data``) or from fresh synthetic events every step
(``--synthetic``, with the options of :class:`engines.cdc.training.StreamConfig`).
``tune-fit`` re-tunes the second stage (:mod:`engines.cdc.second_stage`) without training.
``evaluate`` and ``analyze`` report the U-Net alone and the U-Net + track fit side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
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
from engines.core.errors import InputError


def register(parser: argparse.ArgumentParser):
    from engines.cdc.images import ImageConfig
    from engines.cdc.second_stage import RescoreConfig
    from engines.cdc.training import StreamConfig, TrainConfig

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write seeded synthetic events to an HDF5 file")
    p.add_argument("--out", type=Path, required=True, help="FILE.h5 to write")
    p.add_argument("--events", type=int, default=200, help="number of events (1…1000000)")
    p.add_argument("--occupancy", type=float, default=0.4,
                   help="mean background occupancy of read-out cells (0.01…0.95)")
    p.add_argument("--signal-fraction", type=float, default=1.0,
                   help="probability that an event holds a conversion-electron track")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("info", help="summary of an event file (HDF5 or ROOT) or a model")
    p.add_argument("path", help='event file, model path, or "demo"')
    p.add_argument("--model", default="demo", help="for an event file: the model whose "
                   'expectations it is checked against ("demo" by default, "none" to skip)')
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("train", help="train the U-Net on events with truth")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="event file (HDF5 or ROOT)")
    source.add_argument("--synthetic", action="store_true",
                        help="fresh synthetic events every step instead of a file")
    p.add_argument("--out", type=Path, required=True, help="model path (MODEL.safetensors+.json)")
    add_config_args(p, TrainConfig)
    add_config_args(p, ImageConfig)
    add_config_args(p, StreamConfig)
    p.add_argument("--init", metavar="MODEL", help="start from this model's weights "
                   '(fine-tuning; same encoder and image settings, any input size), or "demo"')
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_train)

    p = verbs.add_parser("tune-fit", help="re-tune the track fit's re-scoring of a trained "
                         "model on fresh events of the training seeds (the U-Net unchanged)")
    add_model_option(p)
    p.add_argument("--out", type=Path, required=True, help="model path to write (may be the "
                   "same as --model)")
    add_config_args(p, RescoreConfig)
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_json_option(p)
    p.set_defaults(handler=_tune_fit)

    p = verbs.add_parser("evaluate", help="purity-retention of the model and the GBDT peer")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="event file with truth")
    p.add_argument("--threshold", type=float, help="cut for per-event figures "
                   "(default: the model's)")
    p.add_argument("--no-peer", action="store_true", help="skip the GBDT peer")
    p.add_argument("--batch-size", type=int, default=16)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_evaluate)

    p = verbs.add_parser("analyze", help="score every hit and write a predictions file")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="event file (HDF5 or ROOT)")
    p.add_argument("--out", type=Path, required=True, help="PRED.h5 with /hits/score")
    p.add_argument("--batch-size", type=int, default=16)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_analyze)
    return verbs


def _read(path: Path):
    from engines.cdc.io import read_events

    return read_events(path, lazy=False)


def _sample(args: argparse.Namespace) -> int:
    from engines.cdc.synthetic import iter_write_sample_file

    if args.out.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"{args.out.name}: the sample is written as HDF5; use a .h5 name")
    path = run_with_bar(iter_write_sample_file(args.out, args.events, args.occupancy, args.seed,
                                       args.signal_fraction), "generating")
    print(f"wrote {path} ({args.events} events, occupancy {args.occupancy:g}, seed {args.seed})")
    return 0


def _info(args: argparse.Namespace) -> int:
    text = str(args.path)
    if text == "demo" or Path(text).suffix.lower() in (".safetensors", ".json"):
        segmenter = _load_model(text, "cpu")
        meta = segmenter.metadata()
        meta.pop("signal_density", None)
        result: dict[str, Any] = {"path": text, **meta}
        print(json.dumps(result, indent=2, default=str))
    else:
        result = _file_info(Path(text), args.model)
        print(json.dumps(result, indent=2, default=str))
        for warning in result.get("warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
    write_json(args.json, result)
    return 0


def _file_info(path: Path, model: str) -> dict[str, Any]:
    """``summarize`` plus the features the file feeds a model, checked against the model's
    expectations (its training data)."""
    from engines.cdc.features import feature_summary, range_warnings
    from engines.cdc.io import read_events, summarize
    from engines.cdc.model import CdcSegmenter
    from engines.core.model import demo_model_path, resolve_model_path

    result = summarize(path)
    config = expects = None
    if model != "none" and (model != "demo" or demo_model_path("cdc") is not None):
        # the sidecar alone: info stays light (no torch) however large the model
        config, expects = CdcSegmenter.expectations(resolve_model_path(model, "cdc"))
    percentile = config.time_reference_percentile if config else 1.0
    result["features"] = feature_summary(read_events(path, lazy=True), percentile)
    if config is not None:
        result["model"] = model
        result["model_expects"] = expects
        result["warnings"] = range_warnings(result["features"], expects or {},
                                            config.channel_ranges)
    return result


def _train(args: argparse.Namespace) -> int:
    from engines.cdc.images import ImageConfig
    from engines.cdc.training import StreamConfig, TrainConfig, train_on_synthetic, train_segmenter

    image_config = config_from_args(args, ImageConfig)
    config = config_from_args(args, TrainConfig)
    initial = None if args.init is None else _load_model(args.init, "cpu")
    if args.synthetic:
        task = train_on_synthetic(config_from_args(args, StreamConfig), image_config, config,
                                  initial)
    else:
        task = train_segmenter(_read(args.data), image_config, config, initial)
    result = run_with_bar(echo_validations(task), "training")
    segmenter = result.segmenter
    if not args.synthetic:
        segmenter.training["data"] = str(args.data)
    path = segmenter.save(args.out, half=args.half)
    val = segmenter.metrics["val"]
    print(f"saved {path} and {path.with_suffix('.json').name}")
    print(f"best epoch {result.best_epoch}: validation AUC {val['auc']:.4f}, purity "
          f"{val['purity_at_retention_0.9']:.4f} at retention 0.9; threshold "
          f"{segmenter.threshold:.4f} ({segmenter.training['stop_reason']})")
    fit = segmenter.metrics.get("val_with_fit") or {}
    if fit:
        print(f"with the track fit: AUC {fit['auc']:.4f}, purity "
              f"{fit['purity_at_retention_0.9']:.4f} at retention 0.9")
    write_json(args.json, {"model": str(path), "best_epoch": result.best_epoch,
                           "history": result.history, "validation": val,
                           "validation_with_fit": fit, "threshold": segmenter.threshold})
    return 0


def _tune_fit(args: argparse.Namespace) -> int:
    from engines.cdc.second_stage import RescoreConfig, iter_tune_model

    segmenter = _load_model(args.model, "cpu")
    rescore = config_from_args(args, RescoreConfig)
    result = run_with_bar(iter_tune_model(segmenter, rescore), "tuning")
    path = segmenter.save(args.out, half=args.half)
    figures = result.figures
    print(f"saved {path}: on {figures.get('events')} tuning events with the fit AUC "
          f"{figures.get('auc', float('nan')):.4f}, purity "
          f"{figures.get('purity_at_retention_0.9', float('nan')):.4f} at retention 0.9; "
          f"threshold {result.config.threshold:.4f}")
    write_json(args.json, {"model": str(path), "figures": figures,
                           "track_fit": result.config.to_json()})
    return 0


def _line(name: str, figures: dict[str, Any]) -> str:
    return (f"{name:<13} AUC {figures['auc']:.4f}   purity@retention0.9 "
            f"{figures['purity_at_retention_0.9']:.4f}   retention@purity0.9 "
            f"{figures['retention_at_purity_0.9']:.4f}")


def _evaluate(args: argparse.Namespace) -> int:
    from engines.cdc.evaluation import iter_evaluate

    segmenter = _load_model(args.model, args.device)
    events = _read(args.data)
    result = run_with_bar(iter_evaluate(segmenter, events, with_peer=not args.no_peer,
                                threshold=args.threshold, batch_size=args.batch_size),
                  "evaluating")
    out = result.to_json()
    print(f"{result.n_events} events, mean occupancy {result.occupancy_mean:.3f}; cell level "
          f"(hit level in the JSON)")
    print(_line("U-Net", out))
    print(_line("U-Net + fit", out["with_fit"]))
    if out["peer"] is not None:
        print(_line("GBDT peer", out["peer"]))
    pt = out["pt_resolution"]
    if pt.get("fitted"):
        print(f"p_T: track found in {pt['fitted']} of {pt['signal_events']} signal events; "
              f"resolution σ {100 * pt['sigma']:.2f} % (RMS {100 * pt['rms']:.2f} %), bias "
              f"{100 * pt['bias']:+.2f} %")
    empty = out["windows_without_signal"]["unet_track_fit"]
    if empty.get("windows"):
        print(f"{empty['windows']} windows without signal: {empty['false_cells_total']} false "
              f"cells kept with the fit ({out['windows_without_signal']['unet'].get('false_cells_total')} "
              f"by the U-Net alone), {empty.get('false_tracks', 0)} false tracks")
    write_json(args.json, {**out, "model": args.model, "data": str(args.data)})
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from engines.cdc.analysis import iter_analyze_file

    segmenter = _load_model(args.model, args.device)
    result = run_with_bar(iter_analyze_file(segmenter, args.data, args.out, args.batch_size),
                          "analyzing")
    print(f"wrote {args.out}: {result['events']} events, {result['hits']} hits, "
          f"{result['hits_above_threshold']} at or above the threshold "
          f"{result['threshold']:.4f} (U-Net + track fit); tracks found in "
          f"{result['tracks_found']} events")
    if "with_fit" in result:
        fit, unet = result["with_fit"], result["unet"]
        print(f"whole file: purity {fit['purity']}, retention {fit['retention']} with the fit; "
              f"U-Net alone {unet['purity']}, {unet['retention']}")
    write_json(args.json, result)
    return 0


def _load_model(value: str, device: str):
    from engines.cdc.model import CdcSegmenter

    return load_model(CdcSegmenter, value, "cdc", device)
