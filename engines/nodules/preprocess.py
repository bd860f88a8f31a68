"""From HU slices to the detector's input: window, in-plane resampling, the 2.5-D stack, and
which slices training uses.

* **Window**: HU clipped to ``hu_window`` and scaled to [0, 1] (lung tissue ≈ 0.1, soft tissue
  ≈ 0.75 with the default [−1000, 400]).
* **In-plane resampling** to ``pixel_mm`` (bilinear, antialiased when shrinking), so that the
  detector's default boxes mean the same millimetres on every scanner; slices are not
  resampled in z. A :class:`PlaneMap` converts boxes between the scan's voxel-edge units and
  the model's pixels, including the crop to the lungs and the padding to a multiple of 32.
* **2.5-D input** (the paper's neighbours): channel 0, 1, 2 = slices ``z − k``, ``z``,
  ``z + k``, repeated at the ends; ``k = 1`` as in the paper, or the slice nearest
  ``context_mm`` away for thin-slice scans.
* **Training slices**: every slice that cuts a nodule, the paper's three centre slices of the
  scan, and negative slices drawn from the rest of the lungs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate

PAD_MULTIPLE = 32


def _window_check(value: tuple[float, float]) -> str | None:
    return None if len(value) == 2 and value[0] < value[1] else "needs low < high"


def parse_pair(text: str) -> tuple[float, float]:
    """``"-1000:400"`` → (-1000.0, 400.0)."""
    from engines.core.errors import InputError

    try:
        low, high = (float(v) for v in str(text).split(":"))
    except ValueError:
        raise InputError(f"expected LOW:HIGH, got {text!r}") from None
    return low, high


def format_pair(value: tuple[float, float]) -> str:
    return f"{value[0]:g}:{value[1]:g}"


@dataclass(frozen=True)
class PreprocessConfig:
    """How a slice becomes the detector's 3-channel image (stored with the model)."""

    hu_window: tuple[float, float] = param((-1000.0, 400.0), label="HU window", unit="HU",
                                           range=(-3000.0, 4000.0), check=_window_check,
                                           parse=parse_pair, format=format_pair,
                                           help="HU mapped to 0…1 (clipped outside), "
                                                "LOW:HIGH")
    pixel_mm: float = param(0.7, label="Pixel size", unit="mm", range=(0.3, 3.0), step=0.05,
                            decimals=2, help="in-plane resampling of every slice")
    context_mm: float = param(0.0, label="Neighbour distance", unit="mm", range=(0.0, 10.0),
                              step=0.5, decimals=1,
                              help="channels are the slices this far above and below; 0 = "
                                   "the adjacent slices (the paper's z−1, z, z+1)")

    def __post_init__(self) -> None:
        validate(self)

    def neighbour_offset(self, slice_mm: float) -> int:
        """Slices between the centre channel and each neighbour (at least 1)."""
        if self.context_mm <= 0:
            return 1
        return max(1, int(round(self.context_mm / slice_mm)))


def window(hu: np.ndarray, hu_window: tuple[float, float]) -> np.ndarray:
    """HU → [0, 1] float32."""
    low, high = hu_window
    out = (np.asarray(hu, dtype=np.float32) - np.float32(low)) / np.float32(high - low)
    return np.clip(out, 0.0, 1.0, out=out)


@dataclass(frozen=True)
class PlaneMap:
    """In-plane geometry between a scan's slices and the model's images.

    The crop ``[y0, y0 + h) × [x0, x0 + w)`` (voxels) is resampled to ``size`` (H, W) pixels
    and zero-padded at the bottom and right to ``padded``.
    """

    y0: int
    x0: int
    crop: tuple[int, int]
    size: tuple[int, int]
    padded: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """Model pixels per voxel along y and x."""
        return self.size[0] / self.crop[0], self.size[1] / self.crop[1]

    def to_model(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes ``(n, 4)`` x0, y0, x1, y1 from voxel-edge units to model pixels."""
        boxes = np.reshape(np.asarray(boxes, dtype=np.float64), (-1, 4))
        fy, fx = self.scale
        return (boxes - [self.x0, self.y0, self.x0, self.y0]) * [fx, fy, fx, fy]

    def to_voxel(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes ``(n, 4)`` from model pixels back to voxel-edge units."""
        boxes = np.reshape(np.asarray(boxes, dtype=np.float64), (-1, 4))
        fy, fx = self.scale
        return boxes / [fx, fy, fx, fy] + [self.x0, self.y0, self.x0, self.y0]


def plane_map(shape_yx: tuple[int, int], spacing_yx: tuple[float, float], pixel_mm: float,
              bounds: tuple[int, int, int, int] | None = None) -> PlaneMap:
    """The :class:`PlaneMap` of slices ``shape_yx`` with voxel size ``spacing_yx`` (mm),
    cropped to ``bounds`` (y0, x0, y1, x1; default the whole slice)."""
    y0, x0, y1, x1 = bounds or (0, 0, *shape_yx)
    crop = (max(1, y1 - y0), max(1, x1 - x0))
    size = tuple(max(1, int(round(n * s / pixel_mm))) for n, s in zip(crop, spacing_yx,
                                                                      strict=True))
    padded = tuple(-(-n // PAD_MULTIPLE) * PAD_MULTIPLE for n in size)
    return PlaneMap(int(y0), int(x0), crop, size, padded)


def resample_planes(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (n, h, w) float32 planes to (n, H, W), bilinear (antialiased when shrinking)."""
    import torch
    import torch.nn.functional as F

    planes = np.ascontiguousarray(planes, dtype=np.float32)
    if planes.shape[1:] == tuple(size):
        return planes
    shrink = size[0] < planes.shape[1] or size[1] < planes.shape[2]
    with torch.inference_mode():
        out = F.interpolate(torch.from_numpy(planes)[:, None], size=size, mode="bilinear",
                            align_corners=False, antialias=shrink)
    return out[:, 0].numpy()


def stack_slices(array: np.ndarray, zs: np.ndarray, offset: int, geometry: PlaneMap,
                 hu_window: tuple[float, float]) -> np.ndarray:
    """The 2.5-D images of slices ``zs``: (n, 3, Hp, Wp) float32 in [0, 1].

    Parameters
    ----------
    array : (nz, ny, nx)
        HU of the scan (any integer or float type; only the slices needed are read).
    offset
        Slices between the centre channel and each neighbour.
    """
    zs = np.asarray(zs, dtype=np.int64)
    nz = array.shape[0]
    channels = np.clip(zs[:, None] + np.array([-offset, 0, offset]), 0, nz - 1)
    needed, inverse = np.unique(channels, return_inverse=True)
    y, x = geometry.y0, geometry.x0
    h, w = geometry.crop
    planes = window(array[needed, y:y + h, x:x + w], hu_window)
    planes = resample_planes(planes, geometry.size)
    out = np.zeros((len(zs), 3, *geometry.padded), np.float32)
    out[:, :, :geometry.size[0], :geometry.size[1]] = planes[inverse.reshape(-1, 3)]
    return out


@dataclass(frozen=True)
class SliceChoice:
    """Slices of one scan chosen for training: ``positive`` (cut a nodule), ``centre`` (the
    paper's centre slices) and ``negative`` ones, each a sorted int64 array."""

    positive: np.ndarray
    centre: np.ndarray
    negative: np.ndarray

    def all(self) -> np.ndarray:
        return np.unique(np.concatenate([self.positive, self.centre, self.negative]))


def choose_slices(n_slices: int, nodule_slices: np.ndarray, lung_slices: range,
                  rng: np.random.Generator, negative_ratio: float = 1.0, centre_slices: int = 3,
                  avoid: np.ndarray | None = None) -> SliceChoice:
    """The training slice choice (module docstring).

    Parameters
    ----------
    nodule_slices
        Slices whose truth holds a box to learn.
    lung_slices
        Where negatives may come from (slices with lung).
    negative_ratio
        Negatives per positive slice (at least two negatives per scan).
    avoid
        Slices that must not be negatives (grazing cuts, excluded findings).
    """
    positive = np.unique(np.asarray(nodule_slices, dtype=np.int64))
    middle = n_slices // 2
    centre = np.arange(middle - (centre_slices - 1) // 2, middle + centre_slices // 2 + 1)
    centre = centre[(centre >= 0) & (centre < n_slices)] if centre_slices else centre[:0]
    banned = set(positive.tolist()) | set(centre.tolist())
    if avoid is not None:
        banned |= set(np.asarray(avoid, dtype=np.int64).tolist())
    pool = np.array([z for z in lung_slices if z not in banned], dtype=np.int64)
    count = min(len(pool), max(2, int(round(negative_ratio * len(positive)))))
    negative = np.sort(rng.choice(pool, size=count, replace=False)) if count else pool[:0]
    return SliceChoice(positive, centre.astype(np.int64), negative)
