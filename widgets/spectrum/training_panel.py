"""Training controls (a form over :class:`TrainConfig`) and live loss/accuracy curves."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from engines.spectrum.models import MODELS, PRESETS
from engines.spectrum.options import format_ranges, parse_counts
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm
from widgets.spectrum.log_axis import DecadeAxis

FORM_FIELDS = ["steps", "batch_size", "lr", "val_every", "val_draws", "seed", "gain_drift"]
LABELS = {"lr": "Learning rate", "val_every": "Validate every (steps)",
          "val_draws": "Validation draws per class", "gain_drift": "Gain drift (±, relative)"}
# Editor ranges/steps as documented in TrainConfig (which has no field metadata).
EDITOR_LIMITS = {"steps": (1, 1_000_000, 100, None), "batch_size": (1, 4096, 16, None),
                 "lr": (1e-5, 0.1, 5e-4, 5), "val_every": (1, 100_000, 10, None),
                 "val_draws": (1, 10_000, 8, None), "seed": (0, 2**31 - 1, 1, None),
                 "gain_drift": (0.0, 0.05, 0.001, 4)}


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Loss (log scale) and accuracy over training steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = self.addPlot(row=0, col=0, title="Cross-entropy loss",
                                      axisItems={"left": DecadeAxis("left")})
        self.loss_plot.setLabel("bottom", "Step")
        self.loss_plot.setLabel("left", "Loss")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.15)
        self.accuracy_plot = self.addPlot(row=0, col=1, title="Accuracy")
        self.accuracy_plot.setLabel("bottom", "Step")
        self.accuracy_plot.setLabel("left", "Accuracy")
        self.accuracy_plot.setYRange(0, 1.02, padding=0)
        self.accuracy_plot.showGrid(x=True, y=True, alpha=0.15)
        self.accuracy_plot.addLegend(offset=(-10, -10))
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((20, 50, 140), width=1.2))
        self.batch_curve = self.accuracy_plot.plot(pen=pg.mkPen((150, 170, 200), width=1),
                                                   name="training batch")
        self.val_curve = self.accuracy_plot.plot(pen=pg.mkPen((213, 94, 0), width=2),
                                                 symbol="o", symbolSize=5,
                                                 symbolBrush=(213, 94, 0), name="validation")

    def update_history(self, history: list[dict[str, Any]]) -> None:
        """Redraw from every recorded report (``step``, ``loss``, ``accuracy``,
        ``val_accuracy``)."""
        rows = [h for h in history if "step" in h]
        steps = np.array([h["step"] for h in rows], dtype=np.float64)
        self.loss_curve.setData(steps, np.array([h["loss"] for h in rows]))
        self.batch_curve.setData(steps, np.array([h["accuracy"] for h in rows]))
        val = [(h["step"], h["val_accuracy"]) for h in rows if "val_accuracy" in h]
        self.val_curve.setData(np.array([v[0] for v in val], dtype=np.float64),
                               np.array([v[1] for v in val], dtype=np.float64))

    def reset(self) -> None:
        self.update_history([])


class TrainingPanel(QWidget):
    """Settings on the left, curves on the right; Train/Stop drive the workspace."""

    trainRequested = Signal()
    stopRequested = Signal()
    discardEdited = Signal(str)  # the text of the discard-range editor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = TrainConfig()
        self.arch_combo = QComboBox()
        self.arch_combo.addItems(MODELS.names())
        self.preset_combo = QComboBox()
        self.arch_combo.currentTextChanged.connect(self._fill_presets)
        self.counts_edit = QLineEdit()
        self.counts_edit.setToolTip("Counts per training draw: K, or KMIN:KMAX drawn "
                                    "log-uniformly (paper: 19650 ≈ 2.48 s)")
        self.form = ConfigForm(self._config, fields=FORM_FIELDS)
        for name, (low, high, step, decimals) in EDITOR_LIMITS.items():
            editor = self.form.editors[name]
            if decimals is not None:
                editor.setDecimals(decimals)
            editor.setRange(low, high)
            editor.setSingleStep(step)
            if name in LABELS:
                self.form.layout().labelForField(editor).setText(LABELS[name])
        self.target_check = QCheckBox("Stop at validation accuracy")
        self.target_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.01, value=0.95)
        self.target_check.toggled.connect(self.target_spin.setEnabled)
        self.discard_edit = QLineEdit()
        self.discard_edit.setToolTip("Channel ranges START:STOP the model does not see; also "
                                     "the grey regions on the spectrum plot (drag their edges)")
        self.discard_edit.editingFinished.connect(
            lambda: self.discardEdited.emit(self.discard_edit.text()))
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains on the loaded reference library with fresh RSM-3 draws "
                             "every batch.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves()

        box = QGroupBox("Training settings")
        form = QFormLayout(box)
        form.addRow("Model", self.arch_combo)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Counts per draw", self.counts_edit)
        form.addRow(self.form)
        target = QHBoxLayout()
        target.addWidget(self.target_check)
        target.addWidget(self.target_spin)
        form.addRow(target)
        form.addRow("Discard channels", self.discard_edit)
        left = QVBoxLayout()
        left.addWidget(box)
        left.addLayout(self.run_buttons.row())
        left.addWidget(self.status)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addWidget(self.curves, 1)
        self.set_config(self._config)

    def _fill_presets(self, arch: str) -> None:
        current = self.preset_combo.currentText()
        self.preset_combo.clear()
        self.preset_combo.addItems(list(PRESETS.get(arch, {})))
        index = self.preset_combo.findText(current)
        self.preset_combo.setCurrentIndex(max(index, 0))

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the editors (its discard ranges and model overrides included)."""
        self._config = config
        self.arch_combo.setCurrentText(config.arch)
        self._fill_presets(config.arch)
        self.preset_combo.setCurrentText(config.preset)
        low, high = config.count_range
        self.counts_edit.setText(str(low) if low == high else f"{low}:{high}")
        self.form.set_value(config)
        self.target_check.setChecked(config.target_accuracy is not None)
        self.target_spin.setEnabled(config.target_accuracy is not None)
        if config.target_accuracy is not None:
            self.target_spin.setValue(config.target_accuracy)
        self.show_discard(config.preprocess)

    def show_discard(self, preprocess: PreprocessConfig) -> None:
        self.discard_edit.setText(format_ranges(preprocess.discard))

    def config(self, preprocess: PreprocessConfig, device: str) -> TrainConfig:
        """The edited settings as a validated :class:`TrainConfig` (raises InputError)."""
        arch = self.arch_combo.currentText()
        model_config = self._config.model_config if arch == self._config.arch else {}
        target = self.target_spin.value() if self.target_check.isChecked() else None
        return dataclasses.replace(
            self.form.value(), arch=arch, preset=self.preset_combo.currentText(),
            model_config=dict(model_config), counts=parse_counts(self.counts_edit.text()),
            target_accuracy=target, preprocess=preprocess, device=device)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
