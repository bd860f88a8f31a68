"""The soil workspace: CT of soil cores, porosity per object band and slice, the surrogate's
prediction along the core, grad-CAM, and training of the surrogate (Wieland et al. 2021).

Layout: a toolbar; the "Cores" tab with the core list and the analysis settings (left), the
three linked slice views with the 3-D view in the fourth cell and the porosity profile below
(centre), the porosity and pore-metric tables with the overlay legend (right); the "Compare
cores" and "Training" tabs. Reading, Analyze, surfaces and training run through
``host.run_task``; the GUI thread only draws. Analyze, training and exports live in
:class:`widgets.soil.runs.RunsMixin`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import QSignalDebouncer

from engines.imaging.volume import Volume
from engines.soil.analysis import AnalysisConfig
from engines.soil.core_view import CoreView, iter_open_cores
from engines.soil.dataset import core_name
from engines.soil.models import SoilSurrogate
from widgets.common.config_form import ConfigForm
from widgets.common.workspace import TaskHost, Workspace
from widgets.imaging.slice_view import SliceViews
from widgets.soil.compare_panel import ComparePanel
from widgets.soil.crop_outline import CropOutline
from widgets.soil.matrix_panel import MatrixPanel
from widgets.soil.profile_plot import ProfilePlot
from widgets.soil.results_panel import OverlayLegend, ResultsPanel
from widgets.soil.runs import RunsMixin
from widgets.soil.three_d import ThreeDPane
from widgets.soil.toolbar import SoilToolbar
from widgets.soil.training_panel import TrainingPanel

SETTINGS_FIELDS = ["crop", "core_axis", "centre", "min_cluster", "segmented", "pore_metrics",
                   "metrics_object"]
OPACITY_DEBOUNCE_MS = 80
NO_MODEL = ("No surrogate model loaded: Analyze computes the porosity only (Model ▸ Train… "
            "or Load model… for the prediction and grad-CAM).")


class SoilWorkspace(RunsMixin, Workspace):
    """Soil-core CT: slice and 3-D views, porosity profiles and pore metrics, the surrogate's
    prediction and grad-CAM, training. Signals are emitted on the GUI thread."""

    name = "soil"
    file_filter = ("CT cores (*.dcm *.nii *.nii.gz *.mhd *.mha *.tif *.tiff);;"
                   "All files (*)")
    opens_folders = True
    model_type = SoilSurrogate
    no_model_text = NO_MODEL

    coresListed = Signal(object)  # list of core names now in the list
    coreShown = Signal(str)  # the core's volume is in the views
    analysisFinished = Signal(object)  # CoreView
    trainingFinished = Signal(object)  # SoilSurrogate
    matrixFinished = Signal(object)  # TransferMatrix

    def __init__(self, host: TaskHost, parent: QWidget | None = None) -> None:
        super().__init__(host, parent)
        self.paths: dict[str, Path] = {}
        self.views: dict[str, CoreView] = {}
        self.current: str | None = None
        self.volume: Volume | None = None
        self.shown_labels: set[int] | None = None  # the overlay's labels (None: default)

        self.toolbar = SoilToolbar(self, ThreeDPane.display_available())
        self.core_list = QListWidget()
        self.core_list.setToolTip("Cores: click to show one; ticked cores are the training "
                                  "data of the Training tab")
        self.settings = ConfigForm(AnalysisConfig(pore_metrics=True), SETTINGS_FIELDS)
        self.with_gradcam = QCheckBox("Surrogate grad-CAM (with a model)")
        self.with_gradcam.setChecked(True)
        self.slice_views = SliceViews(layout="grid")
        self.crop_outline = CropOutline(self.slice_views)
        self.three_d = ThreeDPane(host, self.toolbar.three_d.isChecked())
        self.slice_views.set_extra_widget(self.three_d)
        self.profile = ProfilePlot()
        self.results = ResultsPanel()
        self.legend = OverlayLegend()
        self.compare = ComparePanel()
        self.training = TrainingPanel()
        self.matrix_panel = MatrixPanel()
        self._build_layout()
        self._connect()
        self.results.clear("No core open.")

    # -- layout and wiring -----------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("<b>Cores</b>"))
        column.addWidget(self.core_list, 1)
        column.addWidget(QLabel("<b>Overlay legend</b> (solid of each object band)"))
        column.addWidget(self.legend, 1)
        box = QGroupBox("Analysis (the paper's preprocessing)")
        inner = QVBoxLayout(box)
        inner.addWidget(self.settings)
        inner.addWidget(self.with_gradcam)
        column.addWidget(box)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.slice_views)
        centre.addWidget(self.profile)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 2)
        centre.setSizes([560, 300])
        self.profile.setMinimumHeight(170)
        self.cores_page = self._lay_out(
            self.toolbar, "Cores", (left, centre, self.results), (260, 960, 300),
            [(self.compare, "Compare cores"), (self.training, "Training"),
             (self.matrix_panel, "Model matrix")])
        self.training_page = self.training

    def _connect(self) -> None:
        bar = self.toolbar
        self.addActions(bar.shortcut_actions)
        bar.overlays.triggered.connect(lambda _a: self._guard(self._draw_overlay, "Overlay"))
        self._opacity_debounce = QSignalDebouncer(parent=self)  # one redraw per drag pause
        self._opacity_debounce.setTimeout(OPACITY_DEBOUNCE_MS)
        self._opacity_debounce.triggered.connect(
            lambda: self._guard(self._draw_overlay, "Opacity"))
        bar.opacity.valueChanged.connect(self._opacity_debounce.throttle)
        bar.three_d.toggled.connect(lambda on: self._guard(lambda: self._set_3d(on), "3-D view"))
        self.core_list.currentItemChanged.connect(self._core_chosen)
        self.slice_views.positionChanged.connect(self._position_changed)
        self.profile.depthClicked.connect(self.go_to_slice)
        self.legend.labelToggled.connect(self._label_toggled)
        self._connect_runs()

    # -- files -----------------------------------------------------------------------------------
    def open_sample_path(self, path: Path, dataset) -> None:
        """A sample core set opens like any folder, but is not a recent file."""
        self._open(path, recent=False)

    def open_path(self, path: Path) -> None:
        """Open a core (DICOM series folder, NIfTI, MetaImage, TIFF stack) or a folder of
        cores: they join the core list and the first is shown (read in a task)."""
        self._open(Path(path), recent=True)

    def _open(self, path: Path, recent: bool) -> None:
        def opened(result) -> None:
            paths, volume = result
            names = self.add_cores(paths)
            self._show_volume(names[0], volume)
            if recent:
                self.pathOpened.emit(str(path))

        self._run(f"Opening {path.name}", iter_open_cores(path), on_result=opened)

    def add_cores(self, paths: list[Path]) -> list[str]:
        """Put ``paths`` in the core list (a name already there is replaced); their names."""
        names = []
        for path in paths:
            name = core_name(path)
            if name in self.paths and self.paths[name] != path:
                self.views.pop(name, None)
            if name not in self.paths:
                item = QListWidgetItem(name)
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
                self.core_list.addItem(item)
            self.paths[name] = path
            names.append(name)
        self.coresListed.emit(list(self.paths))
        return names

    def _core_chosen(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            name = item.data(Qt.ItemDataRole.UserRole)
            self._guard(lambda: self.show_core(name), "Show core")

    def show_core(self, name: str) -> None:
        """Show core ``name`` of the list (read in a task unless analysed already)."""
        if name == self.current:
            return
        view = self.views.get(name)
        if view is not None:
            self._show_volume(name, view.volume)
            return
        from engines.imaging.volume_io import read_volume_task

        path = self.paths[name]
        self._run(f"Reading {name}", read_volume_task(path),
                  on_result=lambda volume: self._show_volume(name, volume))

    def _show_volume(self, name: str, volume: Volume) -> None:
        self.current, self.volume = name, volume
        self.slice_views.set_volume(volume, window="soil")
        self.three_d.set_volume(volume)
        self._select_in_list(name)
        view = self.views.get(name)
        if view is not None:
            self.draw_view(view)
        else:
            self._clear_results(f"{name}: {volume.describe()}. Press Analyze (Ctrl+Enter).")
        self.statusChanged.emit(f"{name}: {'×'.join(map(str, volume.shape))} voxels (z×y×x)")
        self.coreShown.emit(name)

    def _select_in_list(self, name: str) -> None:
        for row in range(self.core_list.count()):
            item = self.core_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                self.core_list.blockSignals(True)
                self.core_list.setCurrentItem(item)
                self.core_list.blockSignals(False)

    def checked_cores(self) -> list[str]:
        """Names of the ticked cores (the training data)."""
        items = [self.core_list.item(r) for r in range(self.core_list.count())]
        return [i.data(Qt.ItemDataRole.UserRole) for i in items
                if i.checkState() == Qt.CheckState.Checked]

    # -- linked views ----------------------------------------------------------------------------
    def _depth_axis(self) -> int:
        view = self.views.get(self.current) if self.current else None
        return view.analysis.depth_axis if view is not None else 0

    def _position_changed(self, zyx) -> None:
        self.profile.set_slice(int(zyx[self._depth_axis()]))
        self.three_d.set_position(zyx)

    def go_to_slice(self, index: int) -> None:
        """Move the slice views to volume slice ``index`` along the core's depth."""
        position = list(self.slice_views.position)
        position[self._depth_axis()] = int(index)
        self.slice_views.set_position(tuple(position))

    def _set_3d(self, on: bool) -> None:
        self.three_d.set_enabled(on, self.volume)
        view = self.views.get(self.current) if self.current else None
        if on and view is not None:
            self.three_d.show_analysis(view, self.toolbar.overlay())
