"""LUNA16 CSV files and folder layout."""

from __future__ import annotations

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


def test_dataset_folder(tiny_dataset, tmp_path):
    assert len(tiny_dataset.scans) == 3
    assert all(e.path.parent.name == "subset0" and e.path.suffix == ".mhd"
               for e in tiny_dataset.scans)
    assert len(tiny_dataset.annotations) >= 3 and tiny_dataset.excluded is not None
    first = tiny_dataset.scans[0].seriesuid
    assert set(tiny_dataset.nodules_of(first).scan) <= {first}
    with pytest.raises(InputError, match="no scans found"):
        find_scans(tmp_path)
    (tmp_path / "subset0").mkdir()
    (tmp_path / "subset0" / "a.mhd").write_text("x")
    assert [e.seriesuid for e in find_scans(tmp_path)] == ["a"]
    with pytest.raises(InputError, match="annotations.csv: not found"):
        open_dataset(tmp_path)


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
