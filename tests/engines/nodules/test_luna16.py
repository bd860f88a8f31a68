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
