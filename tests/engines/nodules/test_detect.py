"""Whole-scan detection: streaming progress with per-batch boxes, voxel geometry, linking of
true cuts into candidates at the annotated centres, and the vessel look-alikes rejected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.core.progress import Progress
from engines.nodules.detect import DetectConfig, SliceDetections, iter_detect, link_candidates
from engines.nodules.detectors import DetectorConfig
from engines.nodules.evaluation import scan_truth
from engines.nodules.lungs import lung_mask
from engines.nodules.model import NoduleDetector
from engines.nodules.preprocess import PreprocessConfig
from engines.nodules.scan import open_scan


@pytest.fixture(scope="module")
def scan_and_truth(tiny_dataset):
    entry = tiny_dataset.scans[0]
    scan = open_scan(entry.path)
    return scan, tiny_dataset.nodules_of(scan.seriesuid)


def test_streaming_detection_reports_each_batch(scan_and_truth):
    scan, _ = scan_and_truth
    torch.manual_seed(0)
    model = NoduleDetector.untrained(DetectorConfig(arch="ssdlite_mobilenet_v3_small",
                                                    min_box_mm=8.0, score_floor=0.2),
                                     PreprocessConfig(pixel_mm=3.0))
    reports = []
    task = iter_detect(model, scan, DetectConfig(batch_size=4, link_threshold=0.3))
    while True:
        try:
            reports.append(next(task))
        except StopIteration as stop:
            result = stop.value
            break
    batches = [r for r in reports if "boxes" in r.metrics]
    assert all(isinstance(r, Progress) for r in reports) and len(batches) >= 3
    assert sum(len(r.metrics["z"]) for r in batches) == len(result.slices)
    assert result.slices.scores.min() >= 0.2 and result.seriesuid == scan.seriesuid
    boxes = result.slices.boxes
    assert np.all(boxes[:, 2] <= scan.shape[2]) and np.all(boxes[:, 3] <= scan.shape[1])
    assert [c.id for c in result.candidates] == list(range(1, len(result.candidates) + 1))
    summary = result.summary()
    assert summary["lungs_found"] and summary["slices"] == scan.shape[0]


def test_true_cuts_link_into_candidates_at_the_nodules(scan_and_truth):
    scan, nodules = scan_and_truth
    truth = scan_truth(scan.volume, nodules, None)
    slices = SliceDetections(truth.z, truth.boxes, np.full(len(truth.z), 0.9))
    lungs = lung_mask(scan.volume)
    candidates, _ = link_candidates(scan, slices, lungs, DetectConfig(max_shell=1.0))
    assert len(candidates) == len(nodules)
    for centre, diameter in zip(nodules.xyz_mm, nodules.diameter_mm, strict=True):
        distance = [np.linalg.norm(np.asarray(c.world_xyz) - centre) for c in candidates]
        best = candidates[int(np.argmin(distance))]
        assert min(distance) < diameter / 4
        assert best.diameter_mm == pytest.approx(diameter, rel=0.25)


def test_a_vessel_track_is_rejected(scan_and_truth):
    scan, _ = scan_and_truth
    z = np.arange(10, 30)
    boxes = np.tile([40.0, 40.0, 42.0, 42.0], (len(z), 1))          # 7 mm along 90 mm
    slices = SliceDetections(z, boxes, np.full(len(z), 0.95))
    candidates, rejected = link_candidates(scan, slices, lung_mask(scan.volume), DetectConfig())
    assert candidates == [] and rejected["elongated_or_short"] == 1
