"""Training controls (forms over :class:`TrainConfig`, :class:`DetectorConfig` and
:class:`PreprocessConfig`) and live curves: the SSD loss of every step and the validation
AP at IoU 0.5 with recall and precision at score 0.5."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from engines.nodules.detectors import DetectorConfig
from engines.nodules.preprocess import PreprocessConfig
from engines.nodules.training import TrainConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm, align_forms
from widgets.common.training_curves import CurvePlot, Series, TrainingCurves
from widgets.common.training_layout import group_box, lay_out_training_page

TRAIN_FIELDS = ["steps", "batch_size", "crop_px", "lr", "weight_decay", "warmup_fraction",
                "ema_decay", "val_every", "rotate_deg", "flips", "hu_jitter", "seed",
                "max_minutes"]
DETECTOR_FIELDS = ["arch", "min_box_mm", "max_box_mm", "match_iou", "nms_iou"]
PREPROCESS_FIELDS = ["hu_window", "pixel_mm", "context_mm"]
Presets = tuple[DetectorConfig, PreprocessConfig, TrainConfig]
PRESETS: dict[str, Presets] = {
    "CPU demo (SSDlite MobileNetV3, 1300 steps)": (  # make demo-model-nodules
        DetectorConfig(), PreprocessConfig(context_mm=2.0),
        TrainConfig(steps=1300, batch_size=16, crop_px=64, lr=0.003, ema_decay=0.995,
                    val_every=200, max_minutes=60.0)),
    "Quick look (MobileNetV3-small, 1.5 mm pixels, 60 steps)": (
        DetectorConfig(arch="ssdlite_mobilenet_v3_small"), PreprocessConfig(pixel_mm=1.5),
        TrainConfig(steps=60, batch_size=8, crop_px=64, val_every=20)),
    "Paper-like (SSD ResNet-50, 3000 steps, GPU)": (
        DetectorConfig(arch="ssd_resnet50", fpn_channels=256), PreprocessConfig(),
        TrainConfig()),
}
CURVES = (CurvePlot("Training loss (SSD: smooth-L1 + cross-entropy)", "Loss",
                    (Series("loss", "step"), Series("train_loss", "mean since last validation",
                                                    True))),
          CurvePlot("Validation crops", "AP / recall / precision",
                    (Series("val_ap", "AP at IoU 0.5", True),
                     Series("val_recall", "recall at score 0.5", True),
                     Series("val_precision", "precision at score 0.5", True)),
                    y_range=(0.0, 1.0)))


class TrainingPanel(QWidget):
    """Emits :attr:`trainRequested` / :attr:`stopRequested`; :meth:`configs` reads the forms."""

    trainRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        detector, preprocess, train = next(iter(PRESETS.values()))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.currentTextChanged.connect(
            lambda name: self.set_configs(*PRESETS[name]))
        self.detector_form = ConfigForm(detector, DETECTOR_FIELDS)
        self.preprocess_form = ConfigForm(preprocess, PREPROCESS_FIELDS)
        self.form = ConfigForm(train, TRAIN_FIELDS)
        self.detector_form.insert_row(0, "Preset", self.preset_combo)
        align_forms(self.detector_form, self.preprocess_form, self.form)
        self.run_buttons = RunButtons("Train", self.trainRequested, self.stopRequested)
        self.train_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.status = QLabel("Trains an SSD on the scans of the open dataset (they need "
                             "annotations.csv): scans split 80/20, the weights with the best "
                             "validation AP are kept, then the thresholds are chosen on the "
                             "validation scans.")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves(CURVES)
        lay_out_training_page(self, [
            group_box("Detector and slices", self.detector_form, self.preprocess_form),
            group_box("Optimisation (AdamW, cosine with warm-up, EMA)", self.form),
            self.run_buttons.row(), self.status], self.curves)
        self.set_configs(detector, preprocess, train)

    def set_configs(self, detector: DetectorConfig, preprocess: PreprocessConfig,
                    train: TrainConfig) -> None:
        """Show the settings in the editors (and their preset's name when they are one)."""
        name = next((k for k, v in PRESETS.items() if v == (detector, preprocess, train)), None)
        if name is not None and name != self.preset_combo.currentText():
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentText(name)
            self.preset_combo.blockSignals(False)
        self.detector_form.set_value(detector)
        self.preprocess_form.set_value(preprocess)
        self.form.set_value(train)

    def configs(self, device: str) -> Presets:
        """The edited settings (validated by the dataclasses: InputError when out of range)."""
        return (self.detector_form.value(), self.preprocess_form.value(),
                self.form.value(device=device))

    def show_record(self, model) -> None:
        """The validation curves recorded in a loaded model's sidecar (its training
        ``history``: mean loss, AP, recall and precision at each validation)."""
        training = getattr(model, "training", {}) or {}
        history = [h for h in training.get("history", []) if isinstance(h, dict)]
        self.curves.update_history(history)
        if not history:
            return
        v = (getattr(model, "metrics", {}) or {}).get("validation", {})
        self.status.setText(
            f"Recorded training of the loaded model: {training.get('steps_run', '?')} steps on "
            f"{training.get('train_scans', '?')} scans ({Path(str(training.get('data', '?'))).name}), "
            f"best step {training.get('best_step', '?')}; on its "
            f"{training.get('val_scans', '?')} validation scans per-slice recall "
            f"{v.get('recall', float('nan')):.3f}, precision "
            f"{v.get('precision', float('nan')):.3f}, CPM {v.get('cpm', float('nan')):.3f}.")

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)
