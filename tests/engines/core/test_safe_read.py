"""The reading boundary: which exceptions are the file's fault, and the size and value checks."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from engines.core.errors import InputError, ModelError
from engines.core.safe_read import (
    MAX_COMPRESSION_RATIO,
    check_declared,
    check_file,
    finite_after_cast,
    is_file_fault,
    read_bytes_limited,
    reading,
)


@pytest.fixture
def h5_file(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.arange(10)
        h5["loop"] = h5py.SoftLink("/loop")
    return path


def _raised(call) -> BaseException:
    try:
        call()
    except BaseException as exc:  # noqa: B036 - the test inspects whatever is raised
        return exc
    raise AssertionError("nothing was raised")


# --------------------------------------------------------------------------- the rule

def test_library_errors_are_the_files_fault(h5_file):
    with h5py.File(h5_file, "r") as h5:
        missing = _raised(lambda: h5["nothing"])  # KeyError raised inside h5py
        cycle = _raised(lambda: h5["loop"])  # RuntimeError "too many links" inside h5py
    assert type(missing) is KeyError and is_file_fault(missing)
    assert type(cycle) is RuntimeError and is_file_fault(cycle)
    assert is_file_fault(_raised(lambda: json.loads("{")))  # json.decoder class
    assert is_file_fault(_raised(lambda: ET.fromstring("<a>")))  # xml.etree class
    assert is_file_fault(_raised(lambda: next(csv.reader(['"a' + "x" * 200_000]))))
    assert is_file_fault(OSError(5, "Input/output error"))
    assert is_file_fault(MemoryError())


def test_programming_errors_are_not(h5_file):
    with h5py.File(h5_file, "r") as h5:
        bad_index = _raised(lambda: h5["x"][1.5])  # TypeError raised inside h5py: our call
    assert type(bad_index) is TypeError and not is_file_fault(bad_index)
    ours = _raised(lambda: np.array(["x"], dtype=np.float64))  # numpy refusing our argument
    assert type(ours) is ValueError and not is_file_fault(ours)
    for exc in (AttributeError("x"), NameError("x"), AssertionError(), ValueError("ours"),
                KeyError("ours"), IndexError("ours")):
        assert not is_file_fault(exc)


def _raise_inside(module: str, exc: BaseException) -> BaseException:
    """``exc`` raised from a frame of ``module`` (as if that library raised it)."""
    code = compile("raise exc", f"{module.replace('.', '/')}.py", "exec")
    return _raised(lambda: exec(code, {"__name__": module, "exc": exc}))


def test_python_deserialisers_may_fail_on_damaged_files_with_any_type():
    for kind in (AssertionError, AttributeError, TypeError, UnboundLocalError):
        assert is_file_fault(_raise_inside("uproot.model", kind()))  # uproot choking on a file
        assert not is_file_fault(_raise_inside("h5py._hl.dataset", kind()))  # our call to h5py
    assert not is_file_fault(_raise_inside("uproot.model", ImportError("x")))  # broken install
    assert is_file_fault(_raise_inside("h5py._hl.group", KeyError("object type")))
    assert not is_file_fault(_raise_inside("numpy.core", ValueError("ours")))


def test_reading_maps_file_faults_and_lets_bugs_through(h5_file):
    with pytest.raises(InputError) as info, reading(h5_file, "HDF5 event file"), \
            h5py.File(h5_file, "r") as h5:
        h5["loop"]
    assert str(info.value).startswith("data.h5: not a readable HDF5 event file (RuntimeError: ")
    assert "too many links" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(TypeError), reading(h5_file, "HDF5 event file"), \
            h5py.File(h5_file, "r") as h5:
        h5["x"][1.5]
    with pytest.raises(ZeroDivisionError), reading(h5_file, "thing"):
        1 / 0  # noqa: B018 - a bug of ours inside the context
    original = InputError("data.h5: exactly this")
    with pytest.raises(InputError) as info, reading(h5_file, "thing"):
        raise original
    assert info.value is original
    with pytest.raises(ModelError), reading(h5_file, "thing"):
        raise ModelError("passes unchanged")
    with pytest.raises(KeyboardInterrupt), reading(h5_file, "thing"):
        raise KeyboardInterrupt


def test_a_rust_decoder_panic_is_the_files_fault(tmp_path):
    panic = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})
    with pytest.raises(InputError, match="f.dcm: not a readable DICOM file .PanicException: "
                                         "index out of bounds"), reading(tmp_path / "f.dcm",
                                                                         "DICOM file"):
        raise panic("index out of bounds: the len is 2304 but the index is 2304")
    other = type("PanicException", (BaseException,), {"__module__": "somewhere"})
    with pytest.raises(other), reading(tmp_path / "f.dcm", "DICOM file"):
        raise other("not a pyo3 panic")


def test_pillow_reporting_a_broken_png_with_syntaxerror_is_the_files_fault(tmp_path):
    broken = _raise_inside("PIL.PngImagePlugin", SyntaxError("broken PNG file (chunk b'\\0')"))
    assert is_file_fault(broken)
    with pytest.raises(InputError, match=r"^broken.png: not a readable image \(SyntaxError: "
                                         r"broken PNG file"), reading(tmp_path / "broken.png",
                                                                      "image"):
        raise broken
    # a compile error (it has a file name) is a broken install, even below Pillow
    compiled = _raise_inside("PIL.PngImagePlugin", SyntaxError("bad", ("x.py", 1, 1, "x")))
    assert not is_file_fault(compiled)
    assert not is_file_fault(_raise_inside("numpy.core", SyntaxError("not Pillow")))


def test_file_errors_are_one_line_whatever_the_problem_quotes():
    error = InputError.for_file("/data/a.csv", "no column x (header: \"a\nb\r\nc\u2028d\")")
    assert str(error) == 'a.csv: no column x (header: "a b c d")'


def test_tifffile_asserting_on_a_page_is_the_files_fault():
    assert is_file_fault(_raise_inside("tifffile.tifffile", AssertionError()))


def test_reading_names_recursion_and_memory_plainly(tmp_path):
    with pytest.raises(InputError, match="f.json: not a readable thing .structure nested too "
                                         "deeply"), reading(tmp_path / "f.json", "thing"):
        json.loads("[" * 100_000)  # RecursionError raised inside the json module
    with pytest.raises(InputError, match="more memory"), reading(tmp_path / "f.json", "thing"):
        raise MemoryError
    with pytest.raises(RecursionError), reading(tmp_path / "f.json", "thing"):
        raise RecursionError  # from our own code: a bug, not the file


# --------------------------------------------------------------------------- sizes

def test_check_file(tmp_path):
    with pytest.raises(InputError, match="f.bin: file not found"):
        check_file(tmp_path / "f.bin")
    with pytest.raises(InputError, match="is a folder"):
        check_file(tmp_path)
    (tmp_path / "f.bin").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        check_file(tmp_path / "f.bin")
    (tmp_path / "f.bin").write_bytes(b"abc")
    assert check_file(tmp_path / "f.bin") == 3


def test_check_declared_against_storage_and_limit(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(1000))
    assert check_declared(125, 8, path) == 125  # exactly the file
    with pytest.raises(InputError, match="declares 126 values"):
        check_declared(126, 8, path)
    assert check_declared(10**6, 4, path, available=4000, ratio=MAX_COMPRESSION_RATIO) == 10**6
    with pytest.raises(InputError, match="even at the best compression ratio"):
        check_declared(10**7, 4, path, available=4000, ratio=MAX_COMPRESSION_RATIO)
    with pytest.raises(InputError, match="negative"):
        check_declared(-1, 4, path)
    with pytest.raises(InputError, match="a reader may allocate"):
        check_declared(2**40, 8, path, available=2**50, limit_bytes=2**30)


def test_check_declared_messages_and_zero(tmp_path):
    path = tmp_path / "d.bin"
    path.write_bytes(b"x" * 100)
    assert check_declared(0, 8, path) == 0  # an empty array is a size, not an error
    with pytest.raises(InputError, match=r"^d\.bin: pixels declares a negative size \(-1\)$"):
        check_declared(-1, 1, path, what="pixels")
    with pytest.raises(InputError, match=r"^d\.bin: pixels declares 200 values \(1.56 KiB\) "
                                         r"but the file stores only 100 bytes for them \(damaged "
                                         r"or hostile header\)$"):
        check_declared(200, 8, path, what="pixels")
    with pytest.raises(InputError, match=r"^d\.bin: data declares 2,000 bytes but the file "
                                         r"stores only 1 bytes for them even at the best "
                                         r"compression ratio \(damaged or hostile header\)$"):
        check_declared(2000, 1, path, available=1, ratio=1032)
    assert check_declared(1032, 1, path, available=1, ratio=1032) == 1032


def test_read_bytes_limited(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)
    assert read_bytes_limited(path, 100) == b"x" * 100
    with pytest.raises(InputError, match="too large"):
        read_bytes_limited(path, 99)


# --------------------------------------------------------------------------- values

def test_finite_after_cast_floats(tmp_path):
    values = np.array([1.0, 1e300, 2.0])
    assert np.isfinite(values).all()  # finite as float64...
    with pytest.raises(InputError, match=r"f.h5: times: value 1e\+300 at index 1 is NaN, "
                                         "infinite or beyond the float32 range"):
        finite_after_cast(values, np.float32, "times", tmp_path / "f.h5")  # ...not as float32
    out = finite_after_cast(np.array([1, 2], np.int64), np.float32, "x", "f.h5")
    assert out.dtype == np.float32 and out.tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match="expected numbers"):
        finite_after_cast(np.array(["a"]), np.float32, "x", "f.h5")


@pytest.mark.parametrize(("values", "dtype"), [
    (np.array([2**63 + 5], np.uint64), np.int64),   # wraps to a negative offset
    (np.array([300, 1]), np.int8),                  # wraps to 44
    (np.array([-1], np.int8), np.uint32),
    (np.array([1.5]), np.int32),
    (np.array([np.nan]), np.int64),
    (np.array([2.0**63]), np.int64),
])
def test_finite_after_cast_refuses_integer_wrap(values, dtype):
    with pytest.raises(InputError, match="not a whole number within"):
        finite_after_cast(values, dtype, "offsets", "f.h5")


def test_finite_after_cast_integers_pass_unchanged():
    out = finite_after_cast(np.array([0, 2**62], np.uint64), np.int64, "x", "f.h5")
    assert out.dtype == np.int64 and out.tolist() == [0, 2**62]
    assert finite_after_cast(np.array([3.0, -2.0]), np.int8, "x", "f.h5").tolist() == [3, -2]
    assert finite_after_cast(np.zeros(0), np.int64, "x", "f.h5").size == 0


# --------------------------------------------------------------------------- mutmut survivors

def test_only_pyo3s_panic_class_is_a_rust_panic():
    from engines.core.safe_read import _is_rust_panic

    def kind(name, module):
        return type(name, (BaseException,), {"__module__": module})()

    assert _is_rust_panic(kind("PanicException", "pyo3_runtime"))
    assert _is_rust_panic(kind("PanicException", "pyo3_runtime.sub"))
    assert not _is_rust_panic(kind("OtherException", "pyo3_runtime"))
    assert not _is_rust_panic(kind("PanicException", "mylib"))


def _raise_through(*modules: str, exc: BaseException) -> BaseException:
    """``exc`` raised in a chain of frames, the first module calling the second, ..."""
    def frame(i: int):
        last = i == len(modules) - 1
        code = compile("raise exc" if last else "call(i + 1)",
                       f"{modules[i].replace('.', '/')}.py", "exec")
        exec(code, {"__name__": modules[i], "call": frame, "i": i, "exc": exc})
    return _raised(lambda: frame(0))


def test_only_libraries_below_the_innermost_frame_of_ours_count():
    from engines.core.safe_read import libraries_below_our_code

    # our code -> h5py -> our callback -> numpy: the callback is the innermost of ours
    exc = _raise_through("engines.a", "h5py._hl", "engines.b", "numpy.core", exc=ValueError())
    assert libraries_below_our_code(exc) == {"numpy"}
    assert not is_file_fault(exc)  # a data error of ours, though h5py is on the stack
    inside = _raise_through("engines.a", "engines.b", "h5py._hl", exc=ValueError())
    assert libraries_below_our_code(inside) == {"h5py"} and is_file_fault(inside)
    above = _raise_through("h5py._hl", "engines.b", exc=ValueError())
    assert libraries_below_our_code(above) == set() and not is_file_fault(above)


def test_describe_exactly():
    from engines.core.safe_read import describe

    assert describe(MemoryError()) == "it needs more memory than is available (damaged size " \
                                      "fields?)"
    assert describe(OSError(5, "Input/output error")) == "OSError: Input/output error"
    assert describe(ValueError("")) == "ValueError"
    assert describe(ValueError("  'quoted'\nsecond line")) == "ValueError: quoted"
    assert describe(KeyError("x" * 200)) == "KeyError: " + "x" * 140


def test_check_file_messages_exactly(tmp_path):
    import os

    with pytest.raises(InputError, match=r"^\w+: is a folder, not a file$"):
        check_file(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match=r"^pipe: is not a regular file$"):
        check_file(tmp_path / "pipe")
    long = tmp_path / ("x" * 300)  # the system refuses the name: stat raises, not "missing"
    with pytest.raises(InputError, match=r"^x{300}: cannot be read \(File name too long\)$"):
        check_file(long)
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(InputError, match=r"^e: the file is empty$"):
        check_file(tmp_path / "e")


def test_size_text_at_each_unit():
    from engines.core.safe_read import size_text

    assert [size_text(n) for n in (1023, 1 << 10, 1 << 20, 2 << 20, 3 << 29, 1 << 30,
                                   5 << 30)] == \
        ["1023 bytes", "1 KiB", "1 MiB", "2 MiB", "1.5 GiB", "1 GiB", "5 GiB"]


def test_check_declared_names_compression_for_any_ratio_above_one(tmp_path):
    path = tmp_path / "c.bin"
    path.write_bytes(b"x" * 10)
    with pytest.raises(InputError, match="even at the best compression ratio"):
        check_declared(100, 1, path, ratio=2)
    with pytest.raises(InputError) as info:
        check_declared(100, 1, path, ratio=1)
    assert "compression" not in str(info.value)


def test_read_bytes_limited_open_failure_and_growth(tmp_path, monkeypatch):
    from pathlib import Path

    import engines.core.safe_read as safe_read

    path = tmp_path / "g.bin"
    path.write_bytes(b"y" * 10)
    monkeypatch.setattr(safe_read, "check_file", lambda p: 1)  # it was 1 byte when checked
    with pytest.raises(InputError, match=r"^g.bin: file grew past the limit of 5 bytes$"):
        read_bytes_limited(path, 5)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError, match=r"^g.bin: cannot be read \(Permission denied\)$"):
        read_bytes_limited(path, 5)


def test_finite_after_cast_defaults_and_exact_bounds(tmp_path):
    import warnings

    with pytest.raises(InputError, match="is NaN, infinite"):
        finite_after_cast(np.array([1.0, np.nan]), np.float32, "x", "f.h5")  # NaN refused
    assert np.isnan(finite_after_cast(np.array([np.nan]), np.float32, "x", "f.h5",
                                      allow_nan=True)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflow of the cast is checked, not warned
        with pytest.raises(InputError):
            finite_after_cast(np.array([1e300]), np.float32, "x", "f.h5")
    with pytest.raises(ValueError, match="unsupported target type complex128"):
        finite_after_cast(np.array([1.0]), np.complex128, "x", "f.h5")
    for values in (np.array([-128, 127]), np.array([-128.0, 127.0])):
        out = finite_after_cast(values, np.int8, "x", "f.h5")
        assert out.dtype == np.int8 and out.tolist() == [-128, 127]
    assert finite_after_cast(np.zeros(0), np.int16, "x", "f.h5").dtype == np.int16
    assert finite_after_cast(np.array([True]), np.int16, "x", "f.h5").dtype == np.int16
    with pytest.raises(InputError, match=r"^f.h5: x: value 300 at index 2 is not a whole"):
        finite_after_cast(np.array([1, 2, 300]), np.int8, "x", "f.h5")
    with pytest.raises(InputError, match=r"^f.h5: x: value 2.5 at index 1 is not a whole"):
        finite_after_cast(np.array([1.0, 2.5]), np.int8, "x", "f.h5")


def test_native_stderr_is_captured_and_descriptor_2_restored(capfd):
    import os

    from engines.core.safe_read import native_stderr_captured

    with pytest.raises(ValueError), native_stderr_captured() as printed:
        os.write(2, b"** ERROR: from C\n\n  second line\n")
        raise ValueError("the read failed")
    assert printed == ["ERROR: from C", "second line"]
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
