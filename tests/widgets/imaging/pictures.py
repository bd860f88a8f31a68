"""Pictures of the slice views and the 3-D view on synthetic phantoms, for the docs.

Run under a display: ``xvfb-run -a -s "-screen 0 1600x1000x24" python -m
tests.widgets.imaging.pictures docs`` writes ``docs/imaging_slice_views.png`` (a chest CT in
the nodules layout: lung window, label overlay, a grad-CAM map around the nodule) and
``docs/imaging_volume_view.png`` (a soil core: object-band rendering, pore / stone / root
surfaces, the inner crop box, the crosshair planes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _chest_pictures(app, out: Path) -> None:
    from tests.engines.imaging.phantoms import LUNG, MARKER, NODULE, SPINE, chest_phantom
    from widgets.imaging.slice_view import SliceViews

    ct, labels = chest_phantom(shape_zyx=(100, 256, 320), spacing_xyz=(0.7, 0.7, 2.5))
    nodule = np.argwhere(labels.array == NODULE).mean(axis=0)
    views = SliceViews(layout="main+2")
    views.resize(1500, 820)
    views.show()
    views.set_volume(ct, window="lung", position=nodule)
    views.set_labels(labels, colours={LUNG: (86, 180, 233), SPINE: (230, 159, 0),
                                      MARKER: (240, 228, 66), NODULE: (213, 94, 0)},
                     opacity=0.3)
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in (25, 64, 80)], indexing="ij"), -1)
    centre = (nodule + 0.5) * np.array([25, 64, 80]) / np.array(ct.shape) - 0.5
    spread = np.array([1.5, 4.0, 4.0])
    heat = np.exp(-0.5 * (((zyx - centre) / spread) ** 2).sum(-1)).astype(np.float32)
    views.set_heatmap(heat, title="grad-CAM (nodule)", opacity=0.7)
    for _ in range(10):
        app.processEvents()
    views.grab().save(str(out / "imaging_slice_views.png"))
    views.close()


def _soil_picture(app, out: Path) -> None:
    from tests.engines.imaging.phantoms import PORE, ROOT, STONE, soil_core_phantom
    from widgets.imaging.volume_view import VolumeView

    ct, labels = soil_core_phantom(shape_zyx=(240, 200, 200), spacing_xyz=(0.351, 0.351, 0.25))
    view = VolumeView()
    view.resize(1100, 760)
    view.show()
    for _ in range(5):
        app.processEvents()
    shifted = ct.with_array((np.clip(ct.array, -2048, 4096) + 2048).astype(np.int16))
    view.set_volume(shifted, preset="soil_bands", value_offset=2048)
    view.compute_label_surfaces(labels, names={PORE: "air pores", STONE: "stones",
                                               ROOT: "root channel"},
                                colours={PORE: (86, 180, 233), STONE: (150, 150, 160),
                                         ROOT: (0, 158, 115)})
    nz, ny, nx = ct.shape
    size = (nz - 40, ny // 2, nx // 2)
    view.set_box_outline(((nz - size[0]) // 2, (ny - size[1]) // 2, (nx - size[2]) // 2), size,
                         name="crop")
    view.set_position((nz // 2, ny // 2, nx // 2))
    camera = view.scene.renderer.GetActiveCamera()
    camera.Elevation(25)
    camera.Azimuth(30)
    camera.OrthogonalizeViewUp()
    view.scene.renderer.ResetCamera()
    view.render_now()
    for _ in range(5):
        app.processEvents()
    view.grab_picture().save(str(out / "imaging_volume_view.png"))
    view.shutdown()


def main(out: str = "docs", which: str = "slices,volume") -> None:
    """Write the pictures named in ``which`` (``slices``, ``volume``) into folder ``out``."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    if "slices" in which:
        _chest_pictures(app, target)
    if "volume" in which:
        _soil_picture(app, target)


if __name__ == "__main__":
    main(*sys.argv[1:])
