"""Nodule benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: detection speed on a synthetic 512 × 512 scan of about 300 slices (slices/s through
the whole pipeline — lung mask, 2.5-D stacks, SSD, linking, 3-D checks — and seconds per
scan, every device: the CPU plus CUDA when available), and the FROC / CPM of the bundled
demo model against the classical peer on freshly generated synthetic test scans (a seed the
model never saw), with the per-slice counts at IoU 0.5 beside them.

Environment variables
---------------------
LABLENS_BENCH_NODULES_MODEL
    Model to benchmark instead of the bundled demo model.
LABLENS_BENCH_NODULES_SCANS
    Fresh test scans for the FROC table (default 10).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engines.core.checkpoint import model_paths
from engines.core.model import demo_model_path
from engines.core.progress import drive
from tests.benchmarks import print_table

torch = pytest.importorskip("torch")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SCANS = int(os.environ.get("LABLENS_BENCH_NODULES_SCANS", "10"))
BENCH_SEED = 1000  # fresh scans: the demo model was trained on seed 0


def _model_path() -> Path:
    path = Path(os.environ.get("LABLENS_BENCH_NODULES_MODEL") or demo_model_path("nodules")
                or "absent")
    if not model_paths(path)[0].is_file():
        pytest.skip(f"no nodule model at {path} (bundled demo model absent)")
    return path


@pytest.fixture(scope="module")
def long_scan():
    from engines.nodules.scan import scan_from_volume
    from engines.nodules.synthetic import SyntheticConfig, generate_scan

    synthetic = generate_scan(SyntheticConfig(slice_mm=(1.0, 1.0)), BENCH_SEED, 99)
    return scan_from_volume(synthetic.volume, synthetic.seriesuid)


@pytest.mark.parametrize("name", DEVICES)
def test_detection_speed(long_scan, name):
    from engines.nodules.detect import detect_config_for, iter_detect
    from engines.nodules.model import NoduleDetector

    model = NoduleDetector.load(_model_path(), name)
    rows = []
    for batch in (4, 16):
        config = detect_config_for(model, batch_size=batch)
        start = time.perf_counter()
        result = drive(iter_detect(model, long_scan, config))
        if name == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        looked = len(result.lungs.slice_range(margin=2))
        rows.append([name, torch.get_num_threads() if name == "cpu" else "-", batch,
                     long_scan.shape[0], looked, looked / seconds, seconds,
                     len(result.above())])
    print_table(f"Nodule detection, {model.arch}, synthetic 512×512 scan "
                f"({long_scan.spacing_zyx[0]:g} mm slices)",
                ["device", "threads", "batch", "slices", "in lungs", "slices/s", "s/scan",
                 "candidates"], rows)


def test_froc_of_demo_model_against_the_peer(tmp_path):
    from engines.nodules.evaluation import iter_evaluate
    from engines.nodules.luna16 import open_dataset
    from engines.nodules.model import NoduleDetector
    from engines.nodules.peer import iter_evaluate_peer
    from engines.nodules.samples import iter_write_dataset

    model = NoduleDetector.load(_model_path(), "cpu")
    dataset = open_dataset(drive(iter_write_dataset(tmp_path / "fresh", SCANS, BENCH_SEED)))
    rows = []
    for name, task in (("SSD demo model", iter_evaluate(model, dataset)),
                       ("classical peer", iter_evaluate_peer(dataset))):
        start = time.perf_counter()
        result = drive(task).to_json()
        s = result["slice"] or {}
        lo, hi = result["cpm_ci"]
        rows.append([name, result["cpm"], f"{lo:.3f}–{hi:.3f}", result["froc"]["1"],
                     result["froc"]["8"], result["sensitivity"], result["fp_per_scan"],
                     s.get("recall", "-"), s.get("precision", "-"),
                     (time.perf_counter() - start) / SCANS])
    print_table(f"LUNA16 FROC on {SCANS} fresh synthetic scans (seed {BENCH_SEED}, "
                f"{result['nodules']} nodules); per-slice recall/precision at IoU 0.5",
                ["method", "CPM", "95 % CI", "sens@1FP", "sens@8FP", "sens@thr",
                 "FP/scan@thr", "slice recall", "slice precision", "s/scan"], rows)
