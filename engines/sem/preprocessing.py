"""What a micrograph goes through before the network: grey (or RGB) channels, a robust
contrast stretch to 8 bits, and the model's scale.

The same steps serve training and analysis, so a model sees the same kind of input in both:

1. channels — a grey model takes the luma of RGB images (an RGB image whose channels are
   equal gives its first channel), an RGB model repeats grey images three times;
2. levels — the 0.5 and 99.5 percentiles of a strided subsample of the whole image
   (:func:`engines.imaging.image_display.robust_levels`) are stretched to 0…255, so 8-bit,
   16-bit and float images, and images of any brightness and contrast, look alike;
3. scale — the image is resized by the model's ``scale`` (area averaging when shrinking);
   predictions are brought back to the image's size by :class:`RowMap` (nearest rows/columns).

The network's input is then ``(v / 255 - 0.5) / 0.25`` per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate
from engines.imaging.image_display import robust_levels
from engines.sem.readers import to_grey

ROWS_PER_BLOCK = 1024


@dataclass(frozen=True)
class Preprocessing:
    """Input settings stored with a model (its sidecar) and applied before the network."""

    in_channels: int = param(1, label="Input channels", choices=(1, 3),
                             help="1 = grey (RGB images are converted), 3 = RGB")
    scale: float = param(1.0, label="Model scale", range=(0.0625, 4.0), step=0.125,
                         decimals=4, help="images are resized by this factor before the model "
                                          "(0.5 = half resolution: 4× faster, coarser)")
    low_percentile: float = param(0.5, label="Black level", unit="%", range=(0.0, 50.0),
                                  cli=False)
    high_percentile: float = param(99.5, label="White level", unit="%", range=(50.0, 100.0),
                                   cli=False)

    def __post_init__(self) -> None:
        validate(self)

    def model_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(h, w) at the model's scale of an image of ``shape`` (H, W)."""
        return (max(1, int(round(shape[0] * self.scale))),
                max(1, int(round(shape[1] * self.scale))))


def stretch_to_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """(H, W[, C]) uint8: ``image`` with ``low…high`` mapped to 0…255 (clipped), by blocks."""
    out = np.empty(image.shape, dtype=np.uint8)
    gain = 255.0 / (high - low)
    for r0 in range(0, image.shape[0], ROWS_PER_BLOCK):
        block = np.asarray(image[r0:r0 + ROWS_PER_BLOCK], dtype=np.float32)
        block -= np.float32(low)
        block *= np.float32(gain)
        np.clip(block, 0.0, 255.0, out=block)
        out[r0:r0 + ROWS_PER_BLOCK] = np.rint(block)
    return out


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if tuple(image.shape[:2]) == tuple(shape):
        return image
    pil = Image.fromarray(image)
    method = Image.Resampling.BOX if shape[0] < image.shape[0] else Image.Resampling.BILINEAR
    return np.asarray(pil.resize((shape[1], shape[0]), method))


def prepare_image(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """The model's view of a micrograph.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray (may be a memory map)

    Returns
    -------
    (h, w) uint8 for a grey model, (h, w, 3) uint8 for an RGB one, at ``preprocessing.scale``.
    """
    if preprocessing.in_channels == 1:
        image = to_grey(image)
    elif image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    low, high = robust_levels(image, preprocessing.low_percentile,
                              preprocessing.high_percentile)
    stretched = stretch_to_uint8(image, low, high)
    return _resize(stretched, preprocessing.model_shape(stretched.shape[:2]))


def prepare_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label image (H, W) at the model's ``shape`` (h, w), by nearest sampling."""
    if tuple(labels.shape) == tuple(shape):
        return labels
    rows = RowMap(shape[0], labels.shape[0]).source
    cols = RowMap(shape[1], labels.shape[1]).source
    return labels[np.ix_(rows, cols)]


class RowMap:
    """Nearest-neighbour correspondence between ``n`` rows at one scale and ``m`` at another.

    ``source[i]`` is the row of the ``m``-row grid that row ``i`` of the ``n``-row grid takes
    (pixel centres matched: ``floor((i + ½) · m / n)``). The same class maps columns.
    """

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = int(n), int(m)
        self.source = np.minimum(((np.arange(n) + 0.5) * m / n).astype(np.int64), m - 1)

    def rows_of(self, y0: int, y1: int) -> tuple[int, int]:
        """The ``n``-grid rows ``[a, b)`` whose source rows lie in ``[y0, y1)``."""
        return (int(np.searchsorted(self.source, y0, "left")),
                int(np.searchsorted(self.source, y1, "left")))


def network_input(batch, in_channels: int):
    """A (B, h, w[, 3]) uint8 tensor as the network's (B, C, h, w) float input."""
    x = batch.float() if in_channels == 1 else batch.permute(0, 3, 1, 2).float()
    if in_channels == 1:
        x = x.unsqueeze(1)
    return (x / 255.0 - 0.5) / 0.25
