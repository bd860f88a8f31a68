"""Grad-CAM of the surrogate regression (Selvaraju et al.; the paper's Fig. 16).

For a convolutional layer with activations A (after its ReLU, as Keras' ``block5_conv3``), the
weights are the spatial means of ∂porosity/∂A per channel, and the map is
ReLU(Σ_c w_c A_c). The map lives on the layer's grid, one cell per ``stride`` × ``stride``
input pixels (stride = 2 per max-pool before the layer; a pool drops the odd last row/column,
so cell j covers input pixels [j·s, (j+1)·s)). :func:`upsample_cam` maps it back exactly: a
bilinear resize to (h·s, w·s) with half-pixel centres puts every cell's value at its cell's
centre, the rows and columns the pools dropped repeat the edge, and when the network resized
the slice to its input size the map is resized back the same way.

:func:`iter_heat_volume` runs this slice by slice over a core and stacks the maps into a 3-D
heat volume on the crop, normalised by its maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.soil.dataset import CoreSlices
from engines.soil.models import SoilSurrogate, conv_layer_names
from engines.soil.preprocess import CropBox


def layer_names(model: SoilSurrogate) -> list[str]:
    """The convolutional layers grad-CAM can use, first to last (``block1_conv1`` …)."""
    return [name for name, _, _ in conv_layer_names(model.net)]


def _layer(model: SoilSurrogate, name: str | None) -> tuple[str, int, int]:
    layers = conv_layer_names(model.net)
    if name is None:
        return layers[-1]
    for layer in layers:
        if layer[0] == name:
            return layer
    raise InputError(f"unknown layer {name!r}; valid names: {', '.join(n for n, _, _ in layers)}")


def upsample_cam(cam: np.ndarray, stride: int, input_size: int, shape) -> np.ndarray:
    """A map on a layer's grid (n, h, w) at the slice's pixels (n, H, W) (see the module)."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.asarray(cam, dtype=np.float32))[:, None]
    h, w = x.shape[-2:]
    x = F.interpolate(x, size=(h * stride, w * stride), mode="bilinear", align_corners=False)
    x = F.pad(x, (0, input_size - w * stride, 0, input_size - h * stride), mode="replicate")
    if tuple(shape) != (input_size, input_size):
        x = F.interpolate(x, size=tuple(shape), mode="bilinear", align_corners=False)
    return x[:, 0].numpy()


def grad_cam(model: SoilSurrogate, channels: np.ndarray, layer: str | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of slices.

    Parameters
    ----------
    channels : (n, 3, H, W)
        Slice inputs (:func:`engines.soil.dataset.slice_channels`).
    layer
        A name from :func:`layer_names` (default: the last convolution).

    Returns
    -------
    cams : (n, H, W) float32, ≥ 0
        Unnormalised maps at the slice's pixels.
    predicted : (n,) float32
        The network's porosity for each slice.
    """
    import torch
    import torch.nn as nn

    name, index, stride = _layer(model, layer)
    features = model.net.vgg.features
    activation = next((i for i in range(index + 1, len(features))
                       if isinstance(features[i], nn.ReLU)), index)
    captured = {}

    def hook(_module, _inputs, output):
        captured["a"] = output

    handle = features[activation].register_forward_hook(hook)
    model.net.eval()
    try:
        with torch.enable_grad():
            x = torch.as_tensor(np.asarray(channels, dtype=np.float32)).to(model.device)
            predicted = model.net(x)
            grads = torch.autograd.grad(predicted.sum(), captured["a"])[0]
            weights = grads.mean(dim=(2, 3), keepdim=True)
            cam = torch.relu((weights * captured["a"]).sum(dim=1)).detach().float().cpu()
    finally:
        handle.remove()
    maps = upsample_cam(cam.numpy(), stride, model.input_size, channels.shape[-2:])
    return np.maximum(maps, 0.0).astype(np.float32), predicted.detach().float().cpu().numpy()


@dataclass
class HeatVolume:
    """Grad-CAM over a core's depth.

    Attributes
    ----------
    heat : (crop z, y, x) float32 in [0, 1]
        The maps stacked along the depth, in the volume's orientation, divided by their
        maximum (``raw_max``).
    crop, depth_axis
        Where it lies in the volume.
    slice_index : (n,)
        Volume slice index of each map along the depth.
    predicted, computed : (n,)
        The network's and the analysis' porosity of the model's object per slice.
    layer
    """

    heat: np.ndarray
    raw_max: float
    crop: CropBox
    depth_axis: int
    slice_index: np.ndarray
    predicted: np.ndarray
    computed: np.ndarray
    layer: str

    def slice(self, index: int) -> np.ndarray:
        """The normalised map of volume slice ``index`` (along the depth), (rows, cols)."""
        where = np.flatnonzero(self.slice_index == index)
        if where.size == 0:
            raise InputError(f"slice {index} is outside the crop (slices "
                             f"{self.slice_index[0]}…{self.slice_index[-1]})")
        return np.take(self.heat, int(where[0]), axis=self.depth_axis)


def iter_heat_volume(model: SoilSurrogate, core: CoreSlices, layer: str | None = None,
                     batch_size: int = 8) -> TaskGenerator[HeatVolume]:
    """Grad-CAM of every slice of ``core``; yields Progress per batch, returns a
    :class:`HeatVolume`."""
    name = _layer(model, layer)[0]
    n = len(core)
    maps = np.zeros(core.hu.shape, dtype=np.float32)
    predicted = np.zeros(n, dtype=np.float32)
    for n0 in range(0, n, batch_size):
        rows = np.arange(n0, min(n, n0 + batch_size))
        maps[rows], predicted[rows] = grad_cam(model, core.channels(rows), name)
        yield Progress(rows[-1] / max(1, n - 1), f"grad-CAM {name}: slice {rows[-1] + 1}/{n}")
    raw_max = float(maps.max()) if maps.size else 0.0
    if raw_max > 0:
        maps /= raw_max
    heat = np.moveaxis(maps, 0, core.depth_axis)
    return HeatVolume(np.ascontiguousarray(heat), raw_max, core.crop, core.depth_axis,
                      core.slice_index, predicted, core.target(model.target), name)
