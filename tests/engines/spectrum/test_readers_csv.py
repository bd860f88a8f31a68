"""CSV/text spectrum reader: the paper's two-column files and the variants users produce."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.spectrum.readers import read_spectrum
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
