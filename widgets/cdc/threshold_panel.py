"""Threshold on the score with the shown event's purity and retention, the choice between the
U-Net's score and the U-Net + track-fit score, and the display window in hit time and charge.

The figures come from :func:`engines.cdc.outcomes.event_figures` (cell level, all hit cells of
the event); the panel only formats them. The window hides hits from the event display
only; it changes neither the figures nor the model's view (the model sees every hit). Its
slider ranges follow the open file (its times and its log10 charge, 0.1–99.9 %); a handle at
its end means "no limit", and the line under the sliders says so.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider

from engines.cdc.display import HitWindow
from engines.cdc.outcomes import EventFigures

STEPS = 1000  # slider resolution: 0.001 in score
TIME_RANGE_NS = (-1000.0, 1500.0)   # until a file sets its own ranges
LOG_CHARGE_RANGE = (0.0, 4.0)
_SLIDER_KEYS = {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
                Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End}


class KeySlider(QSlider):
    """A slider that keeps its arrow/page/home/end keys when it has the focus (the workspace
    binds the same keys to event navigation)."""

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.key() in _SLIDER_KEYS:
            event.accept()
            return True
        return super().event(event)


def _fmt(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _range_slider(bounds: tuple[float, float], decimals: int) -> QLabeledDoubleRangeSlider:
    slider = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
    slider.setDecimals(decimals)
    slider.setRange(*bounds)
    slider.setValue(bounds)
    return slider


class ThresholdPanel(QWidget):
    """Emits :attr:`thresholdChanged` while the cut moves, :attr:`thresholdSettled` when a drag
    ends (or after a non-drag change), and :attr:`windowChanged` with a :class:`HitWindow`."""

    thresholdChanged = Signal(float)
    thresholdSettled = Signal(float)
    windowChanged = Signal(object)
    fitToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_threshold = 0.5
        self.slider = KeySlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(50)
        self.slider.setToolTip("Cells with a score at or above the cut are kept as signal")
        self.spin = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.01)
        self.reset_button = QPushButton("Model's cut")
        self.reset_button.setEnabled(False)  # until a model or stored scores bring one
        self.reset_button.setToolTip("Back to the model's own threshold (90 % retention on "
                                     "its validation events)")
        self.purity_label = QLabel("Purity –")
        self.retention_label = QLabel("Retention –")
        for label in (self.purity_label, self.retention_label):
            label.setStyleSheet("font-size: 13pt; font-weight: 600")
        self.detail_label = QLabel("")
        self.detail_label.setWordWrap(True)
        self.file_label = QLabel("")
        self.file_label.setWordWrap(True)
        self.use_fit = QCheckBox("Re-score with the track fit")
        self.use_fit.setChecked(True)
        self.use_fit.setToolTip("Score = U-Net score combined with the distance to the fitted "
                                "circle (off: the U-Net's score alone)")
        self.time_range, self.charge_range = TIME_RANGE_NS, LOG_CHARGE_RANGE
        self.time_slider = _range_slider(TIME_RANGE_NS, 0)
        self.adc_slider = _range_slider(LOG_CHARGE_RANGE, 2)
        self.time_title = QLabel("Time from trigger (ns)")
        self.window_reset = QPushButton("Show all hits")
        self.window_label = QLabel("")
        self.window_label.setWordWrap(True)

        cut = QHBoxLayout()
        cut.addWidget(self.slider, 1)
        cut.addWidget(self.spin)
        cut.addWidget(self.reset_button)
        figures = QHBoxLayout()
        figures.addWidget(self.purity_label)
        figures.addStretch(1)
        figures.addWidget(self.retention_label)
        box = QGroupBox("Threshold (cell score)")
        inner = QVBoxLayout(box)
        inner.addLayout(cut)
        inner.addWidget(self.use_fit)
        inner.addLayout(figures)
        inner.addWidget(self.detail_label)
        inner.addWidget(self.file_label)
        window_box = QGroupBox("Display window")
        form = QFormLayout(window_box)
        form.addRow(self.time_title, self.time_slider)
        form.addRow("log10 charge", self.adc_slider)
        reset_row = QHBoxLayout()
        reset_row.addWidget(self.window_label, 1)
        reset_row.addWidget(self.window_reset)
        form.addRow(reset_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        layout.addWidget(window_box)

        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(lambda: self.thresholdSettled.emit(self.threshold))
        self.spin.valueChanged.connect(self._spin_changed)
        self.reset_button.clicked.connect(lambda: self.set_threshold(self.model_threshold))
        self.time_slider.valueChanged.connect(self._window_moved)
        self.adc_slider.valueChanged.connect(self._window_moved)
        self.window_reset.clicked.connect(self.reset_window)
        self.use_fit.toggled.connect(self.fitToggled.emit)
        self.set_threshold(0.5)

    # -- threshold -------------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.spin.value()

    def set_threshold(self, value: float) -> None:
        """Move the cut to ``value`` (emits thresholdChanged and thresholdSettled)."""
        self.spin.setValue(min(max(float(value), 0.0), 1.0))

    def set_model_threshold(self, value: float) -> None:
        self.model_threshold = float(value)
        self.reset_button.setEnabled(True)
        self.reset_button.setToolTip(f"Back to the model's own threshold {value:.3f}")

    def _slider_moved(self, position: int) -> None:
        value = position / STEPS
        if abs(value - self.spin.value()) >= 0.5 / STEPS:
            self.spin.blockSignals(True)
            self.spin.setValue(value)
            self.spin.blockSignals(False)
            self.thresholdChanged.emit(value)
            if not self.slider.isSliderDown():
                self.thresholdSettled.emit(value)

    def _spin_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * STEPS))
        self.slider.blockSignals(False)
        self.thresholdChanged.emit(value)
        self.thresholdSettled.emit(value)

    def show_figures(self, figures: EventFigures | None, message: str = "") -> None:
        """The shown event's figures at the cut, or ``message`` when there are none."""
        if figures is None or not figures.has_scores:
            self.purity_label.setText("Purity –")
            self.retention_label.setText("Retention –")
            self.detail_label.setText(message)
            return
        self.purity_label.setText(f"Purity {_fmt(figures.purity)}")
        self.retention_label.setText(f"Retention {_fmt(figures.retention)}")
        if figures.has_truth:
            detail = (f"This event, cell level: {figures.true_positive} true positive, "
                      f"{figures.false_positive} false positive, {figures.missed} missed of "
                      f"{figures.signal_cells} signal cells; {figures.background} background "
                      f"cells rejected.")
        else:
            detail = (f"This event: {figures.kept} of {figures.hit_cells} hit cells kept "
                      "(the file has no truth, so purity and retention are unknown).")
        self.detail_label.setText(detail + (f" {message}" if message else ""))

    def show_file_figures(self, purity: float | None, retention: float | None) -> None:
        """Whole-file purity/retention at the cut (None hides the line)."""
        if purity is None or retention is None:
            self.file_label.setText("")
        else:
            self.file_label.setText(f"Whole file at this cut: purity {_fmt(purity)}, "
                                    f"retention {_fmt(retention)}")

    # -- display window --------------------------------------------------------------------------
    def set_ranges(self, time_ns: tuple[float, float], log10_charge: tuple[float, float],
                   trigger_times: bool) -> None:
        """Slider ranges from the open file (its hit times and log10 charge), all hits shown."""
        self.time_range = (float(np.floor(time_ns[0] / 10) * 10),
                           float(np.ceil(time_ns[1] / 10) * 10))
        self.charge_range = (float(np.floor(log10_charge[0] * 10) / 10),
                             float(np.ceil(log10_charge[1] * 10) / 10))
        self.time_title.setText("Time from trigger (ns)" if trigger_times
                                else "Time, file clock (ns)")
        for slider, bounds in ((self.time_slider, self.time_range),
                               (self.adc_slider, self.charge_range)):
            slider.blockSignals(True)
            slider.setRange(*bounds)
            slider.setValue(bounds)
            slider.blockSignals(False)
        self._window_moved(None)

    def hit_window(self) -> HitWindow:
        """The window; a handle at its slider's end means no limit on that side."""
        def bounds(values: tuple[float, float], full: tuple[float, float]) -> tuple[float, float]:
            low, high = values
            return (-math.inf if low <= full[0] else low, math.inf if high >= full[1] else high)

        low, high = bounds(self.adc_slider.value(), self.charge_range)
        return HitWindow(bounds(self.time_slider.value(), self.time_range),
                         (-math.inf if math.isinf(low) else 10.0 ** low,
                          math.inf if math.isinf(high) else 10.0 ** high))

    def set_window(self, time_ns: tuple[float, float], charge: tuple[float, float]) -> None:
        """Show hits with times in ``time_ns`` and charges in ``charge`` (file units)."""
        lo, hi = self.time_range
        self.time_slider.setValue(tuple(min(max(v, lo), hi) for v in time_ns))
        lo, hi = self.charge_range
        self.adc_slider.setValue(tuple(min(max(math.log10(max(v, 1e-3)), lo), hi)
                                       for v in charge))

    def reset_window(self) -> None:
        self.time_slider.setValue(self.time_range)
        self.adc_slider.setValue(self.charge_range)

    def show_window_count(self, shown: int, total: int) -> None:
        self.window_label.setText(f"Shown: {shown:,} of {total:,} hits; "
                                  f"{self.hit_window().describe()}")

    def _window_moved(self, _value) -> None:
        self.windowChanged.emit(self.hit_window())
