"""Imaging I/O benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: reading a CT series of 512 × 512 slices in slices/s, uncompressed vs RLE vs JPEG 2000
(and JPEG-LS when pyjpegls is installed), ours (pydicom) beside SimpleITK's GDCM series reader;
header listing (``list_series``) in files/s; and the other formats (NIfTI, MetaImage, TIFF) in
MB/s of voxels for the same volume.

Environment variables
---------------------
LABLENS_BENCH_IO_SLICES
    Slices in the benchmark series (default 200).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

from engines.imaging.volume import Volume
from engines.imaging.volume_io import list_series, read_volume, write_volume
from tests.benchmarks import print_table
from tests.engines.imaging.conftest import ct_phantom

SLICES = int(os.environ.get("LABLENS_BENCH_IO_SLICES", "200"))
COMPRESSIONS = [None, "rle", "jpeg2000"] + (["jpegls"] if importlib.util.find_spec("jpeg_ls")
                                             else [])


def _timed(function, repeat: int = 1) -> tuple[float, object]:
    start = time.perf_counter()
    for _ in range(repeat):
        result = function()
    return (time.perf_counter() - start) / repeat, result


@pytest.fixture(scope="module")
def volume() -> Volume:
    """``SLICES`` × 512 × 512 int16 HU: one phantom slice with fresh noise per slice."""
    base = ct_phantom((1, 512, 512))[0].astype(np.int16)
    rng = np.random.default_rng(5)
    array = np.empty((SLICES, 512, 512), np.int16)
    for k in range(SLICES):
        array[k] = np.clip(base + rng.normal(0, 12, base.shape).astype(np.int16), -1024, 3071)
    return Volume(array, spacing_xyz=(0.7, 0.7, 1.25), origin_xyz=(-180.0, -180.0, -300.0),
                  modality="CT")


@pytest.fixture(scope="module")
def series(volume, tmp_path_factory) -> dict[str | None, tuple[Path, float]]:
    """One series folder per compression and the seconds it took to write."""
    root = tmp_path_factory.mktemp("io_bench")
    written = {}
    for compression in COMPRESSIONS:
        seconds, folder = _timed(lambda c=compression: write_volume(volume, root / str(c),
                                                                     compression=c))
        written[compression] = (folder, seconds)
    return written


def _sitk_read(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def test_dicom_series_read_rate(volume, series):
    rows = []
    for compression, (folder, write_seconds) in series.items():
        megabytes = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        ours, result = _timed(lambda f=folder: read_volume(f))
        assert np.array_equal(result.array, volume.array)
        peer, _ = _timed(lambda f=folder: _sitk_read(f))
        rows.append([compression or "uncompressed", SLICES, megabytes, SLICES / write_seconds,
                     SLICES / ours, SLICES / peer])
    print_table(f"DICOM series of {SLICES} slices 512×512 int16 (CPU, 2 cores shared)",
                ["syntax", "slices", "MB on disk", "write slices/s", "read slices/s",
                 "SimpleITK slices/s"], rows)


def test_header_listing_rate(series):
    folder, _ = series[None]
    list_series(folder)                                   # warm the file cache
    seconds, found = _timed(lambda: list_series(folder), repeat=3)
    assert found[0].n_slices == SLICES
    print_table("DICOM header listing (list_series, pixels never read)",
                ["files", "seconds", "files/s"], [[SLICES, seconds, SLICES / seconds]])


def test_other_formats_rate(volume, tmp_path):
    megabytes = volume.array.nbytes / 1e6
    rows = []
    for name, options in [("ct.nii", {}), ("ct.nii.gz", {}), ("ct.mhd", {}),
                          ("ct_z.mhd", {"compression": True}), ("ct.tif", {}),
                          ("ct_z.tif", {"compression": "zlib"})]:
        write_seconds, path = _timed(lambda n=name, o=options: write_volume(volume, tmp_path / n,
                                                                             **o))
        read_seconds, result = _timed(lambda p=path: np.asarray(read_volume(p).array).sum())
        rows.append([name + (" (compressed)" if options else ""), megabytes / write_seconds,
                     megabytes / read_seconds])
    print_table(f"Other formats, {megabytes:.0f} MB of int16 voxels (read includes one pass "
                "over the voxels, so memory-mapped TIFF pays its page-ins)",
                ["file", "write MB/s", "read MB/s"], rows)
