"""Voxel sizes from what a TIFF says: OME-XML, ImageJ descriptions, tifffile's JSON and the
resolution tags, with the 72/96 dpi defaults ignored."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from engines.imaging.tiff_spacing import _ome_spacing, _positive, file_spacing, unit_mm

STACK = np.zeros((3, 4, 5), np.uint8)


def _spacing(path, **options):
    tifffile.imwrite(path, STACK, photometric="minisblack", **options)
    with tifffile.TiffFile(path) as tif:
        return file_spacing(tif)


def test_units_and_positive_numbers():
    assert unit_mm(" MM ") == 1.0 and unit_mm("cm") == 10.0 and unit_mm("Micron") == 1e-3
    assert unit_mm("\u00b5m") == 1e-3 and unit_mm("inch") == 25.4 and unit_mm("nm") == 1e-6
    assert unit_mm(None) is None and unit_mm("pixel") is None
    assert _positive("2.5") == 2.5 and _positive(1) == 1.0
    for bad in (0, -1, "nan", "inf", float("inf"), None, "x"):
        assert _positive(bad) is None, bad


def test_ome_xml_sizes_and_units():
    xml = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image><Pixels '
           'PhysicalSizeX="0.5" PhysicalSizeY="250" PhysicalSizeYUnit="nm" '
           'PhysicalSizeZ="2" PhysicalSizeZUnit="mm"/></Image></OME>')
    spacing = _ome_spacing(xml)
    assert spacing.source == "OME-XML"
    assert (spacing.x, spacing.y, spacing.z) == pytest.approx((5e-4, 2.5e-4, 2.0))
    partial = _ome_spacing('<OME><Image><Pixels PhysicalSizeX="-1" PhysicalSizeY="3" '
                           'PhysicalSizeYUnit="furlong"/></Image></OME>')
    assert (partial.x, partial.y, partial.z) == (None, None, None)
    assert _ome_spacing("<OME><Image/></OME>") is None
    broken = _ome_spacing("<OME><Pixels")
    assert broken.notes == ["OME-XML metadata could not be parsed"] and broken.x is None
    entity = _ome_spacing('<!DOCTYPE x [<!ENTITY a "1">]><OME><Pixels PhysicalSizeX="&a;"/></OME>')
    assert entity.notes == ["OME-XML metadata could not be parsed"]


def test_ome_tiff_file(tmp_path):
    spacing = _spacing(tmp_path / "s.ome.tif", metadata={"axes": "ZYX", "PhysicalSizeX": 0.2,
                                                         "PhysicalSizeY": 0.3,
                                                         "PhysicalSizeZ": 1.5})
    assert spacing.source == "OME-XML"
    assert (spacing.x, spacing.y, spacing.z) == pytest.approx((2e-4, 3e-4, 1.5e-3))
    silent = _spacing(tmp_path / "n.ome.tif", metadata={"axes": "ZYX"},
                      resolution=(100, 50), resolutionunit="CENTIMETER")
    assert silent.source == "TIFF tags"  # OME without sizes: the resolution tags
    assert (silent.x, silent.y) == pytest.approx((0.1, 0.2))


def test_imagej_descriptions(tmp_path):
    spacing = _spacing(tmp_path / "ij.tif", imagej=True, resolution=(2.0, 4.0),
                       metadata={"spacing": 0.75, "unit": "um", "axes": "ZYX"})
    assert spacing.source == "ImageJ" and spacing.notes == []
    assert (spacing.x, spacing.y, spacing.z) == pytest.approx((5e-4, 2.5e-4, 7.5e-4))
    odd = _spacing(tmp_path / "odd.tif", imagej=True, resolution=(2.0, 2.0),
                   metadata={"spacing": 3, "unit": "parsec", "axes": "ZYX"})
    assert odd.notes == ["unknown ImageJ unit 'parsec'"]
    assert (odd.x, odd.y, odd.z) == (None, None, None)
    bare = _spacing(tmp_path / "bare.tif", imagej=True, resolution=(2.0, 2.0),
                    metadata={"axes": "ZYX"})
    assert bare.notes == [] and (bare.x, bare.y, bare.z) == (None, None, None)
    inch = _spacing(tmp_path / "inch.tif", imagej=True, resolution=(254.0, 127.0),
                    resolutionunit="INCH", metadata={"spacing": 2, "unit": "mm", "axes": "ZYX"})
    assert (inch.x, inch.y, inch.z) == pytest.approx((0.1, 0.2, 2.0))  # the tag's inch wins


def test_resolution_tags_and_tifffile_json(tmp_path):
    cm = _spacing(tmp_path / "cm.tif", resolution=(20.0, 40.0), resolutionunit="CENTIMETER",
                  metadata={"spacing": 0.4, "unit": "cm"})
    assert cm.source == "TIFF tags"
    assert (cm.x, cm.y, cm.z) == pytest.approx((0.5, 0.25, 4.0))
    dpi = _spacing(tmp_path / "dpi.tif", resolution=(72.0, 72.0), resolutionunit="INCH")
    assert (dpi.x, dpi.y) == (None, None)
    mixed = _spacing(tmp_path / "mix.tif", resolution=(72.0, 96.0), resolutionunit="INCH")
    assert (mixed.x, mixed.y) == (None, None)
    half = _spacing(tmp_path / "half.tif", resolution=(72.0, 100.0), resolutionunit="INCH")
    assert (half.x, half.y) == pytest.approx((25.4 / 72, 0.254))
    none = _spacing(tmp_path / "none.tif", resolution=(20.0, 20.0), resolutionunit="NONE",
                    metadata={"spacing": 2})
    assert (none.x, none.y, none.z) == (None, None, None)
    unitless = _spacing(tmp_path / "u.tif", metadata={"spacing": 2, "unit": "furlong"})
    assert unitless.z is None
    assert _spacing(tmp_path / "plain.tif", metadata=None).x is None
