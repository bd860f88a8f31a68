"""Training controls (forms over :class:`TrainConfig` and :class:`ImageConfig`) and live
curves: the loss of every step and the validation PR-AUC of every epoch."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QWidget,
)

from engines.cdc.images import ImageConfig
from engines.cdc.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm, align_forms
from widgets.common.training_curves import CurvePlot, Series, TrainingCurves
from widgets.common.training_layout import group_box, lay_out_training_page

NET_FIELDS = ["arch", "encoder", "width"]
TRAIN_FIELDS = ["epochs", "batch_size", "lr", "weight_decay", "warmup_fraction", "ema_decay",
                "pos_weight", "no_trigger_fraction", "seed", "max_minutes"]
IMAGE_FIELDS = ["format", "input_size", "hit_selection", "scaling", "bits", "delta_phi"]
PRESETS: dict[str, tuple[ImageConfig, TrainConfig]] = {
    "CPU (light U-Net, 30 epochs)": (  # the demo model's settings
        ImageConfig(input_size=71),
        TrainConfig(arch="light_unet", width=16, epochs=30, batch_size=16, pos_weight=3.0,
                    ema_decay=0.99, warmup_fraction=0.05)),
    "CPU (b0, 142 px, 5 epochs)": (
        ImageConfig(input_size=142, scaling="limited"),
        TrainConfig(encoder="efficientnet-b0", epochs=5, batch_size=8, pos_weight=5.0)),
    "Paper (b2, 288 px, 30 epochs, GPU)": (ImageConfig(), TrainConfig()),
}
CURVES = (CurvePlot("Training loss (masked BCE)", "Loss",
                    (Series("loss", "step"), Series("train_loss", "epoch mean", True))),
          CurvePlot("Validation purity–retention AUC", "AUC (cell level)",
                    (Series("val_auc", "validation", True),), x="epoch"))


class TrainingPanel(QWidget):
    """Emits :attr:`trainRequested` / :attr:`stopRequested`; :meth:`configs` reads the forms."""

    trainRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        image, train = next(iter(PRESETS.values()))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.currentTextChanged.connect(lambda name: self.set_configs(*PRESETS[name]))
        self.encoder_form = ConfigForm(train, NET_FIELDS)
        self.form = ConfigForm(train, TRAIN_FIELDS)
        self.image_form = ConfigForm(image, IMAGE_FIELDS)
        self.encoder_form.insert_row(0, "Preset", self.preset_combo)
        align_forms(self.encoder_form, self.image_form, self.form)
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains a U-Net on the events of the open file (they need truth): "
                             "80/10/10 split stratified by signal hits, the epoch with the best "
                             "validation AUC is kept.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves(CURVES)

        lay_out_training_page(self, [
            group_box("Model and image", self.encoder_form, self.image_form),
            group_box("Optimisation (AdamW, cosine with warm-up)", self.form),
            self.run_buttons.row(), self.status], self.curves, width=430)
        arch = self.encoder_form.editors["arch"]
        arch.currentIndexChanged.connect(lambda _i: self._arch_changed())
        self.set_configs(image, train)

    def _arch_changed(self) -> None:
        """The light U-Net runs at the grid's own size and has no encoder: those two fields are
        greyed out for it (and the width for the EfficientNet U-Net)."""
        light = self.encoder_form.value().arch == "light_unet"
        self.encoder_form.editors["encoder"].setEnabled(not light)
        self.encoder_form.editors["width"].setEnabled(light)
        self.image_form.editors["input_size"].setEnabled(not light)

    def set_configs(self, image: ImageConfig, train: TrainConfig) -> None:
        """Show ``image`` and ``train`` in the editors."""
        self.encoder_form.set_value(train)
        self.form.set_value(train)
        self.image_form.set_value(image)
        self._arch_changed()

    def configs(self, device: str) -> tuple[ImageConfig, TrainConfig]:
        """The edited settings (validated by the dataclasses: InputError when out of range)."""
        net = self.encoder_form.value()
        return self.image_form.value(), self.form.value(
            arch=net.arch, encoder=net.encoder, width=net.width, device=device)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
