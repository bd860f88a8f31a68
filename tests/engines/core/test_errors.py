"""The user-facing error types: what each one is, and the one-line file message."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.core.errors import CancelledError, InputError, LabLensError, ModelError


def test_input_errors_are_value_errors_and_every_error_is_a_lablens_error():
    for kind in (InputError, ModelError, CancelledError):
        assert issubclass(kind, LabLensError)
    assert issubclass(InputError, ValueError)  # callers that catch ValueError still see it
    assert not issubclass(ModelError, ValueError)


def test_for_file_names_the_file_not_its_folder():
    error = InputError.for_file(Path("/data/runs/run7.spe"), "no $DATA section")
    assert type(error) is InputError
    assert str(error) == "run7.spe: no $DATA section"
    assert str(InputError.for_file("relative/run8.csv", "empty")) == "run8.csv: empty"


def test_for_file_puts_a_multi_line_problem_on_one_line():
    error = InputError.for_file("run7.spe", "bad line:\n$DATA:\r\n0 16383")
    assert str(error) == "run7.spe: bad line: $DATA: 0 16383"


def test_for_file_accepts_any_problem_and_builds_the_subclass_it_is_called_on():
    class HeaderError(InputError):
        pass

    error = HeaderError.for_file("a.mhd", ValueError("DimSize\nmissing"))
    assert isinstance(error, HeaderError)
    assert str(error) == "a.mhd: DimSize missing"
    with pytest.raises(ValueError, match=r"^a\.mhd: DimSize missing$"):
        raise error
