"""LUNA16 CSV files in the fuzzer: ``annotations.csv``, ``annotations_excluded.csv`` and
``candidates.csv`` read by ``engines.nodules.luna16.read_findings`` as ``open_dataset`` (and so
``nodules info DIR``, train and evaluate) reads them.

A case's suffix says which file it is (``.annotations.csv``, ``.excluded.csv``,
``.candidates.csv``). "Garbage accepted" checks: every row has a non-empty seriesuid and
finite world coordinates within 1e9 mm; an annotation's diameter is finite and in (0, 1000]
mm (an excluded finding may also say -1, unknown); a candidate's class is 0 or 1; the arrays
agree in length.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

LUNA_FORMATS = ("luna16",)
MAX_WORLD_MM = 1e9
MAX_DIAMETER_MM = 1000.0
UID = "1.3.6.1.4.1.14519.5.2.1.6279.6001.{}"


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


@functools.cache
def luna_seeds(fmt: str = "luna16") -> tuple[tuple[str, bytes], ...]:
    """Seeds: annotations (with a quoted field and blank line), excluded findings, candidates."""
    annotations = ("seriesuid,coordX,coordY,coordZ,diameter_mm\n"
                   f"{UID.format(105756658031515062000744821260)},-128.6994211,-175.3192718,"
                   "-298.3875064,5.651470635\n"
                   f"\"{UID.format(108197895896446896160048741492)}\",103.7836509,-211.9251487,"
                   "-227.12125,4.224708481\n\n"
                   f"{UID.format(108197895896446896160048741492)},69.63901724,-140.9445859,"
                   "876.3744957,5.786347814\n")
    excluded = ("seriesuid,coordX,coordY,coordZ,diameter_mm\n"
                f"{UID.format(100225287222365663678666836860)},68.42,-74.48,-288.7,-1\n"
                f"{UID.format(100225287222365663678666836860)},-95.21,-91.80,-377.42,4.65\n")
    candidates = ("seriesuid,coordX,coordY,coordZ,class\n"
                  + "".join(f"{UID.format(100225287222365663678666836860 + i % 3)},"
                            f"{-56.08 + 7.5 * i:.2f},{-67.85 - 3.1 * i:.2f},"
                            f"{-311.92 + 2.25 * i:.2f},{int(i % 5 == 0)}\n" for i in range(12)))
    return ((".annotations.csv", annotations.encode()), (".excluded.csv", excluded.encode()),
            (".candidates.csv", candidates.encode()))


def luna_columns(data: bytes, rng: np.random.Generator) -> bytes:
    """Header and row oddities: a column renamed, dropped, moved or repeated, short or long
    rows, a hostile value in a chosen column, a BOM, tabs for commas."""
    lines = data.split(b"\n")
    choice = int(rng.integers(7))
    if choice == 0 and lines:
        lines[0] = _pick(rng, (b"seriesuid,coordX,coordY,coordZ", b"uid,x,y,z,d",
                               b"coordX,seriesuid,coordY,coordZ,diameter_mm,class,probability",
                               b" seriesuid , coordX , coordY , coordZ , diameter_mm ",
                               b"seriesuid,coordX,coordX,coordY,coordZ,diameter_mm,class",
                               b"", b"\xef\xbb\xbf" + lines[0]))
    elif choice == 1 and len(lines) > 1:
        i = int(rng.integers(1, len(lines)))
        lines[i] = _pick(rng, (b"x", b",,,,", b"a,1,2", lines[i] + b",extra,fields",
                               lines[i].replace(b",", b";"), b"\x00" * 8, b'"unclosed,1,2,3,4'))
    elif choice == 2 and len(lines) > 1:
        i = int(rng.integers(1, len(lines)))
        cells = lines[i].split(b",")
        k = int(rng.integers(len(cells)))
        cells[k] = _pick(rng, (b"nan", b"inf", b"-inf", b"1e300", b"-1e309", b"0", b"-0",
                               b"-1", b"-2", b"1e-320", b"2", b"0.5", b"1e9", b"1e10",
                               b"", b" ", b'""', b"1,5", b"\xe2\x88\x921", b"0x10"))
        lines[i] = b",".join(cells)
    elif choice == 3:
        return data.replace(b",", b"\t")
    elif choice == 4:
        return re.sub(rb"\n", b"\r", data)
    elif choice == 5 and len(lines) > 2:
        del lines[int(rng.integers(1, len(lines)))]
    else:
        lines.append(lines[-2] if len(lines) > 2 else b"")
    return b"\n".join(lines)


def luna_mutators(fmt: str) -> dict:
    from tests.fuzz.mutators import TEXT_MUTATORS

    return {**TEXT_MUTATORS, "luna_columns": luna_columns}


def luna_problems(path: Path) -> list[str]:
    """Read ``path`` as the kind of LUNA16 CSV its name says; what is impossible in it."""
    from engines.nodules.luna16 import read_findings

    name = path.name
    column = "class" if name.endswith(".candidates.csv") else "diameter_mm"
    excluded = name.endswith(".excluded.csv")
    findings = read_findings(path, column) if not excluded else \
        read_findings(path, column, unknown_diameter=True)
    n = len(findings.scan)
    problems = []
    if findings.xyz_mm.shape != (n, 3):
        problems.append(f"coordinates of shape {findings.xyz_mm.shape} for {n} rows")
    if any(not isinstance(s, str) or not s for s in findings.scan):
        problems.append("an empty seriesuid")
    xyz = np.asarray(findings.xyz_mm, dtype=float)
    if not np.all(np.isfinite(xyz)) or (xyz.size and np.abs(xyz).max() > MAX_WORLD_MM):
        problems.append("coordinates not finite or beyond 1e9 mm")
    if column == "diameter_mm":
        d = np.asarray(findings.diameter_mm, dtype=float)
        ok = np.isfinite(d) & (d > 0) & (d <= MAX_DIAMETER_MM)
        if excluded:
            ok |= d == -1
        if d.shape != (n,) or not ok.all():
            bad = d[~ok] if d.shape == (n,) else d
            problems.append(f"diameter {bad[:1].tolist()} mm")
    else:
        p = np.asarray(findings.probability, dtype=float)
        if p.shape != (n,) or not np.isin(p, (0.0, 1.0)).all():
            problems.append(f"candidate classes {np.unique(p)[:3].tolist()}")
    return problems


__all__ = ["LUNA_FORMATS", "luna_mutators", "luna_problems", "luna_seeds"]
