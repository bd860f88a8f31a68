"""Physically grounded synthetic PGNAA spectra: the app's embedded sample data.

- :mod:`.nuclear_data` - capture cross sections, atomic masses and prompt-gamma lines;
- :mod:`.materials` - the documented compositions of the three libraries;
- :mod:`.detector` - HPGe response (resolution, efficiency, escape peaks, Compton continuum);
- :mod:`.source` - captures in the sample and the set-up's own background;
- :mod:`.library` - expected spectra and long measurements written as CSV.

See docs/synthetic_library.md for the physics model and the composition tables.
"""

from engines.spectrum.synthetic.library import (
    LIBRARIES,
    LIBRARY_SPECS,
    LibrarySpec,
    expected_spectra,
    iter_sample_library,
    library_spec,
    write_sample_library,
)

__all__ = ["LIBRARIES", "LIBRARY_SPECS", "LibrarySpec", "expected_spectra",
           "iter_sample_library", "library_spec", "write_sample_library"]
