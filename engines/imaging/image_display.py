"""What a large 2-D image view needs, computed without Qt (no drawing here).

- :func:`build_pyramid` (shapes: :func:`pyramid_shapes`): 2×, 4×, 8×, … box-averaged levels,
  so a zoomed-out view draws a few screen-sized pixels instead of 56 million.
- :func:`robust_levels`: display window (levels) from percentiles of a strided subsample, for
  16-bit and float images (about a million pixels looked at, whatever the image size).
- :func:`overlay_codes`: a class-index label image turned into 8-bit colour-table codes for an
  indexed overlay: the class index (0…126) for fills, ``+ OUTLINE`` on boundary pixels, so one
  256-entry colour table shows fills, outlines or both, and hides a class by its alpha.
"""

from __future__ import annotations

import numpy as np

from engines.core.errors import InputError

NO_CLASS = 127     # code of unlabelled pixels and of labels outside 0..126
OUTLINE = 128      # added to the class code on boundary pixels
MAX_CLASSES = NO_CLASS
_WIDER = {np.dtype(np.uint8): np.uint16, np.dtype(np.uint16): np.uint32,
          np.dtype(np.int8): np.int16, np.dtype(np.int16): np.int32}


def downsample2(image: np.ndarray) -> np.ndarray:
    """Mean of 2 × 2 blocks of ``image`` (H, W[, C]) → (H // 2, W // 2[, C]), same dtype (integers
    rounded); an odd last row / column is dropped."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    part = image[:h, :w]
    if image.dtype.kind == "f":
        total = part[0::2, 0::2].astype(np.float64)
        divide = True
    else:
        total = part[0::2, 0::2].astype(_WIDER.get(image.dtype, np.int64))
        divide = False
    total += part[1::2, 0::2]
    total += part[0::2, 1::2]
    total += part[1::2, 1::2]
    if divide:
        return (total / 4).astype(image.dtype)
    total += 2
    total //= 4
    return total.astype(image.dtype)


def pyramid_shapes(shape: tuple[int, int], min_size: int = 512) -> list[tuple[int, int]]:
    """``(h, w)`` of every level of :func:`build_pyramid` for an image of ``shape``: halved
    (rounded down) until the longer side is at most ``min_size`` px."""
    shapes = [(int(shape[0]), int(shape[1]))]
    while max(shapes[-1]) > min_size and min(shapes[-1]) >= 2:
        shapes.append((shapes[-1][0] // 2, shapes[-1][1] // 2))
    return shapes


def build_pyramid(image: np.ndarray, min_size: int = 512) -> list[np.ndarray]:
    """``[image, image/2, image/4, …]`` until the longer side is at most ``min_size`` px.

    Level ``k`` pixel ``(i, j)`` is the mean of level-0 pixels ``[i·2^k, (i+1)·2^k) ×
    [j·2^k, (j+1)·2^k)``. Level 0 is ``image`` itself (no copy); the others add a third of its
    memory. About 0.2 s for an 8000 × 7000 uint8 image on one core (see the tiling benchmark).
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise InputError(f"an image must be (H, W) or (H, W, C), got shape {image.shape}")
    if image.dtype.kind not in "uif":
        raise InputError(f"an image must hold numbers, got dtype {image.dtype}")
    levels = [image]
    for _ in pyramid_shapes(image.shape[:2], min_size)[1:]:
        levels.append(downsample2(levels[-1]))
    return levels


def robust_levels(image: np.ndarray, low: float = 0.5, high: float = 99.5,
                  max_samples: int = 1 << 20) -> tuple[float, float]:
    """Display levels ``(lo, hi)``: the ``low`` and ``high`` percentiles of at most about
    ``max_samples`` pixels taken on a regular grid (all channels pooled; NaNs ignored).
    ``hi > lo`` always (a flat image gets ``(v, v + 1)``)."""
    image = np.asarray(image)
    step = max(1, int(np.ceil(np.sqrt(image.shape[0] * image.shape[1] / max_samples))))
    sample = image[::step, ::step].astype(np.float64, copy=False)
    if sample.size == 0 or not np.isfinite(sample).any():
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.nanpercentile(sample, [low, high]))
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def class_codes(classes: np.ndarray) -> np.ndarray:
    """(H, W) uint8 class codes: the class index for 0 … 126, ``NO_CLASS`` for anything else."""
    classes = np.asarray(classes)
    if classes.dtype.kind == "u" or classes.dtype == np.bool_:
        return np.minimum(classes, NO_CLASS).astype(np.uint8, copy=False)
    inside = (classes >= 0) & (classes < NO_CLASS)
    return np.where(inside, classes, NO_CLASS).astype(np.uint8)


def boundary_mask(ids: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour of a different id (the image border is not a
    boundary)."""
    edge = np.zeros(ids.shape, dtype=bool)
    vertical = ids[1:] != ids[:-1]
    edge[1:] |= vertical
    edge[:-1] |= vertical
    horizontal = ids[:, 1:] != ids[:, :-1]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def overlay_codes(classes: np.ndarray, objects: np.ndarray | None = None,
                  background_object: int = 0) -> np.ndarray:
    """Colour-table codes for an indexed overlay.

    Parameters
    ----------
    classes : (H, W) int ndarray
        Class index per pixel; values outside ``0 … 126`` become ``NO_CLASS``.
    objects : (H, W) int ndarray, optional
        Object id per pixel (e.g. connected components of the binary mask). When given,
        outlines are the objects' own boundary pixels (not those of ``background_object``);
        otherwise they are the boundaries between classes (on both sides).
    background_object : int
        The object id of "no object".

    Returns
    -------
    (H, W) uint8
        ``class`` on plain pixels, ``class + OUTLINE`` on outline pixels.
    """
    codes = class_codes(classes)
    if codes is classes:
        codes = codes.copy()
    if objects is None:
        edge = boundary_mask(codes)
    else:
        objects = np.asarray(objects)
        if objects.shape != codes.shape:
            raise InputError(f"object image {objects.shape} and class image {codes.shape} "
                             "differ in size")
        edge = boundary_mask(objects) & (objects != background_object)
    codes[edge] |= OUTLINE
    return codes
