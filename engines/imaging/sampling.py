"""Training crops for class balance (a stride per class) and rotation augmentation.

The paper (Azimi et al., §4.3.4) balances classes by cropping "with different stride
parameters" per class, "the class with least number of images had smaller stride", so that in
the end every class has about the same number of patches, and rotates the patches by 90°, 180°
and 270°.

The rule used here to say which class a crop belongs to (and so which stride grid applies):
each class ``c`` has its own grid of crop origins (:func:`engines.imaging.tiling.axis_starts`
with stride ``s_c`` along both axes); an origin of that grid is kept when the crop's *deciding
class* is ``c``. The deciding class is

``"centre"`` (default)
    the label of the crop's centre pixel ``(y0 + h // 2, x0 + w // 2)``. Then class ``c`` gets
    about ``A_c / s_c²`` crops for a class area ``A_c`` px, whatever the objects' sizes, so
    strides ``s_c ∝ √A_c`` balance the classes (:func:`balancing_strides`). This works for
    small objects (bainite) that are never the majority of a 1000-px window.
``"majority"``
    the most frequent label in the crop (ties to the lower class index).

Labels outside ``[0, n_classes)`` (e.g. 255 = unlabelled) belong to no class: a crop whose
deciding pixel (or whole area) is unlabelled is never chosen. A crop's class is unique, so an
origin that lies on several classes' grids is still chosen at most once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engines.core.errors import InputError
from engines.imaging.tiling import Size, as_pair, axis_starts, crop_window

RULES = ("centre", "majority")
ROTATION_ANGLES = (0, 90, 180, 270)


@dataclass(frozen=True)
class TrainingCrops:
    """Chosen crop origins and the class that chose each.

    Attributes
    ----------
    origins : (N, 2) int64
        ``(y0, x0)`` of each crop, px, sorted by class, then raster order.
    classes : (N,) int64
        The deciding class of each crop.
    window : (h, w)
        Crop size, px.
    """

    origins: np.ndarray
    classes: np.ndarray
    window: tuple[int, int]

    def __len__(self) -> int:
        return len(self.classes)

    def counts(self, n_classes: int) -> np.ndarray:
        """(n_classes,) number of crops per class."""
        return np.bincount(self.classes, minlength=n_classes)

    def crop(self, array: np.ndarray, index: int) -> np.ndarray:
        """Crop ``index`` of ``array`` (image or label image, ``(H, W[, C])``)."""
        y0, x0 = self.origins[index]
        return crop_window(array, int(y0), int(x0), self.window)


def _class_strides(strides: Mapping[int, int] | Sequence[int | None],
                   n_classes: int) -> dict[int, int]:
    items = strides.items() if isinstance(strides, Mapping) else enumerate(strides)
    result = {}
    for cls, stride in items:
        if stride is None:
            continue
        if not 0 <= int(cls) < n_classes:
            raise InputError(f"stride given for class {cls}, but classes are 0..{n_classes - 1}")
        result[int(cls)] = as_pair(stride, f"stride of class {cls}")[0]
    if not result:
        raise InputError("no class has a stride")
    return result


def _window_class_counts(labels: np.ndarray, n_classes: int, window: tuple[int, int],
                         ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(len(ys), len(xs), n_classes) pixel counts per class in every window of the grid.

    One pass down the image with running column sums; only the sums at the window starts still
    to be closed are kept, so memory is O(n_classes × W × window_h / stride), not O(H × W).
    """
    height, width = labels.shape
    ends = np.minimum(ys + window[0], height)
    x_ends = np.minimum(xs + window[1], width)
    out = np.zeros((len(ys), len(xs), n_classes), dtype=np.int64)
    running = np.zeros((n_classes, width + 1), dtype=np.int64)  # column sums, leading 0 column
    saved: dict[int, np.ndarray] = {}
    closing: dict[int, list[int]] = {}
    for i, end in enumerate(ends):
        closing.setdefault(int(end), []).append(i)
    starts = {int(y) for y in ys}
    position = 0
    for mark in np.unique(np.concatenate([ys, ends])):
        block = labels[position:mark]
        for cls in range(n_classes):
            running[cls, 1:] += np.count_nonzero(block == cls, axis=0)
        position = int(mark)
        if position in starts:
            saved[position] = running.copy()
        for i in closing.get(position, ()):
            band = np.cumsum(running - saved.pop(int(ys[i])), axis=1)  # (K, W + 1)
            out[i] = (band[:, x_ends] - band[:, xs]).T
    return out


def class_balanced_origins(labels: np.ndarray, window: Size,
                           strides: Mapping[int, int] | Sequence[int | None],
                           n_classes: int | None = None, rule: str = "centre") -> TrainingCrops:
    """Training crop origins with a stride per class (see the module docstring for the rule).

    Parameters
    ----------
    labels : (H, W) int ndarray
        Class index per pixel; values outside ``[0, n_classes)`` are unlabelled.
    window : int or (h, w)
        Crop size, px.
    strides : mapping class -> stride, or sequence indexed by class
        Stride in px (both axes) of each class's grid; a class without one (absent or ``None``)
        gets no crops. Rarer classes get smaller strides.
    n_classes : int, optional
        Number of classes; default ``len(strides)`` for a sequence, else ``max(class) + 1``.
    rule : {"centre", "majority"}
        How a crop's class is decided.

    Returns
    -------
    TrainingCrops
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iub":
        raise InputError(f"labels must be a 2-D integer image, got {labels.dtype} "
                         f"{labels.shape}")
    if rule not in RULES:
        raise InputError(f"unknown crop rule {rule!r}; choose one of {', '.join(RULES)}")
    if n_classes is None:
        n_classes = len(strides) if not isinstance(strides, Mapping) else max(strides) + 1
    per_class = _class_strides(strides, int(n_classes))
    window = as_pair(window, "window")
    height, width = labels.shape
    grids = {cls: (axis_starts(height, window[0], s), axis_starts(width, window[1], s))
             for cls, s in per_class.items()}
    all_ys = np.unique(np.concatenate([g[0] for g in grids.values()]))
    all_xs = np.unique(np.concatenate([g[1] for g in grids.values()]))
    if rule == "centre":
        cy = np.minimum(all_ys + window[0] // 2, height - 1)
        cx = np.minimum(all_xs + window[1] // 2, width - 1)
        decided = labels[np.ix_(cy, cx)].astype(np.int64)
        decided[(decided < 0) | (decided >= n_classes)] = -1
    else:
        counts = _window_class_counts(labels, int(n_classes), window, all_ys, all_xs)
        decided = np.where(counts.sum(axis=2) > 0, counts.argmax(axis=2), -1)
    origins, classes = [], []
    for cls in sorted(grids):
        ys, xs = grids[cls]
        chosen = decided[np.ix_(np.searchsorted(all_ys, ys), np.searchsorted(all_xs, xs))] == cls
        rows, cols = np.nonzero(chosen)
        origins.append(np.stack([ys[rows], xs[cols]], axis=1))
        classes.append(np.full(len(rows), cls, dtype=np.int64))
    return TrainingCrops(np.concatenate(origins).astype(np.int64), np.concatenate(classes),
                         window)


def balancing_strides(labels: np.ndarray, n_classes: int, largest_stride: int,
                      smallest_stride: int = 1) -> list[int | None]:
    """Per-class strides that give every present class about the same number of crops under
    the ``"centre"`` rule: ``s_c = largest_stride · √(A_c / A_max)`` (at least
    ``smallest_stride``), with ``A_c`` the pixel area of class ``c``; ``None`` for absent classes.
    """
    labels = np.asarray(labels)
    valid = labels[(labels >= 0) & (labels < n_classes)].astype(np.int64)
    areas = np.bincount(valid.ravel(), minlength=n_classes).astype(np.float64)
    if areas.max(initial=0) == 0:
        raise InputError("no pixel carries a class label")
    scale = np.sqrt(areas / areas.max())
    return [None if area == 0 else max(int(smallest_stride), round(largest_stride * f))
            for area, f in zip(areas, scale, strict=True)]


def rotate_pair(image: np.ndarray, label: np.ndarray, angle: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W[, C]) and ``label`` (H, W) rotated counter-clockwise by ``angle`` degrees
    (0, 90, 180 or 270) about the image centre; views, not copies."""
    if angle not in ROTATION_ANGLES:
        raise InputError(f"rotation must be one of {ROTATION_ANGLES} degrees, got {angle}")
    if tuple(image.shape[:2]) != tuple(label.shape[:2]):
        raise InputError(f"image {tuple(image.shape[:2])} and label {tuple(label.shape[:2])} "
                         "differ in size")
    k = angle // 90
    return np.rot90(image, k, axes=(0, 1)), np.rot90(label, k, axes=(0, 1))


def rotations(image: np.ndarray, label: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pair unrotated, then rotated by 90°, 180° and 270° (the paper's augmentation)."""
    for angle in ROTATION_ANGLES:
        yield rotate_pair(image, label, angle)
