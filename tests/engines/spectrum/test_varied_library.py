"""The library measured like a real one: files with their own calibrations, channel counts,
live times and resolutions, split by file; its rebinned references are cached."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.progress import drive
from engines.spectrum.library import find_dataset_files, load_library
from engines.spectrum.readers import read_spectrum
from engines.spectrum.reference_cache import ReferenceCache, cache_file
from engines.spectrum.spectrum import PAPER_GRID
from engines.spectrum.synthetic.varied import Variation, iter_varied_library


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    out = tmp_path_factory.mktemp("varied")
    return drive(iter_varied_library(out, "copper5", seed=4,
                                     variation=Variation(files_per_class=(3, 4),
                                                         resolution_scale=(0.9, 1.2))))


def test_files_differ_in_calibration_channels_and_live_time_and_split_by_file(varied):
    train, test = find_dataset_files(varied / "train"), find_dataset_files(varied / "test")
    assert sorted(train) == sorted(test) == ["Cu-1", "Cu-2", "Cu-3", "Cu-4", "Cu-5"]
    for name in train:
        assert len(train[name]) >= 2 and len(test[name]) >= 1
        assert not {p.name for p in train[name]} & {p.name for p in test[name]}
    spectra = [read_spectrum(p) for files in train.values() for p in files]
    gains = {round(s.calibration.coefficients[1], 5) for s in spectra}
    assert len(gains) == len(spectra)  # every file its own calibration
    assert {s.n_channels for s in spectra} <= {8192, 16384}
    lives = np.array([s.live_time_s for s in spectra])
    assert lives.min() >= 600 and lives.max() <= 7200 and lives.std() > 100


def test_rebinned_files_put_the_lines_where_they_belong(varied):
    spectra = [read_spectrum(p) for p in sorted((varied / "train" / "Cu-3").glob("*.Spe"))]
    library = load_library(varied / "train")
    rows = library.spectra[library.labels == library.classes.index("Cu-3")]
    energies = PAPER_GRID.energies
    window = (energies > 7905) & (energies < 7926)  # Cu 7915.6 keV
    for row in rows:  # the strongest high-energy line stays within ~1 keV on the common grid
        assert abs(energies[window][np.argmax(row[window])] - 7915.6) < 1.5
    assert len(spectra) == rows.shape[0]


def test_the_reference_cache_is_exact_and_notices_changes(varied, tmp_path):
    folder = varied / "train"
    first = load_library(folder)
    cache = ReferenceCache(folder, PAPER_GRID)
    assert cache_file(folder, PAPER_GRID).exists() and cache.hits == 0
    for path, row in zip(first.files, first.spectra, strict=True):
        counts, _ = cache.get(path)
        np.testing.assert_array_equal(counts, row)
    again = load_library(folder)
    np.testing.assert_array_equal(again.spectra, first.spectra)
    np.testing.assert_array_equal(again.live_times, first.live_times)
    touched = first.files[0]
    touched.write_bytes(touched.read_bytes())  # a new modification time: read again
    assert ReferenceCache(folder, PAPER_GRID).get(touched) is None
    cache_file(folder, PAPER_GRID).write_bytes(b"garbage")  # a broken cache is ignored
    np.testing.assert_array_equal(load_library(folder).spectra, first.spectra)
