"""Which reader a spectrum file goes to (content first, then suffix), the fallbacks for files of
unknown suffixes, the messages when nothing reads a file, and reading many files with progress."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.spectrum import readers
from engines.spectrum.readers import (
    detect_format,
    iter_read_spectra,
    read_csv,
    read_spectrum,
    write_csv,
    write_spe,
)
from engines.spectrum.spectrum import Calibration, Spectrum

SPECUTILS = readers._SPECUTILS
needs_specutils = pytest.mark.skipif(not SPECUTILS, reason="sandiaspecutils is not installed")
AMPTEK_MCA = ("<<PMCA SPECTRUM>>\nTAG - live_data\nLIVE_TIME - 10\nREAL_TIME - 11\n<<DATA>>\n"
              + "".join(f"{c}\n" for c in range(1, 9)) + "<<END>>\n")


def _spectrum() -> Spectrum:
    counts = np.random.default_rng(3).poisson(20, 64).astype(float)
    return Spectrum(counts, Calibration((1.0, 0.5)), live_time_s=10.0, real_time_s=11.0)


def _binary(path: pathlib.Path, size: int) -> pathlib.Path:
    """Bytes no text decoder accepts, except perhaps their first few ("abcd")."""
    path.write_bytes(b"abcd" + bytes(range(1, 32)) * (size // 31))
    return path


def test_content_wins_over_the_suffix(tmp_path):
    spe = write_spe(tmp_path / "a.spe", _spectrum()).read_text()
    (tmp_path / "ortec.txt").write_text(spe)
    assert detect_format(tmp_path / "ortec.txt") == "spe"
    (tmp_path / "lead.n42").write_text("\n  <?xml version='1.0'?><RadInstrumentData/>")
    assert detect_format(tmp_path / "lead.n42") == "n42"  # leading blank lines skipped
    # "$" without "key:" on its first line is not ORTEC, whatever comes later
    (tmp_path / "dollar.txt").write_text("$Energy,Counts\n# live time: 10 s\n1,2\n")
    assert detect_format(tmp_path / "dollar.txt") == "csv"


def test_plain_text_goes_to_the_reader_its_suffix_names_else_csv(tmp_path):
    for name, expected in (("a.spe", "spe"), ("a.csv", "csv"), ("a.txt", "csv"),
                           ("a.n42", "csv"), ("a.xml", "csv"), ("a.cnf", "csv"),
                           ("a.foo", "csv")):
        (tmp_path / name).write_text("1,2\n3,4\n")
        assert detect_format(tmp_path / name) == expected, name


@needs_specutils
def test_binary_content(tmp_path):
    from engines.spectrum.readers.specutils import write_specutils

    cnf = write_specutils(tmp_path / "a.cnf", _spectrum(), "cnf").read_bytes()
    (tmp_path / "cam.spe").write_bytes(cnf)
    assert detect_format(tmp_path / "cam.spe") == "cnf"  # a CAM block directory is sniffed
    for size in (100, 5000):  # under and over the sniffed 4096 bytes
        assert detect_format(_binary(tmp_path / f"junk{size}.cnf", size)) == "cnf"
        assert detect_format(_binary(tmp_path / f"junk{size}.bin", size)) == "specutils"
        with pytest.raises(InputError) as info:
            detect_format(_binary(tmp_path / f"junk{size}.n42", size))
        assert str(info.value) == (f"junk{size}.n42: not a supported spectrum file; supported "
                                   f"formats: {readers._DESCRIPTION}")
    path = tmp_path / "short.n42"  # read whole, a file ending inside a character is not text
    path.write_bytes(("Counts\n" + "é" * 20).encode() + "é".encode()[:1])
    with pytest.raises(InputError, match=r"^short\.n42: not a supported spectrum file"):
        detect_format(path)
    path = tmp_path / "late.foo"  # only the head is sniffed: binary after it is not looked at
    path.write_bytes(b"1,2\n" * 1100 + b"\x00\x01\x02" * 100)
    assert detect_format(path) == "csv"


@pytest.mark.parametrize(("char", "in_head"), [("é", 1), ("€", 1), ("€", 2), ("😀", 1),
                                               ("😀", 2), ("😀", 3)])
def test_a_character_cut_at_the_sniff_boundary_is_still_text(tmp_path, char, in_head):
    """Non-ASCII text (too much for the legacy 8-bit fallback) whose 4096-byte head ends inside
    a character, right after another multi-byte character."""
    start = 4096 - in_head  # where the cut character begins
    lines = ("# Messung: " + "ΑΒΓΔ" * 15 + "\n# calibration_kev: 0 1\nCounts\n"
             + "".join(f"{i % 7}\n" for i in range(2000))).encode()
    lines = lines[:start - 40].rsplit(b"\n", 1)[0] + b"\n# "
    before = "é😀".encode()  # a 4-byte character just before: only the right cut decodes
    data = lines + b"x" * (start - len(lines) - len(before)) + before + char.encode() + b"\n"
    assert data.rindex(char.encode()) == start
    path = tmp_path / "cut.csv"
    path.write_bytes(data + b"1\n")
    assert detect_format(path) == "csv"
    assert read_spectrum(path).metadata["reader"] == "lablens"
    utf16 = tmp_path / "cut16.csv"  # a surrogate pair cut in UTF-16
    utf16.write_bytes("\ufeff1,2\n".encode("utf-16-le") + ("x" * 2041 + "😀\n").encode("utf-16-le"))
    assert detect_format(utf16) == "csv"


def test_unreadable_files(tmp_path, monkeypatch):
    path = tmp_path / "locked.csv"
    path.write_text("1,2\n")
    for error, shown in ((PermissionError(13, "Permission denied"), "Permission denied"),
                         (OSError("device gone"), "device gone")):
        def refuse(*args, error=error, **kwargs):
            raise error

        with monkeypatch.context() as patch:
            patch.setattr(pathlib.Path, "open", refuse)
            with pytest.raises(InputError) as info:
                detect_format(path)
        assert str(info.value) == f"locked.csv: cannot be read ({shown})"


def test_our_reader_says_so_in_the_metadata(tmp_path):
    path = write_csv(tmp_path / "a.csv", _spectrum())
    assert read_spectrum(path).metadata["reader"] == "lablens"


@needs_specutils
def test_unknown_suffix_falls_back_to_specutils(tmp_path, monkeypatch):
    path = tmp_path / "amptek.foo"  # "<<PMCA" looks like XML to the sniffer; N42 fails
    path.write_text(AMPTEK_MCA)
    read = read_spectrum(path)
    assert read.metadata["reader"] == "sandiaspecutils"
    np.testing.assert_array_equal(read.counts, np.arange(1, 9))
    calls = []
    monkeypatch.setattr(readers, "read_specutils",
                        lambda p: calls.append(p) or readers.FORMATS["specutils"](p))
    junk = _binary(tmp_path / "junk.foo", 100)
    with pytest.raises(InputError, match=r"^junk\.foo: not a recognised spectrum file \(read "
                                         r"as specutils: not a spectrum file SpecUtils"):
        read_spectrum(junk)
    assert calls == []  # SpecUtils already failed on it: not parsed a second time


def test_nothing_reads_it(tmp_path):
    path = tmp_path / "h.foo"
    path.write_text("hello world\nfoo\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    problem = str(info.value).removeprefix("h.foo: ")
    with pytest.raises(InputError) as info:
        read_spectrum(path)
    assert str(info.value) == (f"h.foo: not a recognised spectrum file (read as csv: "
                               f"{problem}); supported formats: {readers._DESCRIPTION}")


def test_iter_read_spectra_reports_each_file_and_collects_errors(tmp_path):
    good = [write_csv(tmp_path / f"{n}.csv", _spectrum()) for n in ("a", "b")]
    bad = tmp_path / "bad.csv"
    bad.write_text("hello\n")
    paths = [good[0], bad, good[1]]
    with pytest.raises(InputError, match=r"^bad\.csv: "):
        drive(iter_read_spectra(paths))
    reports = []
    spectra, errors = drive(iter_read_spectra(paths, skip_bad=True), reports.append)
    assert [s.source for s in spectra] == good
    assert [str(e).split(":")[0] for e in errors] == ["bad.csv"]
    assert [(r.fraction, r.message) for r in reports] == [
        (0.0, "reading a.csv"), (pytest.approx(1 / 3), "reading bad.csv"),
        (pytest.approx(2 / 3), "reading b.csv"), (1.0, "read 2 file(s)")]
