"""Training controls (a form over :class:`TrainConfig`) and live loss/accuracy curves."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from engines.spectrum.models import PRESETS
from engines.spectrum.options import format_ranges
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm
from widgets.common.training_curves import CurvePlot, Series, TrainingCurves
from widgets.common.training_layout import group_box, lay_out_training_page

FORM_FIELDS = ["counts", "steps", "batch_size", "lr", "val_every", "val_draws", "seed",
               "gain_drift", "focus", "curriculum", "target_accuracy", "max_minutes",
               "likelihood_head", "hybrid", "open_set"]
CURVES = (CurvePlot("Cross-entropy loss", "Loss", (Series("loss", "step"),), log_y=True),
          CurvePlot("Accuracy", "Accuracy", (Series("accuracy", "training batch"),
                                             Series("val_accuracy", "validation", True)),
                    y_range=(0.0, 1.02)))


class TrainingPanel(QWidget):
    """Settings on the left, curves on the right; Train/Stop drive the workspace."""

    trainRequested = Signal()
    stopRequested = Signal()
    discardEdited = Signal(str)  # the text of the discard-range editor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = TrainConfig()
        self.form = ConfigForm(self._config, fields=["arch", *FORM_FIELDS])
        self.arch_combo = self.form.editors["arch"]
        self.preset_combo = QComboBox()
        self.form.insert_row(1, "Preset", self.preset_combo)
        self.arch_combo.currentTextChanged.connect(self._fill_presets)
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
        self.curves = TrainingCurves(CURVES)

        self.form.insert_row(-1, "Discard channels", self.discard_edit)
        lay_out_training_page(self, [group_box("Training settings", self.form),
                                     self.run_buttons.row(), self.status], self.curves,
                              width=560)
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
        self.form.set_value(config)
        self._fill_presets(config.arch)
        self.preset_combo.setCurrentText(config.preset)
        self.show_discard(config.preprocess)

    def show_discard(self, preprocess: PreprocessConfig) -> None:
        self.discard_edit.setText(format_ranges(preprocess.discard))

    def config(self, preprocess: PreprocessConfig, device: str) -> TrainConfig:
        """The edited settings as a validated :class:`TrainConfig` (raises InputError)."""
        arch = self.arch_combo.currentData()
        model_config = self._config.model_config if arch == self._config.arch else {}
        return self.form.value(preset=self.preset_combo.currentText(),
                               model_config=dict(model_config), preprocess=preprocess,
                               device=device)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
