"""Training controls (forms over :class:`TrainConfig` and :class:`ImageConfig`) and live
curves: the loss of every step and the validation PR-AUC of every epoch."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engines.cdc.images import FORMATS, HIT_SELECTIONS, SCALINGS, ImageConfig
from engines.cdc.model import ENCODERS
from engines.cdc.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm

TRAIN_FIELDS = ["epochs", "batch_size", "lr", "weight_decay", "warmup_fraction", "ema_decay",
                "pos_weight", "seed"]
# editor ranges/steps as documented in TrainConfig: (low, high, step, decimals)
EDITOR_LIMITS = {"epochs": (1, 1000, 1, None), "batch_size": (1, 1024, 8, None),
                 "lr": (1e-6, 1.0, 5e-4, 6), "weight_decay": (0.0, 1.0, 1e-3, 5),
                 "warmup_fraction": (0.0, 0.5, 0.05, 3), "ema_decay": (0.0, 0.9999, 0.001, 4),
                 "pos_weight": (0.1, 100.0, 0.5, 2), "seed": (0, 2**31 - 1, 1, None)}
LABELS = {"lr": "Peak learning rate", "ema_decay": "EMA decay", "pos_weight":
          "Signal pixel weight", "warmup_fraction": "Warm-up fraction"}
PRESETS: dict[str, tuple[ImageConfig, TrainConfig]] = {
    "CPU demo (b0, 142 px, 5 epochs)": (
        ImageConfig(input_size=142, scaling="limited"),
        TrainConfig(encoder="efficientnet-b0", epochs=5, batch_size=8, pos_weight=5.0)),
    "Paper (b2, 288 px, 30 epochs, GPU)": (ImageConfig(), TrainConfig()),
}


def _combo(values: tuple[str, ...] | list[str]) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(values))
    return combo


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Training loss per step and validation AUC per epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = self.addPlot(row=0, col=0, title="Training loss (masked BCE)")
        self.loss_plot.setLabel("bottom", "Step")
        self.loss_plot.setLabel("left", "Loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.15)
        self.loss_plot.addLegend(offset=(-10, 10))
        self.auc_plot = self.addPlot(row=0, col=1, title="Validation purity–retention AUC")
        self.auc_plot.setLabel("bottom", "Epoch")
        self.auc_plot.setLabel("left", "AUC (cell level)")
        self.auc_plot.showGrid(x=True, y=True, alpha=0.15)
        for plot in (self.loss_plot, self.auc_plot):  # AUC 0.04, never "40 (x0.001)"
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.step_curve = self.loss_plot.plot(pen=pg.mkPen((150, 170, 200), width=1),
                                              name="step")
        self.epoch_curve = self.loss_plot.plot(pen=pg.mkPen((0, 114, 178), width=2), symbol="o",
                                               symbolSize=6, symbolBrush=(0, 114, 178),
                                               name="epoch mean")
        self.auc_curve = self.auc_plot.plot(pen=pg.mkPen((213, 94, 0), width=2), symbol="o",
                                            symbolSize=7, symbolBrush=(213, 94, 0))

    def update_history(self, history: list[dict[str, Any]]) -> None:
        """Redraw from every recorded report (``step``, ``loss``; ``val_auc``, ``train_loss``)."""
        steps = [h for h in history if "loss" in h]
        self.step_curve.setData(np.array([h["step"] for h in steps], dtype=float),
                                np.array([h["loss"] for h in steps], dtype=float))
        epochs = [h for h in history if "val_auc" in h]
        x = np.array([h["step"] for h in epochs], dtype=float)
        self.epoch_curve.setData(x, np.array([h["train_loss"] for h in epochs], dtype=float))
        self.auc_curve.setData(np.array([h["epoch"] for h in epochs], dtype=float),
                               np.array([h["val_auc"] for h in epochs], dtype=float))

    def reset(self) -> None:
        self.update_history([])


class TrainingPanel(QWidget):
    """Emits :attr:`trainRequested` / :attr:`stopRequested`; :meth:`configs` reads the forms."""

    trainRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        image, train = next(iter(PRESETS.values()))
        self.preset_combo = _combo(list(PRESETS))
        self.preset_combo.currentTextChanged.connect(lambda name: self.set_configs(*PRESETS[name]))
        self.encoder_combo = _combo(ENCODERS)
        self.form = ConfigForm(train, TRAIN_FIELDS)
        for name, (low, high, step, decimals) in EDITOR_LIMITS.items():
            editor = self.form.editors[name]
            if decimals is not None:
                editor.setDecimals(decimals)
            editor.setRange(low, high)
            editor.setSingleStep(step)
            if name in LABELS:
                self.form.layout().labelForField(editor).setText(LABELS[name])
        self.format_combo = _combo(list(FORMATS))
        self.selection_combo = _combo(HIT_SELECTIONS)
        self.scaling_combo = _combo(SCALINGS)
        self.input_spin = QSpinBox(minimum=32, maximum=1024, singleStep=16)
        self.bits_spin = QSpinBox(minimum=1, maximum=16)
        self.delta_phi_check = QCheckBox("Δφ channel (3 channels)")
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains a U-Net on the events of the open file (they need truth): "
                             "80/10/10 split stratified by signal hits, the epoch with the best "
                             "validation AUC is kept.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves()

        model_box = QGroupBox("Model and image")
        model_form = QFormLayout(model_box)
        model_form.addRow("Preset", self.preset_combo)
        model_form.addRow("Encoder", self.encoder_combo)
        model_form.addRow("Image format", self.format_combo)
        model_form.addRow("Input size (px)", self.input_spin)
        model_form.addRow("Multi-hit cells", self.selection_combo)
        model_form.addRow("Scaling", self.scaling_combo)
        model_form.addRow("Bits", self.bits_spin)
        model_form.addRow(self.delta_phi_check)
        train_box = QGroupBox("Optimisation (AdamW, cosine with warm-up)")
        QVBoxLayout(train_box).addWidget(self.form)
        left = QVBoxLayout()
        left.addWidget(model_box)
        left.addWidget(train_box)
        left.addLayout(self.run_buttons.row())
        left.addWidget(self.status)
        left.addStretch(1)
        holder = QWidget()
        holder.setLayout(left)
        holder.setMaximumWidth(380)
        layout = QHBoxLayout(self)
        layout.addWidget(holder)
        layout.addWidget(self.curves, 1)
        self.set_configs(image, train)

    def set_configs(self, image: ImageConfig, train: TrainConfig) -> None:
        """Show ``image`` and ``train`` in the editors."""
        self._image, self._train = image, train
        self.encoder_combo.setCurrentText(train.encoder)
        self.form.set_value(train)
        self.format_combo.setCurrentText(image.format)
        self.selection_combo.setCurrentText(image.hit_selection)
        self.scaling_combo.setCurrentText(image.scaling)
        self.input_spin.setValue(image.input_size)
        self.bits_spin.setValue(image.bits)
        self.delta_phi_check.setChecked(image.delta_phi)

    def configs(self, device: str) -> tuple[ImageConfig, TrainConfig]:
        """The edited settings (validated by the dataclasses: InputError when out of range)."""
        image = dataclasses.replace(
            self._image, format=self.format_combo.currentText(),
            input_size=self.input_spin.value(), hit_selection=self.selection_combo.currentText(),
            scaling=self.scaling_combo.currentText(), bits=self.bits_spin.value(),
            delta_phi=self.delta_phi_check.isChecked())
        train = dataclasses.replace(self.form.value(), encoder=self.encoder_combo.currentText(),
                                    device=device)
        return image, train

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
