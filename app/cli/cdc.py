"""COMET CDC drift-chamber events: sample data, info, train, evaluate vs the GBDT peer, analyze.

``--model demo`` means the bundled demo model. Heavy modules (torch, h5py, the engines) are
imported inside the verb handlers so that building the parser stays fast.
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
from engines.core.errors import InputError


def register(parser: argparse.ArgumentParser):
    from engines.cdc.images import ImageConfig
    from engines.cdc.training import TrainConfig

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
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("train", help="train the U-Net on events with truth")
    p.add_argument("--data", type=Path, required=True, help="event file (HDF5 or ROOT)")
    p.add_argument("--out", type=Path, required=True, help="model path (MODEL.safetensors+.json)")
    add_config_args(p, TrainConfig)
    add_config_args(p, ImageConfig)
    p.add_argument("--init", metavar="MODEL", help="start from this model's weights "
                   '(fine-tuning; same encoder and image settings, any input size), or "demo"')
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_train)

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
    else:
        from engines.cdc.io import summarize

        result = summarize(Path(text))
    print(json.dumps(result, indent=2, default=str))
    write_json(args.json, result)
    return 0


def _train(args: argparse.Namespace) -> int:
    from engines.cdc.images import ImageConfig
    from engines.cdc.training import TrainConfig, train_segmenter

    image_config = config_from_args(args, ImageConfig)
    config = config_from_args(args, TrainConfig)
    initial = None if args.init is None else _load_model(args.init, "cpu")
    events = _read(args.data)
    result = run_with_bar(echo_validations(train_segmenter(events, image_config, config,
                                                           initial)), "training")
    segmenter = result.segmenter
    segmenter.training["data"] = str(args.data)
    path = segmenter.save(args.out, half=args.half)
    val = segmenter.metrics["val"]
    print(f"saved {path} and {path.with_suffix('.json').name}")
    print(f"best epoch {result.best_epoch}: validation AUC {val['auc']:.4f}, purity "
          f"{val['purity_at_retention_0.9']:.4f} at retention 0.9; threshold "
          f"{segmenter.threshold:.4f} ({segmenter.training['stop_reason']})")
    write_json(args.json, {"model": str(path), "best_epoch": result.best_epoch,
                           "history": result.history, "validation": val,
                           "threshold": segmenter.threshold})
    return 0


def _line(name: str, figures: dict[str, Any]) -> str:
    return (f"{name:<6} AUC {figures['auc']:.4f}   purity@retention0.9 "
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
    print(_line("model", out))
    if out["peer"] is not None:
        print(_line("peer", out["peer"]))
    write_json(args.json, {**out, "model": args.model, "data": str(args.data)})
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from engines.cdc.analysis import iter_analyze_file

    segmenter = _load_model(args.model, args.device)
    result = run_with_bar(iter_analyze_file(segmenter, args.data, args.out, args.batch_size),
                          "analyzing")
    print(f"wrote {args.out}: {result['events']} events, {result['hits']} hits, "
          f"{result['hits_above_threshold']} at or above the threshold "
          f"{result['threshold']:.4f}")
    write_json(args.json, result)
    return 0


def _load_model(value: str, device: str):
    from engines.cdc.model import CdcSegmenter

    return load_model(CdcSegmenter, value, "cdc", device)
