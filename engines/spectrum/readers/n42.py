"""ANSI N42.42 XML spectra, 2006 and 2011 editions (namespaces optional).

* 2011: ``RadInstrumentData/RadMeasurement/Spectrum/ChannelData`` (``compressionCode``
  ``"None"`` or ``"CountedZeroes"``), ``LiveTimeDuration`` in the spectrum, ``RealTimeDuration``
  and ``MeasurementClassCode`` in the measurement, calibration in a top-level
  ``EnergyCalibration`` (``CoefficientValues`` or ``EnergyBoundaryValues``) referenced by the
  spectrum's ``energyCalibrationReference``.
* 2006: ``N42InstrumentData/Measurement/Spectrum`` with ``LiveTime``/``RealTime``, ``ChannelData``
  (``Compression``) and ``Calibration Type="Energy"`` holding ``Equation/Coefficients`` or
  ``ArrayXY`` points.

When a file holds several spectra the first foreground one is read and ``metadata`` says so.
The document is parsed by :func:`engines.core.safe_read.parse_xml_safely`: DOCTYPE and ENTITY
declarations are refused (entity-expansion attacks), and so are nesting deeper than
:data:`MAX_DEPTH` and more than :data:`MAX_ELEMENTS` elements.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.safe_read import check_file, reading
from engines.core.safe_text import parse_xml_safely
from engines.spectrum.readers._common import (
    CHANNEL_CALIBRATION,
    MAX_CHANNELS,
    MAX_FILE_BYTES,
    check_counts,
    fit_calibration,
    make_spectrum,
    parse_numbers,
    polynomial_calibration,
)
from engines.spectrum.spectrum import Calibration, Spectrum

N42_2011_NAMESPACE = "http://physics.nist.gov/N42/2011/N42"
#: Deepest element nesting and most elements accepted (a real N42 file nests 6 deep).
MAX_DEPTH = 32
MAX_ELEMENTS = 500_000
#: Most ChannelData numbers read (CountedZeroes pairs for 2^20 channels).
MAX_TOKENS = 2 * MAX_CHANNELS
_DURATION = re.compile(r"P(?:(?P<d>[\d.]+)D)?(?:T(?:(?P<h>[\d.]+)H)?(?:(?P<m>[\d.]+)M)?"
                       r"(?:(?P<s>[\d.]+)S)?)?")
_BACKGROUND = {"background", "calibration", "intrinsicactivity"}
_FOREGROUND = {"foreground", "item"}
_UNIT_SCALE = {"kev": 1.0, "mev": 1000.0, "ev": 1e-3}


def read_n42(path: str | Path) -> Spectrum:
    """Read the first foreground spectrum of an N42.42 (2006 or 2011) file.

    Returns
    -------
    Spectrum
        counts shape (n_channels,); metadata with ``format="n42"``, ``n42_version``,
        ``spectra_in_file``, ``spectrum_index``, ``selection``, ``calibrated``.

    Raises
    ------
    InputError
        ``"<file name>: <problem>"`` for malformed XML, DOCTYPE/ENTITY declarations, a
        non-N42 root, no spectrum, bad channel data or durations.
    """
    path = Path(path)
    with reading(path, "N42 file"):
        return _read(path, _parse(path))


def _read(path: Path, root: ET.Element) -> Spectrum:
    version = "2011" if root.tag == "RadInstrumentData" else "2006"
    parents = {child: parent for parent in root.iter() for child in parent}
    spectra = [s for s in root.iter("Spectrum") if s.find("ChannelData") is not None]
    if not spectra:
        raise InputError.for_file(path, "N42 file holds no Spectrum with ChannelData")
    known: dict[int, str] = {}  # element id -> its class code: each parent is searched once
    classes = [_measurement_class(s, parents, known) for s in spectra]
    index = next((i for i, c in enumerate(classes) if c in _FOREGROUND),
                 next((i for i, c in enumerate(classes) if c not in _BACKGROUND), 0))
    spectrum, measurement = spectra[index], parents.get(spectra[index])
    counts = _channel_data(path, spectrum.find("ChannelData"))
    if version == "2011":
        calibration, problem = _calibration_2011(root, spectrum, counts.size)
        live = _duration(path, spectrum.findtext("LiveTimeDuration"), "LiveTimeDuration")
        real = _duration(path, _findtext(measurement, "RealTimeDuration"), "RealTimeDuration")
        start = _findtext(measurement, "StartDateTime")
    else:
        calibration, problem = _calibration_2006(path, root, spectrum, counts.size)
        live = _duration(path, spectrum.findtext("LiveTime"), "LiveTime")
        real = _duration(path, spectrum.findtext("RealTime"), "RealTime")
        start = spectrum.findtext("StartTime") or _findtext(measurement, "StartTime")
    selection = (f"spectrum {index + 1} of {len(spectra)} ({classes[index] or 'unlabelled'}); "
                 "the first foreground spectrum is read" if len(spectra) > 1 else "only spectrum")
    metadata: dict = {"format": "n42", "n42_version": version, "spectra_in_file": len(spectra),
                      "spectrum_index": index, "selection": selection,
                      "measurement_class": classes[index], "calibrated": calibration is not None}
    metadata["calibration_source" if calibration else "calibration_problem"] = (
        "N42 energy calibration" if calibration else problem)
    if start:
        metadata["start_time"] = start.strip()[:100]
    return make_spectrum(path, counts, calibration or CHANNEL_CALIBRATION, live, real,
                         name=path.stem, metadata=metadata)


def write_n42(path: str | Path, spectrum: Spectrum) -> Path:
    """Write ``spectrum`` as an N42.42-2011 document with CountedZeroes channel data."""
    path = Path(path)
    root = ET.Element("RadInstrumentData", xmlns=N42_2011_NAMESPACE)
    info = ET.SubElement(root, "RadInstrumentInformation", id="instrument")
    ET.SubElement(info, "RadInstrumentManufacturerName").text = "LabLens export"
    ET.SubElement(info, "RadInstrumentModelName").text = spectrum.name or path.stem
    ET.SubElement(info, "RadInstrumentClassCode").text = "Spectroscopic Personal Radiation Detector"
    detector = ET.SubElement(root, "RadDetectorInformation", id="detector")
    ET.SubElement(detector, "RadDetectorCategoryCode").text = "Gamma"
    calibration = ET.SubElement(root, "EnergyCalibration", id="calibration")
    ET.SubElement(calibration, "CoefficientValues").text = " ".join(
        f"{c:.10g}" for c in spectrum.calibration.coefficients)
    measurement = ET.SubElement(root, "RadMeasurement", id="measurement")
    ET.SubElement(measurement, "MeasurementClassCode").text = "Foreground"
    if spectrum.metadata.get("start_time"):
        ET.SubElement(measurement, "StartDateTime").text = str(spectrum.metadata["start_time"])
    if spectrum.real_time_s is not None:
        ET.SubElement(measurement, "RealTimeDuration").text = f"PT{spectrum.real_time_s:.9g}S"
    element = ET.SubElement(measurement, "Spectrum", id="spectrum",
                            radDetectorInformationReference="detector",
                            energyCalibrationReference="calibration")
    if spectrum.live_time_s is not None:
        ET.SubElement(element, "LiveTimeDuration").text = f"PT{spectrum.live_time_s:.9g}S"
    channel_data = ET.SubElement(element, "ChannelData", compressionCode="CountedZeroes")
    channel_data.text = " ".join(encode_counted_zeroes(spectrum.counts))
    ET.indent(root)
    atomic_write_bytes(path, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return path


def decode_counted_zeroes(path: Path, values: np.ndarray) -> np.ndarray:
    """Expand N42 CountedZeroes: each ``0`` is followed by the length of a run of zeros.

    Parameters
    ----------
    values
        Shape (n_tokens,), the numbers in ChannelData.

    Returns
    -------
    np.ndarray
        Counts, shape (n_channels,); the total length is checked before allocation.
    """
    zero = np.flatnonzero(values == 0)
    if zero.size and zero[-1] == values.size - 1:
        raise InputError.for_file(path, "CountedZeroes data ends with a 0 but no run length")
    runs = values[zero + 1]
    if np.any(runs < 1) or np.any(runs != np.rint(runs)):
        raise InputError.for_file(path, "CountedZeroes run lengths must be whole numbers >= 1")
    keep = np.ones(values.size, dtype=bool)
    keep[zero + 1] = False
    repeats = np.ones(values.size, dtype=np.float64)
    repeats[zero] = runs
    repeats = repeats[keep]
    total = float(repeats.sum())
    if total > MAX_CHANNELS:
        raise InputError.for_file(path, f"CountedZeroes data expands to {total:.0f} channels "
                                        f"(limit {MAX_CHANNELS})")
    return np.repeat(values[keep], repeats.astype(np.int64))


def encode_counted_zeroes(counts: np.ndarray) -> list[str]:
    """Compress counts, shape (n,), into CountedZeroes tokens (integers written without '.0')."""
    integral = np.all(counts == np.rint(counts))
    text = counts.astype(np.int64).astype(str) if integral else np.char.mod("%.9g", counts)
    edges = np.diff(np.concatenate(([0], (counts == 0).astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    tokens: list[str] = []
    previous = 0
    for start, end in zip(starts, ends, strict=True):
        tokens += text[previous:start].tolist() + ["0", str(end - start)]
        previous = end
    return tokens + text[previous:].tolist()


def _parse(path: Path) -> ET.Element:
    size = check_file(path)
    if size > MAX_FILE_BYTES:
        raise InputError.for_file(path, f"file of {size / 2**20:.0f} MiB is too large for a "
                                        f"spectrum (limit {MAX_FILE_BYTES // 2**20} MiB)")
    with path.open("rb") as handle:
        root = parse_xml_safely(handle, path, max_depth=MAX_DEPTH, max_elements=MAX_ELEMENTS,
                                strip_namespaces=True)
    if root.tag not in ("RadInstrumentData", "N42InstrumentData"):
        raise InputError.for_file(path, f"XML root <{root.tag[:60]}> is not an ANSI N42.42 "
                                        "document")
    return root


def _findtext(element: ET.Element | None, tag: str) -> str | None:
    return element.findtext(tag) if element is not None else None


def _measurement_class(spectrum: ET.Element, parents: dict, known: dict[int, str]) -> str:
    for element in (spectrum, parents.get(spectrum)):
        if element is None:
            continue
        if id(element) not in known:
            texts = {child.tag: child.text for child in element
                     if child.tag in ("MeasurementClassCode", "SourceType")}
            found = [(texts.get(tag) or "").strip() for tag in ("MeasurementClassCode",
                                                                 "SourceType")]
            known[id(element)] = next((t.lower().replace(" ", "") for t in found if t), "")
        if known[id(element)]:
            return known[id(element)]
    return ""


def _channel_data(path: Path, element: ET.Element) -> np.ndarray:
    code = (element.get("compressionCode") or element.get("Compression") or "None").strip()
    tokens = (element.text or "").split(maxsplit=MAX_TOKENS)
    if len(tokens) > MAX_TOKENS:
        raise InputError.for_file(path, f"ChannelData holds more than {MAX_TOKENS} numbers")
    values = parse_numbers(path, tokens, "ChannelData")
    if code.lower() == "countedzeroes":
        values = decode_counted_zeroes(path, values)
    elif code.lower() not in ("none", ""):
        raise InputError.for_file(path, f"unsupported ChannelData compression {code!r}")
    return check_counts(path, values, "ChannelData")


def _duration(path: Path, text: str | None, what: str) -> float | None:
    """ISO 8601 duration (``PT12.5S``, ``PT1H2M3S``) or plain seconds -> seconds."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    match = _DURATION.fullmatch(text)
    try:
        if match is None or text in ("P", "PT"):
            seconds = float(text)
        else:
            scale = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
            seconds = sum(float(v) * scale[k] for k, v in match.groupdict().items() if v)
    except ValueError:
        raise InputError.for_file(path, f"{what} {text[:40]!r} is not a duration") from None
    if not np.isfinite(seconds) or seconds < 0:
        raise InputError.for_file(path, f"{what} {text[:40]!r} is not a valid duration")
    return seconds


def _calibration_2011(root: ET.Element, spectrum: ET.Element,
                      n_channels: int) -> tuple[Calibration | None, str]:
    reference = spectrum.get("energyCalibrationReference")
    candidates = root.findall("EnergyCalibration")
    chosen = next((c for c in candidates if c.get("id") == reference), None) if reference else None
    chosen = chosen if chosen is not None else (candidates[0] if candidates else None)
    if chosen is None:
        return None, "no EnergyCalibration"
    coefficients = (chosen.findtext("CoefficientValues") or "").split()
    if coefficients:
        return _coefficients(coefficients, n_channels)
    boundaries = (chosen.findtext("EnergyBoundaryValues") or "").split()
    if len(boundaries) == n_channels + 1:
        try:
            edges = np.array(boundaries, dtype=np.float64)
        except ValueError:
            return None, "EnergyBoundaryValues are not numbers"
        return fit_calibration(np.arange(n_channels, dtype=np.float64),
                               0.5 * (edges[:-1] + edges[1:]))
    return None, "EnergyCalibration has no usable CoefficientValues or EnergyBoundaryValues"


def _calibration_2006(path: Path, root: ET.Element, spectrum: ET.Element,
                      n_channels: int) -> tuple[Calibration | None, str]:
    ids = (spectrum.get("CalibrationIDs") or "").split()
    candidates = spectrum.findall("Calibration") + [
        c for c in root.iter("Calibration") if c.get("ID") in ids] + list(root.iter("Calibration"))
    for element in candidates:
        if (element.get("Type") or "Energy").lower() != "energy":
            continue
        scale = _UNIT_SCALE.get((element.get("EnergyUnits") or "keV").lower(), 1.0)
        coefficients = (element.findtext("Equation/Coefficients") or "").split()
        if coefficients:
            return _coefficients(coefficients, n_channels, scale)
        points = [(p.findtext("X"), p.findtext("Y")) for p in element.iter("PointXY")]
        if len(points) >= 2:
            xy = parse_numbers(path, [v or "" for p in points for v in p], "Calibration points")
            x, y = xy[0::2], xy[1::2] * scale
            distinct = np.unique(x).size
            if distinct >= 2:
                try:
                    fit = np.polynomial.polynomial.polyfit(x, y, min(2, distinct - 1))
                except np.linalg.LinAlgError:
                    continue
                return polynomial_calibration(fit, n_channels)
    return None, "no energy Calibration"


def _coefficients(tokens: list[str], n_channels: int,
                  scale: float = 1.0) -> tuple[Calibration | None, str]:
    try:
        coefficients = np.array(tokens, dtype=np.float64) * scale
    except ValueError:
        return None, f"calibration coefficients {' '.join(tokens)[:60]!r} are not numbers"
    return polynomial_calibration(coefficients, n_channels)
