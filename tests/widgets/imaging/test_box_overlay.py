"""Boxes over the image: one path per state, selection by click, move / resize / draw by real
mouse drags, each emitting its signal once on release; drags off the boxes pan the view."""

from __future__ import annotations

import numpy as np
import pytest

from tests.widgets.imaging.image_view_mouse import click, drag
from widgets.imaging.image_view import ImageView

PENS = {"pending": (255, 200, 0), "accepted": (0, 220, 120), "rejected": (255, 60, 200)}


@pytest.fixture
def view(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(np.full((3000, 4000), 90, dtype=np.uint8))
    view.boxes.set_pens(PENS)
    view.boxes.set_boxes(["a", "b", "c"], [(100, 100, 300, 250), (150, 150, 200, 200),
                                           (1000, 1000, 1100, 1080)],
                         ["pending", "accepted", "rejected"])
    view.centre_on(250, 200, zoom=2.0)
    return view


class Recorder:
    def __init__(self, overlay) -> None:
        self.selected, self.edited, self.drawn = [], [], []
        overlay.boxSelected.connect(self.selected.append)
        overlay.boxEdited.connect(lambda box_id, rect: self.edited.append((box_id, rect)))
        overlay.boxDrawn.connect(self.drawn.append)


def test_a_thousand_boxes_make_one_path_per_state(qtbot):
    from widgets.imaging.box_overlay import BoxOverlay

    overlay = BoxOverlay(PENS)
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 7000, (1000, 2))
    rects = np.column_stack([corner, corner + rng.uniform(10, 200, (1000, 2))])
    states = list(rng.choice(list(PENS), 1000))
    overlay.set_boxes(list(range(1000)), rects, states)
    assert set(overlay._paths) == set(PENS)
    assert sum(p.elementCount() for p in overlay._paths.values()) == 1000 * 5   # 5 per rect
    overlay.select(17)
    assert sum(p.elementCount() for p in overlay._paths.values()) == 999 * 5
    overlay.set_boxes(list(range(500)), rects[:500], states[:500])
    assert overlay.selected_id == 17                       # kept: still there
    overlay.set_boxes([1, 2], rects[:2])
    assert overlay.selected_id is None
    with pytest.raises(ValueError, match="unique"):
        overlay.set_boxes([1, 1], rects[:2])


def test_click_selects_the_smallest_box_and_a_click_elsewhere_clears(view, qtbot):
    seen = Recorder(view.boxes)
    clicks = []
    view.objectClicked.connect(lambda x, y: clicks.append((x, y)))
    click(view, 175, 175)                       # inside a and b: b is smaller
    assert seen.selected == ["b"] and view.boxes.selected_id == "b"
    assert clicks == []                         # the box took the click
    click(view, 120, 230)
    assert seen.selected == ["b", "a"]
    click(view, 400, 300)                       # empty image
    assert seen.selected == ["b", "a", None] and view.boxes.selected_id is None
    assert len(clicks) == 1                     # ... and the view reports the click
    assert seen.edited == [] and seen.drawn == []


def test_moving_the_selected_box_emits_one_edit_on_release(view, qtbot):
    seen = Recorder(view.boxes)
    view.boxes.select("a")
    steps = []
    drag(view, (250, 120), (290, 150), on_step=lambda i: steps.append(len(seen.edited)))
    assert steps == [0] * len(steps)            # nothing while the mouse moves
    assert len(seen.edited) == 1
    box_id, rect = seen.edited[0]
    assert box_id == "a"
    np.testing.assert_allclose(rect, (140, 130, 340, 280), atol=1.0)
    np.testing.assert_allclose(view.boxes.rect_of("a"), rect)     # shown until set_boxes


def test_resizing_by_a_corner_and_by_an_edge(view, qtbot):
    seen = Recorder(view.boxes)
    view.boxes.select("a")
    drag(view, (300, 250), (330, 270))          # bottom-right handle
    box_id, rect = seen.edited[-1]
    np.testing.assert_allclose(rect, (100, 100, 330, 270), atol=1.0)
    view.boxes.set_boxes(["a"], [rect], ["pending"])      # the workspace answers
    drag(view, (100, 180), (120, 180))          # left edge
    np.testing.assert_allclose(seen.edited[-1][1], (120, 100, 330, 270), atol=1.0)
    assert len(seen.edited) == 2


def test_dragging_an_unselected_box_selects_and_moves_it(view, qtbot):
    seen = Recorder(view.boxes)
    drag(view, (170, 170), (180, 190))
    assert seen.selected == ["b"]
    np.testing.assert_allclose(seen.edited[0][1], (160, 170, 210, 220), atol=1.0)


def test_draw_mode_emits_one_new_box(view, qtbot):
    seen = Recorder(view.boxes)
    view.boxes.set_draw_mode(True)
    drag(view, (340, 260), (400, 300))
    assert len(seen.drawn) == 1
    np.testing.assert_allclose(seen.drawn[0], (340, 260, 400, 300), atol=1.0)
    drag(view, (390, 290), (391, 290))          # a click-sized drag is no box
    assert len(seen.drawn) == 1
    assert seen.edited == [] and seen.selected == []
    view.boxes.set_draw_mode(False)


def test_a_drag_away_from_boxes_pans_and_emits_nothing(view, qtbot):
    seen = Recorder(view.boxes)
    before = view.view.viewRect().center()
    drag(view, (380, 280), (340, 260))
    after = view.view.viewRect().center()
    assert after.x() == pytest.approx(before.x() + 40, abs=2)
    assert after.y() == pytest.approx(before.y() + 20, abs=2)
    assert seen.edited == [] and seen.drawn == [] and seen.selected == []


def test_edits_stay_inside_the_image(view, qtbot):
    seen = Recorder(view.boxes)
    view.boxes.select("a")
    view.centre_on(100, 100, zoom=1.0)
    drag(view, (200, 180), (-100, -100))        # move past the top-left corner
    np.testing.assert_allclose(seen.edited[0][1], (0, 0, 200, 150), atol=1.0)
