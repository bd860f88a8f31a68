"""Benchmarks (``make bench``): they print tables and assert nothing about speed."""


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    """Print ``rows`` under ``header`` as right-aligned columns (floats to 4 significant digits)."""
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
