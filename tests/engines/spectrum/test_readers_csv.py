"""CSV/text spectrum reader: the paper's two-column files and the variants users produce."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import csv_format, read_spectrum
from engines.spectrum.readers._common import shift_calibration
from engines.spectrum.readers.csv_format import read_csv, write_csv
from engines.spectrum.spectrum import PAPER_CALIBRATION, Calibration, Spectrum

COUNTS = np.array([0, 3, 7, 12, 40, 9, 2, 0, 1, 5, 0, 8], dtype=np.float64)


def _paper_rows() -> list[str]:
    energies = PAPER_CALIBRATION.energy(np.arange(COUNTS.size))
    return [f"{e:.4f},{int(c)}" for e, c in zip(energies, COUNTS, strict=True)]


def _write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_round_trip_with_write_csv(tmp_path):
    original = Spectrum(COUNTS, Calibration((1.5, 0.7, 2e-5)), live_time_s=12.5, real_time_s=13.0,
                        name="steel sample")
    path = write_csv(tmp_path / "steel.csv", original)
    spectrum = read_csv(path)
    np.testing.assert_array_equal(spectrum.counts, COUNTS)
    np.testing.assert_allclose(spectrum.energies, original.energies, atol=1e-4)
    assert len(spectrum.calibration.coefficients) == 3  # the quadratic term is recovered
    assert spectrum.live_time_s == 12.5 and spectrum.real_time_s == 13.0
    assert spectrum.name == "steel sample" and spectrum.source == path
    assert spectrum.metadata["format"] == "csv" and spectrum.metadata["calibrated"]


def test_round_trip_non_integer_counts(tmp_path):
    original = Spectrum(COUNTS * 0.25, PAPER_CALIBRATION)
    spectrum = read_spectrum(write_csv(tmp_path / "rates.csv", original))
    np.testing.assert_allclose(spectrum.counts, original.counts)
    assert spectrum.live_time_s is None and spectrum.name == "rates"


def test_paper_file_recovers_paper_calibration(tmp_path):
    path = _write(tmp_path, "paper.csv", '"Energy (keV)","Counts"\n' + "\n".join(_paper_rows()))
    spectrum = read_csv(path)
    assert len(spectrum.calibration.coefficients) == 2
    np.testing.assert_allclose(spectrum.calibration.coefficients, (2.0727, 0.704981), atol=1e-4)
    np.testing.assert_array_equal(spectrum.counts, COUNTS)
    assert spectrum.metadata["calibration_source"] == "energy column"


def _table(header: list[str], columns: list[list[str]], sep: str) -> str:
    rows = [sep.join(cells) for cells in zip(*columns, strict=True)]
    return "\n".join([sep.join(header)] + rows)


ENERGY = [f"{e:.4f}" for e in PAPER_CALIBRATION.energy(np.arange(COUNTS.size))]
CHANNEL = [str(i) for i in range(COUNTS.size)]
COUNT = [str(int(c)) for c in COUNTS]

VARIANTS = {
    "semicolon_decimal_comma": _table(["Energy (keV)", "Counts"],
                                      [[e.replace(".", ",") for e in ENERGY], COUNT], ";"),
    "tab_lowercase": _table(["energy (kev)", "counts"], [ENERGY, COUNT], "\t"),
    "whitespace_unit_in_parentheses": _table(["Energy (keV)", "Counts"], [ENERGY, COUNT], "  "),
    "quoted_spaced_header": _table([' "ENERGY  (keV)" ', ' "Cts" '], [ENERGY, COUNT], ","),
    "channel_first": _table(["Channel", "Energy_keV", "Counts"], [CHANNEL, ENERGY, COUNT], ","),
    "counts_first_channel_last": _table(["counts", "energy", "ch"], [COUNT, ENERGY, CHANNEL], ","),
    "mev_energies": _table(["Energy (MeV)", "Counts"],
                           [[f"{float(e) / 1000:.7f}" for e in ENERGY], COUNT], ","),
    "headerless_two_columns": "\n".join(_paper_rows()),
    "comments_and_blank_lines": "# exported by a spectrometer\n\n# live_time_s: 2.5\n"
                                + _table(["Energy (keV)", "Counts"], [ENERGY, COUNT], ",") + "\n\n",
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_variants_read_identically(tmp_path, variant, newline, bom):
    text = bom + VARIANTS[variant].replace("\n", newline)
    spectrum = read_spectrum(_write(tmp_path, "variant.csv", text))
    np.testing.assert_array_equal(spectrum.counts, COUNTS)
    np.testing.assert_allclose(spectrum.energies, PAPER_CALIBRATION.energy(np.arange(12)),
                               atol=2e-3)


def test_counts_only_uses_calibration_comment(tmp_path):
    text = "# calibration_kev: 10 2 0.001\n# real_time_s: 4\nCounts\n" + "\n".join(COUNT)
    spectrum = read_csv(_write(tmp_path, "counts.txt", text))
    assert spectrum.calibration.coefficients == (10.0, 2.0, 0.001)
    assert spectrum.real_time_s == 4.0 and spectrum.live_time_s is None
    assert spectrum.metadata["calibration_source"] == "comment"


def test_comment_calibration_refers_to_channel_column(tmp_path):
    channels = [str(i + 1) for i in range(COUNTS.size)]  # 1-based channel numbers
    text = "# calibration_kev: 0 2\n" + _table(["Channel", "Counts"], [channels, COUNT], ",")
    spectrum = read_csv(_write(tmp_path, "one_based.csv", text))
    assert spectrum.energies[0] == pytest.approx(2.0)  # first row is channel 1
    assert spectrum.energies[-1] == pytest.approx(2.0 * COUNTS.size)


def test_quadratic_comment_calibration_follows_a_channel_column_from_elsewhere(tmp_path):
    """The comment gives E(ch) for the file's channel numbers (here 5, 6, ...); every row's
    energy must be E at its channel, quadratic term included (E'(i) = E(i + 5))."""
    channels = [str(i + 5) for i in range(COUNTS.size)]
    text = "# calibration_kev: 10 2 0.01\n" + _table(["Channel", "Counts"], [channels, COUNT],
                                                      ",")
    spectrum = read_csv(_write(tmp_path, "offset.csv", text))
    ch = np.arange(COUNTS.size) + 5.0
    np.testing.assert_allclose(spectrum.energies, 10 + 2 * ch + 0.01 * ch**2, rtol=1e-12)
    shifted = shift_calibration(Calibration((1.0, 2.0, 0.5)), 3.0)
    x = np.array([-2.0, 0.0, 1.5, 7.0])
    np.testing.assert_allclose(shifted.energy(x), Calibration((1.0, 2.0, 0.5)).energy(x + 3.0))


@pytest.mark.parametrize(("text", "message"), [
    ("Counts\n1\n2\n3\n", "no energy column"),
    ("Energy,Counts\n1,5\n3,6\n2,7\n", "do not increase"),
    ("Energy,Counts\n" + "\n".join(f"{np.sqrt(i + 1) * 100:.3f},1" for i in range(40)),
     "not a linear or quadratic"),
    ("Energy,Counts,cts\n1,2,3\n2,3,4\n", "two counts columns"),
    ("Energy,Dose,Flux\n1,2,3\n2,3,4\n", "no counts column"),
    ("Energy,Counts\n1,2\n2\n", "line 3 has 1 fields"),
    ("Channel,Counts\n0,1\n2,1\n", "not consecutive"),
    ("# calibration_kev: 1 x\nCounts\n1\n2\n", "calibration_kev comment"),
    ("# live_time_s: -3\nEnergy,Counts\n1,2\n2,3\n", "live_time_s comment is negative"),
])
def test_bad_csv_raises_input_error_naming_file(tmp_path, text, message):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError, match=message) as info:
        read_csv(path)
    assert str(info.value).startswith("bad.csv: ")


def test_cp1252_comment_is_tolerated(tmp_path):
    text = "# name: Stahl 40 \xb0C\nEnergy (keV),Counts\n1,4\n2,5\n3,6\n"
    spectrum = read_csv(_write(tmp_path, "legacy.csv", text, encoding="cp1252"))
    assert spectrum.name == "Stahl 40 \xb0C"
    np.testing.assert_array_equal(spectrum.counts, [4, 5, 6])


# ----------------------------------------------------------- exact behaviour (mutation round 7)

def test_write_csv_text_is_exact(tmp_path):
    """No name line for an unnamed spectrum, coefficients joined by one space, the header as
    the paper writes it, whole counts without a decimal point, rates in %.6g (lower-case e)."""
    path = write_csv(tmp_path / "w.csv", Spectrum(np.array([3.0, 0.0, 12.0]),
                                                  Calibration((1.25, 0.5))))
    assert path.read_bytes() == (b'# calibration_kev: 1.25 0.5\n"Energy (keV)","Counts"\n'
                                 b"1.2500,3\n1.7500,0\n2.2500,12\n")
    rates = Spectrum(np.array([2.5e-7, 1.0, 0.125]), Calibration((0.0, 2.0, 1e-4)),
                     live_time_s=0.5, name="Fe")
    text = write_csv(tmp_path / "r.csv", rates).read_text()
    assert text.splitlines() == ["# name: Fe", "# calibration_kev: 0 2 0.0001",
                                 "# live_time_s: 0.5", '"Energy (keV)","Counts"',
                                 "0.0000,2.5e-07", "2.0001,1", "4.0004,0.125"]


def test_quoted_rows_take_the_row_by_row_path(tmp_path):
    """Quoted cells are parsed one row at a time; the values must be those of the cells."""
    text = '"Energy (keV)";"Counts"\n"1,5";"4"\n"2,0";"0"\n"2,5";"9"\n'
    spectrum = read_csv(_write(tmp_path, "quoted.csv", text))
    np.testing.assert_array_equal(spectrum.counts, [4, 0, 9])
    np.testing.assert_allclose(spectrum.energies, [1.5, 2.0, 2.5], rtol=1e-12)


@pytest.mark.parametrize(("rows", "message"), [
    ('"1.5",""', "line 3 has an empty field"),
    ('"1.5","x7"', "counts column: line 3 is not a number: 'x7'"),
    ('"1.5"', "line 3 has 1 fields, expected at least 2: '1.5'"),
    ('"1","2"', None),  # the 3-column header below: 2 fields where 3 are needed
])
def test_row_by_row_refusals_are_exact(tmp_path, rows, message):
    header = '"Channel","Energy (keV)","Counts"' if message is None else '"Energy (keV)","Counts"'
    first = '"0","1.0","3"' if message is None else '"1.0","3"'
    path = _write(tmp_path, "bad.csv", f"{header}\n{first}\n{rows}\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    expected = message or "line 3 has 2 fields, expected at least 3: '1,2'"
    assert str(info.value) == f"bad.csv: {expected}"


def test_short_row_message_quotes_sixty_characters(tmp_path):
    long_cell = "7" * 70
    path = _write(tmp_path, "bad.csv",
                  f'"Channel","Energy (keV)","Counts"\n"0","1","2"\n"{long_cell}","2"\n')
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value) == ("bad.csv: line 3 has 2 fields, expected at least 3: "
                               f"{(long_cell + ',2')[:60]!r}")


def test_whitespace_cells_join_only_bracketed_units():
    assert csv_format._whitespace_cells("Energy Xray (keV) Counts") == [
        "Energy", "Xray (keV)", "Counts"]
    assert csv_format._whitespace_cells("Counts [1] X") == ["Counts [1]", "X"]


def test_fractional_channel_numbers_are_refused(tmp_path):
    text = "# calibration_kev: 0 1\nChannel,Counts\n0.5,1\n1.5,2\n2.5,3\n"
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "half.csv", text))
    assert str(info.value) == "half.csv: channel column is not consecutive whole numbers"


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("0.5", 0.5), ("3e2", 300.0)])
def test_time_comments_of_zero_and_below_one_second(tmp_path, value, expected):
    text = f"# live_time_s: {value}\n# real_time_s: {value}\nEnergy,Counts\n1,2\n2,3\n"
    spectrum = read_csv(_write(tmp_path, "t.csv", text))
    assert spectrum.live_time_s == expected and spectrum.real_time_s == expected


def test_unreadable_time_comment_names_file_and_comment(tmp_path):
    path = _write(tmp_path, "t.csv", "# real_time_s: soon\nEnergy,Counts\n1,2\n2,3\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value) == "t.csv: real_time_s comment: value 1 is not a number: 'soon'"


@pytest.mark.parametrize(("header", "roles", "scale"), [
    (["Channel_Number", "Energy_MeV", "Counts"], {"channel": 0, "energy": 1, "counts": 2}, 1000.0),
    (["E [MeV]", "cts [1]"], {"energy": 0, "counts": 1}, 1000.0),
    (["e", "cts"], {"energy": 0, "counts": 1}, 1.0),
    (["Energy (eV)", "n"], {"energy": 0, "counts": 1}, 1e-3),
    (["eV", "n", "x"], {"counts": 1}, None),  # "eV" alone names no column
    (["chan", "Energy in keV", "y"], {"channel": 0, "energy": 1, "counts": 2}, 1.0),
    (["channels used", "counts per channel", "dose"], {"channel": 0, "counts": 1}, None),
    (["Energy", "Signal"], {"energy": 0, "counts": 1}, 1.0),  # the one unnamed column: counts
    (["Energy", "Counts", "Dose"], {"energy": 0, "counts": 1}, 1.0),
])
def test_column_roles_from_header_names(tmp_path, header, roles, scale):
    found, energy_scale = csv_format._column_roles(tmp_path / "h.csv", header, len(header))
    assert found == roles
    if scale is not None:
        assert energy_scale == scale


def test_header_refusals_are_exact(tmp_path):
    path = _write(tmp_path, "h.csv", "Energy,Dose,Flux\n1,2,3\n2,3,4\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value) == ("h.csv: no counts column in the header ['Energy', 'Dose', 'Flux']; "
                               'expected a column named "Counts" (or cts)')
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "h.csv", "Energy,Counts\n"))
    assert str(info.value) == "h.csv: a header line but no data rows"
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "h.csv", "1,2,3,4\n2,3,4,5\n"))
    assert str(info.value) == ("h.csv: 4 unnamed columns; add a header naming the Energy (keV) "
                               "and Counts columns")


def test_headerless_one_and_three_columns(tmp_path):
    one = read_csv(_write(tmp_path, "one.txt", "# calibration_kev: 1 2\n7\n0\n5\n"))
    np.testing.assert_array_equal(one.counts, [7, 0, 5])
    np.testing.assert_allclose(one.energies, [1, 3, 5])
    three = read_csv(_write(tmp_path, "three.txt", "4,10.5,7\n5,11.0,0\n6,11.5,5\n"))
    np.testing.assert_array_equal(three.counts, [7, 0, 5])
    np.testing.assert_allclose(three.energies, [10.5, 11.0, 11.5])


def test_tab_separated_names_may_hold_spaces(tmp_path):
    text = "Energy in keV\tNet counts\n1.0\t4\n2.0\t5\n3.0\t6\n"
    spectrum = read_csv(_write(tmp_path, "tab.tsv", text))
    np.testing.assert_array_equal(spectrum.counts, [4, 5, 6])


@pytest.mark.parametrize("text", [
    "Energy,Counts\n1.5,4\n2.0,0\n2.5,9\n",
    "Energy;Counts\n1,5;4\n2,0;0\n2,5;9\n",
    "Channel\tEnergy\tCounts\n0\t1.5\t4\n1\t2.0\t0\n2\t2.5\t9\n",
    "Energy  Counts\n1.5  4\n2.0   0\n2.5 9\n",
])
def test_plain_rows_take_the_block_path(tmp_path, monkeypatch, text):
    """Rows without quotes or brackets are converted a block at a time, not row by row."""
    def row_by_row(self, lines, numbers):
        raise AssertionError(f"row-by-row parse of {lines}")
    monkeypatch.setattr(csv_format._Table, "_slow", row_by_row)
    spectrum = read_csv(_write(tmp_path, "plain.csv", text))
    np.testing.assert_array_equal(spectrum.counts, [4, 0, 9])
    np.testing.assert_allclose(spectrum.energies, [1.5, 2.0, 2.5], rtol=1e-12)


@pytest.mark.parametrize("token", ["nan", "inf"])
def test_a_non_finite_plain_row_is_named_by_its_line(tmp_path, token):
    path = _write(tmp_path, "nf.csv", f"Energy,Counts\n1,2\n2,3\n3,{token}\n4,5\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value) == f"nf.csv: counts column: line 4 is '{token}' (NaN or infinite)"


def test_row_limit_counts_rows_of_every_text_block(tmp_path, monkeypatch):
    """30 000 rows of 16 characters span two 2^18-character reads; the limit is on their sum."""
    monkeypatch.setattr(csv_format, "MAX_CHANNELS", 30_000)
    rows = np.char.add(np.char.mod("%09.1f", 0.5 * np.arange(30_001)), ",12345")
    path = _write(tmp_path, "rows.csv", "Energy,Counts\n" + "\n".join(rows[:30_000]) + "\n")
    assert read_csv(path).n_channels == 30_000
    path = _write(tmp_path, "rows.csv", "Energy,Counts\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value) == "rows.csv: more than 30000 data rows (channels)"


def test_quoted_cell_with_the_separator_after_a_space(tmp_path):
    """``Counts, "Energy, keV"``: the space before the quote must not split the quoted name."""
    spectrum = read_csv(_write(tmp_path, "q.csv", 'Counts, "Energy, keV"\n4,1.5\n0,2.0\n9,2.5\n'))
    np.testing.assert_array_equal(spectrum.counts, [4, 0, 9])
    np.testing.assert_allclose(spectrum.energies, [1.5, 2.0, 2.5], rtol=1e-12)


def test_quotes_are_stripped_from_whitespace_and_single_quoted_cells(tmp_path):
    for text in ['"Energy (keV)"  "Counts"\n1.5 4\n2.0 0\n2.5 9\n',
                 "'Energy','Counts'\n'1.5','4'\n'2.0','0'\n'2.5','9'\n"]:
        spectrum = read_csv(_write(tmp_path, "q.csv", text))
        np.testing.assert_array_equal(spectrum.counts, [4, 0, 9])


def test_only_quotes_are_stripped_from_names(tmp_path):
    """"Xe" is no energy column (stripping more than quotes would make it "e")."""
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "xe.csv", "Xe,Counts\n1,4\n2,5\n"))
    assert str(info.value) == ('xe.csv: no energy column and no "# calibration_kev: c0 c1 [c2]" '
                               'comment; add an "Energy (keV)" column')


def test_calibration_comment_with_commas_and_its_refusals(tmp_path):
    spectrum = read_csv(_write(tmp_path, "c.csv", "# calibration_kev: 10, 2,0.001\nCounts\n1\n2\n"))
    assert spectrum.calibration.coefficients == (10.0, 2.0, 0.001)
    for comment, message in [("1 x", "calibration_kev comment: value 2 is not a number: 'x'"),
                             ("5", "energy calibration must be linear or quadratic, got (5.0,)")]:
        with pytest.raises(InputError) as info:
            read_csv(_write(tmp_path, "c.csv", f"# calibration_kev: {comment}\nCounts\n1\n2\n"))
        assert str(info.value) == f"c.csv: {message}"


def test_comment_keys_end_at_the_first_colon(tmp_path):
    spectrum = read_csv(_write(tmp_path, "c.csv", "#name:Fe:Cu 2:1\nEnergy,Counts\n1,2\n2,3\n"))
    assert spectrum.name == "Fe:Cu 2:1"


def test_only_comments_and_the_line_limit(tmp_path, monkeypatch):
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "c.csv", "# a\n\n# b\n"))
    assert str(info.value) == "c.csv: no data rows (only comments or blank lines)"
    monkeypatch.setattr(csv_format, "MAX_LINES", 6)
    assert read_csv(_write(tmp_path, "c.csv", "# a\n# b\n\nEnergy,Counts\n1,2\n2,3\n")).n_channels == 2
    with pytest.raises(InputError, match="^c.csv: more than 6 lines"):
        read_csv(_write(tmp_path, "c.csv", "# a\n# b\n\n\nEnergy,Counts\n1,2\n2,3\n"))


def test_headerless_first_row_is_named_by_its_line(tmp_path):
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "e.csv", "# exported\n1,,\n2,1.5,4\n"))
    assert str(info.value) == "e.csv: line 2 has an empty field"


def test_headerless_channel_column_is_checked(tmp_path):
    with pytest.raises(InputError) as info:
        read_csv(_write(tmp_path, "ch.csv", "0,1.0,4\n2,1.5,5\n3,2.0,6\n"))
    assert str(info.value) == "ch.csv: channel column is not consecutive whole numbers"
