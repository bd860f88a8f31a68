"""Shared tiny synthetic cores for the soil engine tests (seconds to make)."""

from __future__ import annotations

import pytest

from engines.core.progress import drive
from engines.soil.synthetic import SyntheticConfig, generate_core

#: A small core: 48 slices of 64 × 64 pixels, an 18 mm core (crop 48 × 16 × 16 by default).
TINY = SyntheticConfig(shape=(48, 64, 64), diameter_mm=18.0, wall_mm=1.0, offset_mm=1.0)
#: A larger one for the accuracy checks: 80 slices of 112 × 112, a 32 mm core.
SMALL = SyntheticConfig(shape=(80, 112, 112), diameter_mm=32.0, wall_mm=1.5, offset_mm=2.0)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run these tests' small networks on one thread: on a busy 2-core machine two threads
    spin against each other (a 6-epoch test training took 110 s on 2 threads, 18 s on 1)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_cores():
    """One tiny core of each site type (forest, grassland, arable)."""
    return [drive(generate_core(site, 100 + i, TINY))
            for i, site in enumerate(("forest", "grassland", "arable"))]


@pytest.fixture(scope="session")
def tiny_slices(tiny_cores):
    """:class:`CoreSlices` of the tiny cores (analysed with the paper's settings)."""
    from engines.soil.analysis import iter_analyze
    from engines.soil.dataset import core_slices

    return [core_slices(drive(iter_analyze(c.volume)), f"{c.site}{c.seed}") for c in tiny_cores]


@pytest.fixture(scope="session")
def demo_or_skip():
    """The bundled demo surrogate (skips when it is not bundled)."""
    from engines.core.model import demo_model_path
    from engines.soil.models import SoilSurrogate

    path = demo_model_path("soil")
    if path is None:
        pytest.skip("no bundled soil demo model (make demo-model-soil)")
    return SoilSurrogate.load(path)
