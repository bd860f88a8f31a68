"""Score the U-Net, the U-Net + track fit and the GBDT peer on the same events
(``cdc evaluate``), with the p_T resolution and what happens in windows without signal."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.images import cell_scores_to_hits
from engines.cdc.metrics import EvaluationResult, ScorerResult, hit_cell_truth, hit_scores_to_cells
from engines.cdc.model import CdcSegmenter, Prediction
from engines.cdc.peer import PeerConfig, iter_cross_fit
from engines.cdc.rescoring import EventFits, iter_fit_events
from engines.cdc.trackfit import pt_resolution
from engines.core.errors import InputError
from engines.core.progress import Progress, forward


def window_summary(events: Sequence[Event], cell_scores: np.ndarray, threshold: float,
                   fits=None) -> dict[str, Any]:
    """Cells kept at ``threshold`` in events without signal hits (false cells) and, with
    ``fits``, how many of them got a (false) track."""
    hit, signal = hit_cell_truth(events)
    empty = [i for i, e in enumerate(events) if e.n_signal_hits == 0]
    kept = np.array([np.count_nonzero(hit[i] & (cell_scores[i] >= threshold)) for i in empty])
    out: dict[str, Any] = {"windows": len(empty)}
    if empty:
        out.update(false_cells_mean=float(kept.mean()), false_cells_max=int(kept.max()),
                   false_cells_total=int(kept.sum()),
                   windows_with_false_cells=int(np.count_nonzero(kept)))
        if fits is not None:
            out["false_tracks"] = int(sum(fits[i].found for i in empty))
    return out


def iter_evaluate(segmenter: CdcSegmenter, events: Sequence[Event], with_peer: bool = True,
                  threshold: float | None = None, batch_size: int = 16,
                  peer_config: PeerConfig | None = None, prediction: Prediction | None = None,
                  fitted: EventFits | None = None
                  ) -> Generator[Progress, None, EvaluationResult]:
    """Purity–retention of the model, the model + track fit (and the peer) on ``events``.

    Parameters
    ----------
    threshold
        Cut for the U-Net's per-event figures; None uses the model's stored threshold (the
        track fit's combined score uses its own tuned threshold). The peer's per-event cut is
        the one that keeps 90 % of the signal cells of these events.
    with_peer
        Also fit and score the GBDT peer by 2-fold cross-fitting on the same events. Where
        the events cannot be cross-fitted (fewer than two with signal) the peer is left out
        and the reason is noted under ``peer_unavailable``.
    prediction, fitted
        The model's scores (and the fits) of these events when already computed (e.g. by
        the GUI's Analyze); they are then not computed again.

    Returns
    -------
    :class:`EvaluationResult`; ``to_json()`` is the ``cdc evaluate`` output.
    """
    events = list(events)
    if not events:
        raise InputError("no events to evaluate")
    if not all(e.has_truth for e in events):
        raise InputError("evaluation needs events with truth (is_signal)")
    if not any(e.n_signal_hits for e in events):
        raise InputError("the events contain no signal hit: purity and retention are undefined")
    model_span = 0.5 if with_peer else 0.9
    if prediction is None:
        prediction = yield from forward(segmenter.iter_predict(events, batch_size), 0.0,
                                         model_span, "model: ")
    elif len(prediction.hit_scores) != len(events):
        raise InputError(f"{len(prediction.hit_scores)} predictions for {len(events)} events")
    else:
        model_span = 0.0
    cut = segmenter.threshold if threshold is None else float(threshold)
    model = ScorerResult.measure("unet", events, prediction.cell_scores, prediction.hit_scores,
                                 cut)
    fit_config = segmenter.fit_config()
    if fitted is None:
        fitted = yield from forward(iter_fit_events(events, prediction.cell_scores, fit_config,
                                                    segmenter.rescorer()),
                                    model_span, 0.1, "track fit: ")
    fitted_hits = cell_scores_to_hits(events, fitted.cell_scores, segmenter.image_config,
                                      segmenter.density)
    with_fit = ScorerResult.measure("unet_track_fit", events, fitted.cell_scores, fitted_hits,
                                    fit_config.threshold)
    peer, peer_unavailable = None, None
    if with_peer:
        try:
            peer_scores = yield from forward(iter_cross_fit(events, peer_config),
                                             model_span + 0.1, 0.9 - model_span, "")
        except InputError as exc:  # too few events with signal to cross-fit
            peer_unavailable = str(exc)
        else:
            peer = ScorerResult.measure("gbdt_cross_fit", events,
                                        hit_scores_to_cells(events, peer_scores), peer_scores)
    occupancy = float(np.mean([e.occupancy for e in events]))
    notes = {"encoder": segmenter.encoder, "arch": segmenter.arch,
             "image_config": segmenter.image_config.to_json(),
             "pt_resolution": pt_resolution(events, fitted.fits),
             "windows_without_signal": {
                 "unet": window_summary(events, prediction.cell_scores, cut),
                 "unet_track_fit": window_summary(events, fitted.cell_scores,
                                                  fit_config.threshold, fitted.fits)},
             "trigger_time_fraction": float(np.mean([e.trigger_time_known for e in events]))}
    if peer_unavailable:
        notes["peer_unavailable"] = peer_unavailable
    return EvaluationResult(model, peer, len(events), occupancy, notes, with_fit)
