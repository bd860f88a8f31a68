"""The soil workspace's 3-D cell (:class:`widgets.imaging.three_d_pane.ThreeDPane`, made only
when the 3-D view is switched on).

With an analysis it shows the core's volume rendering with the ``soil_bands`` transfer function,
the surfaces of the pores and stones (object bands, coloured as in the slice overlay, each
togglable) or, with the grad-CAM overlay, the region where the network looked, and the crop
box.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from engines.soil.core_view import HOT_FRACTION, CoreView, only_objects
from widgets.imaging.three_d_pane import ThreeDPane as VolumePane
from widgets.soil.palette import SURFACE_OBJECTS, label_colours

HOT_COLOUR = (255, 200, 40)  # the top of the inferno colour map of the slice overlay


class ThreeDPane(VolumePane):
    """The core, its pore and stone surfaces (or grad-CAM's hot region) and the crop box."""

    def __init__(self, host, enabled: bool, parent: QWidget | None = None) -> None:
        self._shown: tuple | None = None  # (analysis shown, "bands" | "gradcam")
        super().__init__(host, enabled, "soil_bands", parent)

    def volume_changed(self) -> None:
        self._shown = None

    def show_analysis(self, view: CoreView, overlay: str = "bands") -> None:
        """The crop box and, as the slice views' ``overlay``, the surfaces of the pores and
        stones or the region where grad-CAM reaches half its display maximum."""
        if not self.enabled or self.view is None or view.labels is None:
            return
        key = (id(view), overlay if overlay == "gradcam" and view.heat_volume is not None
               else "bands")
        if key == self._shown:
            return
        self._shown = key
        if self.volume is not view.volume:
            self.set_volume(view.volume)
        crop = view.analysis.crop
        self.view.set_box_outline(crop.start_zyx, crop.size_zyx, name="crop")
        if key[1] == "gradcam":
            self.view.compute_label_surfaces(
                view.heat_region(), {1: f"grad-CAM ≥ {HOT_FRACTION:.0%} of its scale"},
                {1: HOT_COLOUR})
            return
        n = view.analysis.config.n_objects
        keep = [k for k in SURFACE_OBJECTS if k <= n]
        colours = label_colours(view.label_names, n)
        self.view.compute_label_surfaces(only_objects(view.labels, keep),
                                         {k: view.label_names[k] for k in keep},
                                         {k: colours[k] for k in keep})
