"""The segmenter bundle (save/load with its peer, fp16, refusals), the crop-and-classify peer,
the sample datasets, the batch job, and the bundled demo model against its recorded figures on
fresh synthetic micrographs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.core.checkpoint import model_paths
from engines.core.errors import ModelError
from engines.core.progress import drive
from engines.sem.labels import ClassTable
from engines.sem.models import create_model
from engines.sem.peer import ObjectClassifier, PeerConfig, iter_train_peer, object_crops
from engines.sem.preprocessing import Preprocessing
from engines.sem.segmenter import SemSegmenter

CLASSES = ClassTable.from_names(["matrix", "a", "b"])


@pytest.fixture
def bundle():
    torch.manual_seed(0)
    peer = ObjectClassifier(create_model("crop-cnn", 3, 1, crop_size=32), CLASSES,
                            metrics={"val_accuracy": 0.5})
    return SemSegmenter(create_model("unet-resnet18-lite", 3), CLASSES,
                        Preprocessing(scale=0.5), window=96, training={"note": 1},
                        metrics={"val": {"mean_iu": 0.3}}, peer=peer)


def test_save_load_round_trip_with_peer(bundle, tmp_path):
    path = bundle.save(tmp_path / "m", half=True)
    meta = json.loads(model_paths(path)[1].read_text())
    assert meta["kind"] == "lablens.sem_segmenter" and meta["arch"] == "unet-resnet18-lite"
    assert meta["preprocessing"]["scale"] == 0.5 and meta["window"] == 96
    assert meta["classes"][1]["name"] == "a" and meta["peer"]["arch"] == "crop-cnn"
    loaded = SemSegmenter.load(path)
    assert loaded.peer is not None and loaded.peer.crop_size == 32
    x = torch.randn(1, 1, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(loaded.net(x), bundle.net.eval()(x), atol=0.05)
    assert "Peer: crop-cnn" in loaded.describe() and "scale 0.5" in loaded.describe()
    window = loaded.sliding_window(batch_size=2)
    assert (window.window, window.stride, window.batch_size) == (96, 72, 2)


def test_broken_or_foreign_models_are_refused(bundle, tmp_path):
    path = bundle.save(tmp_path / "m")
    sidecar = model_paths(path)[1]
    meta = json.loads(sidecar.read_text())
    for change, message in (({"kind": "lablens.cdc_segmenter"}, "not a sem model"),
                            ({"arch": "unet-resnet34"}, "do not fit"),
                            ({"arch": "nope"}, "incomplete or wrong"),
                            ({"classes": [{"name": "x"}]}, "incomplete or wrong")):
        sidecar.write_text(json.dumps({**meta, **change}))
        with pytest.raises(ModelError, match=message):
            SemSegmenter.load(path)
    with pytest.raises(ModelError, match="not found"):
        SemSegmenter.load(tmp_path / "absent")
    with pytest.raises(ModelError, match="3 classes but 2"):
        SemSegmenter(create_model("unet-resnet18-lite", 3), ClassTable.numbered(2))


def test_peer_crops_and_training():
    objects = np.zeros((60, 90), np.int32)
    objects[5:15, 5:45] = 1
    objects[30:55, 60:70] = 2
    image = np.full((60, 90), 200, np.uint8)
    crops = object_crops(image, objects, 2, 16)
    assert crops.shape == (2, 16, 16) and crops.min() > 0   # boxes are full objects here
    image[objects == 0] = 9
    objects[10, 10] = 0
    assert object_crops(image, objects, 2, 16)[0].min() < 200   # matrix masked to 0
    rng = np.random.default_rng(0)
    stripes = np.tile((np.arange(16) % 4 < 2) * 200, (16, 1)).astype(np.uint8)
    train = (np.stack([stripes if k % 2 else stripes.T for k in range(40)]),
             np.array([1 + k % 2 for k in range(40)]))
    noisy = train[0] + rng.integers(0, 20, train[0].shape).astype(np.uint8)
    peer = drive(iter_train_peer((noisy, train[1]), (noisy, train[1]), CLASSES,
                                 PeerConfig(crop_size=16, epochs=30, batch_size=20, lr=3e-3)))
    assert peer.metrics["val_accuracy"] > 0.9
    assert peer.predict_crops(noisy).shape == (40, 3)


def test_samples_registry(tmp_path):
    from engines.sem import samples

    names = [s.name for s in samples.SAMPLES]
    assert samples.DEFAULT in names and "steel-large" in names
    small = samples._writer(2, (128, 144))
    path = drive(small(tmp_path / "s"))
    assert samples._complete(2)(path) and not samples._complete(3)(path)
    assert not samples._complete(2)(tmp_path / "none")


def test_batch_job_shares_the_analysis(tmp_path, oracle):
    import tifffile

    from engines.sem.batch import JOB
    from tests.engines.sem.conftest import coded_image
    from tests.engines.sem.test_analysis import _scene

    image = tmp_path / "in" / "a.tif"
    image.parent.mkdir()
    tifffile.imwrite(image, coded_image(_scene()))
    row = JOB.analyze(oracle, image, tmp_path / "out")
    assert row["objects"] > 0 and (tmp_path / "out" / "a_objects.csv").is_file()
    assert JOB.workspace == "sem" and "*.tif" in JOB.patterns


@pytest.mark.slow
def test_bundled_demo_model_reaches_its_recorded_figures():
    """Three fresh 1200 x 1200 micrographs of a seed never trained on against the figures
    recorded on eight 2000 x 2000 ones (``make demo-model-sem``); a tolerance for the small
    sample, and the issue's goal of 94 % object accuracy on the recorded figures."""
    from engines.core.model import demo_model_path
    from engines.sem.dataset import LabelledImage
    from engines.sem.evaluation import iter_evaluate_samples
    from engines.sem.readers import Micrograph
    from engines.sem.synthetic import iter_generate

    path = demo_model_path("sem")
    if path is None:
        pytest.skip("no bundled sem demo model")
    segmenter = SemSegmenter.load(path)
    recorded = segmenter.metrics["test"]
    assert recorded["object_accuracy"] >= 0.94
    assert recorded["object_accuracy"] > recorded["peer_object_accuracy"]

    def fresh(seed):
        m = drive(iter_generate(1200, 1200, seed))
        return LabelledImage(f"fresh{seed}", Micrograph(m.image, Path(f"fresh{seed}.tif")),
                             m.labels, m.mask, None)

    result = drive(iter_evaluate_samples(segmenter, [lambda s=s: fresh(s) for s in
                                                     (9_001, 9_002, 9_003)]))
    assert result.objects.accuracy >= recorded["object_accuracy"] - 0.05
    assert result.pixel.mean_iu >= recorded["mean_iu"] - 0.08
    assert result.pixel.pixel_accuracy >= recorded["pixel_accuracy"] - 0.04
    assert result.peer is not None  # the peer the README compares with is bundled too
    assert result.peer.accuracy >= recorded["peer_object_accuracy"] - 0.1
