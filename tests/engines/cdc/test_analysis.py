"""A file for browsing: per-event table, scores of hit cells, Analyze with the peer, stored
predictions and opening files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.cdc.analysis import (
    ScoredCells,
    analysis_from_stored_scores,
    iter_analyze,
    iter_analyze_file,
    iter_event_table,
    iter_open_events,
)
from engines.cdc.hdf5_io import write_events, write_predictions
from engines.cdc.images import ImageConfig
from engines.cdc.metrics import cell_level, per_event
from engines.cdc.model import CdcSegmenter, create_model
from engines.cdc.peer import PeerConfig
from engines.cdc.signal_density import SignalDensity
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One thread: on a busy 2-core machine spinning OpenMP workers slow torch and the
    GBDT down by an order of magnitude."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(6, occupancy=0.3, seed=14)))


@pytest.fixture(scope="module")
def segmenter(events):
    torch.manual_seed(1)
    config = ImageConfig(input_size=64)
    net = create_model("unet", encoder="efficientnet-b0", in_channels=3, input_size=64,
                       grid_shape=config.grid_shape)
    return CdcSegmenter(net, config, SignalDensity.fit(events), threshold=0.42)


def test_event_table_and_csv_rows(events):
    table = drive(iter_event_table(events))
    assert table.n_hits.tolist() == [e.n_hits for e in events]
    np.testing.assert_allclose(table.occupancy, [e.occupancy for e in events])
    assert table.n_signal_hits.tolist() == [e.n_signal_hits for e in events]
    assert table.find(3) == 3 and table.find(99) == -1
    header, rows = table.rows(np.array([0.5, np.nan, 1, 1, 1, 1]), np.ones(6), 0.3)
    assert header[-3:] == ["threshold", "purity", "retention"] and rows[1][-2] == ""
    assert rows[0][:2] == [0, events[0].n_hits] and rows[0][-3:] == ["0.3", "0.50000", "1.00000"]
    header, rows = table.rows(pt_mev=np.array([98.5, np.nan, 1, 1, 1, 1]))
    assert header[-1] == "pt_mev" and rows[0][-1] == "98.500" and rows[1][-1] == ""


def test_scored_cells_match_the_metrics(events):
    rng = np.random.default_rng(3)
    dense = rng.random((len(events), 4986)).astype(np.float32)
    scored = ScoredCells.from_cell_scores(events, dense)
    cells, scores, signal = scored.of_event(2)
    assert cells.tolist() == np.unique(events[2].cell).tolist()
    np.testing.assert_array_equal(scores, dense[2, cells])
    assert signal.sum() == np.unique(events[2].cell[events[2].is_signal]).size
    hit = np.zeros_like(dense, dtype=bool)
    for i, e in enumerate(events):
        hit[i, e.cell] = True
    np.testing.assert_array_equal(scored.dense(), np.where(hit, dense, 0))
    labels = [scored.of_event(i)[2] for i in range(len(events))]
    expected = per_event(labels, [scored.of_event(i)[1] for i in range(len(events))], 0.6)
    for got, want in zip(scored.per_event(0.6), expected, strict=True):
        np.testing.assert_allclose(got, want)
    assert scored.summary().auc == pytest.approx(cell_level(events, dense).auc)
    both = ScoredCells.concatenate([ScoredCells.from_cell_scores(events[:2], dense[:2]),
                                    ScoredCells.from_cell_scores(events[2:], dense[2:])])
    np.testing.assert_array_equal(both.offsets, scored.offsets)
    purity, retention = scored.overall(0.6)
    kept = scored.score >= 0.6
    assert purity == pytest.approx((kept & scored.signal).sum() / kept.sum())
    assert retention == pytest.approx((kept & scored.signal).sum() / scored.signal.sum())


def test_analyze_scores_every_event_fits_tracks_and_the_peer(events, segmenter):
    reports = []
    analysis = drive(iter_analyze(segmenter, events, with_peer=True, batch_size=4,
                                  peer_config=PeerConfig(max_iter=10)), reports.append)
    assert [r.fraction for r in reports] == sorted(r.fraction for r in reports)
    assert reports[-1].fraction == 1.0 and len(analysis.unet.cells) == len(events)
    prediction = drive(segmenter.iter_predict(events, 4))
    for i in range(len(events)):
        cells, scores, _ = analysis.unet.cells.of_event(i)
        np.testing.assert_allclose(scores, prediction.cell_scores[i, cells], atol=1e-5)
        np.testing.assert_allclose(analysis.unet.hit_scores[i], prediction.hit_scores[i],
                                   atol=1e-5)
    assert analysis.unet.threshold == 0.42 and analysis.has_truth and analysis.from_model
    assert analysis.unet.curve.auc == pytest.approx(
        cell_level(events, prediction.cell_scores).auc, abs=1e-4)
    # without re-scoring trees the combined scores are the U-Net's; one fit per event
    assert len(analysis.fits) == len(events) and analysis.scores(True) is analysis.fitted
    np.testing.assert_allclose(analysis.fitted.cells.score, analysis.unet.cells.score,
                               atol=2e-3)
    assert analysis.pt_mev().shape == (len(events),)
    assert analysis.peer_curve is not None and analysis.peer_curve.curve
    alone = drive(iter_analyze(segmenter, events[:2]))
    assert alone.peer_curve is None and len(alone.unet.hit_scores) == 2
    assert alone.peer_unavailable is None and analysis.peer_unavailable is None
    # too few events to cross-fit the peer: the file is still analysed, and says why
    few = drive(iter_analyze(segmenter, events[:3], with_peer=True))
    assert few.peer_curve is None and "at least 4" in few.peer_unavailable


def test_analyze_file_reports_every_event(events, segmenter, tmp_path):
    path = write_events(tmp_path / "events.h5", events)
    result = drive(iter_analyze_file(segmenter, path, tmp_path / "pred.h5"))
    assert result["events"] == len(events) and len(result["per_event"]) == len(events)
    row = result["per_event"][0]
    assert row["event_number"] == events[0].event_number and "track" in row
    assert row["signal_cells"] == np.unique(events[0].cell[events[0].is_signal]).size
    assert set(result["with_fit"]) == {"purity", "retention"}
    stored = drive(iter_open_events(tmp_path / "pred.h5"))
    assert stored.analysis.unet.name == "stored scores (U-Net efficientnet-b0 + track fit)"


def test_stored_predictions_and_opening_files(events, segmenter, tmp_path):
    rng = np.random.default_rng(4)
    scores = [rng.random(e.n_hits).astype(np.float32) for e in events]
    path = write_predictions(tmp_path / "pred.h5", events, scores, {"threshold": 0.3,
                                                                    "encoder": "test-net"})
    opened = drive(iter_open_events(path))
    assert len(opened.events) == len(events) and opened.path == path
    assert opened.analysis.unet.threshold == 0.3 and "test-net" in opened.analysis.unet.name
    assert opened.analysis.fitted is None and not opened.analysis.from_model
    assert opened.scales.trigger_times and opened.trigger_counters
    expected = ScoredCells.from_hit_scores(events, scores)
    np.testing.assert_allclose(opened.analysis.unet.cells.score, expected.score)
    plain = drive(iter_open_events(write_events(tmp_path / "events.h5", events)))
    assert plain.analysis is None and analysis_from_stored_scores(events) is None
    with pytest.raises(InputError, match="empty.h5: holds no event"):
        drive(iter_open_events(write_events(tmp_path / "empty.h5", [])))
    garbage = tmp_path / "junk.root"
    garbage.write_bytes(b"not a file of ours")
    with pytest.raises(InputError, match="junk.root"):
        drive(iter_open_events(garbage))
