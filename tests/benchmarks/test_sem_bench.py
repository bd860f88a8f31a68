"""sem benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: (1) analysis of one 8000 × 7000 synthetic micrograph with its object mask — read
(memory-mapped TIFF), prepared, tiled inference, Hann blending, stitching into bands and the
streamed max-vote — in a fresh process per device: wall time, megapixels per second and the
process's peak resident memory (``ru_maxrss``, torch included); (2) object accuracy of the
max-vote against the crop-and-classify peer, and the four pixel scores, on the same fresh
synthetic test micrographs. Both use the bundled demo model (an untrained network of the same
architecture when there is none: the speed and memory do not depend on the weights).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engines.core.progress import drive
from tests.benchmarks import print_table

ROOT = Path(__file__).resolve().parents[2]
HEIGHT, WIDTH = 7000, 8000

_ANALYZE = r"""
import json, resource, sys, time
import torch
from engines.core.model import demo_model_path
from engines.core.progress import drive
from engines.sem.analysis import AnalysisJob
from engines.sem.labels import ClassTable, read_mask
from engines.sem.models import create_model
from engines.sem.preprocessing import Preprocessing
from engines.sem.readers import read_micrograph
from engines.sem.segmenter import SemSegmenter

image_path, mask_path, device, threads = sys.argv[1:5]
torch.set_num_threads(int(threads))
path = demo_model_path("sem")
if path is not None:
    segmenter = SemSegmenter.load(path, device)
else:
    segmenter = SemSegmenter(create_model("unet-resnet18-lite", 5), ClassTable.numbered(5),
                             Preprocessing(scale=0.5), window=128).to(device)
started = time.perf_counter()
micrograph = read_micrograph(image_path)
mask, _ = read_mask(mask_path)
window = segmenter.sliding_window(window=512, batch_size=8 if device == "cpu" else 32)
result = drive(AnalysisJob(segmenter, micrograph, mask, window=window).run())
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "objects": result.n_objects, "tiles": result.tiles,
                  "reader": micrograph.reader, "demo": path is not None,
                  "window": window.window, "scale": segmenter.preprocessing.scale,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.fixture(scope="module")
def large_micrograph(tmp_path_factory):
    from engines.sem.synthetic import PIXEL_SIZE_UM, iter_generate
    from engines.sem.writers import write_mask_png, write_micrograph

    folder = tmp_path_factory.mktemp("sem_bench")
    started = time.perf_counter()
    micrograph = drive(iter_generate(HEIGHT, WIDTH, 20_251))
    generated = time.perf_counter() - started
    image = write_micrograph(folder / "large.tif", micrograph.image, PIXEL_SIZE_UM)
    mask = write_mask_png(folder / "large_mask.png", micrograph.mask)
    return image, mask, generated, int(micrograph.object_classes.size - 1)


def _devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_large_micrograph_throughput_and_memory(large_micrograph):
    image, mask, generated, n_objects = large_micrograph
    rows = []
    threads = os.cpu_count() or 1
    for device in _devices():
        run = subprocess.run([sys.executable, "-c", _ANALYZE, str(image), str(mask), device,
                              str(threads)], cwd=ROOT, capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert out["objects"] == n_objects
        rows.append([device, out["scale"], out["window"], out["tiles"], out["objects"],
                     out["seconds"], HEIGHT * WIDTH / 1e6 / out["seconds"],
                     out["peak_rss_mib"]])
    print_table(f"Analysis of a {WIDTH} x {HEIGHT} synthetic micrograph (memory-mapped TIFF + "
                f"mask; tiled inference, Hann blending, banded stitching, streamed max-vote; "
                f"{'demo model' if out['demo'] else 'untrained demo architecture'}, "
                f"{threads} CPU threads; the image took {generated:.1f} s to generate)",
                ["device", "model scale", "window", "tiles", "objects", "s", "MP/s",
                 "peak RSS MiB"], rows)


def test_max_vote_against_the_crop_and_classify_peer():
    from engines.core.model import demo_model_path
    from engines.sem.dataset import LabelledImage
    from engines.sem.evaluation import iter_evaluate_samples
    from engines.sem.readers import Micrograph
    from engines.sem.segmenter import SemSegmenter
    from engines.sem.synthetic import iter_generate

    path = demo_model_path("sem")
    if path is None:
        pytest.skip("no bundled sem demo model (make demo-model-sem)")
    segmenter = SemSegmenter.load(path)

    def fresh(seed: int) -> LabelledImage:
        m = drive(iter_generate(2000, 2000, seed))
        return LabelledImage(f"s{seed}", Micrograph(m.image, Path(f"s{seed}.tif")), m.labels,
                             m.mask, None)

    seeds = (31_001, 31_002, 31_003, 31_004)
    result = drive(iter_evaluate_samples(segmenter, [lambda s=s: fresh(s) for s in seeds]))
    out = result.to_json()
    rows = [["max-vote (demo model)", out["objects"], out["object_accuracy"],
             out["object_accuracy_segmented"], out["unsegmented_objects"]],
            ["crop-and-classify peer", out["objects"], out["peer"]["object_accuracy"], "", ""]]
    print_table(f"Object accuracy on {len(seeds)} fresh 2000 x 2000 synthetic micrographs "
                "(paper: 93.94 % max-vote FCN, 66.50 % best object-based CNN)",
                ["method", "objects", "accuracy", "segmented only", "not segmented"], rows)
    print_table("Pixel scores of the demo model on the same images",
                ["pixel acc", "mean acc", "mean IU", "fw IU"],
                [[out["pixel_accuracy"], out["mean_accuracy"], out["mean_iu"], out["fw_iu"]]])
