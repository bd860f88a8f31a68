"""Geometry and value mapping of the three orthogonal slice views (no drawing here).

Display convention (radiological, as 3D Slicer and ITK-SNAP show an LPS image)
---------------------------------------------------------------------------------
The scene of each view is measured in world (LPS) millimetres, so a point drawn at scene
``(u, v)`` of the axial view is at world ``x = u, y = v``:

=========  ===================  ====================  ===========  ===============
view       screen right         screen up             normal       scene (u, v)
=========  ===================  ====================  ===========  ===============
axial      patient left (+x)    anterior (−y)         z (S)        (x, y), y down
coronal    patient left (+x)    superior (+z)         y (P)        (x, z)
sagittal   posterior (+y)       superior (+z)         x (L)        (y, z)
=========  ===================  ====================  ===========  ===============

So the patient's right is on the screen's left in axial and coronal views, the face looks left
in the sagittal view, and the head is up. The axial scene's y axis grows downwards
(:attr:`SliceGeometry.invert_y`), so its v coordinate is the LPS y itself.

Each world axis is shown by the array axis whose direction column is closest to it (a flipped
axis is mirrored, a permuted one transposed, both as numpy views). An oblique volume is shown on
those closest planes without resampling, as ITK-SNAP does; its scene coordinates are then the
voxel grid's, measured from the origin (:attr:`SliceGeometry.oblique` tells).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from engines.core.errors import InputError
from engines.core.registry import lookup
from engines.imaging.volume import Volume

VIEWS = ("axial", "coronal", "sagittal")
#: per view: the world (LPS) axes shown horizontally and vertically, and the normal axis
VIEW_WORLD_AXES = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}
#: the scene's y axis grows downwards (posterior at the bottom of the axial view)
VIEW_INVERT_Y = {"axial": True, "coronal": False, "sagittal": False}
#: (negative end, positive end) of the LPS x, y and z axes
AXIS_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))
OBLIQUE_TOLERANCE = 1e-3


def closest_array_axes(direction: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For each world axis x, y, z: the array axis (0 = z, 1 = y, 2 = x) that runs closest to
    it, and the sign (+1 or −1) of that axis along the world axis.

    ``direction`` columns are the world directions of the index axes x, y, z (ITK order), so
    array axis ``a`` runs along column ``2 - a``. The assignment is the permutation with the
    largest total alignment, so a 45° tie still gives three distinct axes.
    """
    alignment = np.abs(np.asarray(direction, dtype=np.float64))[:, ::-1]  # [world, array axis]
    best = max(itertools.permutations(range(3)),
               key=lambda p: sum(alignment[w, p[w]] for w in range(3)))
    signs = tuple(1 if direction[w, 2 - best[w]] >= 0 else -1 for w in range(3))
    return tuple(best), signs


@dataclass(frozen=True)
class SliceGeometry:
    """How one orthogonal view shows a voxel grid.

    Attributes
    ----------
    view : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    normal_axis, row_axis, col_axis : int
        Array axes (0 = z, 1 = y, 2 = x) across the slices, down the screen rows and along
        the screen columns.
    n_slices, n_rows, n_cols : int
        Sizes along those axes.
    u0, du, v0, dv, w0, dw : float
        Scene position (mm) of voxel centre 0 and signed mm per index step, horizontally (u),
        vertically (v) and along the normal (w).
    invert_y : bool
        Whether the scene's y axis grows downwards.
    oblique : bool
        The grid is not aligned with the world axes (shown without resampling).
    """

    view: str
    normal_axis: int
    row_axis: int
    col_axis: int
    n_slices: int
    n_rows: int
    n_cols: int
    u0: float
    du: float
    v0: float
    dv: float
    w0: float
    dw: float
    invert_y: bool
    oblique: bool

    # -- arrays ----------------------------------------------------------------------------
    def slice(self, array: np.ndarray, index: int) -> np.ndarray:
        """The 2-D slice ``(n_rows, n_cols)`` at ``index`` along the normal: a numpy view."""
        plane = array[(slice(None),) * self.normal_axis + (int(index),)]
        return plane.T if self.row_axis > self.col_axis else plane

    def image_transform(self) -> tuple[float, float, float, float]:
        """``(sx, sy, tx, ty)``: the affine ``u = sx·c + tx, v = sy·r + ty`` from image
        coordinates (column c, row r; pixel corners at integers) to scene mm."""
        return self.du, self.dv, self.u0 - 0.5 * self.du, self.v0 - 0.5 * self.dv

    def scene_rect(self) -> tuple[float, float, float, float]:
        """``(u_min, v_min, width, height)`` of the slice in scene mm (voxel edges)."""
        u = sorted((self.u0 - 0.5 * self.du, self.u0 + (self.n_cols - 0.5) * self.du))
        v = sorted((self.v0 - 0.5 * self.dv, self.v0 + (self.n_rows - 0.5) * self.dv))
        return u[0], v[0], u[1] - u[0], v[1] - v[0]

    # -- coordinates -----------------------------------------------------------------------
    def scene_of(self, zyx: np.ndarray) -> tuple[float, float]:
        """Scene ``(u, v)`` mm of a (fractional) voxel index ``(z, y, x)``."""
        zyx = np.asarray(zyx, dtype=np.float64)
        return (float(self.u0 + self.du * zyx[self.col_axis]),
                float(self.v0 + self.dv * zyx[self.row_axis]))

    def index_of(self, u: float, v: float) -> tuple[float, float]:
        """Fractional ``(row index, column index)`` at scene ``(u, v)`` mm."""
        return (v - self.v0) / self.dv, (u - self.u0) / self.du

    def normal_mm(self, index: float) -> float:
        """Scene position (mm) of slice ``index`` along the normal world axis."""
        return float(self.w0 + self.dw * index)

    def slice_at(self, normal_mm: float) -> int | None:
        """The slice containing the normal position ``normal_mm``, or None outside the grid."""
        index = (normal_mm - self.w0) / self.dw
        if index < -0.5 or index >= self.n_slices - 0.5:
            return None
        return int(np.clip(np.floor(index + 0.5), 0, self.n_slices - 1))

    def edge_letters(self) -> dict[str, str]:
        """Orientation letters at the ``left``, ``right``, ``top`` and ``bottom`` edges."""
        horizontal, vertical, _ = VIEW_WORLD_AXES[self.view]
        low, high = AXIS_LETTERS[vertical]
        top, bottom = (low, high) if self.invert_y else (high, low)
        return {"left": AXIS_LETTERS[horizontal][0], "right": AXIS_LETTERS[horizontal][1],
                "top": top, "bottom": bottom}

    def normal_letters(self) -> tuple[str, str]:
        """(negative, positive) letters of the normal world axis, e.g. ``("I", "S")``."""
        return AXIS_LETTERS[VIEW_WORLD_AXES[self.view][2]]


def grid_geometry(view: str, shape_zyx: tuple[int, int, int],
                  spacing_xyz: tuple[float, float, float], origin_xyz: tuple[float, float, float],
                  direction: np.ndarray) -> SliceGeometry:
    """The :class:`SliceGeometry` of ``view`` for a voxel grid given by its ITK geometry."""
    if view not in VIEW_WORLD_AXES:
        raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEWS)}")
    direction = np.asarray(direction, dtype=np.float64)
    axes, signs = closest_array_axes(direction)
    spacing_zyx = tuple(reversed([float(s) for s in spacing_xyz]))
    horizontal, vertical, normal = VIEW_WORLD_AXES[view]

    def step(world_axis: int) -> float:
        return signs[world_axis] * spacing_zyx[axes[world_axis]]

    permutation = np.zeros((3, 3))
    for w in range(3):
        permutation[w, 2 - axes[w]] = signs[w]
    return SliceGeometry(
        view=view, normal_axis=axes[normal], row_axis=axes[vertical], col_axis=axes[horizontal],
        n_slices=int(shape_zyx[axes[normal]]), n_rows=int(shape_zyx[axes[vertical]]),
        n_cols=int(shape_zyx[axes[horizontal]]),
        u0=float(origin_xyz[horizontal]), du=step(horizontal),
        v0=float(origin_xyz[vertical]), dv=step(vertical),
        w0=float(origin_xyz[normal]), dw=step(normal),
        invert_y=VIEW_INVERT_Y[view],
        oblique=not np.allclose(direction, permutation, atol=OBLIQUE_TOLERANCE))


def volume_geometry(volume: Volume, view: str) -> SliceGeometry:
    """The :class:`SliceGeometry` of ``view`` for ``volume``."""
    return grid_geometry(view, volume.shape, volume.spacing_xyz, volume.origin_xyz,
                         volume.direction)


def overlay_grid(volume: Volume, overlay_shape: tuple[int, int, int]
                 ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``(spacing_xyz, origin_xyz)`` of an overlay grid of ``overlay_shape`` (z, y, x) that
    covers the same box as ``volume`` (e.g. a coarse grad-CAM map): its voxels are the volume's
    extent divided evenly, so its first voxel centre sits half an overlay voxel inside."""
    shape = np.asarray(volume.shape, dtype=np.float64)
    overlay = np.asarray(overlay_shape, dtype=np.float64)
    if overlay.shape != (3,) or (overlay < 1).any():
        raise ValueError(f"overlay shape {tuple(overlay_shape)} is not a 3-D grid")
    factor_zyx = shape / overlay
    spacing_xyz = tuple(float(s) for s in np.asarray(volume.spacing_xyz) * factor_zyx[::-1])
    first_centre = -0.5 + 0.5 * factor_zyx
    origin_xyz = tuple(float(o) for o in volume.voxel_to_world(first_centre))
    return spacing_xyz, origin_xyz


# -- window / level ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A display window: values ``level ± width / 2`` span black to white."""

    level: float
    width: float

    @property
    def levels(self) -> tuple[float, float]:
        """``(low, high)``: the values shown black and white."""
        return self.level - self.width / 2.0, self.level + self.width / 2.0


@dataclass(frozen=True)
class WindowPreset:
    """A named window in HU (``data_range``: the robust min/max of the data instead)."""

    name: str
    label: str
    level: float = 0.0
    width: float = 1.0
    data_range: bool = False


#: Window presets (HU). ``soil`` spans air-filled pores (−1000 HU) to stones (≈ +3000 HU):
#: water and organic matter (0…+300 HU) are dark grey and the mineral matrix (+1000…+2000 HU)
#: mid-grey, nothing saturates but stones. Data on the soil paper's shifted scale (HU clipped
#: to [−2048, 4096] + 2048 = [0, 6144]) take ``value_offset=2048``, i.e. level 3048.
WINDOW_PRESETS: dict[str, WindowPreset] = {p.name: p for p in (
    WindowPreset("lung", "Lung (−600 / 1500)", -600.0, 1500.0),
    WindowPreset("mediastinum", "Mediastinum (40 / 400)", 40.0, 400.0),
    WindowPreset("bone", "Bone (400 / 1800)", 400.0, 1800.0),
    WindowPreset("soil", "Soil core (1000 / 4000)", 1000.0, 4000.0),
    WindowPreset("full", "Full range (0.5–99.5 %)", data_range=True),
)}


def window_preset(name: str) -> WindowPreset:
    """The preset called ``name``; an InputError lists the valid names."""
    return lookup(WINDOW_PRESETS, name, "window preset")


def robust_range(array: np.ndarray, low_percentile: float = 0.5, high_percentile: float = 99.5,
                 max_samples: int = 1 << 18) -> tuple[float, float]:
    """Percentile range (nearest rank) of ``array`` from at most ``max_samples`` voxels on a
    regular stride (a few ms on any volume; NaN and inf ignored). ``high > low`` always."""
    array = np.asarray(array)
    stride = max(1, int(np.ceil((array.size / max_samples) ** (1.0 / array.ndim))))
    sample = np.asarray(array[(slice(None, None, stride),) * array.ndim], dtype=np.float64)
    sample = sample[np.isfinite(sample)].ravel()
    if sample.size == 0:
        return 0.0, 1.0
    ranks = [int(round(p / 100.0 * (sample.size - 1))) for p in (low_percentile, high_percentile)]
    low, high = (float(v) for v in np.partition(sample, ranks)[ranks])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    return (low, high) if high > low else (low, low + 1.0)


def preset_window(name: str, value_offset: float = 0.0,
                  data_range: tuple[float, float] | None = None) -> Window:
    """The :class:`Window` of preset ``name`` on data stored as ``HU + value_offset``;
    ``data_range`` (from :func:`robust_range`) serves the ``full`` preset."""
    preset = window_preset(name)
    if preset.data_range:
        if data_range is None:
            raise ValueError("the full-range window needs the data range")
        low, high = data_range
        return Window((low + high) / 2.0, high - low)
    return Window(preset.level + value_offset, preset.width)


def dragged_window(start: Window, dx_px: float, dy_up_px: float, data_span: float,
                   view_px: float, min_width: float = 1e-6) -> Window:
    """The window after a right-drag of ``dx_px`` (right = wider) and ``dy_up_px`` (up = higher
    level, a darker image), as Slicer: dragging across the whole view (``view_px`` pixels)
    changes either by the data's span."""
    gain = data_span / max(view_px, 1.0)
    return Window(start.level + dy_up_px * gain, max(start.width + dx_px * gain, min_width))


# -- label colours -----------------------------------------------------------------------------
#: Distinct label colours (RGB 0–255): Okabe–Ito first, then Tableau's; label k takes entry
#: (k − 1) modulo the length, label 0 is background (transparent).
LABEL_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
    (213, 94, 0), (204, 121, 167), (148, 103, 189), (140, 86, 75), (188, 189, 34),
    (23, 190, 207), (255, 152, 150),
)


def label_colour(label: int) -> tuple[int, int, int]:
    """Default RGB (0–255) of label ``label`` ≥ 1."""
    return LABEL_PALETTE[(int(label) - 1) % len(LABEL_PALETTE)]


def label_lut(max_label: int, colours: dict[int, tuple[int, ...]] | None = None,
              opacity: float = 0.5) -> np.ndarray:
    """RGBA lookup table ``(max_label + 1, 4)`` uint8 for a label map: ``colours`` (RGB or RGBA,
    0–255) where given, else :func:`label_colour`; alpha × ``opacity``; label 0 transparent."""
    if max_label < 0:
        raise InputError(f"labels must be non-negative integers, got a maximum of {max_label}")
    table = np.zeros((max_label + 1, 4), dtype=np.float64)
    for label in range(1, max_label + 1):
        table[label] = (*label_colour(label), 255)
    for label, colour in (colours or {}).items():
        if 0 <= int(label) <= max_label:
            rgba = tuple(colour) + (255,) * (4 - len(colour))
            table[int(label)] = rgba[:4]
    table[:, 3] *= float(np.clip(opacity, 0.0, 1.0))
    table[0] = 0
    return np.round(table).astype(np.uint8)
