"""Substructure textures of the synthetic micrograph's second-phase constituents (numpy only).

Every texture is a function of a pixel's position in the frame of its *packet* (a martensite
packet, a bainite sheaf, a pearlite colony): ``u`` across and ``v`` along the laths, plates or
lamellae, in pixels, and of an integer ``key`` naming the packet inside its object. Random
choices (lath widths, lamellar spacing, where a carbide sits) come from :func:`hash_float` of
the key and the lath/lamella/cell index, so a pixel's value depends on nothing but its own
coordinates: a large image can be rendered strip by strip and the strips join without seams.

The metallurgy each follows (Bhadeshia & Honeycombe, *Steels*, ch. 5–9, 14), as seen in
secondary-electron images of etched samples, where cementite and martensite stand proud and
look bright:

``martensite``
    Lath martensite: packets of parallel laths 5–9 px wide with strong lath-to-lath contrast
    and dark lath boundaries; the laths break up into needles of 25–75 px.
``tempered_martensite``
    The same lath packets at low contrast, peppered with bright carbide dots (1.3–2.5 px
    radius) on a jittered grid inside the laths.
``bainite``
    Sheaves of parallel ferrite plates 8–13 px wide whose boundaries carry aligned, elongated
    carbide dashes with gaps between them.
``pearlite``
    Colonies of alternating cementite (bright) and ferrite (dark) lamellae, spacing 8–14 px
    per colony, with occasional terminated lamellae; colony orientations differ.

Each function takes (n,) float32 ``u``, ``v`` and (n,) int64 ``key`` and returns the (n,)
float32 grey-level offset to add to the object's base level (8-bit units).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint32(0x9E3779B1)
_M2 = np.uint32(0x85EBCA6B)
_M3 = np.uint32(0xC2B2AE35)


def hash_uint(seed: int, *keys) -> np.ndarray:
    """A 32-bit hash of integer keys (arrays broadcast together), as uint32.

    Floats are floored to integers first; negative values wrap modulo 2³².
    """
    arrays = [np.asarray(np.floor(k) if np.asarray(k).dtype.kind == "f" else k)
              .astype(np.int64).astype(np.uint32) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    h = np.full(shape, np.uint32(seed & 0xFFFFFFFF), dtype=np.uint32)
    for a in arrays:
        h ^= a
        h *= _M1
        h ^= h >> np.uint32(15)
    h ^= h >> np.uint32(16)
    h *= _M2
    h ^= h >> np.uint32(13)
    h *= _M3
    h ^= h >> np.uint32(16)
    return h


def hash_float(seed: int, *keys) -> np.ndarray:
    """Uniform pseudo-random numbers in [0, 1) from integer keys (float32)."""
    return (hash_uint(seed, *keys) >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)


def _bands(u: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band index and the fractional position across the band (0…1)."""
    t = u / width
    index = np.floor(t)
    return index, t - index


def martensite(u: np.ndarray, v: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Lath/needle martensite (see the module docstring)."""
    width = 5.0 + 4.0 * hash_float(seed, key, 1)
    lath, across = _bands(u, width)
    length = 25.0 + 50.0 * hash_float(seed, key, lath, 2)
    s = (v + length * hash_float(seed, key, lath, 3)) / length
    needle = np.floor(s)
    along = s - needle
    out = 34.0 * (hash_float(seed, key, lath, 4) - 0.5)
    out += 26.0 * (hash_float(seed, key, lath, needle, 5) - 0.5)
    out -= 20.0 * (across < 0.2)
    out -= 12.0 * (along < 0.06)
    return out.astype(np.float32)


def tempered_martensite(u: np.ndarray, v: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Tempered lath martensite with carbide dots (see the module docstring)."""
    width = 5.0 + 4.0 * hash_float(seed, key, 11)
    lath, across = _bands(u, width)
    out = 12.0 * (hash_float(seed, key, lath, 12) - 0.5) - 8.0 * (across < 0.2)
    cell = 6.5 + 2.0 * hash_float(seed, key, 13)
    i, j = np.floor(u / cell), np.floor(v / cell)
    present = hash_float(seed, key, i, j, 14) < 0.55
    cu = (i + 0.2 + 0.6 * hash_float(seed, key, i, j, 15)) * cell
    cv = (j + 0.2 + 0.6 * hash_float(seed, key, i, j, 16)) * cell
    radius = 1.3 + 1.2 * hash_float(seed, key, i, j, 17)
    distance = np.sqrt((u - cu) ** 2 + (v - cv) ** 2)
    dot = np.clip(1.0 - distance / radius, 0.0, 1.0) * present
    out += 70.0 * np.sqrt(dot)
    return out.astype(np.float32)


def bainite(u: np.ndarray, v: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Bainite sheaves with aligned carbides (see the module docstring)."""
    width = 8.0 + 5.0 * hash_float(seed, key, 21)
    plate, _ = _bands(u, width)
    out = 12.0 * (hash_float(seed, key, plate, 22) - 0.5) - 10.0
    length = 12.0 + 14.0 * hash_float(seed, key, plate, 23)
    s = (v + length * hash_float(seed, key, plate, 24)) / length
    dash = np.floor(s)
    along = s - dash
    present = hash_float(seed, key, plate, dash, 25) < 0.7
    across_px = np.abs(u - (plate + 0.5) * width)        # distance from the plate's mid-line
    thickness = 1.0 + 0.8 * hash_float(seed, key, plate, dash, 26)
    carbide = (across_px < thickness) & (along < 0.72) & present
    out += 55.0 * carbide
    return out.astype(np.float32)


def pearlite(u: np.ndarray, v: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Pearlite colonies of alternating lamellae (see the module docstring)."""
    spacing = 8.0 + 6.0 * hash_float(seed, key, 31)
    lamella, across = _bands(u, spacing)
    cementite = np.abs(across - 0.5) < 0.16
    length = 80.0 + 120.0 * hash_float(seed, key, lamella, 32)
    segment = np.floor((v + length * hash_float(seed, key, lamella, 33)) / length)
    cementite &= hash_float(seed, key, lamella, segment, 34) > 0.08   # terminated lamellae
    out = np.where(cementite, 38.0, -16.0)
    return out.astype(np.float32)


#: Texture of each second-phase class index (0 is the ferrite matrix).
TEXTURES = {1: martensite, 2: tempered_martensite, 3: bainite, 4: pearlite}
