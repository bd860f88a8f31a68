import numpy as np
import pytest
import torch
from torch import nn

from engines.core.errors import InputError
from engines.spectrum.cam import (
    channel_importance,
    importance_from_references,
    suggest_discard_ranges,
    to_full_grid,
    upsample,
)
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.models.layers import GapClassifier
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.spectrum import Calibration, EnergyGrid

GRID = EnergyGrid(Calibration((10.0, 2.0)), 300)
PREPROCESS = PreprocessConfig(discard=[(0, 100), (280, 300)], coord_channel=False)


def peak_detector(stride: int = 1) -> SpectrumClassifier:
    """Features = the (averaged) input itself; class 0 likes counts, class 1 dislikes them."""
    conv = nn.Conv1d(1, 1, stride, stride=stride, bias=False)
    nn.init.constant_(conv.weight, 1.0 / stride)
    model = GapClassifier(conv, 1, 2, 0.0, "peak_detector", None)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.classifier.bias.zero_()
    return SpectrumClassifier(model, ["peak", "flat"], GRID, PREPROCESS)


def spectrum_with_peak(channel: int) -> np.ndarray:
    counts = np.ones(GRID.n_channels)
    counts[channel] = 500.0
    return counts


@pytest.mark.parametrize("stride", [1, 4])
def test_cam_locates_the_peak_on_the_full_grid(stride):
    result = peak_detector(stride).cam(np.stack([spectrum_with_peak(150), spectrum_with_peak(200)]))
    assert result.maps.shape == (2, 300) and result.maps.dtype == np.float32
    assert np.isnan(result.maps[:, :100]).all() and np.isnan(result.maps[:, 280:]).all()
    assert np.isfinite(result.maps[:, 100:280]).all()
    assert abs(int(np.nanargmax(result.maps[0])) - 150) <= stride
    assert abs(int(np.nanargmax(result.maps[1])) - 200) <= stride
    np.testing.assert_allclose(result.energies_kev, GRID.energies)
    np.testing.assert_array_equal(result.class_index, [0, 0])
    assert result.probabilities.shape == (2, 2) and result.classes == ["peak", "flat"]


def test_class_index_selects_the_map():
    classifier = peak_detector()
    counts = np.stack([spectrum_with_peak(150)] * 3)
    predicted = classifier.cam(counts)
    chosen = classifier.cam(counts, class_index=[0, 1, 1])
    np.testing.assert_array_equal(chosen.class_index, [0, 1, 1])
    np.testing.assert_allclose(chosen.maps[1], -predicted.maps[1], rtol=1e-6)
    assert classifier.cam(counts, class_index=1).class_index.tolist() == [1, 1, 1]
    with pytest.raises(InputError, match="class index"):
        classifier.cam(counts, class_index=2)
    with pytest.raises(InputError, match="one per spectrum"):
        classifier.cam(counts, class_index=[0, 1])


def test_upsample_and_full_grid_placement():
    maps = torch.tensor([[[1.0, 1.0, 1.0]]])
    assert torch.allclose(upsample(maps, 12), torch.ones(1, 1, 12))
    keep = np.array([False, True, True, False])
    out = to_full_grid(np.array([[5.0, 6.0]]), keep)
    np.testing.assert_array_equal(np.isnan(out), [[True, False, False, True]])
    assert out[0, 1] == 5.0 and out[0, 2] == 6.0


def test_channel_importance_averages_per_true_class():
    classifier = peak_detector()
    counts = np.stack([spectrum_with_peak(150), spectrum_with_peak(160), spectrum_with_peak(150)])
    importance = channel_importance(classifier, counts, np.array([0, 0, 0]), batch_size=2)
    assert importance.shape == (2, 300)
    assert np.isnan(importance[1]).all()  # no samples of class "flat"
    assert np.isnan(importance[0, :100]).all()
    assert int(np.nanargmax(importance[0])) == 150
    assert np.nanmax(importance[0]) <= 1.0 + 1e-9
    with pytest.raises(InputError, match="labels"):
        channel_importance(classifier, counts, np.array([0, 5, 0]))


def test_importance_from_reference_draws_reports_progress():
    from engines.core.progress import drive
    from engines.spectrum.references import ReferenceSet

    classifier = peak_detector()
    references = ReferenceSet(["peak", "flat"], GRID,
                              np.stack([spectrum_with_peak(150), spectrum_with_peak(210)]), [0, 1])
    reports = []
    importance = drive(importance_from_references(classifier, references, 5000, 10), reports.append)
    assert importance.shape == (2, 300) and len(reports) == 1 and reports[-1].fraction == 1.0
    assert int(np.nanargmax(importance[0])) == 150
    wrong = ReferenceSet(["x", "y"], GRID, references.spectra, [0, 1])
    with pytest.raises(InputError, match="classes differ"):
        drive(importance_from_references(classifier, wrong, 100))


def test_suggest_discard_ranges():
    importance = np.full((2, 100), 0.5)
    importance[:, :10] = 0.001  # nobody uses the low end
    importance[:, 40:45] = 0.0  # too short a gap to be worth a range
    importance[0, 20:30] = 0.0  # class 1 still uses these
    importance[:, 80:] = np.nan  # already discarded
    importance[1, 60] = 1.0
    ranges = suggest_discard_ranges(importance, threshold=0.05, min_width=8)
    assert ranges == [(0, 10), (80, 100)]
    assert suggest_discard_ranges(importance[0], threshold=0.05, min_width=8) == [
        (0, 10), (20, 30), (80, 100)]
    assert suggest_discard_ranges(importance, threshold=0.05, min_width=1) == [
        (0, 10), (40, 45), (80, 100)]
    assert suggest_discard_ranges(importance, threshold=0.9, min_width=8) == [(0, 60), (61, 100)]
    with pytest.raises(InputError):
        suggest_discard_ranges(importance, threshold=2.0)
