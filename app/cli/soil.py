"""Soil CT cores: sample, info, analyze (porosity per object), train, transfer, matrix, gradcam.

``--model demo`` means the bundled demo model. The depth (the paper's X) is the array axis
``--core-axis`` (z by default: slices across the core); ``--crop X,Y,Z`` counts voxels along
it and across it. Heavy modules are imported inside the verb handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

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
    from engines.soil.analysis import AnalysisConfig
    from engines.soil.preprocess import PreprocessConfig
    from engines.soil.synthetic import SyntheticConfig
    from engines.soil.training import TrainConfig
    from engines.soil.transfer import TransferConfig

    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("sample", help="write seeded synthetic cores, one DICOM series each")
    p.add_argument("--out", type=Path, required=True, help="folder of the core set")
    p.add_argument("--cores", type=int, default=6, help="number of cores (sites in turn)")
    p.add_argument("--seed", type=int, default=0)
    add_config_args(p, SyntheticConfig)
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("info", help="summary of a volume, a folder of cores or a model")
    p.add_argument("path", help='volume file, DICOM folder, folder of cores, model or "demo"')
    add_json_option(p)
    p.set_defaults(handler=_info)

    p = verbs.add_parser("analyze", help="porosity of every object, whole and per slice")
    p.add_argument("--volume", type=Path, required=True,
                   help="DICOM folder or file, NIfTI, MetaImage or TIFF stack")
    add_config_args(p, AnalysisConfig)
    p.add_argument("--json", metavar="OUT", type=Path, required=True, help="result JSON")
    p.add_argument("--csv", metavar="PROFILE", type=Path, help="porosity profile CSV")
    p.set_defaults(handler=_analyze)

    p = verbs.add_parser("train", help="train the surrogate on the slices of cores")
    p.add_argument("--data", type=Path, required=True, help="a core or a folder of cores")
    p.add_argument("--out", type=Path, required=True,
                   help="model path (MODEL.safetensors + .json); a folder with --per-core")
    p.add_argument("--per-core", action="store_true",
                   help="one model per core (named after it), as the paper's matrix needs")
    p.add_argument("--test-data", type=Path, metavar="DIR",
                   help="cores never trained on: their RMSE is recorded in the model")
    add_config_args(p, TrainConfig)
    add_config_args(p, PreprocessConfig)
    _model_file_options(p)
    p.set_defaults(handler=_train)

    p = verbs.add_parser("transfer", help="retrain only the dense head on another object")
    add_model_option(p)
    p.add_argument("--data", type=Path, required=True, help="a core or a folder of cores")
    p.add_argument("--out", type=Path, required=True, help="new model path")
    add_config_args(p, TransferConfig)
    p.add_argument("--compare", action="store_true",
                   help="also train the same network from scratch for the object (Table 1)")
    _model_file_options(p)
    p.set_defaults(handler=_transfer)

    p = verbs.add_parser("matrix", help="RMSE of every model on every core, greedy selection")
    p.add_argument("--models", type=Path, required=True, help="folder of model files")
    p.add_argument("--data", type=Path, required=True, help="folder of cores")
    p.add_argument("--json", metavar="OUT", type=Path, required=True, help="result JSON")
    p.add_argument("--threshold", type=float, default=0.04,
                   help="RMSE below which a model fits a core (default 0.04)")
    add_device_option(p)
    p.set_defaults(handler=_matrix)

    p = verbs.add_parser("gradcam", help="grad-CAM of a slice as a PNG (and a 3-D heat volume)")
    add_model_option(p)
    p.add_argument("--volume", type=Path, required=True, help="the core")
    p.add_argument("--slice", type=int, required=True,
                   help="volume slice index along the core axis (inside the crop)")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--layer", help="convolutional layer (default: the last, e.g. block5_conv3)")
    p.add_argument("--opacity", type=float, default=0.5, help="heat map opacity (0…1)")
    p.add_argument("--heat", type=Path, metavar="VOLUME",
                   help="also write the 3-D heat volume of the crop (.nii.gz, .mhd, .tif)")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(handler=_gradcam)
    return verbs


def _model_file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--half", action="store_true", help="store fp16 weights")
    add_device_option(p)
    add_json_option(p)


def _load_model(value: str, device: str):
    from engines.soil.models import SoilSurrogate

    return load_model(SoilSurrogate, value, "soil", device)


def _sample(args: argparse.Namespace) -> int:
    from engines.soil.samples import core_plan, iter_write_core_set
    from engines.soil.synthetic import SyntheticConfig

    config = config_from_args(args, SyntheticConfig)
    plan = core_plan(args.cores, args.seed)
    folder = run_with_bar(iter_write_core_set(args.out, args.cores, args.seed, config),
                          "generating")
    print(f"wrote {len(plan)} cores ({', '.join(n for n, _, _ in plan)}) to {folder}, "
          f"{'×'.join(map(str, config.shape))} voxels (z×y×x) each, seed {args.seed}")
    return 0


def _is_model(text: str) -> bool:
    return text == "demo" or Path(text).suffix.lower() in (".safetensors", ".json")


def _info(args: argparse.Namespace) -> int:
    import json

    text = str(args.path)
    if _is_model(text):
        model = _load_model(text, "cpu")
        print(model.describe())
        result: dict[str, Any] = {"path": text, **model.metadata()}
    else:
        from engines.imaging.volume_io import volume_info
        from engines.soil.dataset import find_cores

        cores = find_cores(Path(text))
        if cores == [Path(text)]:
            result = volume_info(Path(text))
        else:
            result = {"path": text, "cores": [volume_info(c) for c in cores]}
        print(json.dumps(result, indent=2, default=str))
    write_json(args.json, result)
    return 0


def _analysis_config(args: argparse.Namespace):
    """AnalysisConfig from the options: a segmented stack defaults to the whole volume, and
    a crop given on the command line is used as given (not fitted inside the core)."""
    from engines.soil.analysis import AnalysisConfig

    base = AnalysisConfig(segmented=True, crop=None) if getattr(args, "segmented", False) \
        else None
    fixed = {"fit_inside_core": False} if "crop" in vars(args) \
        and "fit_inside_core" not in vars(args) else {}
    return config_from_args(args, AnalysisConfig, base=base, **fixed)


def _analyze(args: argparse.Namespace) -> int:
    from engines.soil.analysis import iter_analyze_file

    config = _analysis_config(args)
    result = run_with_bar(iter_analyze_file(args.volume, config, args.json, args.csv),
                          "analyzing")
    size = "×".join(map(str, result.crop.size_zyx))
    print(f"{args.volume.name}: crop {result.crop.to_list()} ({size} voxels z×y×x), depth "
          f"along {result.config.core_axis}")
    for name, value in result.porosity.items():
        print(f"  {name:<10} porosity {value:.4f}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"wrote {args.json}" + (f" and {args.csv}" if args.csv else ""))
    return 0


def _cores(path: Path, preprocess) -> list:
    from engines.soil.dataset import find_cores, iter_load_cores

    return run_with_bar(iter_load_cores(find_cores(path), preprocess), "reading cores")


def _report(label: str, result, path: Path) -> None:
    print(f"saved {path} and {path.with_suffix('.json').name}: {label}; held-out RMSE "
          f"{np.sqrt(result.val_mse):.4f} (train MSE {result.train_mse:.3g}, test MSE "
          f"{result.val_mse:.3g}), {result.seconds:.1f} s, {result.stop_reason}")


def _train(args: argparse.Namespace) -> int:
    from engines.soil.preprocess import PreprocessConfig
    from engines.soil.training import TrainConfig, iter_train

    config = config_from_args(args, TrainConfig, device=args.device)
    cores = _cores(args.data, config_from_args(args, PreprocessConfig))
    tests = [] if args.test_data is None else _cores(args.test_data, cores[0].preprocess)
    groups = [[c] for c in cores] if args.per_core else [cores]
    out: dict[str, Any] = {"models": []}
    for group in groups:
        path = args.out / group[0].name if args.per_core else args.out
        result = run_with_bar(echo_validations(iter_train(group, config)), "training")
        result.model.training["name"] = path.name
        if tests:
            from engines.soil.matrix import evaluate_cores

            result.model.metrics["test"] = evaluate_cores(result.model, tests)
            print(f"RMSE on {len(tests)} unseen cores: "
                  f"{result.model.metrics['test']['rmse']:.4f}")
        saved = result.model.save(path, half=args.half)
        _report(f"{config.arch} on {result.model.target_name} of "
                f"{', '.join(c.name for c in group)}", result, saved)
        out["models"].append({"model": str(saved), "cores": [c.name for c in group],
                              **result.row("full training"), "history": result.history})
    write_json(args.json, out)
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from engines.soil.transfer import TransferConfig, iter_compare, iter_transfer

    model = _load_model(args.model, args.device)
    model.training.setdefault("name", Path(args.model).name)
    config = config_from_args(args, TransferConfig, device=args.device)
    cores = _cores(args.data, model.preprocess)
    if args.compare:
        comparison = run_with_bar(iter_compare(model, cores, config), "transfer and training")
        result, rows = comparison.transfer, comparison.rows()
    else:
        result = run_with_bar(echo_validations(iter_transfer(model, cores, config)),
                              "transfer")
        rows = [result.row("dense layer")]
    result.model.training["name"] = args.out.name
    saved = result.model.save(args.out, half=args.half)
    _report(f"dense head of {model.target_name} → {result.model.target_name}", result, saved)
    print(f"{'method':<14}{'time (s)':>10}{'train MSE':>12}{'test MSE':>12}")
    for row in rows:
        print(f"{row['method']:<14}{row['seconds']:>10.2f}{row['train_mse']:>12.3g}"
              f"{row['test_mse']:>12.3g}")
    write_json(args.json, {"model": str(saved), "table1": rows, "history": result.history})
    return 0


def _matrix(args: argparse.Namespace) -> int:
    from engines.soil.core_view import model_files
    from engines.soil.matrix import iter_matrix

    files = model_files(args.models)
    models = [(f.with_suffix("").name, _load_model(str(f), args.device)) for f in files]
    cores = _cores(args.data, models[0][1].preprocess)
    matrix = run_with_bar(iter_matrix(models, cores, args.threshold), "matrix")
    width = max(len(n) for n in matrix.models)
    print(" " * width + "".join(f"{c[:9]:>10}" for c in matrix.cores))
    for name, row in zip(matrix.models, matrix.rmse, strict=True):
        print(f"{name:<{width}}" + "".join(f"{v:>10.4f}" for v in row))
    print(f"selection (RMSE < {args.threshold:g}):")
    for step in matrix.selection:
        print(f"  {step.model:<{width}} {step.count:3d}  {', '.join(step.cores)}")
    if matrix.uncovered:
        print(f"  no model fits: {', '.join(matrix.uncovered)}")
    write_json(args.json, matrix.to_json())
    return 0


def _heat_rgb(gray: np.ndarray, heat: np.ndarray, opacity: float) -> np.ndarray:
    """A grey slice (0…1) with a blue–red heat map (0…1) blended at ``opacity``, uint8 RGB."""
    ramp = np.clip(np.stack([1.5 - np.abs(4 * heat - 3), 1.5 - np.abs(4 * heat - 2),
                             1.5 - np.abs(4 * heat - 1)], axis=-1), 0, 1)
    alpha = opacity * np.clip(heat, 0, 1)[..., None]
    return np.rint(255 * ((1 - alpha) * gray[..., None] + alpha * ramp)).astype(np.uint8)


def _gradcam(args: argparse.Namespace) -> int:
    from PIL import Image

    from engines.core.files import atomic_write_bytes
    from engines.soil.analysis import AnalysisConfig, iter_analyze_path
    from engines.soil.dataset import core_slices
    from engines.soil.gradcam import grad_cam, iter_heat_volume

    if not 0.0 <= args.opacity <= 1.0:
        raise InputError(f"--opacity must be within 0…1, got {args.opacity}")
    model = _load_model(args.model, args.device)
    analysis = run_with_bar(iter_analyze_path(
        args.volume, AnalysisConfig.of(model.preprocess)), "analyzing")
    core = core_slices(analysis)
    where = np.flatnonzero(core.slice_index == args.slice)
    if where.size == 0:
        raise InputError(f"{args.volume.name}: slice {args.slice} is outside the crop (slices "
                         f"{core.slice_index[0]}…{core.slice_index[-1]} along "
                         f"{model.preprocess.core_axis})")
    i = int(where[0])
    cams, predicted = grad_cam(model, core.channels([i]), args.layer)
    heat = cams[0] / cams[0].max() if cams[0].max() > 0 else cams[0]
    gray = np.clip((core.hu[i].astype(np.float32) + 1024.0) / 4096.0, 0, 1)
    import io

    buffer = io.BytesIO()
    Image.fromarray(_heat_rgb(gray, heat, args.opacity)).save(buffer, format="PNG")
    atomic_write_bytes(args.out, buffer.getvalue())
    computed = float(core.target(model.target)[i])
    print(f"wrote {args.out}: slice {args.slice}, {model.target_name} porosity predicted "
          f"{predicted[0]:.4f}, computed {computed:.4f}")
    result = {"png": str(args.out), "slice": args.slice, "predicted": float(predicted[0]),
              "computed": computed, "layer": args.layer, "crop": core.crop.to_list()}
    if args.heat is not None:
        from engines.imaging.volume_io import write_volume

        heat3d = run_with_bar(iter_heat_volume(model, core, args.layer), "grad-CAM volume")
        box = analysis.volume.crop(core.crop.start_zyx, core.crop.size_zyx)
        write_volume(box.with_array(heat3d.heat, modality=""), args.heat)
        print(f"wrote {args.heat}: heat volume of the crop ({heat3d.layer})")
        result["heat"] = str(args.heat)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":  # ``python -m app.cli.soil VERB ...`` (the Makefile's demo model)
    from app.cli import run_handler

    top = argparse.ArgumentParser(prog="python -m app.cli.soil", description=__doc__)
    register(top)
    sys.exit(run_handler(top.parse_args()))
