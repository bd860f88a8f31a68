"""A real-shaped library folder: several .Spe files per class, each with its own calibration and
live time. Training draws from every file, each rebinned from its own calibration; the rebinned
files are cached (hit on a second load, read again when a file changes); the held-out split
is by file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.spectrum import library as library_module
from engines.spectrum.library import find_dataset_files, load_library
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.readers import read_spectrum
from engines.spectrum.readers.spe import write_spe
from engines.spectrum.references import from_library
from engines.spectrum.spectrum import Calibration, EnergyGrid, Spectrum
from engines.spectrum.training import TrainConfig, _Sampler

GRID = EnergyGrid(Calibration((0.0, 2.0)), 400)  # 0-800 keV
# class -> per file: (offset keV, gain keV/channel, line energy keV); every file its own
# calibration and its own line, so a draw says which file it came from and where it landed
FILES = {"alpha": [(-3.0, 1.9, 150.0), (4.0, 2.1, 250.0), (0.5, 1.7, 350.0)],
         "beta": [(2.0, 2.2, 450.0), (-1.0, 1.8, 550.0), (3.0, 2.05, 650.0)]}


def _write_folder(root, scale=1.0):
    for name, files in FILES.items():
        for i, (offset, gain, line) in enumerate(files):
            calibration = Calibration((offset, gain))
            n = 420
            centres = calibration.energy(np.arange(n))
            expected = 20.0 + 4000.0 * scale * np.exp(-0.5 * ((centres - line) / 2.5) ** 2)
            counts = np.random.default_rng([i, len(name)]).poisson(expected).astype(float)
            path = root / name / f"{name}_{i}.Spe"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_spe(path, Spectrum(counts, calibration, live_time_s=100.0 + 50 * i,
                                     real_time_s=101.0 + 50 * i))
    return root


@pytest.fixture()
def folder(tmp_path):
    return _write_folder(tmp_path / "lib")


def test_training_draws_come_from_every_file_each_rebinned_from_its_own_calibration(folder):
    spectra = [read_spectrum(p) for files in find_dataset_files(folder).values() for p in files]
    assert len({s.calibration.coefficients for s in spectra}) == 6
    assert len({s.live_time_s for s in spectra}) == 3
    library = load_library(folder, GRID)
    references = from_library(library)
    assert references.spectra.shape == (6, GRID.n_channels)  # one reference per file
    config = TrainConfig(arch="small_cnn", preprocess=PreprocessConfig(discard=[]),
                         device="cpu", batch_size=256, counts=50_000)
    sampler = _Sampler(references, config, torch.device("cpu"))
    x, labels = sampler.batch()
    peaks = GRID.energies[x[:, 0].argmax(dim=1).numpy()]
    for c, name in enumerate(library.classes):
        found = peaks[labels.numpy() == c]
        lines = [line for _, _, line in FILES[name]]
        # every draw sits on one of its class's file lines, on the common grid
        assert np.all(np.min(np.abs(found[:, None] - np.array(lines)[None]), axis=1) <= 2.0)
        for line in lines:  # and every file of the class was drawn from
            assert np.sum(np.abs(found - line) <= 2.0) >= 10, (name, line)


def test_the_cache_is_hit_and_a_changed_file_is_read_again(folder, monkeypatch):
    reads = []

    def counting(path, *args, **kwargs):
        reads.append(path.name)
        return read_spectrum(path, *args, **kwargs)

    monkeypatch.setattr(library_module, "read_spectrum", counting)
    first = load_library(folder, GRID)
    assert len(reads) == 6
    reads.clear()
    again = load_library(folder, GRID)
    assert reads == []  # every file came from the cache
    np.testing.assert_array_equal(again.spectra, first.spectra)
    np.testing.assert_array_equal(again.live_times, first.live_times)
    changed = folder / "beta" / "beta_1.Spe"
    spectrum = read_spectrum(changed)
    spectrum.counts[:] = spectrum.counts * 3
    write_spe(changed, spectrum)
    third = load_library(folder, GRID)
    assert reads == ["beta_1.Spe"]  # only the changed file is read again
    row = first.files.index(changed)
    np.testing.assert_allclose(third.spectra[row], 3 * first.spectra[row])
    others = [i for i in range(6) if i != row]
    np.testing.assert_array_equal(third.spectra[others], first.spectra[others])
    (folder / "alpha" / "alpha_2.Spe").unlink()  # a removed file drops out
    assert len(load_library(folder, GRID).files) == 5


def test_the_held_out_split_is_by_file_with_no_leakage(tmp_path):
    from engines.core.progress import drive
    from engines.spectrum.synthetic.varied import Variation, iter_varied_library

    root = drive(iter_varied_library(tmp_path, "aluminium4", seed=3,
                                     variation=Variation(files_per_class=(4, 5),
                                                         resolution_scale=(1.0,))))
    train, test = find_dataset_files(root / "train"), find_dataset_files(root / "test")
    assert sorted(train) == sorted(test)
    for name in train:
        assert len(train[name]) >= 2 and len(test[name]) >= 1
        assert not {p.name for p in train[name]} & {p.name for p in test[name]}
        held_out = [read_spectrum(p).counts for p in test[name]]
        for kept in (read_spectrum(p).counts for p in train[name]):
            assert not any(kept.shape == h.shape and np.array_equal(kept, h) for h in held_out)
