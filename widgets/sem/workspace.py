"""The sem workspace: SEM micrographs of steel segmented tile by tile, a max-vote class per
object, and the metallographer's review of the objects (Azimi et al.).

Layout: a toolbar; the "Micrograph" tab with the review panel above the object table (left)
and the large-image view with the overlay, legend and scale bar (right); "Scores" and
"Training" tabs. Opening, Analyze, scoring, evaluation and training run as engine generators
through ``host.run_task``; Analyze draws the stitched rows as they finish and then the max-vote
object map, which every review edit recolours object by object
(:class:`engines.sem.viewing.ObjectMap`). Analyze, reviews, training and exports live in
:class:`widgets.sem.runs.RunsMixin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from engines.sem.segmenter import SemSegmenter
from engines.sem.viewing import OpenedMicrograph, iter_open_micrograph
from widgets.common.item_table import LEFT
from widgets.common.review_panel import ReviewPanel, sem_keymap
from widgets.common.review_table import (
    CLASS_FIELD,
    ID_FIELD,
    NOTE_FIELD,
    REVIEWED_FIELD,
    STATE_FIELD,
    ItemField,
    ReviewTable,
    extra_field,
)
from widgets.common.workspace import TaskHost, Workspace
from widgets.imaging.image_view import ImageView
from widgets.sem.runs import NO_MODEL, RunsMixin
from widgets.sem.scores_panel import ScoresPanel
from widgets.sem.toolbar import SemToolbar
from widgets.sem.training_panel import TrainingPanel

HOVER_HINT = "Move the mouse over the image for the pixel, its class and its object."


def _share(value: Any) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _runner_up(document, item) -> str:
    index = item.extras.get("runner_up", -1)
    return "" if index is None or index < 0 else document.class_name(int(index))


class SemWorkspace(RunsMixin, Workspace):
    """Steel micrograph segmentation and object review. Signals are emitted on the GUI
    thread."""

    name = "sem"
    file_filter = "Micrographs (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"
    opens_folders = True
    model_type = SemSegmenter
    no_model_text = NO_MODEL

    micrographOpened = Signal(object)   # OpenedMicrograph
    rowsDrawn = Signal(int)             # rows of the stitched labels drawn so far
    analysisFinished = Signal(object)   # ReviewedAnalysis
    reviewOpened = Signal(object)       # RestoreResult
    scoresShown = Signal(object)        # EvaluationResult.to_json() or None
    evaluationFinished = Signal(object)  # EvaluationResult.to_json() of a data-set split
    trainingFinished = Signal(object)   # SemSegmenter
    exported = Signal(object)           # Path

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(host, parent)
        self.opened: OpenedMicrograph | None = None
        self.reviewed = None        # ReviewedAnalysis of the open image
        self.object_map = None      # ObjectMap the review edits (after Analyze or a restore)
        self.job = None             # the AnalysisJob while Analyze runs
        self.drawn_rows = 0
        self.toolbar = SemToolbar(self)
        self.view = ImageView()
        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = ReviewTable(fields=(
            ID_FIELD, CLASS_FIELD, STATE_FIELD, REVIEWED_FIELD,
            ItemField("score", "Vote share", lambda _doc, item: item.score, _share,
                      tip="Share of the object's pixels that voted for its max-vote class"),
            extra_field("area_px", "Area (px)", "{:,}"),
            extra_field("area_um2", "Area (µm²)", "{:.2f}"),
            ItemField("runner_up", "Runner-up", _runner_up, align=LEFT,
                      tip="The class with the second most votes"),
            extra_field("runner_up_share", "Runner-up share", _share), NOTE_FIELD))
        for column, width in enumerate((44, 140, 76, 24, 74, 70, 80, 110, 110)):
            self.table.setColumnWidth(column, width)
        self.panel_holder = QWidget()
        self.panel_layout = QVBoxLayout(self.panel_holder)
        self.panel_layout.setContentsMargins(0, 0, 0, 0)
        self.review_panel: ReviewPanel | None = None
        self._set_review_panel(("matrix", "object"))
        self.scores = ScoresPanel()
        self.training = TrainingPanel()
        self.training_page = self.training
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.view, 1)
        centre_layout.addWidget(self.hover_label)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.panel_holder)
        side.addWidget(self.table)
        side.setSizes([430, 370])
        self.panel_holder.setMinimumHeight(330)
        self.micrograph_page = self._lay_out(self.toolbar, "Micrograph", [side, centre],
                                             [490, 800],
                                             [(self.scores, "Scores"),
                                              (self.training, "Training")])
        self.addActions(self.toolbar.shortcut_actions)
        self._connect()
        self._connect_runs()
        self._show_image_choices()

    # -- wiring ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        bar = self.toolbar
        bar.layer_combo.currentIndexChanged.connect(lambda _i: self.show_layer(bar.layer))
        bar.mode_combo.currentIndexChanged.connect(
            lambda _i: self.view.set_overlay_mode(bar.mode))
        bar.opacity.valueChanged.connect(lambda v: self.view.set_overlay_opacity(v / 100))
        bar.fit.triggered.connect(self.view.fit)
        bar.image_combo.activated.connect(self._image_chosen)
        self.view.set_overlay_opacity(bar.opacity.value() / 100)
        self.view.set_overlay_mode(bar.mode)
        self.view.hovered.connect(lambda text: self.hover_label.setText(text or HOVER_HINT))
        self.view.objectClicked.connect(self._clicked)
        self.table.itemActivated.connect(lambda item_id: self.review_panel.set_current(item_id))

    def _set_review_panel(self, class_names) -> None:
        """A review panel whose keys fit ``class_names`` (1–9 = classes 1–9, the matrix is
        R = reject); replaces the previous one."""
        old = self.review_panel
        if old is not None and tuple(old.class_names) == tuple(class_names):
            return
        if old is not None:
            for action in old.shortcut_actions:
                self.removeAction(action)
            old.setParent(None)
            old.deleteLater()
        panel = ReviewPanel(sem_keymap(list(class_names), first=1))
        panel.class_names = tuple(class_names)
        panel.include = self.table.includes
        panel.currentChanged.connect(self._current_changed)
        self.addActions(panel.shortcut_actions)
        self.panel_layout.addWidget(panel)
        self.review_panel = panel

    # -- opening ---------------------------------------------------------------------------------
    def open_path(self, path: Path) -> None:
        """Open a micrograph (TIFF, PNG, JPEG) or the first image of a data-set folder."""
        path = Path(path)
        self._run_once("open", f"Opening {path.name}",
                       iter_open_micrograph(path, self.toolbar.crop_bottom.value()),
                       on_result=self.show_micrograph,
                       busy="an image is still being opened; wait for it")

    def show_micrograph(self, opened: OpenedMicrograph) -> None:
        """Show ``opened`` (a new image: the previous analysis and review are closed)."""
        self._cancel("analyze")
        self.opened = opened
        self.reviewed = self.object_map = self.job = None
        self.drawn_rows = 0
        self.set_review(None)
        self.view.set_image(opened.micrograph.array, opened.pixel_size_um, opened.pyramid,
                            opened.levels)
        self._show_classes()
        self.toolbar.set_layer("truth" if opened.has_truth else "objects")
        self.show_layer(self.toolbar.layer)
        self._show_image_choices()
        self.scores.show_scores(None)
        for warning in opened.warnings:
            self.host.log(f"{opened.path.name}: {warning}")
        self.statusChanged.emit(opened.describe())
        self.pathOpened.emit(str(opened.path))
        self.micrographOpened.emit(opened)
        self._restore_saved_review()

    def _show_image_choices(self) -> None:
        combo = self.toolbar.image_combo
        combo.clear()
        if self.opened is None:
            combo.addItem("(no image)")
            combo.setEnabled(False)
            return
        paths = self.opened.image_paths()
        for path in paths:
            combo.addItem(path.name, str(path))
        combo.setCurrentIndex(max(0, [str(p) for p in paths].index(str(self.opened.path))))
        combo.setEnabled(len(paths) > 1)

    def _image_chosen(self, index: int) -> None:
        path = self.toolbar.image_combo.itemData(index)
        if path and self.opened is not None and path != str(self.opened.path):
            self._guard(lambda: self.open_path(Path(path)), "Open image")

    def class_table(self):
        """The classes to draw: the model's, else the data set's (None when neither)."""
        if self.model is not None:
            return self.model.classes
        return None if self.opened is None else self.opened.classes

    def _show_classes(self) -> None:
        classes = self.class_table()
        if classes is not None:
            self.view.set_classes(classes.names, classes.colours)
            self._set_review_panel(classes.names)

    # -- overlay layers --------------------------------------------------------------------------
    def show_layer(self, layer: str) -> None:
        """Draw the overlay ``layer`` (see :data:`widgets.sem.toolbar.LAYERS`); one that does
        not exist yet (no analysis, no truth) leaves the overlay empty."""
        view = self.view
        if self.opened is None:
            return
        if layer == "objects" and self.object_map is not None:
            view.set_labels(self.object_map.image, self.object_map.objects)
        elif layer == "pixels" and self.reviewed is not None:
            view.set_labels(self.reviewed.result.labels, self.reviewed.result.objects)
        elif layer == "pixels" and self.job is not None:
            view.set_labels(None)
            self._draw_rows(0, self.drawn_rows)
        elif layer == "truth" and self.opened.truth is not None \
                and self.opened.truth.labels is not None:
            view.set_labels(self.opened.truth.labels)
        else:
            view.clear_labels()

    def _draw_rows(self, start: int, stop: int) -> None:
        if self.job is not None and stop > start:
            self.view.update_labels_band(start, self.job.labels[start:stop])

    # -- linking the view, the table and the review panel ----------------------------------------
    def _clicked(self, x: float, y: float) -> None:
        if self.object_map is None or self.review_panel.document is None:
            return
        object_id = self.object_map.object_at(int(y), int(x))
        item = self.item_of_object.get(object_id)
        if item is not None:
            self.review_panel.set_current(item)

    def _current_changed(self, item_id: int) -> None:
        self.table.select_item(None if item_id < 0 else item_id)
        document = self.review_panel.document
        item = None if document is None or item_id < 0 else document.get(item_id)
        if item is None or item.box is None:
            self.view.boxes.set_boxes([], [])
            return
        _z0, y0, x0, _z1, y1, x1 = item.box
        self.view.boxes.set_boxes([item.id], [(x0, y0, x1, y1)])
        # zoom so the object takes about a third of the view, never out beyond the current zoom
        fit = min(self.view.view.width() / max(3 * (x1 - x0), 1),
                  self.view.view.height() / max(3 * (y1 - y0), 1))
        self.view.centre_on((x0 + x1) / 2, (y0 + y1) / 2, max(min(fit, 4.0), self.view.zoom))
