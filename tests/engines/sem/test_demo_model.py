"""The bundled demo model (``make demo-model-sem``) still reaches the figures recorded in its
sidecar, on fresh synthetic micrographs of a seed it never saw."""

from __future__ import annotations

import pytest

from engines.core.progress import drive
from engines.sem.dataset import open_dataset
from engines.sem.evaluation import iter_evaluate
from engines.sem.segmenter import SemSegmenter
from engines.sem.synthetic_dataset import iter_write_dataset


def test_bundled_demo_model_reaches_its_recorded_figures(tmp_path):
    """Two 1200 × 1200 images (the recorded figures are of eight 2000 × 2000 ones): a smaller
    sample, so a tolerance."""
    from engines.core.model import demo_model_path

    path = demo_model_path("sem")
    if path is None:
        pytest.skip("no bundled sem demo model")
    segmenter = SemSegmenter.load(path)
    recorded = segmenter.metrics["test"]
    folder = drive(iter_write_dataset(tmp_path / "fresh", 2, (1200, 1200), seed=515_151,
                                      split_lists=False))
    result = drive(iter_evaluate(segmenter, open_dataset(folder), "all", with_peer=True))
    assert result.pixel.pixel_accuracy >= recorded["pixel_accuracy"] - 0.04
    assert result.pixel.mean_iu >= recorded["mean_iu"] - 0.08
    assert result.objects.accuracy >= recorded["object_accuracy"] - 0.12
    assert result.peer is not None  # the peer the README compares with is bundled too
    assert result.peer.accuracy >= recorded["peer_object_accuracy"] - 0.15
