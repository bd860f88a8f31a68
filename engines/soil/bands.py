"""Object bands and the trimming of small clusters (the paper's steps 3 and 4).

:func:`band_labels` gives every voxel the number of its object band (1…n, uint8); clipping and
shifting need not be applied first, since a value below the clip minimum is in object 1 and one
above the maximum in object n either way. :func:`iter_trim_objects` then applies
``porespy.filters.trim_small_clusters(mask, min_size, conn)`` to each object's mask: clusters
of ``min_cluster`` voxels or fewer (porespy trims "this many voxels or fewer") lose their
label, which becomes 0. Label 0 thus means "in a trimmed cluster": void for every object.

The result is the band label volume the 3-D view shows (one colour per object) and from which
every porosity follows: solid of object k = voxels labelled k.
"""

from __future__ import annotations

import numpy as np

from engines.core.progress import Progress, TaskGenerator
from engines.soil.preprocess import PreprocessConfig

CHUNK_VOXELS = 8_000_000  # labels are computed this many voxels at a time (bounded temporaries)


def band_labels(hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Object band of every voxel.

    Parameters
    ----------
    hu : (nz, ny, nx) array
        HU (any real dtype, memory-mapped arrays are fine).

    Returns
    -------
    (nz, ny, nx) uint8
        ``k`` for object k: shifted value in [(k-1)·w, k·w), the last band closed at the clip
        maximum.
    """
    edges = config.band_edges_hu()
    out = np.empty(hu.shape, dtype=np.uint8)
    per_slice = max(1, int(np.prod(hu.shape[1:])))
    step = max(1, CHUNK_VOXELS // per_slice)
    for z in range(0, hu.shape[0], step):
        chunk = np.asarray(hu[z:z + step])
        out[z:z + step] = np.digitize(chunk, edges, right=False).astype(np.uint8) + 1
    return out


def trim_object(labels: np.ndarray, k: int, config: PreprocessConfig) -> int:
    """Trim object ``k`` in ``labels`` in place: its clusters of ``min_cluster`` voxels or
    fewer become 0. Returns the number of voxels trimmed."""
    import porespy

    if config.min_cluster <= 0:
        return 0
    mask = labels == k
    if not mask.any():
        return 0
    kept = porespy.filters.trim_small_clusters(mask, min_size=config.min_cluster,
                                               conn=config.connectivity)
    mask &= ~kept
    removed = int(np.count_nonzero(mask))
    if removed:
        labels[mask] = 0
    return removed


def iter_trim_objects(labels: np.ndarray, config: PreprocessConfig
                      ) -> TaskGenerator[dict[str, int]]:
    """Trim every object of ``labels`` in place; yields one Progress per object and returns
    ``{"object1": voxels trimmed, ...}``."""
    removed = {}
    names = config.object_names
    for k, name in enumerate(names, 1):
        removed[name] = trim_object(labels, k, config)
        yield Progress(k / len(names), f"trimmed {name} ({removed[name]} voxels in clusters "
                                       f"of {config.min_cluster} or fewer)")
    return removed
