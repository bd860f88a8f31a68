"""Shared fixtures: a tiny synthetic LUNA16 set (96² slices of 3.5 mm pixels), a tiny untrained
SSD on disk, detections built from the true nodules' slice cuts (so the review starts from
candidates at the nodules), and a shown workspace with the first scan open."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.progress import drive
from engines.nodules.samples import iter_write_dataset
from engines.nodules.synthetic import small_config


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """Three tiny scans in the LUNA16 layout (seed 3)."""
    return drive(iter_write_dataset(tmp_path_factory.mktemp("nodules_ws") / "luna", 3, seed=3,
                                    config=small_config()))


def tiny_detector():
    """An untrained SSDlite (MobileNetV3-small, 3 mm pixels): fast, with low thresholds so
    that its (random) boxes link into candidates."""
    import torch

    from engines.nodules.detectors import DetectorConfig
    from engines.nodules.model import NoduleDetector
    from engines.nodules.preprocess import PreprocessConfig

    torch.manual_seed(0)
    model = NoduleDetector.untrained(DetectorConfig(arch="ssdlite_mobilenet_v3_small",
                                                    min_box_mm=8.0, score_floor=0.2),
                                     PreprocessConfig(pixel_mm=3.0))
    model.slice_threshold, model.threshold = 0.3, 0.3
    return model


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    return tiny_detector().save(tmp_path_factory.mktemp("nodules_model") / "tiny")


def truth_detections(scan, nodules):
    """ScanDetections whose slice boxes are the true cuts of every nodule (score 0.9)."""
    from engines.nodules.detect import (
        DetectConfig,
        ScanDetections,
        SliceDetections,
        link_candidates,
    )
    from engines.nodules.evaluation import scan_truth
    from engines.nodules.lungs import lung_mask

    truth = scan_truth(scan.volume, nodules, None)
    slices = SliceDetections(truth.z, truth.boxes, np.linspace(0.95, 0.6, len(truth.z)))
    lungs = lung_mask(scan.volume)
    candidates, rejected = link_candidates(scan, slices, lungs, DetectConfig(max_shell=1.0))
    return ScanDetections(scan.seriesuid, scan, slices, candidates, 0.5, 0.5, lungs, rejected)


@pytest.fixture
def workspace(qtbot, host, tiny_root, tmp_path):
    """A shown workspace with the first scan of a fresh copy of the tiny set open (its own
    copy: reviews autosave beside the scans)."""
    import shutil

    from widgets.nodules.workspace import NodulesWorkspace

    root = tmp_path / "luna"
    shutil.copytree(tiny_root, root)
    ws = NodulesWorkspace(host)
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    with qtbot.waitSignal(ws.scanOpened, timeout=30000):
        ws.open_path(root)
    return ws


@pytest.fixture
def reviewing(workspace):
    """The workspace reviewing candidates at the true nodules of its scan."""
    opened = workspace.opened
    workspace.set_detections(truth_detections(opened.scan, opened.nodules))
    assert workspace.document is not None and len(workspace.document) == len(opened.nodules)
    return workspace
