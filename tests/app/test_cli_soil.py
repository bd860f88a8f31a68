"""``soil`` verbs (sample, info, analyze, train, transfer, matrix, gradcam) through a parser built
from ``app.cli.soil.register``, as ``main.py soil ...`` will run them; exit 2 on bad input."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from app.cli import run_handler
from app.cli.soil import register

TINY = ["--shape", "48,64,64", "--diameter-mm", "18", "--wall-mm", "1", "--offset-mm", "1"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run these tests' small networks on one thread: on a busy 2-core machine two threads
    spin against each other (a 6-epoch test training took 110 s on 2 threads, 18 s on 1)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="soil")
    register(parser)
    return run_handler(parser.parse_args(argv))


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soil_cli") / "cores"
    assert run(["sample", "--out", str(folder), "--cores", "3", "--seed", "4", *TINY]) == 0
    return folder


def test_sample_and_info(cores, tmp_path, capsys):
    assert sorted(p.name for p in cores.iterdir())[:3] == [
        "core01_forest", "core02_grassland", "core03_arable"]
    out = tmp_path / "info.json"
    assert run(["info", str(cores / "core01_forest"), "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["shape_zyx"] == [48, 64, 64] and info["spacing_mm_zyx"] == [0.25, 0.351, 0.351]
    assert info["origin_mm_xyz"] == pytest.approx([-31.5 * 0.351, -31.5 * 0.351, 0.0])
    assert -1024 <= info["hu_min"] < info["hu_max"] < 4000 and len(info["series"]) == 1
    assert run(["info", str(cores), "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["cores"]) == 3
    capsys.readouterr()


def test_analyze_default_and_given_crop(cores, tmp_path, capsys):
    out, csv = tmp_path / "a.json", tmp_path / "a.csv"
    assert run(["analyze", "--volume", str(cores / "core03_arable"), "--json", str(out),
                "--csv", str(csv)]) == 0
    report = json.loads(out.read_text())
    assert list(report["porosity"]) == [f"object{k}" for k in range(1, 7)]
    assert report["crop"][3] - report["crop"][0] == 48 and report["shape"] == [48, 64, 64]
    assert report["spacing_mm"] == [0.25, 0.351, 0.351] and report["core"]["found"]
    assert len(csv.read_text().splitlines()) == 49
    assert "porosity" in capsys.readouterr().out
    assert run(["analyze", "--volume", str(cores / "core03_arable"), "--json", str(out),
                "--crop", "40,30,20"]) == 0
    given = json.loads(out.read_text())
    assert given["crop_size_zyx"] == [40, 30, 20]  # as given: not fitted inside the core
    assert run(["analyze", "--volume", str(cores / "core03_arable"), "--json", str(out),
                "--crop", "none", "--min-cluster", "0"]) == 0
    assert json.loads(out.read_text())["crop"] == [0, 0, 0, 48, 64, 64]


def test_analyze_segmented_stack(tmp_path, capsys):
    import tifffile

    stack = np.where(np.random.default_rng(0).uniform(size=(30, 40, 50)) < 0.31, 0, 255)
    tifffile.imwrite(tmp_path / "rock.tif", stack.astype(np.uint8))
    out = tmp_path / "rock.json"
    assert run(["analyze", "--volume", str(tmp_path / "rock.tif"), "--segmented", "--json",
                str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["porosity"] == {"segmented": pytest.approx(np.mean(stack == 0), abs=1e-12)}
    assert report["crop"] == [0, 0, 0, 30, 40, 50]  # the whole stack by default
    assert len(report["profile"]["segmented"]) == 30
    capsys.readouterr()


def test_train_transfer_matrix_gradcam(cores, tmp_path, capsys):
    models = tmp_path / "models"
    fast = ["--arch", "vgg_light", "--input-size", "32", "--device", "cpu"]
    assert run(["train", "--data", str(cores), "--per-core", "--object", "4", "--out",
                str(models), "--epochs", "2", "--test-data", str(cores / "core01_forest"),
                *fast]) == 0
    assert sorted(p.name for p in models.glob("*.safetensors")) == [
        "core01_forest.safetensors", "core02_grassland.safetensors",
        "core03_arable.safetensors"]
    meta = json.loads((models / "core02_grassland.json").read_text())
    assert meta["target"] == 4 and meta["training"]["cores"] == ["core02_grassland"]
    assert "core01_forest" in meta["metrics"]["test"]["cores"]
    report = tmp_path / "transfer.json"
    assert run(["transfer", "--model", str(models / "core01_forest"), "--data",
                str(cores / "core01_forest"), "--object", "2", "--out", str(tmp_path / "t"),
                "--epochs", "2", "--compare", "--device", "cpu", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["table1"]
    assert [r["method"] for r in rows] == ["full training", "dense layer"]
    assert "dense layer" in capsys.readouterr().out
    matrix = tmp_path / "matrix.json"
    assert run(["matrix", "--models", str(models), "--data", str(cores), "--json", str(matrix),
                "--threshold", "0.5"]) == 0
    result = json.loads(matrix.read_text())
    assert np.array(result["rmse"]).shape == (3, 3) and result["threshold"] == 0.5
    assert sum(s["count"] for s in result["selection"]) + len(result["uncovered"]) == 3
    png, heat = tmp_path / "cam.png", tmp_path / "heat.nii.gz"
    assert run(["gradcam", "--model", str(models / "core01_forest"), "--volume",
                str(cores / "core01_forest"), "--slice", "20", "--out", str(png),
                "--layer", "block3_conv1", "--heat", str(heat), "--device", "cpu"]) == 0
    from PIL import Image

    from engines.imaging.volume_io import read_volume

    image = Image.open(png)
    assert image.mode == "RGB" and image.size == (16, 16)
    assert read_volume(heat).shape == (48, 16, 16)
    assert run(["info", str(models / "core01_forest.json")]) == 0
    assert "object4" in capsys.readouterr().out


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, cores):
    junk = tmp_path / "junk.nii"
    junk.write_bytes(b"no volume here")
    assert run(["analyze", "--volume", str(junk), "--json", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: junk.nii:") and "\n" not in err
    assert run(["analyze", "--volume", str(tmp_path / "none"), "--json", "o.json"]) == 2
    assert "none: no such file" in capsys.readouterr().err
    assert run(["analyze", "--volume", str(cores / "core01_forest"), "--json", "o.json",
                "--crop", "4,4"]) == 2
    assert "crop" in capsys.readouterr().err
    assert run(["gradcam", "--model", str(tmp_path / "nomodel"), "--volume", str(junk),
                "--slice", "0", "--out", str(tmp_path / "x.png")]) == 2
    assert "nomodel.safetensors: model file not found" in capsys.readouterr().err
    assert run(["matrix", "--models", str(tmp_path), "--data", str(cores), "--json", "m.json"]) == 2
    assert "holds no model" in capsys.readouterr().err
    assert run(["sample", "--out", str(tmp_path / "s"), "--cores", "0"]) == 2
