"""The nodules workspace: find lung nodules in chest CT with an SSD, review them box by box.

Layout: a toolbar (scan of the dataset, probability threshold, box colours, draw mode,
exports); the "Scan" tab with the candidate table and the review panel (left) and the slice
views, axial large with coronal and sagittal beside it, in the lung window (centre); the
"FROC" and "Training" tabs. Opening, Analyze, evaluation, training and exports run through
``host.run_task`` (:class:`widgets.nodules.runs.RunsMixin`); the GUI thread only draws.

Review, keyboard first (CVAT / Slicer style): A / R / U accept, reject, uncertain; N / P the
next / previous unreviewed candidate, highest probability first, and the views jump to it;
arrows or the wheel move through slices; drag a box's edges or inside to resize or move it
(in any view); D draws a box for a nodule the detector missed; Ctrl+Z / Ctrl+Shift+Z undo and
redo. Every edit autosaves beside the scan and is restored when the scan is opened again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from engines.core.review import ReviewDocument, ReviewItem
from engines.core.review_commands import AddItem, EditGeometry
from engines.nodules.candidates import drawn_item, geometry_fields, restore_review
from engines.nodules.model import NoduleDetector
from engines.nodules.opening import (
    OpenedScan,
    iter_open,
    iter_open_entry,
    nodule_boxes,
    review_outcomes,
)
from widgets.common.review_panel import ReviewPanel, nodules_keymap
from widgets.common.review_table import (
    ID_FIELD,
    NOTE_FIELD,
    REVIEWED_FIELD,
    SCORE_FIELD,
    STATE_FIELD,
    ItemField,
    ReviewTable,
    extra_field,
)
from widgets.common.workspace import TaskHost, Workspace
from widgets.imaging.slice_view import SliceViews
from widgets.nodules.box_layer import BoxLayer
from widgets.nodules.froc_panel import FrocPanel
from widgets.nodules.runs import NO_MODEL, RunsMixin
from widgets.nodules.three_d import CandidatePane, candidate_spheres
from widgets.nodules.toolbar import NodulesToolbar
from widgets.nodules.training_panel import TrainingPanel

SCAN_FILTER = ("Chest CT (*.mhd *.mha *.nii *.nii.gz *.dcm);;LUNA16 MetaImage (*.mhd *.mha);;"
               "NIfTI (*.nii *.nii.gz);;All files (*)")
OUTCOME_TEXT = {"tp": "TP", "fp": "FP", "excluded": "excluded"}
COLUMN_WIDTHS = (40, 80, 28, 60, 56, 64, 56)  # id, state, ✓, score, Ø, slices, truth (px)
ZOOM_MM = 150.0  # field of view of the axial view zoomed on a candidate


def _slices(_document, item: ReviewItem) -> str:
    z0, z1 = item.extras.get("z0"), item.extras.get("z1")
    return "" if z0 is None else f"{int(z0) + 1}–{int(z1)}"


class NodulesWorkspace(RunsMixin, Workspace):
    """Lung nodules on chest CT (Abdullah et al.'s SSD on axial slices, LUNA16 FROC): slice
    views with the candidates' boxes, a keyboard-first review, FROC against the classical
    peer, and training. Signals are emitted on the GUI thread."""

    name = "nodules"
    file_filter = SCAN_FILTER
    opens_folders = True
    model_type = NoduleDetector
    no_model_text = NO_MODEL

    scanOpened = Signal(object)  # OpenedScan
    analysisFinished = Signal(object)  # ScanDetections
    reviewOpened = Signal(object)  # ReviewDocument
    evaluationFinished = Signal(object)  # (Evaluation, Evaluation or None)
    trainingFinished = Signal(object)  # NoduleDetector

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(host, parent)
        self.opened: OpenedScan | None = None
        self.detections = None  # ScanDetections of the open scan
        self.document: ReviewDocument | None = None
        self.toolbar = NodulesToolbar(self)
        self.views = SliceViews(layout="main+2", main_view="axial")
        self.boxes = BoxLayer(self.views)
        # off until Ctrl+3 (the review needs the large axial view; software OpenGL is slow)
        self.three_d = CandidatePane(host, False)
        self.views.set_extra_widget(self.three_d)
        self.outcome_field = ItemField("outcome", "Truth", self._outcome_text,
                                       tip="TP / FP against annotations.csv (LUNA16 hit rule)")
        self.table = ReviewTable(fields=[
            ID_FIELD, STATE_FIELD, REVIEWED_FIELD, SCORE_FIELD,
            extra_field("diameter_mm", "Ø mm", "{:.1f}", "Diameter estimate (mm)"),
            ItemField("slices", "Slices", _slices, tip="Slices the candidate spans"),
            self.outcome_field, NOTE_FIELD])
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self.panel = ReviewPanel(nodules_keymap())
        self.froc = FrocPanel()
        self.training = TrainingPanel()
        self.scan_label = QLabel("No scan open.")
        self.scan_label.setWordWrap(True)
        self._outcomes: dict[int, str] = {}
        self._build_layout()
        self._connect()

    # -- layout and wiring -----------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.table)
        left.addWidget(self.panel)
        left.setStretchFactor(0, 1)
        left.setSizes([430, 360])  # room for the panel's wrapped "Where" and "Extras" lines
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.scan_label)
        centre_layout.addWidget(self.views, 1)
        self.scan_page = self._lay_out(self.toolbar, "Scan", (left, centre), (430, 1000),
                                       [(self.froc, "FROC"), (self.training, "Training")])
        self.training_page = self.training

    def _connect(self) -> None:
        bar = self.toolbar
        self.addActions([*bar.shortcut_actions, *self.panel.shortcut_actions])
        bar.scan_combo.activated.connect(lambda i: self._guard(lambda: self.open_entry(i),
                                                               "Open scan"))
        bar.thresholdChanged.connect(self._threshold_changed)
        bar.colour_combo.activated.connect(
            lambda i: self._set_colour_mode(str(bar.colour_combo.itemData(i))))
        bar.draw.toggled.connect(self.boxes.set_draw_mode)
        bar.three_d.toggled.connect(lambda on: self._guard(lambda: self.set_3d(on), "3-D view"))
        self.views.positionChanged.connect(self.three_d.set_position)
        self.panel.currentChanged.connect(self._current_changed)
        self.table.itemActivated.connect(self.panel.set_current)
        self.panel.include = self.table.includes
        self.boxes.boxSelected.connect(
            lambda box_id: box_id is not None and self.panel.set_current(box_id))
        self.boxes.geometryEdited.connect(self._box_edited)
        self.boxes.boxDrawn.connect(self._box_drawn)
        self._connect_runs()

    # -- opening ---------------------------------------------------------------------------
    def open_sample_path(self, path: Path, dataset) -> None:
        """A sample set opens like any folder, but is not a recent file."""
        self._run(f"Opening {path.name}", iter_open(path), on_result=self.set_opened)

    def open_path(self, path: Path) -> None:
        """Open a scan (.mhd/.mha, NIfTI, a DICOM series folder) or a LUNA16-style folder (its
        first scan); read in a task."""
        path = Path(path)

        def opened(result: OpenedScan) -> None:
            self.set_opened(result)
            self.pathOpened.emit(str(path))

        self._run(f"Opening {path.name}", iter_open(path), on_result=opened)

    def open_entry(self, index: int) -> None:
        """Open scan ``index`` of the open dataset."""
        if self.opened is None or self.opened.dataset is None:
            return
        self._run(f"Opening scan {index + 1}", iter_open_entry(self.opened.dataset, index),
                  on_result=self.set_opened)

    def set_opened(self, opened: OpenedScan) -> None:
        """Show ``opened``: its slices in the lung window, and its autosaved review if any."""
        self.opened = opened
        self.detections = None
        self._show_slice_boxes()
        dataset = opened.dataset
        names = [f"{i + 1}: {e.seriesuid[-24:]}" for i, e in enumerate(dataset.scans)] \
            if dataset is not None else [opened.scan.seriesuid[-24:]]
        self.toolbar.set_scans(names, opened.index)
        self.views.set_volume(opened.scan.volume, window="lung")
        self.three_d.set_volume(opened.scan.volume)
        self.scan_label.setText(opened.title)
        self.table.set_document(None)
        self.panel.set_document(None)
        self.document = None
        restored = restore_review(opened.path)
        if restored is not None:
            self.set_review(restored.document, restored.message, restored.warning is not None)
        else:
            self._refresh_boxes()
        self.host.log(opened.title)
        self.statusChanged.emit(NO_MODEL if self.model is None else
                                "Press Analyze (Ctrl+Enter) to find nodules in this scan.")
        self.scanOpened.emit(opened)

    # -- review ----------------------------------------------------------------------------
    def set_review(self, document: ReviewDocument, notice: str = "",
                   warning: bool = False) -> None:
        """Review ``document`` (the open scan's candidates) in the table, panel and views."""
        if self.document is not None and self._document_changed in self.document.observers:
            self.document.observers.remove(self._document_changed)
        self.document = document
        document.observers.append(self._document_changed)
        self.table.set_document(document)
        self.panel.set_document(document, notice, warning)
        self._apply_filter()
        self._refresh_boxes()
        self.reviewOpened.emit(document)

    def _document_changed(self, _ids: frozenset[int]) -> None:
        self._refresh_boxes()

    def _threshold_changed(self, _threshold: float) -> None:
        self._apply_filter()
        self._show_slice_boxes()
        self._refresh_boxes()

    def _show_slice_boxes(self) -> None:
        """The 2-D boxes at the model's slice threshold, or the slider's when higher."""
        detections = self.detections
        if detections is None:
            self.boxes.set_slice_boxes(np.zeros(0, np.int64), np.zeros((0, 4)))
            return
        shown = detections.slices.above(max(detections.slice_threshold,
                                            self.toolbar.threshold))
        self.boxes.set_slice_boxes(shown.z, shown.boxes)

    def _shown(self, item: ReviewItem) -> bool:
        return item.reviewed or item.score is None or item.score >= self.toolbar.threshold

    def _apply_filter(self) -> None:
        self.table.set_filter(self._shown)

    def shown_items(self) -> list[ReviewItem]:
        """The items above the threshold (and every reviewed or drawn one)."""
        return [] if self.document is None else [i for i in self.document if self._shown(i)]

    def outcome(self, item_id: int) -> str | None:
        """``"tp"``, ``"fp"`` or ``"excluded"`` of a shown item against the truth (None
        without annotations)."""
        return self._outcomes.get(item_id)

    def _outcome_text(self, _document, item: ReviewItem) -> str:
        return OUTCOME_TEXT.get(self._outcomes.get(item.id, ""), "")

    def _refresh_boxes(self) -> None:
        opened = self.opened
        if opened is None:
            return
        items = self.shown_items()
        missed = missed_xyz = missed_diameters = None
        self._outcomes = {}
        if opened.has_truth:
            outcomes = review_outcomes(items, opened.scan.volume, opened.nodules,
                                       opened.excluded)
            self._outcomes = outcomes.labels
            missed = nodule_boxes(opened.scan.volume, opened.nodules)[outcomes.missed]
            if self.boxes.mode == "outcome":  # as the dashed boxes of the slice views
                missed_xyz = opened.nodules.xyz_mm[outcomes.missed]
                missed_diameters = opened.nodules.diameter_mm[outcomes.missed]
        self.boxes.set_items(items, self._outcomes if opened.has_truth else None, missed)
        self.three_d.show_spheres(*candidate_spheres(
            items, opened.scan.volume, self._outcomes if opened.has_truth else None,
            self.boxes.mode, missed_xyz, missed_diameters))
        self.table.item_model.refresh_rows(None)

    def _set_colour_mode(self, mode: str) -> None:
        self.boxes.set_mode(mode)
        self._refresh_boxes()

    def set_3d(self, on: bool) -> None:
        """The 3-D view on (the 2 × 2 layout, the lungs and the candidates' spheres in its
        fourth cell) or off (one large view and two small ones)."""
        self.three_d.set_enabled(on, None if self.opened is None else self.opened.scan.volume)
        self.views.set_layout("grid" if on else "main+2")

    def shutdown(self) -> None:
        self.three_d.shutdown()
        super().shutdown()

    def _current_changed(self, item_id: int) -> None:
        item = None if item_id < 0 or self.document is None else self.document.get(item_id)
        self.table.select_item(None if item is None else item.id)
        self.boxes.select(None if item is None else item.id)
        if item is not None and item.box is not None:
            self.jump_to(item)

    def jump_to(self, item: ReviewItem) -> None:
        """Move the crosshair (all three slices) to the centre of ``item``'s box."""
        z0, y0, x0, z1, y1, x1 = item.box
        self.views.set_position(((z0 + z1) / 2 - 0.5, (y0 + y1) / 2 - 0.5, (x0 + x1) / 2 - 0.5))
        # the boxes follow the views' 20 Hz position signal; a jump (a review key, a table row)
        # draws them at once, so the item is never shown without its box
        self.boxes.refresh()

    def zoom_to(self, item: ReviewItem, field_mm: float = ZOOM_MM) -> None:
        """Zoom the axial view to ``field_mm`` around ``item``'s box (the other views keep
        theirs)."""
        z0, y0, x0, z1, y1, x1 = item.box
        u, v = self.views.index_to_view("axial", ((z0 + z1) / 2 - 0.5, (y0 + y1) / 2 - 0.5,
                                                  (x0 + x1) / 2 - 0.5))
        half = field_mm / 2
        self.views.panes["axial"].view_box.setRange(xRange=(u - half, u + half),
                                                    yRange=(v - half, v + half), padding=0)

    def _box_edited(self, item_id: int, box) -> None:
        if self.opened is not None:
            self.panel.push(EditGeometry(item_id, f"Move/resize box of item {item_id}",
                                         **geometry_fields(self.opened.scan.volume, box)))

    def _box_drawn(self, box) -> None:
        self.toolbar.draw.setChecked(False)
        if self.opened is None:
            return
        if self.document is None:
            self.start_empty_review()
        item = drawn_item(self.opened.scan.volume, self.document.next_id, box)
        if self.panel.push(AddItem(item, f"Draw nodule {item.id}")):
            self.panel.set_current(item.id)

    def start_empty_review(self) -> None:
        """A review with no candidates (to draw nodules in before or without Analyze)."""
        from engines.core.autosave import open_review
        from engines.nodules.candidates import CLASS_NAMES, REVIEW_KIND

        result = open_review(self.opened.path, CLASS_NAMES, [], kind=REVIEW_KIND,
                             meta={"seriesuid": self.opened.scan.seriesuid})
        self.set_review(result.document, result.message, result.warning is not None)
