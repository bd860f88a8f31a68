"""The crop-and-classify peer (Azimi et al., §4.1, Table 1): every object is cut out of the
masked image, warped to a fixed size and classified by a small CNN.

Pipeline, as the paper describes it: the image is masked with the binary object mask (matrix
pixels set to 0, "masked SEM"), each object's bounding box is cropped ("systematic" cropping
from the mask) and warped — aspect ratio not kept — to ``crop_size`` × ``crop_size`` px, and
CIFARNet (:mod:`engines.sem.models`, ``crop-cnn``), trained from scratch on the training
objects with 90° rotations, gives the class. The paper's point is that warping distorts the
substructure of objects much larger or smaller than the crop, which max-voted pixel-wise
segmentation avoids (66.50 % at best against 93.94 %).

The input is grey at full resolution with the same contrast stretch as the segmenter
(:mod:`engines.sem.preprocessing`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.core.config import param, to_json, validate
from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress
from engines.core.training import FitConfig, iter_fit, seed_everything
from engines.sem.labels import ClassTable
from engines.sem.maxvote import object_geometry
from engines.sem.models import create_model
from engines.sem.preprocessing import Preprocessing, network_input, prepare_image

ARCH = "crop-cnn"


@dataclass(frozen=True)
class PeerConfig(FitConfig):
    """Training of the peer (the paper: SGD, lr 0.001, momentum 0.9 until the loss
    plateaus; here AdamW with the shared schedule)."""

    crop_size: int = param(64, label="Crop size", unit="px", range=(16, 512), step=8,
                           help="objects are warped to this square size")
    epochs: int = param(60, label="Epochs", range=(1, 10000))
    batch_size: int = param(64, label="Batch size", range=(1, 4096))

    def __post_init__(self) -> None:
        validate(self)


def object_crops(image: np.ndarray, objects: np.ndarray, n_objects: int, size: int
                 ) -> np.ndarray:
    """(n, size, size) uint8 warped crops of objects 1…n of a grey uint8 ``image`` (H, W),
    pixels outside the object set to 0."""
    from PIL import Image

    boxes = object_geometry(objects, n_objects).boxes
    crops = np.zeros((n_objects, size, size), dtype=np.uint8)
    for i, (y0, x0, y1, x1) in enumerate(boxes):
        if y1 <= y0 or x1 <= x0:
            continue
        window = np.where(objects[y0:y1, x0:x1] == i + 1, image[y0:y1, x0:x1], 0)
        crops[i] = np.asarray(Image.fromarray(window.astype(np.uint8)).resize(
            (size, size), Image.Resampling.BILINEAR))
    return crops


class ObjectClassifier:
    """The trained peer: CIFARNet on warped object crops."""

    def __init__(self, net, classes: ClassTable, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> None:
        if net.n_classes != len(classes):
            raise ModelError(f"peer network has {net.n_classes} classes, {len(classes)} names")
        self.net = net.eval()
        self.classes = classes
        self.preprocessing = Preprocessing(in_channels=1, scale=1.0)
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})

    @property
    def crop_size(self) -> int:
        return int(self.net.crop_size)

    def to(self, device) -> ObjectClassifier:
        self.net.to(device)
        return self

    def predict_crops(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(n, n_classes) class probabilities of (n, s, s) uint8 crops."""
        from engines.core.inference import predict_array

        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return predict_array(self.net, crops, batch_size,
                             output=lambda logits: logits.float().softmax(1),
                             prepare=lambda batch: network_input(batch, 1))

    def classify(self, image: np.ndarray, objects: np.ndarray, n_objects: int) -> np.ndarray:
        """(n,) predicted class of objects 1…n of a micrograph (H, W[, 3]) with its object ids."""
        prepared = prepare_image(image, self.preprocessing)
        crops = object_crops(prepared, objects, n_objects, self.crop_size)
        return self.predict_crops(crops).argmax(axis=1)

    def describe(self) -> str:
        acc = self.metrics.get("val_accuracy")
        figure = f", validation object accuracy {acc:.4f}" if isinstance(acc, float) else ""
        return f"{ARCH} on {self.crop_size}-px warped object crops{figure}"

    def metadata(self) -> dict[str, Any]:
        return {"arch": ARCH, "arch_options": self.net.options, **self.classes.to_json(),
                "training": self.training, "metrics": self.metrics}

    @classmethod
    def from_parts(cls, tensors: dict[str, Any], meta: dict[str, Any], source: str
                   ) -> ObjectClassifier:
        from engines.core.checkpoint import check_described_network, load_state_dict_strict

        try:
            classes = ClassTable.from_names([c["name"] for c in meta["classes"]],
                                            [c["colour"] for c in meta["classes"]])
            net = check_described_network(
                lambda: create_model(ARCH, len(classes), 1, **meta.get("arch_options", {})),
                tensors, f"{source} (peer)")
        except (KeyError, TypeError, InputError) as exc:
            raise ModelError(f"{source}: the peer's description is wrong ({exc})") from None
        load_state_dict_strict(net, tensors, f"{source} (peer)")
        return cls(net, classes, meta.get("training"), meta.get("metrics"))


def iter_train_peer(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                    classes: ClassTable, config: PeerConfig | None = None
                    ) -> Generator[Progress, None, ObjectClassifier]:
    """Train the peer on ``(crops (n, s, s) uint8, classes (n,))`` of training objects,
    selecting by object accuracy on the validation objects; rotations by 90° as in the paper.
    """
    import torch

    from engines.core.device import pick_device

    config = config or PeerConfig()
    crops, truth = train
    if len(crops) < 2 or len(np.unique(truth)) < 2:
        raise InputError("the peer needs training objects of at least two classes")
    rng = seed_everything(config.seed)
    device = pick_device(config.device)
    net = create_model(ARCH, len(classes), 1, crop_size=config.crop_size).to(device)
    val_crops, val_truth = val if len(val[0]) else train
    steps_per_epoch = -(-len(crops) // config.batch_size)

    def batches():
        for _ in range(config.epochs):
            order = rng.permutation(len(crops))
            for part in np.array_split(order, steps_per_epoch):
                k = int(rng.integers(4))
                batch = np.rot90(crops[part], k, axes=(1, 2)).copy()
                yield (network_input(torch.from_numpy(batch).to(device), 1),
                       torch.from_numpy(truth[part].astype(np.int64)).to(device))

    def step_loss(model, batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(model(x).float(), y), {}

    peer = ObjectClassifier(net, classes)

    def validate_fn(model) -> dict[str, float]:
        peer.net = model
        predicted = peer.predict_crops(val_crops).argmax(axis=1)
        peer.net = net
        return {"val_accuracy": float(np.mean(predicted == val_truth))}

    fit = yield from iter_fit(net, batches(), step_loss, validate_fn, config,
                              steps=steps_per_epoch * config.epochs,
                              val_every=max(1, steps_per_epoch * max(1, config.epochs // 15)),
                              select="val_accuracy", steps_per_epoch=steps_per_epoch)
    peer.net = fit.model.eval()
    peer.training = {"config": to_json(config), "objects": int(len(crops)),
                     "best_step": fit.best_step, "steps": fit.steps_run,
                     "seconds": round(fit.seconds, 1), "stop_reason": fit.stop_reason}
    peer.metrics = dict(fit.best)
    return peer



def iter_dataset_crops(dataset, split: str, crop_size: int, crop_bottom: int = 0
                       ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """``(crops (n, s, s) uint8, truth classes (n,))`` of the second-phase objects of a data
    set's split (objects without a second-phase truth class left out)."""
    from engines.sem.dataset import load_sample, truth_objects

    files = [f for f in dataset.split(split) if f.label is not None or f.objects is not None]
    preprocessing = Preprocessing(in_channels=1, scale=1.0)
    crops, truths = [], []
    for i, files_i in enumerate(files):
        sample = load_sample(files_i, dataset.classes, crop_bottom)
        objects, n, truth = truth_objects(sample, len(dataset.classes))
        keep = truth >= 1
        image = prepare_image(sample.image, preprocessing)
        crops.append(object_crops(image, objects, n, crop_size)[keep])
        truths.append(truth[keep])
        yield Progress((i + 1) / len(files), f"peer crops: {split} {i + 1}/{len(files)}")
    if not crops:
        return np.zeros((0, crop_size, crop_size), np.uint8), np.zeros(0, np.int64)
    return np.concatenate(crops), np.concatenate(truths)


def iter_train_peer_on(dataset, config: PeerConfig | None = None, crop_bottom: int = 0
                       ) -> Generator[Progress, None, ObjectClassifier]:
    """Train the peer on a data set's train objects, validated on its val objects."""
    from engines.core.progress import forward

    config = config or PeerConfig()
    train = yield from forward(iter_dataset_crops(dataset, "train", config.crop_size,
                                                  crop_bottom), 0.0, 0.1)
    val = yield from forward(iter_dataset_crops(dataset, "val", config.crop_size, crop_bottom),
                             0.1, 0.05)
    return (yield from forward(iter_train_peer(train, val, dataset.classes, config), 0.15, 0.85,
                               "peer: "))
