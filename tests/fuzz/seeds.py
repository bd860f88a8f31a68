"""Valid seed files per format, built with the project's own writers (deterministic, small).

Each seed is ``(suffix, bytes)``. The mutators start from these; a seed read back must be a
valid parse, which :func:`tests.fuzz.test_fuzz_smoke.test_seeds_are_valid` checks.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

SPECTRUM_FORMATS = ("csv", "spe", "cnf", "n42", "specutils")
EVENT_FORMATS = ("hdf5", "root")
IMAGING_FORMATS = ("dicom", "nifti", "metaimage", "tiff")  # see tests.fuzz.imaging
SIDECAR_FORMATS = ("review", "model")  # see tests.fuzz.sidecars
SEM_FORMATS = ("micrograph", "semlabel", "semset")  # see tests.fuzz.sem
LUNA_FORMATS = ("luna16",)  # see tests.fuzz.luna
#: specutils after root, so the cases of the formats before it stay those of earlier runs
#: (the sem and LUNA16 formats came last, for the same reason)
FORMATS = SPECTRUM_FORMATS[:4] + EVENT_FORMATS + ("specutils",) + IMAGING_FORMATS + \
    SIDECAR_FORMATS + SEM_FORMATS + LUNA_FORMATS
SUFFIX = {"csv": ".csv", "spe": ".spe", "cnf": ".cnf", "n42": ".n42", "hdf5": ".h5",
          "root": ".root", "specutils": ".chn", "dicom": ".dcm", "nifti": ".nii",
          "metaimage": ".mha", "tiff": ".tif", "review": ".review.json", "model": ".json",
          "micrograph": ".tif", "semlabel": ".png", "semset": "", "luna16": ".annotations.csv"}

N42_2006 = """<?xml version="1.0" encoding="UTF-8"?>
<N42InstrumentData xmlns="http://physics.nist.gov/Divisions/Div846/Gp4/ANSIN4242/2005/ANSIN4242">
 <Measurement>
  <Spectrum Type="PHA" CalibrationIDs="en">
   <SourceType>Item</SourceType>
   <StartTime>2005-01-02T03:04:05Z</StartTime>
   <RealTime>PT1M0.5S</RealTime>
   <LiveTime>PT1M</LiveTime>
   <Calibration Type="Energy" ID="en" EnergyUnits="keV">
    <Equation Model="Polynomial"><Coefficients>1.5 0.75 0.0001</Coefficients></Equation>
   </Calibration>
   <ChannelData Compression="CountedZeroes">{data}</ChannelData>
  </Spectrum>
 </Measurement>
</N42InstrumentData>
"""


def _spectrum(n_channels: int = 256):
    from engines.spectrum.spectrum import Calibration, Spectrum

    rng = np.random.default_rng(5)
    channels = np.arange(n_channels)
    counts = rng.poisson(30 * np.exp(-channels / 90) + 200 * np.exp(-0.5 * ((channels - 140)
                                                                            / 3) ** 2) + 1)
    counts[::17] = 0
    return Spectrum(counts.astype(np.float64), Calibration((2.0727, 0.704981, 2e-6)),
                    live_time_s=12.5, real_time_s=13.0, name="fuzz seed",
                    metadata={"start_time": "2020-01-02T03:04:05"})


def _written(write, suffix: str, *args, **kwargs) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"seed{suffix}"
        write(path, *args, **kwargs)
        return path.read_bytes()


def _seed_events():
    from engines.cdc.synthetic import generate_events
    from engines.core.progress import drive

    return list(drive(generate_events(3, occupancy=0.03, seed=11)))


@functools.cache
def seeds(fmt: str) -> tuple[tuple[str, bytes], ...]:
    """The seed files of ``fmt`` as ``((suffix, data), ...)``."""
    if fmt == "csv":
        from engines.spectrum.readers.csv_format import write_csv

        spectrum = _spectrum()
        plain = _written(write_csv, ".csv", spectrum)
        rows = "\n".join(f"{i};{e:.4f}".replace(".", ",") + f";{int(c)}" for i, (e, c) in
                         enumerate(zip(spectrum.energies, spectrum.counts, strict=True)))
        semicolon = ("Channel;Energy (keV);Counts\n" + rows + "\n").encode()
        counts_only = ("# calibration_kev: 1.5 0.7 0.0001\n# live_time_s: 3\nCounts\n"
                       + "\n".join(str(int(c)) for c in spectrum.counts) + "\n").encode()
        return ((".csv", plain), (".csv", semicolon), (".txt", counts_only))
    if fmt == "spe":
        from engines.spectrum.readers.spe import write_spe

        return ((".spe", _written(write_spe, ".spe", _spectrum())),)
    if fmt == "n42":
        from engines.spectrum.readers.n42 import encode_counted_zeroes, write_n42

        spectrum = _spectrum()
        data = " ".join(encode_counted_zeroes(spectrum.counts))
        return ((".n42", _written(write_n42, ".n42", spectrum)),
                (".n42", N42_2006.format(data=data).encode()))
    if fmt == "cnf":
        from tests.engines.spectrum.test_readers_cnf import build_cnf

        counts = _spectrum(512).counts.astype(np.int64)
        return ((".cnf", build_cnf(counts, coefficients=(1.5, 0.7, 1e-5, 0.0))),)
    if fmt == "specutils":  # the formats read_spectrum hands to SpecUtils
        from engines.spectrum.readers.specutils import write_specutils

        return tuple((suffix, _written(write_specutils, suffix, _spectrum(), kind))
                     for suffix, kind in ((".chn", "chn"), (".pcf", "pcf"), (".spc", "spc")))
    if fmt == "hdf5":
        from engines.cdc.hdf5_io import write_events, write_predictions

        events = _seed_events()
        scores = [np.linspace(0, 1, e.n_hits, dtype=np.float32) for e in events]
        return ((".h5", _written(write_events, ".h5", events, {"seed": 11})),
                (".h5", _written(write_predictions, ".h5", events, scores)))
    if fmt == "root":
        from engines.cdc.root_io import write_root

        events = _seed_events()
        return ((".root", _written(write_root, ".root", events)),
                (".root", _written(write_root, ".root", events, per_event=True)))
    if fmt in IMAGING_FORMATS:
        from tests.fuzz.imaging import imaging_seeds

        return imaging_seeds(fmt)
    if fmt in SIDECAR_FORMATS:
        from tests.fuzz.sidecars import sidecar_seeds

        return sidecar_seeds(fmt)
    if fmt in SEM_FORMATS:
        from tests.fuzz.sem import sem_seeds

        return sem_seeds(fmt)
    if fmt in LUNA_FORMATS:
        from tests.fuzz.luna import luna_seeds

        return luna_seeds(fmt)
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


@functools.cache
def seed_events_columns() -> dict[str, np.ndarray]:
    """Flat per-hit columns of the seed events (for the ROOT mutators that write from scratch)."""
    from engines.cdc.geometry import cell_to_channel, get_geometry

    events = _seed_events()
    keep = [~get_geometry().is_guard[e.cell] for e in events]
    columns = {
        "fChannel": np.concatenate([cell_to_channel(e.cell[m]) for e, m in zip(events, keep,
                                                                            strict=True)]),
        "fDetectedTime": np.concatenate([e.time_ns[m] + 700.0 for e, m in zip(events, keep,
                                                                              strict=True)]),
        "fCharge": np.concatenate([e.adc[m] for e, m in zip(events, keep, strict=True)]),
        "fIsSig": np.concatenate([e.is_signal[m] for e, m in zip(events, keep, strict=True)]),
        "fDriftTime": np.concatenate([e.drift_time_ns[m] if e.drift_time_ns is not None
                                      else np.zeros(int(m.sum())) for e, m in
                                      zip(events, keep, strict=True)]),
        "fEventNumber": np.concatenate([np.full(int(m.sum()), e.event_number) for e, m in
                                        zip(events, keep, strict=True)]),
    }
    return {k: np.asarray(v, dtype=np.int32 if k in ("fChannel", "fIsSig", "fEventNumber")
                          else np.float64) for k, v in columns.items()}
