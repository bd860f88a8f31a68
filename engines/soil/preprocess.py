"""The paper's preprocessing as typed settings, and the crop box.

Steps (Wieland et al. 2021, Sec. 2.1–2.2), each a field of :class:`PreprocessConfig`:

1. clip the HU to ``[clip_low, clip_high]`` = [−2048, 4096] and add ``−clip_low`` = 2048,
   giving [0, 6144];
2. take the inner crop ``[X, Y, Z]`` = [400, 200, 200] voxels, X along the core axis (depth),
   centred on the core axis found from the image (:mod:`engines.soil.core_axis`);
3. object bands of ``band_width`` = 1024: object1 = [0, 1023], …, object6 = [5120, 6144]
   (shifted values; in HU [−2048, −1025], …, [3072, 4096]);
4. ``porespy.filters.trim_small_clusters`` with ``min_cluster`` = 60 voxels on each object.

Depth and the array: the crop's X runs along ``core_axis`` (``z`` by default), Y and Z along the
other two array axes in array order; so for ``core_axis="z"`` the crop ``X,Y,Z`` is the array
size ``(z, y, x)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace

import numpy as np

from engines.core.config import param, validate
from engines.core.errors import InputError

AXES = ("z", "y", "x")


def parse_crop(text: str) -> tuple[int, int, int] | None:
    """``"400,200,200"`` → ``(400, 200, 200)``; ``"none"`` → None (the whole volume)."""
    text = str(text).strip().lower()
    if text in ("none", "full", "whole"):
        return None
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"crop {text!r}: expected X,Y,Z voxel counts (e.g. 400,200,200) or "
                         "none") from None
    if len(values) != 3:
        raise InputError(f"crop {text!r}: expected three voxel counts X,Y,Z or none")
    return values


def format_crop(value: tuple[int, int, int] | None) -> str:
    return "none" if value is None else ",".join(str(v) for v in value)


@dataclass(frozen=True)
class PreprocessConfig:
    """The paper's preprocessing of a CT core (all values in HU before the shift)."""

    clip_low: float = param(-2048.0, label="Clip low", unit="HU", range=(-32768.0, 0.0),
                            help="lower clip; the shift adds -clip_low so values start at 0")
    clip_high: float = param(4096.0, label="Clip high", unit="HU", range=(1.0, 65535.0),
                             help="upper clip (the paper: 4096, as stones exceed 3071)")
    band_width: float = param(1024.0, label="Object band width", unit="HU",
                              range=(1.0, 65536.0),
                              help="object k holds shifted values [(k-1)w, kw); the last "
                                   "object also holds the clip maximum")
    min_cluster: int = param(60, label="Trim clusters up to", unit="voxels",
                             range=(0, 10**9),
                             help="porespy trim_small_clusters: clusters of an object with "
                                  "this many voxels or fewer are not solid; 0 = no trimming")
    connectivity: str = param("min", label="Cluster connectivity", choices=("min", "max"),
                              help="min = face neighbours (6), max = 26 neighbours")
    crop: tuple[int, int, int] | None = param(
        (400, 200, 200), label="Crop X, Y, Z", unit="voxels", range=(1, 10**6),
        parse=parse_crop, format=format_crop,
        help="X along the core axis (depth), Y and Z across it; none = the whole volume")
    core_axis: str = param("z", label="Core axis", choices=AXES,
                           help="array axis along the core (depth): z when the slices cut "
                                "across the core")
    centre: str = param("core", label="Crop centre", choices=("core", "array"),
                        help="core = on the core axis found from the image (wall / solid "
                             "disc per slice); array = the array centre")
    fit_inside_core: bool = param(True, label="Fit inside the core",
                                  help="shrink the crop's cross-section to the square inside "
                                       "the core less the wall margin when the core is narrower")
    wall_margin_mm: float = param(5.0, label="Wall margin", unit="mm", range=(0.0, 500.0),
                                  help="distance kept from the core's outer edge when fitting")
    core_threshold: float = param(-400.0, label="Core threshold", unit="HU",
                                  range=(-32768.0, 65535.0),
                                  help="voxels above it are core (wall or soil) when the axis "
                                       "is found")

    def __post_init__(self) -> None:
        validate(self)
        if self.n_objects > 64:
            raise InputError(f"{self.n_objects} object bands; widen the band width "
                             "(at most 64 bands)")

    # -- object bands ------------------------------------------------------------------------
    @property
    def shift(self) -> float:
        """The constant added after clipping (the paper's 2048)."""
        return -self.clip_low

    @property
    def n_objects(self) -> int:
        return max(1, math.ceil((self.clip_high - self.clip_low) / self.band_width))

    @property
    def object_names(self) -> tuple[str, ...]:
        return tuple(f"object{k}" for k in range(1, self.n_objects + 1))

    def object_range(self, k: int, shifted: bool = True) -> tuple[float, float]:
        """``(low, high)`` of object ``k`` (1-based), inclusive low, exclusive high except for
        the last object, whose high is the clip maximum (included); shifted values or HU."""
        if not 1 <= k <= self.n_objects:
            raise InputError(f"object {k} does not exist; objects are 1…{self.n_objects}")
        low = (k - 1) * self.band_width
        high = min(k * self.band_width, self.clip_high - self.clip_low)
        offset = 0.0 if shifted else self.clip_low
        return low + offset, high + offset

    def band_edges_hu(self) -> np.ndarray:
        """The n-1 interior band edges in HU (object k starts at edge k-1)."""
        return self.clip_low + self.band_width * np.arange(1, self.n_objects, dtype=np.float64)

    def check_object(self, k: int) -> int:
        """``k`` if it names an object, else InputError."""
        self.object_range(int(k))
        return int(k)


def shifted_values(hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Step 1: ``clip(hu, clip_low, clip_high) - clip_low`` as float32 (0…6144 by default)."""
    out = np.clip(np.asarray(hu, dtype=np.float32), config.clip_low, config.clip_high)
    out -= np.float32(config.clip_low)
    return out


@dataclass(frozen=True)
class CropBox:
    """A box of voxels ``[start, start + size)`` per array axis (z, y, x)."""

    start_zyx: tuple[int, int, int]
    size_zyx: tuple[int, int, int]

    @classmethod
    def whole(cls, shape_zyx) -> CropBox:
        return cls((0, 0, 0), tuple(int(n) for n in shape_zyx))

    @classmethod
    def from_list(cls, values, shape_zyx=None) -> CropBox:
        """From ``[z0, y0, x0, z1, y1, x1]`` (ends exclusive); checked against ``shape_zyx``."""
        values = [int(v) for v in values]
        if len(values) != 6:
            raise InputError(f"a crop box needs z0,y0,x0,z1,y1,x1, got {values}")
        box = cls(tuple(values[:3]), tuple(b - a for a, b in zip(values[:3], values[3:],
                                                                 strict=True)))
        if min(box.size_zyx) < 1 or min(box.start_zyx) < 0 or (
                shape_zyx is not None and any(e > n for e, n in zip(box.stop_zyx, shape_zyx,
                                                                    strict=True))):
            raise InputError(f"crop box {values} does not fit in a volume of shape "
                             f"{tuple(shape_zyx) if shape_zyx is not None else '?'}")
        return box

    @property
    def stop_zyx(self) -> tuple[int, int, int]:
        return tuple(a + n for a, n in zip(self.start_zyx, self.size_zyx, strict=True))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, b) for a, b in zip(self.start_zyx, self.stop_zyx, strict=True))

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.size_zyx))

    def to_list(self) -> list[int]:
        """``[z0, y0, x0, z1, y1, x1]`` in array indices, ends exclusive (the JSON ``crop``)."""
        return [*map(int, self.start_zyx), *map(int, self.stop_zyx)]


def crop_size_zyx(crop_xyz: tuple[int, int, int], depth_axis: int) -> list[int]:
    """The crop ``X, Y, Z`` (X along the core) as array sizes ``(z, y, x)``."""
    sizes = [0, 0, 0]
    sizes[depth_axis] = int(crop_xyz[0])
    across = [a for a in range(3) if a != depth_axis]
    sizes[across[0]], sizes[across[1]] = int(crop_xyz[1]), int(crop_xyz[2])
    return sizes


def for_segmented(config: PreprocessConfig | None = None) -> PreprocessConfig:
    """Settings for a segmented stack: the whole volume unless a crop is asked for."""
    return replace(config or PreprocessConfig(), crop=None)


def preprocessing_of(config: PreprocessConfig) -> PreprocessConfig:
    """The :class:`PreprocessConfig` part of a config that extends it (e.g. AnalysisConfig)."""
    if type(config) is PreprocessConfig:
        return config
    return PreprocessConfig(**{f.name: getattr(config, f.name)
                               for f in dataclasses.fields(PreprocessConfig)})
