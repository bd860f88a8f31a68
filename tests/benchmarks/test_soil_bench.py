"""Soil benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: (1) the analysis (object bands + trimming + porosity and profiles of six objects) in
voxels per second and the peak resident memory of a fresh process, on the paper's 400 × 200 ×
200 crop and on a whole 640 × 512 × 512 synthetic core (the paper's scan size), and the
streamed count of a 512³ segmented TIFF stack; (2) the surrogate networks on the CPU: slices per
second of inference and seconds per training step, VGG16 at the paper's 200 × 200 crop and the
light network at 200 and 64 px (the demo model's input).
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest

from tests.benchmarks import print_table


def _high_water_mib() -> float:
    """Peak resident memory of this process image (VmHWM: unlike ru_maxrss it starts afresh
    at exec, so a spawned child does not inherit its parent's peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _analyze_in_child(path: str, crop, segmented: bool, queue) -> None:
    import porespy  # noqa: F401  (imported before the baseline is read)

    from engines.core.progress import drive
    from engines.imaging.volume import Volume
    from engines.soil.analysis import AnalysisConfig, iter_analyze, iter_analyze_path

    baseline = _high_water_mib()
    started = time.perf_counter()
    if segmented:
        result = drive(iter_analyze_path(path, AnalysisConfig(segmented=True, crop=None)))
    else:
        volume = Volume(np.load(path, mmap_mode="r"), spacing_xyz=(0.351, 0.351, 0.25))
        config = AnalysisConfig(crop=crop, fit_inside_core=False)
        result = drive(iter_analyze(volume, config))
    seconds = time.perf_counter() - started
    queue.put((seconds, result.crop.n_voxels, baseline, _high_water_mib()))


def _measure(path, crop, segmented=False):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_analyze_in_child, args=(str(path), crop, segmented, queue))
    process.start()
    result = queue.get(timeout=3600)
    process.join()
    return result


@pytest.fixture(scope="module")
def paper_core(tmp_path_factory):
    from engines.core.progress import drive
    from engines.soil.synthetic import PAPER_SIZE, generate_core

    started = time.perf_counter()
    core = drive(generate_core("arable", 1, PAPER_SIZE))
    print(f"\ngenerated a {'×'.join(map(str, PAPER_SIZE.shape))} core in "
          f"{time.perf_counter() - started:.0f} s")
    path = tmp_path_factory.mktemp("soil_bench") / "core.npy"
    np.save(path, core.volume.array)
    return path


def test_analysis_voxels_per_second_and_peak_memory(paper_core, tmp_path):
    import tifffile

    rows = []
    for label, crop in (("paper crop 400×200×200", (400, 200, 200)),
                        ("whole core 640×512×512", None)):
        seconds, voxels, base, peak = _measure(paper_core, crop)
        rows.append([label, voxels / 1e6, seconds, voxels / seconds / 1e6, base, peak])
    stack = tmp_path / "rock.tif"
    rng = np.random.default_rng(0)
    with tifffile.TiffWriter(stack) as tif:
        for _ in range(512):
            tif.write((rng.uniform(size=(512, 512)) > 0.2).astype(np.uint8) * 255,
                      contiguous=True)
    seconds, voxels, base, peak = _measure(stack, None, segmented=True)
    rows.append(["segmented TIFF 512³ (uint8)", voxels / 1e6, seconds, voxels / seconds / 1e6,
                 base, peak])
    print_table(f"Soil analysis on the CPU ({os.cpu_count()} cores): bands + trimming + "
                "porosity and profiles of 6 objects; peak RSS of a fresh process",
                ["input", "Mvoxels", "seconds", "Mvoxels/s", "RSS before (MiB)",
                 "peak RSS (MiB)"], rows)


def test_surrogate_inference_and_training_step():
    import torch

    from engines.soil.models import create_model

    torch.manual_seed(0)
    rows = []
    for arch, size, batch in (("vgg16", 200, 8), ("vgg_light", 200, 16), ("vgg_light", 64, 16)):
        net = create_model(arch, size)
        x = torch.rand(batch, 3, size, size)
        with torch.inference_mode():
            net.eval()
            net(x[:2])
            started = time.perf_counter()
            for _ in range(3):
                net(x)
            per_slice = (time.perf_counter() - started) / (3 * batch)
        net.train()
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-4)
        y = torch.rand(batch)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            loss = torch.nn.functional.mse_loss(net(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            times.append(time.perf_counter() - started)
        rows.append([arch, size, batch, 1.0 / per_slice, float(np.median(times[1:]))])
    print_table(f"Surrogate networks on the CPU ({torch.get_num_threads()} threads)",
                ["network", "input px", "batch", "inference slices/s", "train step s"], rows)
