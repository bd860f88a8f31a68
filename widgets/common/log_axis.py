"""An axis that labels only decades in log mode ("1", "10", "100", "10⁵"), as spectroscopy
software does; the minor ticks (2-9 × 10ⁿ) are drawn without labels."""

from __future__ import annotations

import pyqtgraph as pg

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
PLAIN_DECADES = range(-3, 4)  # 0.001 ... 1000 written out, beyond that 10ⁿ


def decade_label(exponent: int) -> str:
    if exponent in PLAIN_DECADES:
        return f"{10.0 ** exponent:g}"
    return "10" + str(exponent).translate(SUPERSCRIPT)


class DecadeAxis(pg.AxisItem):
    """In log mode, label the decades only (when at least two are in view)."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        decades = [round(v) for v in values if abs(v - round(v)) < 1e-9]
        if len(set(decades)) < 2:
            return super().logTickStrings(values, scale, spacing)
        return [decade_label(round(v)) if abs(v - round(v)) < 1e-9 else "" for v in values]
