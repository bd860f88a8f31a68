"""Steel micrographs (SEM): sample data, info, train, analyze (tiled FCN + max-vote), evaluate.

``--model demo`` (and ``--init demo``) means the bundled demo model. Heavy modules (torch, the
engines) are imported inside the verb handlers so that building the parser stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    from engines.imaging.blend import SlidingWindowConfig
    from engines.sem.preprocessing import Preprocessing
    from engines.sem.synthetic import SyntheticConfig
    from engines.sem.synthetic_dataset import IMAGE_FORMATS
    from engines.sem.training import TrainConfig

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write seeded synthetic micrographs with masks and labels")
    p.add_argument("--out", type=Path, required=True, help="data-set folder to create")
    p.add_argument("--images", type=int, default=3, help="number of micrographs (1…1000)")
    p.add_argument("--size", default="2000x2000", help="WIDTHxHEIGHT in px (up to 8000x8000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=IMAGE_FORMATS, default="tif", help="image file type")
    p.add_argument("--no-classes-json", action="store_true",
                   help="leave out classes.json (as some public sets come)")
    p.add_argument("--no-splits", action="store_true", help="leave out train/val/test.txt")
    add_config_args(p, SyntheticConfig)
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("info", help="summary of a micrograph, a data-set folder or a model")
    p.add_argument("path", help='image, data-set folder, model path, or "demo"')
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("train", help="train a segmenter on a labelled data-set folder")
    p.add_argument("--data", type=Path, required=True, help="data-set folder")
    p.add_argument("--out", type=Path, required=True, help="model path (MODEL.safetensors+.json)")
    p.add_argument("--init", metavar="PATH", help='start from a sem model, "demo", or local '
                   "weights (.safetensors, or a torchvision state dict .pth)")
    add_config_args(p, TrainConfig)
    add_config_args(p, Preprocessing)
    p.add_argument("--peer", action="store_true",
                   help="also train the crop-and-classify CNN peer and bundle it")
    p.add_argument("--peer-minutes", type=float, default=5.0,
                   help="time budget of the peer (default 5)")
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_train)

    p = verbs.add_parser("analyze", help="segment a micrograph, max-vote its objects, write "
                                         "the label images and the object table")
    add_model_option(p)
    p.add_argument("--image", type=Path, required=True, help="micrograph (TIFF, PNG, JPEG)")
    p.add_argument("--mask", type=Path, help="binary object mask (default: found beside the "
                   "image, else objects come from the prediction)")
    p.add_argument("--no-mask", action="store_true", help="do not look for a mask")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--crop-bottom", type=int, default=0, help="rows of a data bar to drop")
    add_config_args(p, SlidingWindowConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_analyze)

    p = verbs.add_parser("evaluate", help="pixel and object scores on a split of a data set, "
                                          "beside the crop-and-classify peer")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="data-set folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"),
                   help="images to score (default test; all = every labelled image)")
    p.add_argument("--crop-bottom", type=int, default=0, help="rows of a data bar to drop")
    p.add_argument("--no-peer", action="store_true", help="skip the peer")
    p.add_argument("--record", action="store_true",
                   help="store the figures in the model's sidecar (metrics.test)")
    add_config_args(p, SlidingWindowConfig)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_evaluate)
    return verbs


def _load_model(value: str, device: str):
    from engines.sem.segmenter import SemSegmenter

    return load_model(SemSegmenter, value, "sem", device)


def _window(args: argparse.Namespace, segmenter):
    from engines.imaging.blend import SlidingWindowConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(SlidingWindowConfig)
             if hasattr(args, f.name)}
    return segmenter.sliding_window(**given)


def _sample(args: argparse.Namespace) -> int:
    from engines.sem.synthetic import SyntheticConfig
    from engines.sem.synthetic_dataset import iter_write_dataset, parse_size

    size = parse_size(args.size)
    config = config_from_args(args, SyntheticConfig)
    path = run_with_bar(iter_write_dataset(args.out, args.images, size, args.seed, config,
                                           args.format, not args.no_classes_json,
                                           not args.no_splits), "generating")
    print(f"wrote {path}: {args.images} micrographs of {size[1]} x {size[0]} px with masks and "
          f"labels (seed {args.seed})")
    return 0


def _is_model(text: str) -> bool:
    return text == "demo" or Path(text).suffix.lower() in (".safetensors", ".json") or (
        Path(text + ".safetensors").is_file())


def _info(args: argparse.Namespace) -> int:
    text = str(args.path)
    if _is_model(text):
        segmenter = _load_model(text, "cpu")
        result: dict[str, Any] = {"path": text, "description": segmenter.describe(),
                                  **segmenter.metadata()}
        result["training"] = {k: v for k, v in segmenter.training.items() if k != "history"}
    elif Path(text).is_dir():
        from engines.sem.dataset import open_dataset

        result = open_dataset(text).summary()
    else:
        from engines.sem.readers import read_micrograph

        image = read_micrograph(text)
        result = {"path": text, "width": image.shape[1], "height": image.shape[0],
                  "channels": image.channels, "dtype": str(image.array.dtype),
                  "pixel_size_um": image.pixel_size_um, "reader": image.reader,
                  "warnings": image.warnings}
    print(json.dumps(result, indent=2, default=str))
    write_json(args.json, result)
    return 0


def _train(args: argparse.Namespace) -> int:
    from engines.sem.dataset import open_dataset
    from engines.sem.peer import PeerConfig, iter_train_peer_on
    from engines.sem.preprocessing import Preprocessing
    from engines.sem.training import TrainConfig, train_segmenter

    config = config_from_args(args, TrainConfig, device=args.device)
    preprocessing = config_from_args(args, Preprocessing)
    dataset = open_dataset(args.data)
    for warning in dataset.warnings:
        print(f"note: {warning}")
    segmenter = run_with_bar(echo_validations(train_segmenter(dataset, config, preprocessing,
                                                              args.init)), "training")
    for note in segmenter.training["notes"][len(dataset.warnings):]:
        print(f"note: {note}")
    if args.peer:
        peer_config = PeerConfig(max_minutes=args.peer_minutes, seed=config.seed,
                                 device=args.device)
        segmenter.peer = run_with_bar(iter_train_peer_on(dataset, peer_config,
                                                         config.crop_bottom), "peer")
    segmenter.training["data"] = str(args.data)
    path = segmenter.save(args.out, half=args.half)
    val = segmenter.metrics["val"]
    print(f"saved {path} and {path.with_suffix('.json').name}")
    print(f"best step {segmenter.training['best_step']} of {segmenter.training['steps']}: "
          f"validation mean IU {val['mean_iu']:.4f}, pixel accuracy "
          f"{val['pixel_accuracy']:.4f}, object accuracy {val['object_accuracy']:.4f} "
          f"({segmenter.training['stop_reason']}, {segmenter.training['seconds']:.0f} s)")
    write_json(args.json, {"model": str(path), "validation": val,
                           "training": segmenter.training,
                           "peer": None if segmenter.peer is None else segmenter.peer.metrics})
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from engines.sem.analysis import iter_analyze_file

    segmenter = _load_model(args.model, args.device)
    mask = "" if args.no_mask else args.mask
    result = run_with_bar(iter_analyze_file(segmenter, args.image, args.out, mask,
                                            _window(args, segmenter), args.crop_bottom),
                          "analyzing")
    for warning in result["warnings"]:
        print(f"note: {warning}")
    counts = ", ".join(f"{n} {c}" for n, c in result["objects_per_class"].items() if c)
    print(f"{result['image']}: {result['objects']} objects ({result['object_source']}): "
          f"{counts or 'none'}; {result['megapixels_per_second']:.2f} MP/s")
    print(f"wrote {result['labels_png']}, {result['objects_png']}, {result['objects_csv']}")
    write_json(args.json, result)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from engines.sem.dataset import open_dataset
    from engines.sem.evaluation import iter_evaluate

    segmenter = _load_model(args.model, args.device)
    dataset = open_dataset(args.data)
    result = run_with_bar(iter_evaluate(segmenter, dataset, args.split, args.crop_bottom,
                                        _window(args, segmenter), not args.no_peer),
                          "evaluating")
    out = result.to_json()
    for note in out["notes"]:
        print(f"note: {note}")
    print(f"{len(out['images'])} images, {out['objects']} objects ({args.split} split)")
    print(f"pixel accuracy {out['pixel_accuracy']:.4f}  mean accuracy "
          f"{out['mean_accuracy']:.4f}  mean IU {out['mean_iu']:.4f}  fw IU {out['fw_iu']:.4f}")
    print(f"object accuracy (max-vote) {out['object_accuracy']:.4f}  "
          f"({out['unsegmented_objects']} not segmented)")
    if out["peer"] is not None:
        print(f"object accuracy (crop-and-classify peer) {out['peer']['object_accuracy']:.4f}")
    if args.record:
        _record(args.model, segmenter, out, args)
    write_json(args.json, {**out, "model": args.model, "data": str(args.data)})
    return 0


def _record(model: str, segmenter, out: dict[str, Any], args: argparse.Namespace) -> None:
    from engines.core.checkpoint import model_paths
    from engines.core.files import atomic_write_bytes
    from engines.core.model import resolve_model_path

    _, sidecar = model_paths(resolve_model_path(model, "sem"))
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    keys = ("pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu", "object_accuracy",
            "object_accuracy_segmented", "objects", "object_confusion")
    meta.setdefault("metrics", {})["test"] = {
        **{k: out[k] for k in keys}, "data": str(args.data), "split": args.split,
        "peer_object_accuracy": None if out["peer"] is None else out["peer"]["object_accuracy"]}
    if not sidecar.is_file():
        raise InputError(f"{sidecar.name}: cannot record the figures")
    atomic_write_bytes(sidecar, json.dumps(meta, indent=2, sort_keys=True).encode())
    print(f"recorded the figures in {sidecar}")
