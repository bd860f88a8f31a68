"""Score the U-Net and the GBDT peer on the same events (``cdc evaluate``)."""

from __future__ import annotations

from collections.abc import Generator, Sequence

import numpy as np

from engines.cdc.events import Event
from engines.cdc.metrics import EvaluationResult, ScorerResult, hit_scores_to_cells
from engines.cdc.model import CdcSegmenter, Prediction
from engines.cdc.peer import PeerConfig, iter_cross_fit
from engines.core.errors import InputError
from engines.core.progress import Progress, forward


def iter_evaluate(segmenter: CdcSegmenter, events: Sequence[Event], with_peer: bool = True,
                  threshold: float | None = None, batch_size: int = 16,
                  peer_config: PeerConfig | None = None, prediction: Prediction | None = None
                  ) -> Generator[Progress, None, EvaluationResult]:
    """Purity–retention of the model (and the peer) on ``events`` with truth.

    Parameters
    ----------
    threshold
        Cut for the per-event figures; None uses the model's stored threshold. The peer's
        per-event cut is the one that keeps 90 % of the signal cells of these events.
    with_peer
        Also fit and score the GBDT peer by 2-fold cross-fitting on the same events.
    prediction
        The model's scores of these events when already computed (e.g. by the GUI's
        Analyze); the model is then not run again.

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
    model_span = 0.6 if with_peer else 1.0
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
    peer = None
    if with_peer:
        peer_scores = yield from forward(iter_cross_fit(events, peer_config), model_span,
                                          1.0 - model_span, "")
        peer = ScorerResult.measure("gbdt_cross_fit", events,
                                    hit_scores_to_cells(events, peer_scores), peer_scores)
    occupancy = float(np.mean([e.occupancy for e in events]))
    notes = {"encoder": segmenter.encoder, "image_config": segmenter.image_config.to_json()}
    return EvaluationResult(model, peer, len(events), occupancy, notes)
