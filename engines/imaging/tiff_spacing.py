"""Voxel size of a TIFF stack from what the file says about it.

Three places are looked at, in this order: OME-XML (``PhysicalSizeX/Y/Z`` and their units), the
ImageJ description (``spacing`` and ``unit``, with the X/YResolution tags in pixels per unit) and
tifffile's own JSON description (``spacing``, ``unit``), whose x and y come from the resolution
tags with a real ResolutionUnit (inch or centimetre). 72 and 96 pixels per inch are the
defaults most programs write when they know nothing, and are ignored.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

#: Length units found in TIFF metadata, in mm.
UNITS_MM = {
    "mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "cm": 10.0, "centimeter": 10.0, "m": 1e3,
    "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "\\u00b5m": 1e-3, "micron": 1e-3, "microns": 1e-3,
    "micrometer": 1e-3, "micrometre": 1e-3, "nm": 1e-6, "nanometer": 1e-6, "inch": 25.4,
    "in": 25.4,
}

#: ResolutionUnit tag values that are real lengths (2 = inch, 3 = centimetre), in mm.
RESOLUTION_UNIT_MM = {2: 25.4, 3: 10.0}
PLACEHOLDER_DPI = (72.0, 96.0)


@dataclass
class FileSpacing:
    """Voxel size found in a file, mm per axis (``None`` where the file is silent)."""

    x: float | None = None
    y: float | None = None
    z: float | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)


def unit_mm(unit: Any) -> float | None:
    """mm per ``unit`` (``None`` for unknown units and pixels)."""
    if unit is None:
        return None
    return UNITS_MM.get(str(unit).strip().lower())


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _ome_spacing(xml: str) -> FileSpacing | None:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException):
        return FileSpacing(notes=["OME-XML metadata could not be parsed"])
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    spacing = FileSpacing(source="OME-XML")
    for axis in "XYZ":
        size = _positive(pixels.get(f"PhysicalSize{axis}"))
        scale = unit_mm(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        if size is not None and scale is not None:
            setattr(spacing, axis.lower(), size * scale)
    return spacing


def _resolution_spacing(page: Any, unit_scale: float | None) -> tuple[float | None, float | None]:
    """x, y spacing (mm) from X/YResolution; ``unit_scale`` is mm per unit when the unit is not
    in the ResolutionUnit tag (ImageJ)."""
    try:
        x_resolution, y_resolution = page.get_resolution()
    except (KeyError, ValueError, ZeroDivisionError, TypeError):
        return None, None
    unit = page.resolutionunit  # a damaged tag may hold several values: no unit then
    unit = int(unit) if isinstance(unit, numbers.Integral) else None
    if unit in RESOLUTION_UNIT_MM:
        if unit == 2 and x_resolution in PLACEHOLDER_DPI and y_resolution in PLACEHOLDER_DPI:
            return None, None
        unit_scale = RESOLUTION_UNIT_MM[unit]
    if unit_scale is None:
        return None, None
    x, y = _positive(x_resolution), _positive(y_resolution)
    return (unit_scale / x if x else None), (unit_scale / y if y else None)


def file_spacing(tif: Any) -> FileSpacing:
    """What an open ``tifffile.TiffFile`` says about its voxel size."""
    if tif.is_ome and tif.ome_metadata:
        spacing = _ome_spacing(tif.ome_metadata)
        if spacing is not None and spacing.x is not None:
            return spacing
    page = tif.pages.first
    if tif.is_imagej and tif.imagej_metadata:
        meta = tif.imagej_metadata
        scale = unit_mm(meta.get("unit"))
        spacing = FileSpacing(source="ImageJ")
        if meta.get("unit") is not None and scale is None:
            spacing.notes.append(f"unknown ImageJ unit {meta.get('unit')!r}")
        spacing.x, spacing.y = _resolution_spacing(page, scale)
        z = _positive(meta.get("spacing"))
        spacing.z = z * scale if z is not None and scale is not None else None
        return spacing
    spacing = FileSpacing(source="TIFF tags")
    spacing.x, spacing.y = _resolution_spacing(page, None)
    shaped = tif.shaped_metadata[0] if tif.is_shaped and tif.shaped_metadata else {}
    z, scale = _positive(shaped.get("spacing")), unit_mm(shaped.get("unit"))
    if z is not None and scale is not None:
        spacing.z = z * scale
    return spacing
