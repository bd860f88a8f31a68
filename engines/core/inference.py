"""The one batched inference loop every workspace uses.

:class:`Predictor` runs a network over any number of samples in batches: under
``torch.inference_mode``, with bf16 autocast and ``channels_last`` on CUDA (for 4-D image
batches), inputs copied through pinned host memory, and the batch halved and retried when CUDA
runs out of memory (the smaller size then sticks). :func:`iter_predict` is the same as a
generator that yields progress per batch; :func:`predict_array` the blocking form.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from engines.core.progress import Progress

Output = Callable[[Any], Any]


def _identity(output):
    return output


class Predictor:
    """``predictor(x)``: outputs of ``net`` for a numpy batch ``x`` of shape (N, ...).

    Parameters
    ----------
    net
        A ``torch.nn.Module``; its device is where inference runs.
    batch_size
        Largest number of samples per forward pass.
    output
        Applied to the network's output tensor on the device (e.g. ``softmax``), before the
        copy back; the result comes back as float32 numpy.
    prepare
        Applied to each input batch on the device before the network (e.g. normalisation).
    """

    def __init__(self, net, batch_size: int = 32, output: Output = _identity,
                 prepare: Output = _identity) -> None:
        self.net = net
        self.batch_size = max(1, int(batch_size))
        self.output = output
        self.prepare = prepare
        self.device = next(net.parameters()).device

    def _run(self, x) -> np.ndarray:
        import torch

        from engines.core.device import autocast, to_device

        with torch.inference_mode(), autocast(self.device):
            x = self.prepare(to_device(x, self.device, self.device.type == "cuda"))
            return self.output(self.net(x)).float().cpu().numpy()

    def batches(self, x) -> Generator[tuple[int, np.ndarray], None, None]:
        """``(samples done, outputs)`` per batch of ``x`` (numpy, or a tensor), in order."""
        import torch

        self.net.eval()
        if self.device.type == "cuda":
            self.net.to(memory_format=torch.channels_last)
        start = 0
        while start < len(x):
            chunk = x[start:start + self.batch_size]
            if isinstance(chunk, np.ndarray):
                chunk = np.ascontiguousarray(chunk)
            try:
                out = self._run(chunk)
            except torch.OutOfMemoryError:
                if self.batch_size == 1:
                    raise
                torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                continue
            start += len(chunk)
            yield start, out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        parts = [out for _, out in self.batches(x)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def iter_predict(net, x, batch_size: int = 32, output: Output = _identity,
                 prepare: Output = _identity, what: str = "samples"
                 ) -> Generator[Progress, None, np.ndarray]:
    """Outputs for ``x`` (N, ...) as float32 (N, ...); yields ``Progress`` after every batch."""
    predictor = Predictor(net, batch_size, output, prepare)
    parts = []
    for done, out in predictor.batches(x):
        parts.append(out)
        yield Progress(done / len(x), f"{done}/{len(x)} {what}")
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def predict_array(net, x, batch_size: int = 32, output: Output = _identity,
                  prepare: Output = _identity) -> np.ndarray:
    """:func:`iter_predict` without progress."""
    return Predictor(net, batch_size, output, prepare)(x)
