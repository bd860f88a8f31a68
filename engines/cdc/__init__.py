"""COMET Phase-I CDC workspace engine: geometry, events, synthetic sample data and file I/O.

Data side (this package's modules):

- :mod:`engines.cdc.geometry` — cells 0…4985, read-out channels 0…4481, wire positions, neighbours,
  CTH counters, Δφ (:func:`get_geometry`).
- :mod:`engines.cdc.events` — :class:`Event` and :class:`EventFile`.
- :mod:`engines.cdc.synthetic` — seeded synthetic events (:func:`generate_events`,
  :func:`write_sample_file`).
- :mod:`engines.cdc.hdf5_io` — our HDF5 format (docs/cdc_hdf5_schema.md) and predictions.
- :mod:`engines.cdc.root_io` — ICEDUST ROOT files via uproot.
- :mod:`engines.cdc.io` — :func:`read_events` by content and :func:`summarize` for ``cdc info``.

h5py and uproot are imported only when a file is read or written.
"""

from engines.cdc.events import Event, EventFile
from engines.cdc.geometry import N_CELLS, N_READOUT, CdcGeometry, get_geometry
from engines.cdc.io import read_events, summarize

__all__ = ["CdcGeometry", "Event", "EventFile", "N_CELLS", "N_READOUT", "get_geometry",
           "read_events", "summarize"]
