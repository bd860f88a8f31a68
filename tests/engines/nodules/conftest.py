"""Shared fixtures: tiny synthetic scan sets (96² slices of 3.5 mm pixels) written once."""

from __future__ import annotations

import pytest

from engines.core.progress import drive
from engines.nodules.luna16 import open_dataset
from engines.nodules.samples import iter_write_dataset
from engines.nodules.synthetic import small_config


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """Three tiny scans in the LUNA16 layout (seed 3)."""
    return drive(iter_write_dataset(tmp_path_factory.mktemp("nodules") / "luna", 3, seed=3,
                                    config=small_config(flip_fraction=0.5)))


@pytest.fixture(scope="session")
def tiny_dataset(tiny_root):
    return open_dataset(tiny_root)
