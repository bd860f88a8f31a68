"""``main.py sem ...``: sample, info, train, analyze, evaluate, batch, a real-like public set
(jpg with a data bar, png labels, split lists, no classes.json) fine-tuned with ``--init``, and
exit 2 with one line on bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main

TINY = ["--scale", "0.5", "--window", "64", "--batch-size", "2", "--validations", "1"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("semcli") / "set"
    assert main(["sem", "sample", "--out", str(path), "--images", "4", "--size", "288x256",
                 "--seed", "3"]) == 0
    return path


@pytest.fixture(scope="module")
def model(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("semmodel") / "tiny"
    assert main(["sem", "train", "--data", str(sample), "--out", str(out), *TINY,
                 "--steps", "2", "--peer", "--peer-minutes", "0.05", "--half"]) == 0
    return out


def test_sample_and_info(sample, tmp_path, capsys):
    assert sorted(p.name for p in sample.iterdir()) == [
        "classes.json", "images", "labels", "masks", "test.txt", "train.txt", "val.txt"]
    out = tmp_path / "info.json"
    assert main(["sem", "info", str(sample), "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["images"] == 4 and info["splits"] == {"train": 2, "val": 1, "test": 1}
    image = next((sample / "images").iterdir())
    capsys.readouterr()
    assert main(["sem", "info", str(image)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"]) == (288, 256) and info["pixel_size_um"] == \
        pytest.approx(0.03)


@pytest.mark.slow
def test_train_analyze_evaluate_batch(model, sample, tmp_path, capsys):
    assert main(["sem", "info", str(model)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "unet-resnet18-lite" and info["peer"]["arch"] == "crop-cnn"

    image = sorted((sample / "images").iterdir())[0]
    out = tmp_path / "analysis"
    assert main(["sem", "analyze", "--model", str(model), "--image", str(image), "--out",
                 str(out), "--json", str(tmp_path / "a.json")]) == 0
    result = json.loads((tmp_path / "a.json").read_text())
    assert result["object_source"] == "mask" and result["mask"].endswith(".png")
    with open(out / f"{image.stem}_objects.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == result["objects"] > 0
    assert Image.open(out / f"{image.stem}_labels.png").size == (288, 256)

    report = tmp_path / "eval.json"
    assert main(["sem", "evaluate", "--model", str(model), "--data", str(sample), "--json",
                 str(report)]) == 0
    scores = json.loads(report.read_text())
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu", "object_accuracy"):
        assert 0 <= scores[key] <= 1
    assert set(scores["per_class"]) == set(json.loads(
        (sample / "classes.json").read_text())["classes"][i]["name"] for i in range(5))
    assert np.array(scores["object_confusion"]).shape == (5, 5)
    assert scores["peer"] is not None and "object accuracy (crop-and-classify peer)" in \
        capsys.readouterr().out

    assert main(["sem", "batch", "--model", str(model), "--inputs", str(sample / "images"),
                 "--out", str(tmp_path / "batch"), "--workers", "1"]) == 0
    with open(tmp_path / "batch" / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)


@pytest.mark.slow
def test_real_like_public_set_fine_tuned_from_a_model(model, tmp_path, capsys):
    """jpg images with a data bar, grey png labels named ``*_label.png``, split lists with
    extensions, no classes.json: the path ``sem train --init demo`` takes on real data."""
    root = tmp_path / "metal"
    assert main(["sem", "sample", "--out", str(root), "--images", "5", "--size", "256x192",
                 "--seed", "8", "--format", "jpg", "--data-bar-rows", "20",
                 "--no-classes-json"]) == 0
    for label in (root / "labels").iterdir():     # grey, not palette, and another name
        Image.fromarray(np.asarray(Image.open(label))).save(
            label.with_name(label.stem + "_label.png"))
        label.unlink()
    for split in ("train", "val", "test"):
        names = (root / f"{split}.txt").read_text().split()
        (root / f"{split}.txt").write_text("".join(f"{n}.jpg\n" for n in names))
    out = tmp_path / "tuned"
    assert main(["sem", "train", "--data", str(root), "--out", str(out), "--init", str(model),
                 *TINY, "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "5 classes inferred" in printed
    report = tmp_path / "eval.json"
    assert main(["sem", "evaluate", "--model", str(out), "--data", str(root), "--json",
                 str(report), "--no-peer"]) == 0
    scores = json.loads(report.read_text())
    assert scores["images"][0]["image"].startswith("steel_0008")
    assert any("20 rows shorter: a data bar" in w for w in scores["images"][0]["warnings"])
    assert any("5 classes inferred" in n for n in scores["notes"])
    assert 0 <= scores["mean_iu"] <= 1


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"this is no tiff" * 20)
    assert main(["sem", "info", str(junk)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: junk.tif:") and "\n" not in err
    assert main(["sem", "analyze", "--model", str(tmp_path / "none"), "--image", str(junk),
                 "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["sem", "sample", "--out", str(tmp_path / "s"), "--size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert main(["sem", "train", "--data", str(tmp_path / "nothing"), "--out",
                 str(tmp_path / "m")]) == 2
    assert "nothing: folder not found" in capsys.readouterr().err
    assert main(["sem", "sample", "--out", str(tmp_path / "s"), "--object-fraction", "2"]) == 2
    assert "must be within" in capsys.readouterr().err
