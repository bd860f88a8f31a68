"""Colours of the soil workspace: one colour per object band, the same in the slice overlay, the
3-D surfaces, the legends and the profile plot (Okabe–Ito colours, told apart with the common
colour-vision deficiencies, and none of them a grey that would vanish into the CT)."""

from __future__ import annotations

#: object k (1-based) -> RGB 0-255: empty (1), air-filled pores (2), water and organic matter
#: (3), mineral matrix (4), stones (5), dense stones and metal (6)
OBJECT_COLOURS = ((110, 110, 110), (86, 180, 233), (0, 158, 115), (230, 159, 0),
                  (213, 94, 0), (204, 121, 167))
TRIMMED_COLOUR = (240, 228, 66)
#: objects drawn by default: air-filled pores (2), water and organic matter (3), stones (5, 6);
#: object1 is empty in HU and object4 the mineral matrix that encloses everything
SHOWN_OBJECTS = (2, 3, 5, 6)
#: objects whose surfaces the 3-D view extracts
SURFACE_OBJECTS = (2, 5, 6)
#: profile curves left out: object1 is pore everywhere in HU (nothing is below -1024 HU)
HIDDEN_PROFILES = ("object1",)
#: the profile plot draws on white: the band colours are darkened there
PLOT_DARKEN = 0.85


def object_rgb(k: int) -> tuple[int, int, int]:
    """RGB 0–255 of object ``k`` (1-based); bands past the sixth cycle the colours."""
    return OBJECT_COLOURS[(int(k) - 1) % len(OBJECT_COLOURS)]


def object_colour(name: str) -> tuple[int, int, int]:
    """Plot colour of ``"object<k>"`` (``"segmented"``: black)."""
    if not name.startswith("object"):
        return (0, 0, 0)
    return tuple(int(PLOT_DARKEN * v) for v in object_rgb(int(name[len("object"):])))


def label_colours(names: dict[int, str], n_objects: int) -> dict[int, tuple[int, int, int]]:
    """Colours of the labels of :func:`engines.soil.core_view.object_labels`."""
    return {label: (TRIMMED_COLOUR if label == n_objects + 1 else object_rgb(label))
            for label in names}
