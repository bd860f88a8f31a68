"""Analyze, drawing an analysed core, models, training and exports of the soil workspace.

A mixin of :class:`widgets.soil.workspace.SoilWorkspace` (it uses its panels, ``host``, state and
signals). Every long step is an engine generator run by ``host.run_task``: the GUI thread only
draws the results, and Cancel in the task dock (or Stop) ends the work at its next yield.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.core.errors import InputError
from engines.core.progress import Progress
from widgets.common.dialogs import save_path
from widgets.common.export import CSV_FILTER, PLOT_FILTER, export_csv, export_plot
from widgets.common.tasks import recording
from widgets.soil.palette import HIDDEN_PROFILES, SHOWN_OBJECTS, label_colours


class RunsMixin:
    """Start/stop of Analyze and training, drawing results, model handling and exports."""

    def _connect_runs(self) -> None:
        bar = self.toolbar
        bar.export_profile.triggered.connect(
            lambda: self._export_dialog("Export profile", "profile.csv", CSV_FILTER,
                                        self.export_profile))
        bar.export_metrics.triggered.connect(
            lambda: self._export_dialog("Export tables", "porosity.csv", CSV_FILTER,
                                        self.export_tables))
        bar.export_plot.triggered.connect(
            lambda: self._export_dialog("Export plot", "soil_profile.png", PLOT_FILTER,
                                        self.export_plot))
        self.training.trainRequested.connect(lambda: self._guard(self.start_training, "Train"))
        self.training.transferRequested.connect(
            lambda: self._guard(self.start_transfer, "Transfer learning"))
        self.training.stopRequested.connect(lambda: self._cancel("train"))
        panel = self.matrix_panel
        panel.folderRequested.connect(lambda: self._guard(self._choose_models, "Models folder"))
        panel.computeRequested.connect(lambda: self._guard(self.start_matrix, "Model matrix"))
        panel.stopRequested.connect(lambda: self._cancel("matrix"))
        self.three_d.surfacesShown.connect(lambda: self.host.log("3-D view: surfaces shown"))

    # -- analyze ---------------------------------------------------------------------------------
    def analyze(self) -> None:
        """Analyze the shown core in a task: crop, bands, trimming, porosity and profiles, pore
        metrics when ticked, and with a model its prediction and grad-CAM."""
        from engines.soil.core_view import iter_inspect_core

        if self.volume is None:
            raise InputError("Analyze needs a core; use File ▸ Open… or the sample data")
        config = self.settings.value()
        name, volume, model = self.current, self.volume, self.model

        def analyzed(view) -> None:
            self.views[name] = view
            self.compare.set_views(self.views)
            if name == self.current:
                self.draw_view(view)
            self.host.log(self._summary(view))
            self.analysisFinished.emit(view)

        self._run_once("analyze", f"Analyze {name}",
                       iter_inspect_core(volume, name, config, model,
                                         self.with_gradcam.isChecked()),
                       on_result=analyzed,
                       busy="Analyze is already running; cancel it in the task list first")

    def _summary(self, view) -> str:
        a = view.analysis
        text = (f"{view.name}: crop {'×'.join(map(str, a.crop.size_zyx))} voxels (z×y×x) at "
                f"{list(a.crop.start_zyx)}, depth along {'zyx'[a.depth_axis]}")
        if view.prediction is not None:
            text += (f"; surrogate RMSE on object{view.prediction.target}: "
                     f"{view.prediction.rmse:.4f}")
        if a.notes:
            text += ". " + "; ".join(a.notes)
        return text

    def draw_view(self, view) -> None:
        """Show an analysed core: tables, profile, overlay, crop box, 3-D surfaces."""
        a = view.analysis
        self.results.show_results(self._summary(view), view.porosity_rows(),
                                  view.metric_rows())
        predicted = None
        if view.prediction is not None:
            predicted = (f"object{view.prediction.target}", view.prediction.predicted)
        title = view.name + ("" if view.prediction is None else
                             f" — surrogate RMSE {view.prediction.rmse:.4f}")
        self.profile.plot.setTitle(f"Porosity along the core: {title}")
        self.profile.set_profile(a.profile, predicted, HIDDEN_PROFILES)
        self.profile.set_slice(self.slice_views.position[a.depth_axis])
        self.crop_outline.set_box(a.crop)
        self._draw_overlay()

    def _clear_results(self, message: str) -> None:
        self.results.clear(message)
        self.legend.set_legend([])
        self.profile.clear("Analyze (Ctrl+Enter) draws the porosity along the core here.")
        self.crop_outline.set_box(None)

    def _draw_overlay(self) -> None:
        """The toolbar's overlay on the slice views: bands (with legend), grad-CAM (with its
        colour bar) or none."""
        view = self.views.get(self.current) if self.current else None
        self.slice_views.clear_labels()
        self.slice_views.clear_heatmap()
        if view is None or view.labels is None:
            self.legend.set_legend([])
            return
        n = view.analysis.config.n_objects
        colours = label_colours(view.label_names, n)
        shown = self._shown_labels(view)
        self.legend.set_legend([(k, name, colours[k], k in shown)
                                 for k, name in view.label_names.items()])
        mode = self.toolbar.overlay()
        self.legend.setEnabled(mode == "bands")  # grad-CAM's legend is its colour bar
        self.three_d.show_analysis(view, mode)
        if mode == "bands":
            rgba = {k: (*c, 255 if k in shown else 0) for k, c in colours.items()}
            self.slice_views.set_labels(view.labels, rgba, self.toolbar.overlay_opacity())
        elif mode == "gradcam":
            if view.heat_volume is None:
                self.statusChanged.emit("No grad-CAM for this core: Analyze with a model and "
                                        "“Surrogate grad-CAM” ticked")
                return
            self.slice_views.set_heatmap(
                view.heat_volume, title=f"grad-CAM {view.heat.layer} (÷ core max)",
                opacity=self.toolbar.overlay_opacity(), levels=view.heat_levels)

    def _shown_labels(self, view) -> set[int]:
        """The labels the overlay draws: the user's choice, else pores, water and organic
        matter, stones and trimmed clusters (not object1, empty, nor the matrix)."""
        if self.shown_labels is not None:
            return self.shown_labels
        n = view.analysis.config.n_objects
        return {k for k in view.label_names if k in SHOWN_OBJECTS or k == n + 1}

    def _label_toggled(self, label: int, shown: bool) -> None:
        view = self.views.get(self.current) if self.current else None
        if view is None:
            return
        self.shown_labels = set(self._shown_labels(view))
        (self.shown_labels.add if shown else self.shown_labels.discard)(label)
        self._draw_overlay()

    # -- models ----------------------------------------------------------------------------------
    def model_changed(self, model) -> None:
        """Use ``model`` for the prediction; the shown core is analysed again with it."""
        self.host.log(f"soil model: {model.describe().splitlines()[0]}")
        if self.current in self.views and "analyze" not in self.tasks:
            self.analyze()
        else:
            self.statusChanged.emit("Model loaded: Analyze (Ctrl+Enter) predicts the porosity "
                                    "along the core")

    # -- training --------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Train a surrogate on the ticked cores with the Training tab's settings."""
        from engines.soil.core_view import iter_train_on_cores

        config = self.training.config(self.host.device_preference())
        preprocess = self.settings.value(segmented=False, pore_metrics=False)
        names = self._training_cores()
        self._fit(f"Training on {len(names)} cores", names,
                  iter_train_on_cores(self._listed(names), config, preprocess))

    def start_transfer(self) -> None:
        """Retrain the current model's dense head on another object (the ticked cores)."""
        from engines.soil.core_view import iter_transfer_on_cores

        model = self.require_model()
        config = self.training.transfer_config(self.host.device_preference())
        names = self._training_cores()
        self._fit(f"Transfer learning on {len(names)} cores", names,
                  iter_transfer_on_cores(model, self._listed(names), config),
                  f"dense head of {model.target_name} → object{config.target}")

    def _training_cores(self) -> list[str]:
        names = self.checked_cores()
        if not names:
            raise InputError("training needs cores: open a core set and tick its cores")
        return names

    def _listed(self, names: list[str]) -> list[tuple]:
        """``(name, path, analysis or None)`` of listed cores, for the engine's helpers."""
        return [(n, self.paths[n], self.views[n].analysis if n in self.views else None)
                for n in names]

    def _fit(self, title: str, names: list[str], task, what: str = "") -> None:
        """Run a training generator with live curves; the result becomes the (unsaved)
        model."""
        history: list[dict[str, Any]] = []
        self.training.curves.reset()

        def progressed(report: Progress) -> None:
            self.training.curves.update_history(history)
            self.training.status.setText(report.message)

        def trained(result) -> None:
            self.training.curves.update_history(history)
            self.set_model(result.model, unsaved=True)
            text = (f"Trained on {len(names)} core(s): held-out RMSE "
                    f"{result.val_mse ** 0.5:.4f}, train RMSE {result.train_mse ** 0.5:.4f} "
                    f"({result.seconds:.0f} s, {result.stop_reason}). Model ▸ Save model as… "
                    "keeps it.")
            self.training.status.setText(f"{what}: {text}" if what else text)
            self.trainingFinished.emit(result.model)

        def finished(state: str) -> None:
            self.training.set_running(False)
            if state == "cancelled":
                self.training.status.setText("Training stopped.")

        self._run_once("train", title, recording(task, history), on_result=trained,
                       on_progress=progressed, on_finished=finished,
                       busy="a training is already running; stop it first")
        self.training.set_running(True)

    # -- the model-transfer matrix --------------------------------------------------------------
    def _choose_models(self) -> None:
        from widgets.common.dialogs import open_folder

        folder = open_folder(self, "Folder of soil models", kind="soil_models")
        if folder:
            self.set_models_folder(folder)

    def set_models_folder(self, folder: Path) -> None:
        """Use the models in ``folder`` for the matrix (InputError when it holds none)."""
        from engines.soil.core_view import model_files

        self.matrix_panel.set_folder(folder, len(model_files(folder)))

    def start_matrix(self) -> None:
        """Every model (the folder's, and the current one when ticked) on every ticked core."""
        from engines.core.progress import forward
        from engines.soil.core_view import iter_load_models, iter_matrix_on_cores, model_files

        panel = self.matrix_panel
        files = model_files(panel.folder) if panel.folder is not None else []
        current = [("current", self.model)] if (panel.with_current.isChecked()
                                                and self.model is not None) else []
        if not files and not current:
            raise InputError("the matrix needs models: choose a models folder or load a model")
        names = self.checked_cores()
        if not names:
            raise InputError("the matrix needs cores: tick cores in the core list")
        cores = self._listed(names)
        threshold, device = panel.threshold.value(), self.host.device_preference()

        def task():
            loaded = yield from forward(iter_load_models(files, device), 0.0, 0.1, "models: ")
            return (yield from forward(iter_matrix_on_cores(current + loaded, cores, threshold),
                                       0.1, 0.9))

        def computed(matrix) -> None:
            panel.set_matrix(matrix)
            self.matrixFinished.emit(matrix)

        self._run_once("matrix", f"Model matrix on {len(names)} cores", task(),
                       on_result=computed, on_finished=lambda _s: panel.set_running(False),
                       busy="the matrix is already being computed")
        panel.set_running(True)

    # -- exports ---------------------------------------------------------------------------------
    def _view(self):
        view = self.views.get(self.current) if self.current else None
        if view is None:
            raise InputError("nothing to export yet: Analyze a core first (Ctrl+Enter)")
        return view

    def export_profile(self, path: Path) -> Path:
        """Porosity per slice: ``slice, depth_mm, object1…`` (and the surrogate's)."""
        view = self._view()
        profile = view.analysis.profile
        names = list(profile.porosity)
        header = ["slice", "depth_mm", *names]
        columns = [profile.porosity[n] for n in names]
        if view.prediction is not None:
            header.append(f"surrogate_object{view.prediction.target}")
            columns.append(view.prediction.predicted)
        rows = ([int(profile.slice_index[i]), f"{profile.depth_mm[i]:.4f}",
                 *(f"{c[i]:.6f}" for c in columns)] for i in range(len(profile)))
        return export_csv(path, header, rows)

    def export_tables(self, path: Path) -> Path:
        """The porosity table and the pore metrics of the current core; with the Compare tab
        shown, the whole-crop porosity of every analysed core; with the Model matrix tab, the
        RMSE matrix."""
        if self.tabs.currentWidget() is self.compare:
            return export_csv(path, self.compare.header, self.compare.rows)
        if self.tabs.currentWidget() is self.matrix_panel and self.matrix_panel.matrix:
            return export_csv(path, *self.matrix_panel.table())
        view = self._view()
        rows = [["porosity", name, f"{p:.6f}", "", hu, "" if r is None else f"{r:.6f}"]
                for name, hu, p, r in view.porosity_rows()]
        rows += [["pore metric", m, value, unit, "", ""] for m, value, unit in view.metric_rows()]
        return export_csv(path, ["table", "name", "value", "unit", "hu_range", "model_rmse"],
                          rows)

    def current_plot(self):
        """The pyqtgraph item the current tab exports."""
        page = self.tabs.currentWidget()
        if page is self.compare:
            return self.compare.plot
        if page is self.training:
            return self.training.curves.ci
        if page is self.matrix_panel:
            return self.matrix_panel.heatmap.ci
        return self.profile.widget.ci  # the plot with its legend

    def export_plot(self, path: Path) -> Path:
        return export_plot(self.current_plot(), path)

    def _export_dialog(self, title: str, name: str, filter_text: str, export) -> None:
        path = save_path(self, title, name, filter_text)
        if path:
            self._guard(lambda: self.host.log(f"wrote {export(path)}"), title)

    def shutdown(self) -> None:
        self.three_d.shutdown()
