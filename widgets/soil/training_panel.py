"""Training controls for the surrogate (a form over :class:`engines.soil.training.TrainConfig`),
transfer learning of the current model's dense head (a form over
:class:`engines.soil.transfer.TransferConfig`) and live curves: the MSE loss of every step and
the held-out RMSE of every epoch."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QWidget,
)

from engines.soil.training import TrainConfig
from engines.soil.transfer import TransferConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm
from widgets.common.training_curves import CurvePlot, Series, TrainingCurves
from widgets.common.training_layout import group_box, lay_out_training_page

FIELDS = ["arch", "target", "input_size", "epochs", "batch_size", "lr", "weight_decay",
          "val_fraction", "augment", "patience", "seed", "max_minutes"]
TRANSFER_FIELDS = ["target", "epochs", "batch_size", "lr", "reset_head", "max_minutes"]
PRESETS: dict[str, TrainConfig] = {
    "CPU (light VGG, 64 px, 24 epochs)": TrainConfig(arch="vgg_light", input_size=64, epochs=24,
                                                      patience=8, max_minutes=10.0),
    "Paper (VGG16, crop size, 40 epochs, GPU)": TrainConfig(arch="vgg16"),
}
CURVES = (CurvePlot("Training loss (MSE of the porosity)", "MSE",
                    (Series("loss", "step"), Series("train_loss", "epoch mean", True)),
                    log_y=True),
          CurvePlot("Held-out slices", "RMSE of the porosity",
                    (Series("val_rmse", "validation", True),), x="epoch"))


class TrainingPanel(QWidget):
    """Emits :attr:`trainRequested` / :attr:`stopRequested`; :meth:`config` reads the form."""

    trainRequested = Signal()
    transferRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        first = next(iter(PRESETS.values()))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.currentTextChanged.connect(lambda name: self.set_config(PRESETS[name]))
        self.form = ConfigForm(first, FIELDS)
        self.form.insert_row(0, "Preset", self.preset_combo)
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains the surrogate regression on the ticked cores of the core "
                             "list: every slice of their crops is an input (object bands 1+2, "
                             "3+4, 5+6 as three channels), the porosity of the target object "
                             "in it the label; a random share of the slices is held out and "
                             "the epoch with the lowest held-out RMSE is kept.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves(CURVES)
        self.transfer_form = ConfigForm(TransferConfig(epochs=20, max_minutes=5.0),
                                        TRANSFER_FIELDS)
        self.transfer_button = QPushButton("Transfer the current model")
        self.transfer_button.setToolTip("Keep the current model's convolutional layers and "
                                        "retrain its dense head on another object (the "
                                        "paper's transfer learning, Table 1)")
        self.transfer_button.clicked.connect(self.transferRequested)
        lay_out_training_page(self, [
            group_box("Surrogate network and optimisation (Adam)", self.form),
            self.run_buttons.row(),
            group_box("Transfer learning: the dense head only", self.transfer_form,
                      self.transfer_button),
            self.status], self.curves, width=430)

    def set_config(self, config: TrainConfig) -> None:
        self.form.set_value(config)

    def config(self, device: str) -> TrainConfig:
        """The edited settings (InputError when a value is out of range)."""
        return self.form.value(device=device)

    def transfer_config(self, device: str) -> TransferConfig:
        return self.transfer_form.value(device=device)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
        self.transfer_button.setEnabled(not running)
