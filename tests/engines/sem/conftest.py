"""Fixtures of the sem engine tests: tiny synthetic data sets and an oracle segmenter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.core.progress import drive
from engines.sem.labels import ClassTable
from engines.sem.preprocessing import Preprocessing
from engines.sem.segmenter import SemSegmenter
from engines.sem.synthetic_dataset import iter_write_dataset

LEVELS = np.array([0, 64, 128, 192, 255])   # grey level of each class in coded images


class Oracle(torch.nn.Module):
    """Logits that pick the class whose grey level (``LEVELS``) a pixel has: a perfect
    segmenter of :func:`coded_image` images, of any size and at any tiling."""

    arch = "unet-resnet18-lite"
    options: dict = {}

    def __init__(self, n_classes: int = 5) -> None:
        super().__init__()
        self.n_classes, self.in_channels = n_classes, 1
        self.scale = torch.nn.Parameter(torch.tensor(50.0))
        centres = (torch.tensor(LEVELS[:n_classes], dtype=torch.float32) / 255 - 0.5) / 0.25
        self.register_buffer("centres", centres.view(1, -1, 1, 1))

    def forward(self, x):
        return -self.scale * (x - self.centres) ** 2


def coded_image(labels: np.ndarray) -> np.ndarray:
    """A uint8 image whose grey level codes the class of ``labels`` (H, W)."""
    return LEVELS[labels].astype(np.uint8)


@pytest.fixture
def oracle():
    names = ["matrix", "a", "b", "c", "d"]
    return SemSegmenter(Oracle(), ClassTable.from_names(names), Preprocessing(), window=64)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Four 256 x 288 synthetic micrographs with labels, masks, classes.json and splits."""
    path = tmp_path_factory.mktemp("sem") / "tiny"
    return drive(iter_write_dataset(path, 4, (256, 288), seed=5))
