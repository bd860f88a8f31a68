"""CDC benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: event generation and image building (events/s, CPU, numpy), model inference
throughput (events/s, batch 16; image building included, every device: the CPU plus CUDA when
available), the track fit (events/s), and purity–retention of the bundled demo model — the
U-Net alone and with the track fit — vs the GBDT peer on freshly generated, calibrated events
at 20, 40 and 60 % occupancy (cell level, the paper's definition; hit level alongside), with
the fitted p_T resolution and the false cells kept in windows without signal; the same on
real-like ICEDUST files (windows drawn from the real file's marginals, in its layout).

Environment variables
---------------------
LABLENS_BENCH_CDC_MODEL
    Model to benchmark instead of the bundled demo model.
LABLENS_BENCH_CDC_EVENTS
    Events per occupancy for the purity–retention table (default 200).
LABLENS_BENCH_CDC_REAL_WINDOWS
    Windows of the larger real-like ICEDUST file, half with a signal track (default 120).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engines.cdc.images import ImageConfig, build_images
from engines.cdc.signal_density import SignalDensity
from engines.cdc.synthetic import generate_events
from engines.core.checkpoint import model_paths
from engines.core.device import describe_device
from engines.core.model import demo_model_path
from engines.core.progress import drive
from tests.benchmarks import print_table

torch = pytest.importorskip("torch")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
OCCUPANCIES = (0.2, 0.4, 0.6)
EVENTS = int(os.environ.get("LABLENS_BENCH_CDC_EVENTS", "200"))
REAL_LIKE_WINDOWS = int(os.environ.get("LABLENS_BENCH_CDC_REAL_WINDOWS", "120"))
BENCH_SEED = 70_000  # fresh events: the demo model was trained on seed 1


def _model_path() -> Path:
    path = Path(os.environ.get("LABLENS_BENCH_CDC_MODEL") or demo_model_path("cdc") or "absent")
    if not model_paths(path)[0].is_file():
        pytest.skip(f"no CDC model at {path} (bundled demo model absent)")
    return path


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(64, occupancy=0.4, seed=BENCH_SEED)))


def test_generation_rate():
    start = time.perf_counter()
    drive(generate_events(60, occupancy=0.4, seed=BENCH_SEED + 2))
    seconds = time.perf_counter() - start
    print_table("CDC synthetic events (calibrated background, 40 % occupancy), CPU numpy",
                ["events", "events/s"], [[60, 60 / seconds]])


def test_image_building_rate(events):
    density = SignalDensity.fit(events)
    rows = []
    for fmt in ("reduced", "normal"):
        for selection in ("first", "density"):
            config = ImageConfig(format=fmt, hit_selection=selection)
            build_images(events[:4], config, density)
            start = time.perf_counter()
            for _ in range(3):
                build_images(events, config, density)
            seconds = (time.perf_counter() - start) / 3
            rows.append([fmt, selection, len(events), len(events) / seconds])
    print_table("CDC image building, CPU numpy (40 % occupancy, ~3100 hits/event)",
                ["format", "selection", "events", "events/s"], rows)


@pytest.mark.parametrize("name", DEVICES)
def test_inference_rate(events, name):
    from engines.cdc.model import CdcSegmenter

    segmenter = CdcSegmenter.load(_model_path(), name)
    device = torch.device(name)
    batch = 16
    segmenter.predict_events(events[:batch], batch)   # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    segmenter.predict_events(events, batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    config = segmenter.image_config
    print_table(f"CDC inference, {describe_device(device)}",
                ["encoder", "format", "input", "batch", "events", "events/s"],
                [[segmenter.encoder, config.format, config.input_size, batch, len(events),
                  len(events) / seconds]])


def test_track_fit_rate(events):
    from engines.cdc.model import CdcSegmenter
    from engines.cdc.rescoring import iter_fit_events

    segmenter = CdcSegmenter.load(_model_path(), "cpu")
    scores = drive(segmenter.iter_predict(events)).cell_scores
    start = time.perf_counter()
    drive(iter_fit_events(events, scores, segmenter.fit_config(), segmenter.rescorer()))
    seconds = time.perf_counter() - start
    print_table("CDC track fit (RANSAC + stereo helix + re-scoring), CPU numpy",
                ["events", "events/s"], [[len(events), len(events) / seconds]])


def test_model_vs_peer_by_occupancy():
    from engines.cdc.evaluation import iter_evaluate
    from engines.cdc.model import CdcSegmenter

    segmenter = CdcSegmenter.load(_model_path(), "cuda" if torch.cuda.is_available() else "cpu")
    rows, pt_rows = [], []
    for occupancy in OCCUPANCIES:
        sample = list(drive(generate_events(EVENTS, occupancy=occupancy, seed=BENCH_SEED + 1,
                                            signal_fraction=0.9)))
        result = drive(iter_evaluate(segmenter, sample)).to_json()
        for name, block in (("U-Net + fit", result["with_fit"]), ("U-Net", result),
                            ("GBDT peer", result["peer"])):
            rows.append([f"{occupancy:.0%}", name, block["auc"],
                         block["purity_at_retention_0.9"], block["retention_at_purity_0.9"],
                         block["hit_level"]["auc"],
                         block["hit_level"]["purity_at_retention_0.9"]])
        pt = result["pt_resolution"]
        empty = result["windows_without_signal"]
        pt_rows.append([f"{occupancy:.0%}", pt["found_fraction"], 100 * pt.get("sigma", np.nan),
                        100 * pt.get("bias", np.nan), 100 * pt.get("rms", np.nan),
                        empty["unet_track_fit"].get("false_cells_mean", np.nan),
                        empty["unet"].get("false_cells_mean", np.nan)])
        assert np.isfinite(result["auc"])
    print_table(f"CDC purity-retention, {EVENTS} fresh events per occupancy (cell level; hit level "
                "in the last two columns)",
                ["occupancy", "method", "AUC", "P@R0.9", "R@P0.9", "hit AUC", "hit P@R0.9"], rows)
    print_table("CDC track fit: p_T = 0.3·B·R against the truth, and false cells kept per window "
                "without signal",
                ["occupancy", "found", "σ(p_T) %", "bias %", "RMS %", "false cells (fit)",
                 "false cells (U-Net)"], pt_rows)


def _pooled(events, cell_scores: np.ndarray, cut: float) -> tuple[float, float]:
    """Whole-file cell purity and retention of the cells scored ≥ ``cut``."""
    kept = signal = both = 0
    for i, event in enumerate(events):
        cells = np.unique(event.cell)
        is_signal = np.isin(cells, event.cell[event.is_signal])
        chosen = cell_scores[i, cells] >= cut
        kept, signal, both = (kept + chosen.sum(), signal + is_signal.sum(),
                              both + (chosen & is_signal).sum())
    return float(both / max(kept, 1)), float(both / max(signal, 1))


@pytest.mark.parametrize("windows, signal_windows", [(25, 2), (REAL_LIKE_WINDOWS, None)])
def test_real_like_icedust_file(tmp_path, windows, signal_windows):
    """Windows drawn from the real file's marginals at its occupancy (fresh seeds), written in
    the ICEDUST layout — absolute times, simulation charge units, a CTH tree without times,
    truth branches — and read back as such a file is: the model meets what a real file holds.
    (25, 2) is the real file's shape: 25 windows, the signal track in two."""
    from engines.cdc.evaluation import iter_evaluate
    from engines.cdc.io import read_events
    from engines.cdc.marginals import reference_occupancy
    from engines.cdc.model import CdcSegmenter
    from engines.cdc.rescoring import iter_fit_events
    from engines.cdc.root_io import write_root

    occupancy = reference_occupancy()
    seed = BENCH_SEED + 5 + windows
    if signal_windows is None:
        windows_list = list(drive(generate_events(windows, occupancy, seed, signal_fraction=0.5)))
    else:
        windows_list = list(drive(generate_events(windows, occupancy, seed, signal_fraction=0.0)))
        signal = list(drive(generate_events(signal_windows, occupancy, seed + 1,
                                            signal_fraction=1.0)))
        for k, event in zip(np.linspace(3, windows - 3, signal_windows).astype(int), signal,
                            strict=True):
            windows_list[k] = event
    path = write_root(tmp_path / "real_like.root",
                      [replace(e.without_trigger(), event_number=n)
                       for n, e in enumerate(windows_list)])
    events = list(read_events(path))
    assert not any(e.trigger_time_known for e in events) and events[0].has_mc_truth
    segmenter = CdcSegmenter.load(_model_path(), "cuda" if torch.cuda.is_available() else "cpu")
    prediction = drive(segmenter.iter_predict(events))
    fitted = drive(iter_fit_events(events, prediction.cell_scores, segmenter.fit_config(),
                                   segmenter.rescorer()))
    result = drive(iter_evaluate(segmenter, events, prediction=prediction,
                                 fitted=fitted)).to_json()
    rows = []
    for name, block, pooled in (
            ("U-Net + fit", result["with_fit"],
             _pooled(events, fitted.cell_scores, segmenter.fit_config().threshold)),
            ("U-Net", result, _pooled(events, prediction.cell_scores, segmenter.threshold)),
            ("GBDT peer", result["peer"], ("–", "–"))):
        rows.append([name, block["auc"], block["purity_at_retention_0.9"],
                     block["retention_at_purity_0.9"], *pooled])
    n_signal = sum(1 for e in events if e.n_signal_hits)
    print_table(f"CDC on a real-like ICEDUST file: {len(events)} windows ({n_signal} with the "
                f"signal), occupancy {result['occupancy_mean']:.2f}, no CTH times (cell level; "
                "the last two at the model's own threshold, whole file)",
                ["method", "AUC", "P@R0.9", "R@P0.9", "purity", "retention"], rows)
    pt = result["pt_resolution"]
    empty = result["windows_without_signal"]
    print_table("  … its track fit against fMCMom, and false cells per window without signal",
                ["tracks found", "σ(p_T) %", "bias %", "false cells (fit)", "false cells (U-Net)",
                 "false tracks"],
                [[f"{pt.get('fitted', 0)}/{pt['signal_events']}", 100 * pt.get("sigma", np.nan),
                  100 * pt.get("bias", np.nan), empty["unet_track_fit"].get("false_cells_mean"),
                  empty["unet"].get("false_cells_mean"),
                  empty["unet_track_fit"].get("false_tracks")]])
    assert np.isfinite(result["auc"])


def _real_shaped_drift(drift_ns: np.ndarray) -> np.ndarray:
    """The generator's drift times (v·d, flat over 0–450 ns) mapped onto the real file's signal
    drift-time distribution by quantile matching: the x–t relation that real hits imply if the
    track's closest approach is uniform over the cell (hits over 500 ns, later turns, left out)."""
    from engines.cdc.marginals import reference

    hist = reference()["signal"]["drift_time_ns"]
    edges, counts = np.asarray(hist["edges"]), np.asarray(hist["counts"], float)
    inside = edges[1:] <= 500.0
    cdf = np.r_[0.0, np.cumsum(counts[inside])] / counts[inside].sum()
    times = np.r_[0.0, edges[1:][inside]]
    return np.interp(np.clip(drift_ns / 450.0, 0.0, 1.0), cdf, times)


@pytest.mark.parametrize("occupancy, trigger", [(0.4, True), (0.33, False)])
def test_real_drift_shape(monkeypatch, occupancy, trigger):
    """The track fit's drift features assume t = t0 + v·d; real drift is not linear in d. The
    same events with the signal's drift times through the real file's x–t shape: how much the
    second stage loses when the x–t relation is not the one it was tuned on."""
    import engines.cdc.synthetic as synthetic
    from engines.cdc.evaluation import iter_evaluate
    from engines.cdc.model import CdcSegmenter
    from engines.cdc.synthetic_signal import draw_signal_track

    def real_shaped(rng, config, *args, **kwargs):
        track, candidates = draw_signal_track(rng, config, *args, **kwargs)
        drift = _real_shaped_drift(track.drift_time_ns)
        return replace(track, time_ns=track.time_ns - track.drift_time_ns + drift,
                       drift_time_ns=drift), candidates

    segmenter = CdcSegmenter.load(_model_path(), "cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for shape in ("linear", "real-shaped"):
        if shape == "real-shaped":
            monkeypatch.setattr(synthetic, "draw_signal_track", real_shaped)
        sample = list(drive(generate_events(EVENTS // 2, occupancy, seed=BENCH_SEED + 9,
                                            signal_fraction=0.9)))
        if not trigger:
            sample = [e.without_trigger() for e in sample]
        result = drive(iter_evaluate(segmenter, sample, with_peer=False)).to_json()
        fit, pt = result["with_fit"], result["pt_resolution"]
        rows.append([shape, result["purity_at_retention_0.9"], fit["auc"],
                     fit["purity_at_retention_0.9"], f"{pt['fitted']}/{pt['signal_events']}",
                     100 * pt.get("sigma", np.nan)])
    print_table(f"CDC second stage vs the x–t relation: {EVENTS // 2} events at {occupancy:.0%}"
                f"{'' if trigger else ', no trigger times'} (cell level)",
                ["drift", "U-Net P@R0.9", "fit AUC", "fit P@R0.9", "tracks", "σ(p_T) %"], rows)
    assert rows[0][2] > 0.5
