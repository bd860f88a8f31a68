"""Colours of the soil workspace: the object bands as the 3-D view's ``soil_bands`` transfer
function colours them, so that a band looks the same in the slice overlay, the 3-D surfaces, the
legends and the profile plot."""

from __future__ import annotations

from engines.imaging.volume_rendering import SOIL_BAND_COLOURS

TRIMMED_COLOUR = (230, 0, 200)
#: objects drawn by default: air-filled pores (2), water and organic matter (3), stones (5, 6);
#: object1 is empty in HU and object4 the mineral matrix that encloses everything
SHOWN_OBJECTS = (2, 3, 5, 6)
#: objects whose surfaces the 3-D view extracts
SURFACE_OBJECTS = (2, 5, 6)
#: profile curves of the objects of the paper's scheme that are never void-free
HIDDEN_PROFILES = ("object1",)
#: the profile plot draws on white: the lightest band colours are darkened there
PLOT_DARKEN = 0.8


def object_rgb(k: int) -> tuple[int, int, int]:
    """RGB 0–255 of object ``k`` (1-based); bands past the sixth cycle the colours."""
    r, g, b = SOIL_BAND_COLOURS[(int(k) - 1) % len(SOIL_BAND_COLOURS)]
    return int(255 * r), int(255 * g), int(255 * b)


def object_colour(name: str) -> tuple[int, int, int]:
    """Plot colour of ``"object<k>"`` (``"segmented"``: black)."""
    if not name.startswith("object"):
        return (0, 0, 0)
    return tuple(int(PLOT_DARKEN * v) for v in object_rgb(int(name[len("object"):])))


def label_colours(names: dict[int, str], n_objects: int) -> dict[int, tuple[int, int, int]]:
    """Colours of the labels of :func:`engines.soil.core_view.object_labels`."""
    return {label: (TRIMMED_COLOUR if label == n_objects + 1 else object_rgb(label))
            for label in names}
