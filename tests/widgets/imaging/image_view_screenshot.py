"""Draw the image view on a synthetic 8000 × 7000 steel micrograph and save a PNG.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tests.widgets.imaging.image_view_screenshot \
        docs/imaging_image_view.png

The micrograph is made up (seeded): ferrite grains with darker boundaries, second-phase objects
(thresholded smooth noise) each of one class, textured by class (pearlite lamellae, martensite
laths, bainite and tempered-martensite speckle); the overlay shows the object classes as faint
fills with outlines, the matrix hidden in the legend; a review box around every object, in
three states, a mid-sized one near the centre selected; pixel size 0.1 µm. Not a test: it regenerates the picture in docs/.
"""

from __future__ import annotations

import sys

import numpy as np

HEIGHT, WIDTH = 7000, 8000
NAMES = ["ferrite (matrix)", "martensite", "tempered martensite", "bainite", "pearlite"]
COLOURS = [(170, 170, 170), (235, 45, 45), (40, 190, 70), (50, 110, 250), (245, 205, 0)]
PENS = {"pending": (255, 255, 255), "accepted": (0, 230, 230), "rejected": (255, 70, 210)}


def micrograph(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image uint8, class labels uint8, object ids int32), each (HEIGHT, WIDTH)."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    coarse = 4
    ch, cw = HEIGHT // coarse, WIDTH // coarse
    seeds = rng.uniform(0, 1, (900, 2)) * [ch, cw]
    yy, xx = np.mgrid[0:ch, 0:cw]
    _, grain = cKDTree(seeds).query(np.column_stack([yy.ravel(), xx.ravel()]))
    grain = grain.reshape(ch, cw)
    boundary = ndimage.binary_dilation(
        (np.diff(grain, axis=0, prepend=grain[:1]) != 0)
        | (np.diff(grain, axis=1, prepend=grain[:, :1]) != 0))
    tone = rng.normal(0, 6, grain.max() + 1)[grain]
    base = 150 + tone - 45 * boundary
    blobs = ndimage.gaussian_filter(rng.normal(0, 1, (ch, cw)), 14)
    mask = blobs > np.quantile(blobs, 0.86)
    objects_coarse, n_objects = ndimage.label(mask)
    classes_of = np.concatenate([[0], rng.integers(1, 5, n_objects)])
    up = np.ones((coarse, coarse), dtype=np.int32)
    objects = np.kron(objects_coarse.astype(np.int32), up)
    labels = classes_of[objects].astype(np.uint8)
    image = np.kron(base.astype(np.float32), up.astype(np.float32))
    image += rng.normal(0, 7, image.shape).astype(np.float32)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    cols = np.arange(WIDTH, dtype=np.float32)[None, :]
    angle = rng.uniform(0, np.pi, n_objects + 1).astype(np.float32)[objects]
    phase = rows * np.sin(angle) + cols * np.cos(angle)
    texture = {1: 30 * np.sign(np.sin(phase / 9.0)),             # martensite laths
               2: 22 * np.sin(phase / 5.0) * np.cos(rows / 7.0),   # tempered: broken laths
               3: 0.0,                                             # bainite: speckle below
               4: 40 * np.sin(phase / 3.2)}                        # pearlite lamellae
    for cls, pattern in texture.items():
        inside = labels == cls
        offset = {1: -55, 2: -35, 3: -60, 4: -20}[cls]
        values = pattern[inside] if np.ndim(pattern) else 0.0
        image[inside] += offset + values
    speckle = labels == 3
    image[speckle] += rng.normal(0, 25, int(speckle.sum())).astype(np.float32)
    return image.clip(0, 255).astype(np.uint8), labels, objects


def main(out: str) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from scipy import ndimage

    from widgets.imaging.image_view import ImageView

    image, labels, objects = micrograph()
    rng = np.random.default_rng(1)
    # review boxes: the objects' bounding boxes, 8 px larger on each side
    rects = np.array([(s[1].start - 8, s[0].start - 8, s[1].stop + 8, s[0].stop + 8)
                      for s in ndimage.find_objects(objects)], dtype=np.float64)
    states = list(rng.choice(list(PENS), len(rects), p=[0.5, 0.3, 0.2]))

    view = ImageView()
    view.resize(1400, 900)
    view.show()
    view.set_image(image, pixel_size_um=0.1)
    view.set_classes(NAMES, COLOURS)
    view.set_labels(labels, objects)
    view.set_overlay_mode("both")
    view.set_overlay_opacity(0.3)
    view.set_class_visible(0, False)
    view.boxes.set_pens(PENS)
    view.boxes.set_boxes(list(range(len(rects))), rects, states)
    centres = (rects[:, :2] + rects[:, 2:]) / 2
    size = np.minimum(rects[:, 2] - rects[:, 0], rects[:, 3] - rects[:, 1])
    distance = np.hypot(*(centres - [WIDTH / 2, HEIGHT / 2]).T) + 1e9 * (size < 200)
    chosen = int(np.argmin(distance))
    view.centre_on(*centres[chosen], zoom=0.3)
    view.boxes.select(chosen)
    for _ in range(3):
        app.processEvents()
    view.grab().save(out)
    print(f"{out}: zoom {view.zoom:.3f}, scale bar {view.scale_bar.text} "
          f"({view.scale_bar.bar_px:.0f} px)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "imaging_image_view.png")
