from types import SimpleNamespace

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.references import ReferenceSet, from_library
from engines.spectrum.spectrum import Calibration, EnergyGrid

GRID = EnergyGrid(Calibration((0.0, 1.0)), 6)


def test_templates_average_references_of_a_class_on_kept_channels():
    spectra = np.array([[1, 1, 2, 0, 0, 0], [3, 3, 6, 0, 0, 0], [0, 0, 0, 5, 5, 0.0]])
    references = ReferenceSet(["a", "b"], GRID, spectra, [0, 0, 1])
    np.testing.assert_allclose(references.probabilities().sum(axis=1), 1.0)
    templates = references.templates(PreprocessConfig(discard=[(0, 1)]))
    np.testing.assert_allclose(templates, [[1 / 3, 2 / 3, 0, 0, 0], [0, 0, 0.5, 0.5, 0]])
    assert references.templates().shape == (2, 6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"classes": ["a"]}, "at least 2"),
    ({"classes": ["a", "a"]}, "unique"),
    ({"spectra": np.ones((2, 5))}, "expected \\(n_refs, 6\\)"),
    ({"labels": [0]}, "1 labels for 2"),
    ({"labels": [0, 2]}, "labels must lie"),
    ({"labels": [0, 0]}, "no reference spectrum for class\\(es\\): b"),
    ({"spectra": -np.ones((2, 6))}, ">= 0"),
    ({"spectra": np.zeros((2, 6))}, "no counts"),
])
def test_invalid_reference_sets(kwargs, message):
    values = {"classes": ["a", "b"], "grid": GRID, "spectra": np.ones((2, 6)), "labels": [0, 1]}
    with pytest.raises(InputError, match=message):
        ReferenceSet(**{**values, **kwargs})


def test_templates_need_counts_in_the_kept_channels():
    references = ReferenceSet(["a", "b"], GRID, np.array([[1.0, 0, 0, 0, 0, 0], [1.0] * 6]),
                              [0, 1])
    with pytest.raises(InputError, match="no counts in the kept"):
        references.templates(PreprocessConfig(discard=[(0, 1)]))


def test_from_library_reads_the_library_attributes():
    library = SimpleNamespace(classes=("x", "y"), grid=GRID, spectra=np.ones((3, 6)),
                              labels=np.array([1, 0, 1]), files=["ignored"])
    references = from_library(library)
    assert references.classes == ["x", "y"] and references.labels.tolist() == [1, 0, 1]
    assert from_library(references) is references
    with pytest.raises(InputError, match="missing grid, labels"):
        from_library(SimpleNamespace(classes=["x"], spectra=np.ones((1, 6))))


def test_draws_are_seeded_and_follow_the_class_references():
    spectra = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1.0]])
    references = ReferenceSet(["a", "b"], GRID, spectra, [0, 0, 1])
    counts, labels = references.draw(50, 40, seed=3)
    assert counts.shape == (80, 6) and counts.dtype == np.float32
    np.testing.assert_array_equal(labels, np.repeat([0, 1], 40))
    np.testing.assert_array_equal(counts.sum(axis=1), 50)
    assert counts[:40, 2:].sum() == 0 and counts[40:, :4].sum() == 0
    assert 0 < (counts[:40, 0] == 50).sum() < 40  # both references of class a are used
    again, _ = references.draw(50, 40, seed=3)
    np.testing.assert_array_equal(counts, again)
    with pytest.raises(InputError):
        references.draw(0, 5)
