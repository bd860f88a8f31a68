"""Training controls (forms over :class:`engines.sem.training.TrainConfig` and
:class:`engines.sem.preprocessing.Preprocessing`) and live curves: the loss of every step and
the validation mean IU, pixel accuracy and max-vote object accuracy of every validation."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QWidget,
)

from engines.sem.preprocessing import Preprocessing
from engines.sem.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm, align_forms
from widgets.common.training_curves import CurvePlot, Series, TrainingCurves
from widgets.common.training_layout import group_box, lay_out_training_page

MODEL_FIELDS = ["arch", "window", "rotate", "jitter"]
INPUT_FIELDS = ["in_channels", "scale"]
FIT_FIELDS = ["epochs", "steps", "batch_size", "validations", "lr", "weight_decay",
              "warmup_fraction", "ema_decay", "max_minutes", "seed"]
#: where the weights start: ("demo" | "random", text)
STARTS = (("demo", "the bundled demo model (fine-tune)"), ("random", "random weights"))
PRESETS: dict[str, tuple[Preprocessing, TrainConfig]] = {
    "CPU (ResNet-18 U-Net lite, half scale, 128 px, 5 min)": (
        Preprocessing(scale=0.5),
        TrainConfig(window=128, batch_size=16, validations=3, lr=2e-3, ema_decay=0.995,
                    max_minutes=5.0)),
    "Paper (FCN-8s / VGG16, full scale, 512 px, GPU)": (
        Preprocessing(), TrainConfig(arch="fcn8s-vgg16", window=512, batch_size=4, lr=1e-4)),
}
CURVES = (CurvePlot("Training loss (cross-entropy)", "Loss",
                    (Series("loss", "step"), Series("train_loss", "mean since validation",
                                                    True))),
          CurvePlot("Validation", "Score", (Series("val_mean_iu", "mean IU", True),
                                            Series("val_pixel_accuracy", "pixel accuracy", True),
                                            Series("val_object_accuracy", "object accuracy",
                                                   True)),
                    y_range=(0.0, 1.0)))


class TrainingPanel(QWidget):
    """Emits :attr:`trainRequested` / :attr:`stopRequested`; :meth:`configs` reads the forms."""

    trainRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        preprocessing, train = next(iter(PRESETS.values()))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.currentTextChanged.connect(
            lambda name: self.set_configs(*PRESETS[name]))
        self.start_combo = QComboBox()
        for key, text in STARTS:
            self.start_combo.addItem(text, key)
        self.start_combo.setToolTip("Fine-tuning is the paper's biggest lever (55.50 % from "
                                    "scratch, 87.98 % fine-tuned)")
        self.model_form = ConfigForm(train, MODEL_FIELDS)
        self.input_form = ConfigForm(preprocessing, INPUT_FIELDS)
        self.form = ConfigForm(train, FIT_FIELDS)
        self.model_form.insert_row(0, "Preset", self.preset_combo)
        self.model_form.insert_row(1, "Start from", self.start_combo)
        align_forms(self.model_form, self.input_form, self.form)
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains on the train split of the open data set, validates on its "
                             "val split (tiled, stitched) and keeps the weights of the best "
                             "validation mean IU. Crops are class-balanced by a stride per "
                             "class, rotated and flipped.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves(CURVES)

        lay_out_training_page(self, [
            group_box("Model and input", self.model_form, self.input_form),
            group_box("Optimisation (AdamW, cosine with warm-up)", self.form),
            self.run_buttons.row(), self.status], self.curves)
        self.set_configs(preprocessing, train)

    def set_configs(self, preprocessing: Preprocessing, train: TrainConfig) -> None:
        """Show ``preprocessing`` and ``train`` in the editors."""
        self.model_form.set_value(train)
        self.form.set_value(train)
        self.input_form.set_value(preprocessing)

    def configs(self, device: str) -> tuple[Preprocessing, TrainConfig]:
        """The edited settings (validated by the dataclasses: InputError when out of range)."""
        model = self.model_form.value()
        train = self.form.value(arch=model.arch, window=model.window, rotate=model.rotate,
                                jitter=model.jitter, device=device)
        return self.input_form.value(), train

    @property
    def start(self) -> str:
        """``"demo"`` or ``"random"``."""
        return self.start_combo.currentData()

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
