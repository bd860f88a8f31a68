"""Text forms of training options, shared by the CLI and the GUI's fields."""

from __future__ import annotations

from engines.core.errors import InputError


def parse_counts(text: str) -> int | tuple[int, int]:
    """``"19650"`` -> 19650, ``"2000:200000"`` -> (2000, 200000) (commas and ``_`` allowed)."""
    try:
        values = [int(float(v.replace(",", "").replace("_", ""))) for v in text.split(":")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        raise InputError(f"counts per draw: expected K or KMIN:KMAX (positive counts), "
                         f"got {text!r}")
    return values[0] if len(values) == 1 else (values[0], values[1])


def format_counts(counts: int | tuple[int, int]) -> str:
    return f"{counts[0]}:{counts[1]}" if isinstance(counts, tuple | list) else str(counts)


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"0:104, 8000:16384"`` -> [(0, 104), (8000, 16384)]; ``"none"`` -> []."""
    if text.strip().lower() in ("", "none"):
        return []
    ranges = []
    for part in text.split(","):
        try:
            start, stop = (int(v) for v in part.split(":"))
        except ValueError:
            raise InputError(f"discard ranges: expected START:STOP channel ranges like "
                             f"0:104, 8000:16384, got {part.strip()!r}") from None
        ranges.append((start, stop))
    return ranges


def format_ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}:{b}" for a, b in ranges) or "none"


def parse_int_list(text: str, what: str) -> list[int]:
    """Parse ``"100,1000,19650"`` into positive integers."""
    try:
        values = [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise InputError(f"{what}: expected positive numbers, got {text!r}")
    return values
