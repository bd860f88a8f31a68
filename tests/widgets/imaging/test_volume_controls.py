"""The 3-D view's side panel emits what the user asks for (no OpenGL needed)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from widgets.imaging.volume_controls import VolumeControls


@pytest.fixture
def controls(qtbot):
    widget = VolumeControls()
    qtbot.addWidget(widget)
    widget.set_axes((10, 20, 30), ["z I→S", "y A→P", "x R→L"])
    widget.set_legend([(1, "lungs", (0, 0, 255)), (4, "nodule", (255, 0, 0))])
    return widget


def test_clip_sliders_emit_index_ranges_when_clipping_is_on(controls, qtbot):
    seen = []
    controls.clipChanged.connect(seen.append)
    controls.sliders[2].setValue((5, 20))
    assert seen[-1] is None  # clipping off
    controls.clip.setChecked(True)
    assert seen[-1] == ((0, 0, 5), (9, 19, 20))
    assert controls.slider_names[2].text() == "x R→L: 5–20 of 0–29"
    controls.set_clip_values((1, 2, 3), (4, 5, 6))
    assert controls.clip_range() == ((1, 2, 3), (4, 5, 6)) and len(seen) == 2


def test_legend_toggles_and_programmatic_ticks(controls, qtbot):
    with qtbot.waitSignal(controls.labelToggled) as signal:
        controls.legend.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert signal.args == [4, False]
    with qtbot.assertNotEmitted(controls.labelToggled):
        controls.set_label_checked(1, False)
    assert controls.legend.item(0).checkState() == Qt.CheckState.Unchecked


def test_presets_and_sides(controls, qtbot):
    with qtbot.waitSignal(controls.presetChosen) as signal:
        controls.preset.activated.emit(controls.preset.findData("soil_bands"))
    assert signal.args == ["soil_bands"]
    left = next(b for b in controls.findChildren(QToolButton) if b.text() == "L")
    with qtbot.waitSignal(controls.sideChosen) as signal:
        left.click()
    assert signal.args == ["left"]
