"""The readout of one cell under the mouse: where it is, its score, truth and every hit, with
the Monte-Carlo truth the file carries (particle, track, momentum, turn)."""

from __future__ import annotations

import html

import numpy as np

from engines.cdc.display import CellView
from engines.cdc.events import Event, particle_name
from engines.cdc.geometry import get_geometry
from engines.cdc.outcomes import NO_HIT, OUTCOME_NAMES
from widgets.cdc.palette import OUTCOME_COLOURS, qcolor_rgb

MAX_LISTED_HITS = 8


def _number(value: float, fmt: str) -> str:
    return "–" if value is None or not np.isfinite(value) else format(value, fmt)


def _mc_truth(event: Event, index: int) -> str:
    """Table cells with the hit's particle, track, momentum and turn, where the file has them."""
    parts = []
    if event.pid is not None and event.pid[index] != 0:
        parts.append(html.escape(particle_name(event.pid[index])))
    if event.has_mc_truth and event.track_id[index] >= 0:
        parts.append(f"track {int(event.track_id[index])}")
    if event.momentum_mev is not None and np.all(np.isfinite(event.momentum_mev[index])):
        px, py, pz = (float(v) for v in event.momentum_mev[index])
        parts.append(f"p {np.sqrt(px * px + py * py + pz * pz):.1f} MeV/c "
                     f"(p<sub>T</sub> {np.hypot(px, py):.1f})")
    if event.turn_id is not None and event.turn_id[index] >= 0:
        parts.append(f"turn {int(event.turn_id[index])}")
    return f"<td>{', '.join(parts)}</td>" if parts else ""


def cell_report(cell: int, event: Event | None, view: CellView | None, code: int) -> str:
    """Rich text for ``cell``: position, score, truth, outcome and a table of its hits (the
    one the model sees marked ▶, hits hidden by the display window marked as such)."""
    geo = get_geometry()
    layer = int(geo.layer_of_cell[cell])
    wire = int(geo.wire_in_layer[cell])
    if geo.is_guard[cell]:
        where = f"guard layer {layer} (no read-out), wire {wire}"
    else:
        where = (f"layer {layer} (read-out layer {layer - 1}), wire {wire}, "
                 f"channel {int(geo.channel_of_cell[cell])}")
    head = (f"<b>Cell {cell}</b> — {where}; x = {geo.cell_x[cell]:.1f} cm, "
            f"y = {geo.cell_y[cell]:.1f} cm, r = {geo.cell_radius[cell]:.1f} cm")
    if event is None or view is None:
        return head
    n_hits = int(view.n_hits[cell])
    if n_hits == 0:
        return f"{head}<br>no hit in this event"
    parts = []
    if np.isfinite(view.score[cell]):
        parts.append(f"score {view.score[cell]:.3f}")
    if event.has_truth:
        parts.append("truth: <b>signal</b>" if view.signal[cell] else "truth: background")
    if code != NO_HIT:
        colour = qcolor_rgb(OUTCOME_COLOURS[code])
        parts.append(f"<span style='color:{colour}'>■</span> {OUTCOME_NAMES[code]}")
    rows = []
    hits = view.hits_of(event, cell)
    for index in hits[:MAX_LISTED_HITS]:
        mark = "▶" if index == view.selected[cell] else ""
        truth = ("signal" if event.is_signal[index] else "background") if event.has_truth else ""
        score = "" if event.score is None else _number(float(event.score[index]), ".3f")
        hidden = "" if view.hits_in_window[index] else " <i>(outside window)</i>"
        rows.append(f"<tr><td>{mark}</td><td align='right'>{event.time_ns[index]:.1f} ns</td>"
                    f"<td align='right'>charge {event.adc[index]:.4g}</td>"
                    f"<td>{score}</td><td>{truth}{hidden}</td>{_mc_truth(event, index)}</tr>")
    more = "" if len(hits) <= MAX_LISTED_HITS else (
        f"<br>… and {len(hits) - MAX_LISTED_HITS} more hits")
    plural = "hit" if n_hits == 1 else "hits"
    return (f"{head}<br>{html.escape(str(n_hits))} {plural}; " + " · ".join(parts)
            + "<table cellspacing='6'>" + "".join(rows) + "</table>" + more)
