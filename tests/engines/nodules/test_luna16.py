"""LUNA16 CSV files and folder layout."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.froc import Findings
from engines.nodules.luna16 import (
    find_scans,
    open_dataset,
    read_findings,
    write_annotations,
    write_candidates,
    write_submission,
)


def _findings(probability=False):
    return Findings(np.array(["1.2.3", "1.2.4"], dtype=object),
                    np.array([[-10.5, 20.25, -300.125], [1.0, 2.0, 3.0]]), np.array([5.5, 12.0]),
                    np.array([0.9, 0.25]) if probability else None)


def test_annotations_submission_and_candidates_round_trip(tmp_path):
    write_annotations(tmp_path / "annotations.csv", _findings())
    back = read_findings(tmp_path / "annotations.csv", "diameter_mm")
    assert list(back.scan) == ["1.2.3", "1.2.4"]
    np.testing.assert_allclose(back.xyz_mm, _findings().xyz_mm, atol=1e-4)
    np.testing.assert_allclose(back.diameter_mm, [5.5, 12.0])
    write_submission(tmp_path / "sub.csv", _findings(probability=True))
    assert (tmp_path / "sub.csv").read_text().splitlines()[0] == \
        "seriesuid,coordX,coordY,coordZ,probability,diameter_mm"
    sub = read_findings(tmp_path / "sub.csv", "probability")
    np.testing.assert_allclose(sub.probability, [0.9, 0.25])
    np.testing.assert_allclose(sub.diameter_mm, [5.5, 12.0])
    write_candidates(tmp_path / "candidates.csv", _findings(), np.array([1, 0]))
    np.testing.assert_array_equal(read_findings(tmp_path / "candidates.csv", "class")
                                  .probability, [1, 0])


@pytest.mark.parametrize("text, message", [
    ("seriesuid,coordX,coordY,diameter_mm\n", "no column coordZ"),
    ("seriesuid,coordX,coordY,coordZ,diameter_mm\na,1,2,x,4\n", "line 2: coordZ 'x'"),
    ("seriesuid,coordX,coordY,coordZ,diameter_mm\na,1,2\n", "line 2: 3 fields"),
    ("", "empty file"),
])
def test_bad_csv_files_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "annotations.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=f"^annotations.csv: .*{message}"):
        read_findings(path, "diameter_mm")
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="UTF-8"):
        read_findings(path, "diameter_mm")


def test_find_scans_names_files_and_skips_hidden_folders(tmp_path):
    with pytest.raises(InputError, match=r"no scans found \(.mhd, .mha, .nii, .nii.gz or DICOM "
                                         r"series\)$"):
        find_scans(tmp_path)
    with pytest.raises(InputError, match=r"^x.csv: not a folder \(a LUNA16 dataset is a folder "
                                         r"with subset\*/ and annotations.csv\)$"):
        find_scans(tmp_path / "x.csv")
    for name in ("subset1/b.mhd", "subset0/c.NII.GZ", "subset0/a.mha", "subset2/b.nii",
                 ".cache/h.mhd", "subset0/.trash/t.mhd", "subset0/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "subset3" / "d.mhd").mkdir(parents=True)  # a folder named like a scan
    scans = find_scans(tmp_path)
    assert [e.seriesuid for e in scans] == ["a", "b", "c"]
    assert [e.path.relative_to(tmp_path).as_posix() for e in scans] == [
        "subset0/a.mha", "subset1/b.mhd", "subset0/c.NII.GZ"]  # b: the first path sorted
    assert all(e.series_uid is None for e in scans)


def test_find_scans_reads_dicom_series_by_their_uid(tmp_path):
    from engines.imaging.volume import Volume
    from tests.engines.imaging.dicom_factory import write_series

    volume = Volume(np.full((2, 4, 5), 100, np.int16), (0.5, 0.75, 2.0))
    write_series(tmp_path / "patient" / "ct", volume, series_uid="1.2.840.9")
    for uid, names in (("1.2.7", ["a.IMA", "b.IMA"]), ("1.2.8", ["a.dicom", "b.DICOM"]),
                       ("1.2.6", ["I0001", "I0002"])):
        write_series(tmp_path / uid, volume, series_uid=uid, names=names)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "README").write_text("not dicom")  # a suffix-less file: skipped
    (tmp_path / "z.mhd").write_text("x")
    scans = find_scans(tmp_path)
    assert [(e.seriesuid, e.path.relative_to(tmp_path).as_posix(), e.series_uid)
            for e in scans] == [("1.2.6", "1.2.6", "1.2.6"), ("1.2.7", "1.2.7", "1.2.7"),
                                ("1.2.8", "1.2.8", "1.2.8"),
                                ("1.2.840.9", "patient/ct", "1.2.840.9"), ("z", "z.mhd", None)]


def _folder(root, annotations=None, excluded=None, candidates=None, csvfiles=False):
    for uid in ("s1", "s2"):
        (root / "subset0").mkdir(parents=True, exist_ok=True)
        (root / "subset0" / f"{uid}.mhd").write_text("x")
    where = root / "CSVFILES" if csvfiles else root
    where.mkdir(exist_ok=True)
    for name, text in (("annotations.csv", annotations), ("annotations_excluded.csv", excluded),
                       ("candidates.csv", candidates)):
        if text is not None:
            (where / name).write_text(text)
    return root


def test_open_dataset_keeps_the_rows_of_its_scans(tmp_path):
    root = _folder(tmp_path / "luna",
                   HEADER + "s2,1,2,3,4\nzz,5,5,5,5\ns1,-7,8,9,12.5\ns2,0,0,0,30\n",
                   HEADER + "s1,1,1,1,-1\nzz,0,0,0,3\n",
                   "seriesuid,coordX,coordY,coordZ,class\ns1,1,2,3,0\nzz,1,1,1,1\n"
                   "s2,4,5,6,1\n", csvfiles=True)
    data = open_dataset(root)
    assert [e.seriesuid for e in data.scans] == ["s1", "s2"]
    assert list(data.annotations.scan) == ["s2", "s1", "s2"]
    np.testing.assert_array_equal(data.annotations.diameter_mm, [4, 12.5, 30])
    np.testing.assert_array_equal(data.nodules_of("s2").xyz_mm, [[1, 2, 3], [0, 0, 0]])
    np.testing.assert_array_equal(data.nodules_of("s1", excluded=True).diameter_mm, [-1])
    assert len(data.nodules_of("s2", excluded=True)) == 0
    assert list(data.candidates.scan) == ["s1", "s2"]
    np.testing.assert_array_equal(data.candidates.probability, [0, 1])
    assert data.describe() == "luna: 2 scans, 3 nodules, 1 excluded findings"
    (root / "annotations.csv").write_text(HEADER + "s1,1,1,1,6\n")  # beside CSVFILES: first
    assert list(open_dataset(root).annotations.diameter_mm) == [6]


def test_open_dataset_without_the_optional_files(tmp_path):
    root = _folder(tmp_path / "bare")
    with pytest.raises(InputError, match="annotations.csv: not found in the dataset folder"):
        open_dataset(root)
    data = open_dataset(root, require_annotations=False)
    assert len(data.annotations) == 0 and data.annotations.xyz_mm.shape == (0, 3)
    assert data.excluded is None and data.candidates is None
    none = data.nodules_of("s1", excluded=True)
    assert len(none) == 0 and none.xyz_mm.shape == (0, 3) and none.probability is None
    assert data.describe() == "bare: 2 scans, 0 nodules"
    with pytest.raises(InputError, match=r"^annotations_excluded.csv: line 2: diameter_mm -2 "
                                         r"is not within \(0, 1000\] mm or -1 \(unknown\)$"):
        open_dataset(_folder(root, HEADER, HEADER + "s1,1,1,1,-2\n"))


HEADER = "seriesuid,coordX,coordY,coordZ,diameter_mm\n"


@pytest.mark.parametrize("row, message", [
    ("a,1,2,3,0", "line 3: diameter_mm 0 is not within .0, 1000. mm$"),
    ("a,1,2,3,-1", "line 3: diameter_mm -1 is not within"),
    ("a,1,2,3,1001", "line 3: diameter_mm 1001"),
    ("a,1e300,2,3,4", "line 3: coordX 1e.300 mm is beyond 1e.09 mm"),
    ("a,1,2,-2e9,4", "line 3: coordZ -2e.09"),
    (" ,1,2,3,4", "line 3: empty seriesuid"),
    ("a,1,2,3,inf", "line 3: diameter_mm is not finite"),
    ("a,1,2,\u0661x,4", "line 3: coordZ '\u0661x' is not a number"),
])
def test_impossible_values_are_refused_with_their_line(tmp_path, row, message):
    path = tmp_path / "annotations.csv"
    path.write_text(HEADER + "b,-1.5,2,3.25,5\n" + row + "\n")
    with pytest.raises(InputError, match=f"^annotations.csv: {message}"):
        read_findings(path, "diameter_mm")


def test_unknown_diameters_candidate_classes_and_unicode_digits(tmp_path):
    path = tmp_path / "excluded.csv"
    path.write_text(HEADER + "b,-1.5,2,3.25,-1\nb,\u0661,2,3,0.5\n")  # float() reads Arabic digits
    found = read_findings(path, "diameter_mm", unknown_diameter=True)
    np.testing.assert_array_equal(found.diameter_mm, [-1, 0.5])
    np.testing.assert_array_equal(found.xyz_mm[:, 0], [-1.5, 1.0])
    path.write_text("seriesuid,coordX,coordY,coordZ,class\nb,1,2,3,1\nb,1,2,3,0\nb,1,2,3,2\n")
    with pytest.raises(InputError, match="^excluded.csv: line 4: class 2 is not 0 or 1"):
        read_findings(path, "class")
    path.write_text("seriesuid,coordX,coordY,coordZ,probability,diameter_mm\n"
                    "b,1,2,3,0.75,-1\nb,1,2,3,-3.5,7\n")  # other CADs: any score, unknown size
    found = read_findings(path, "probability")
    np.testing.assert_array_equal(found.probability, [0.75, -3.5])
    np.testing.assert_array_equal(found.diameter_mm, [-1, 7])


def test_a_header_quoting_line_breaks_gives_one_line(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text('"a\nb' + "x" * 500 + '",coordX\n')
    with pytest.raises(InputError) as info:
        read_findings(path, "diameter_mm")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_header_order_spaces_bom_blank_lines_and_extra_fields(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text("\ufeffdiameter_mm, coordZ ,seriesuid,coordY,coordX,probability\n"
                    "7.5,-3,  s9 ,2.5,1,0.4\n\n  ,,\n6,30,s8,-20,10,0.1,extra\n",
                    encoding="utf-8")
    found = read_findings(path, "diameter_mm")
    assert list(found.scan) == ["s9", "s8"] and found.probability is None
    assert found.scan.dtype == object
    np.testing.assert_array_equal(found.xyz_mm, [[1, 2.5, -3], [10, -20, 30]])
    np.testing.assert_array_equal(found.diameter_mm, [7.5, 6])
    sub = read_findings(path, "probability")
    np.testing.assert_array_equal(sub.probability, [0.4, 0.1])
    np.testing.assert_array_equal(sub.diameter_mm, [7.5, 6])
    path.write_text("seriesuid,coordX,coordY,coordZ,probability\n")
    empty = read_findings(path, "probability")
    assert empty.xyz_mm.shape == (0, 3) and len(empty.probability) == 0
    assert empty.diameter_mm is None
    path.write_text(HEADER + "a,1,2,3,4\n\n\n s ,1,2,3\n")
    with pytest.raises(InputError, match="^annotations.csv: line 5: 4 fields, expected 5$"):
        read_findings(path, "diameter_mm")


@pytest.mark.parametrize("rows, message", [
    ("a,1,2,3,4\nb,1,2,3,5\n ,1,2,3,4\n", "line 4: empty seriesuid"),
    ("a,1,2,3,4\nb,1,2,3,nan\nc,1,2,3,inf\n", "line 3: diameter_mm is not finite"),
    ("a,1,2,3,4\nb,1,2,3,4\nc,1," + "9" * 30 + "q" * 30 + ",3,4\n",
     "line 4: coordY '" + "9" * 30 + "q" * 10 + "' is not a number$"),
    ("a,1,2,3,4\nb,1e9,-1e9,1e9,1000\nc,1,1000000001,3,4\n",
     r"line 4: coordY 1e\+09 mm is beyond 1e\+09 mm$"),
    ("a,1,2,3,4\nb,1,2,3,1000.5\n", r"line 3: diameter_mm 1000.5 is not within \(0, 1000\] mm$"),
    ("a,1,2,3,0.01\nb,1,2,3,-0.5\n", r"line 3: diameter_mm -0.5"),
])
def test_the_first_bad_row_is_named_not_the_first_row(tmp_path, rows, message):
    path = tmp_path / "annotations.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(InputError, match=f"^annotations.csv: {message}"):
        read_findings(path, "diameter_mm")


def test_world_and_diameter_limits_are_inclusive(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text(HEADER + "a,1e9,-1e9,0,1000\nb,1,2,3,0.001\n")
    found = read_findings(path, "diameter_mm")
    np.testing.assert_array_equal(found.xyz_mm[0], [1e9, -1e9, 0])
    np.testing.assert_array_equal(found.diameter_mm, [1000, 0.001])
    path.write_text("seriesuid,coordX,coordY,coordZ,class\na,1,2,3,1\nb,1,2,3,0.5\n")
    with pytest.raises(InputError, match="line 3: class 0.5 is not 0 or 1$"):
        read_findings(path, "class")


def test_unreadable_files_name_the_file(tmp_path, monkeypatch):
    import engines.nodules.luna16 as luna16

    with pytest.raises(InputError, match="^missing.csv: no such file$"):
        read_findings(tmp_path / "missing.csv", "diameter_mm")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match=r"^dir.csv: cannot be read \(Is a directory\)$"):
        read_findings(tmp_path / "dir.csv", "diameter_mm")
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "a,1,2,3,4\n")
    monkeypatch.setattr(luna16, "MAX_CSV_BYTES", path.stat().st_size)
    assert len(read_findings(path, "diameter_mm")) == 1  # at the limit: read
    monkeypatch.setattr(luna16, "MAX_CSV_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputError, match="^big.csv: larger than 200 MB; not a LUNA16 CSV$"):
        read_findings(path, "diameter_mm")


def test_missing_columns_show_a_shortened_header(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text("seriesuid,coordX,coordY,coordZ,probability\n")
    with pytest.raises(InputError, match=r"^annotations.csv: no column diameter_mm \(header: "
                                         r"seriesuid, coordX, coordY, coordZ, probability\)$"):
        read_findings(path, "diameter_mm")
    path.write_text("seriesuid," + ",".join(f"c{i:03d}" for i in range(60)) + "\n")
    with pytest.raises(InputError) as info:
        read_findings(path, "diameter_mm")
    shown = str(info.value).split("(header: ")[1]
    assert shown == ("seriesuid, " + ", ".join(f"c{i:03d}" for i in range(60)))[:200] + "…)"
    for width in (200, 201):  # "a, " + name: the shown header is exactly ``width`` long
        path.write_text("a," + "n" * (width - 3) + "\n")
        with pytest.raises(InputError) as info:
            read_findings(path, "diameter_mm")
        shown = str(info.value).split("(header: ")[1]
        assert shown == "a, " + "n" * (width - 3) + ")" if width == 200 else \
            shown == "a, " + "n" * 197 + "…)"
    path.write_text("\n\n")
    with pytest.raises(InputError, match="^annotations.csv: empty file$"):
        read_findings(path, "diameter_mm")
    path.write_bytes(HEADER.encode() + b"\xe9,1,2,3,4\n")
    with pytest.raises(InputError, match=r"^annotations.csv: not a text \(UTF-8\) CSV file$"):
        read_findings(path, "diameter_mm")
    limit = csv.field_size_limit()  # a longer field is a csv.Error
    path.write_text(HEADER + "a," + "1" * (limit + 1) + ",2,3,4\n")
    with pytest.raises(InputError, match="^annotations.csv: not a valid CSV file"):
        read_findings(path, "diameter_mm")


def test_written_files_keep_their_precision_and_columns(tmp_path):
    findings = Findings(np.array(["u1", "u2"], dtype=object),
                        np.array([[1.23456, -2.0, 3.5], [0.0, 1e-5, -7.25]]),
                        np.array([4.0005, 12.0]), np.array([0.1234567, 1.0]))
    text = write_annotations(tmp_path / "a.csv", findings).read_text()
    assert text == (
        "seriesuid,coordX,coordY,coordZ,diameter_mm\n"
        "u1,1.2346,-2.0000,3.5000,4.000\nu2,0.0000,0.0000,-7.2500,12.000\n")
    text = write_submission(tmp_path / "s.csv", findings, with_diameter=False).read_text()
    assert text.splitlines() == ["seriesuid,coordX,coordY,coordZ,probability",
                                 "u1,1.2346,-2.0000,3.5000,0.123457",
                                 "u2,0.0000,0.0000,-7.2500,1.000000"]
    bare = Findings(findings.scan, findings.xyz_mm, None, findings.probability)
    assert write_submission(tmp_path / "b.csv", bare).read_text().splitlines()[0] == \
        "seriesuid,coordX,coordY,coordZ,probability"
    assert write_submission(tmp_path / "d.csv", findings).read_text().splitlines()[2] == \
        "u2,0.0000,0.0000,-7.2500,1.000000,12.000"
    text = write_candidates(tmp_path / "c.csv", findings, np.array([0.0, 1.0])).read_text()
    assert text.splitlines()[1:] == ["u1,1.2346,-2.0000,3.5000,0", "u2,0.0000,0.0000,-7.2500,1"]
    assert (tmp_path / "c.csv").read_bytes().count(b"\r") == 0  # plain \n line ends
    with pytest.raises(ValueError):  # a label per finding
        write_candidates(tmp_path / "c.csv", findings, np.array([1]))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="^a.csv: cannot be written"):
        write_annotations(tmp_path / "file" / "a.csv", findings)


def test_concat_select_and_empty_findings():
    from engines.nodules.luna16 import concat, empty_findings, select

    assert len(concat([])) == 0 and concat([]).probability is None
    assert empty_findings(with_probability=True).probability.shape == (0,)
    assert empty_findings().scan.dtype == object  # seriesuids are strings of any length
    assert empty_findings().diameter_mm.shape == (0,)
    a = _findings(probability=True)
    b = Findings(np.array([7], dtype=object), np.array([[9.0, 8.0, 7.0]]), np.array([3.0]),
                 np.array([0.5]))
    joined = concat([a, b])
    assert list(joined.scan) == ["1.2.3", "1.2.4", 7]
    np.testing.assert_array_equal(joined.xyz_mm[2], [9, 8, 7])
    np.testing.assert_array_equal(joined.diameter_mm, [5.5, 12.0, 3.0])
    np.testing.assert_array_equal(joined.probability, [0.9, 0.25, 0.5])
    no_diameter = concat([Findings(a.scan, a.xyz_mm, None, a.probability)])
    assert no_diameter.diameter_mm is None and len(no_diameter.probability) == 2
    no_probability = concat([_findings(), _findings()])
    assert no_probability.probability is None and len(no_probability.diameter_mm) == 4
    kept = select(joined, np.array([False, True, True]))
    assert list(kept.scan) == ["1.2.4", 7]
    np.testing.assert_array_equal(kept.probability, [0.25, 0.5])
    np.testing.assert_array_equal(kept.diameter_mm, [12.0, 3.0])
    np.testing.assert_array_equal(kept.xyz_mm, [[1, 2, 3], [9, 8, 7]])
    assert select(_findings(), np.array([True, False])).probability is None
