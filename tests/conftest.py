"""Suite-wide fixtures: offscreen Qt, isolated settings/data folders, no leaked threads."""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="lablens-tests-"))
os.environ["LABLENS_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["XDG_CONFIG_HOME"] = str(_SESSION_DIR / "config")  # QSettings goes here

SHARED_SPECTRA = Path(os.environ.get(  # a worktree elsewhere points here at the shared data
    "LABLENS_SHARED_SPECTRA",
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spectra"))


@pytest.fixture
def shared_spectra() -> Path:
    """The real gamma spectra in ../shared/data/spectra (skips when absent)."""
    if not SHARED_SPECTRA.is_dir():
        pytest.skip(f"real spectra not available: {SHARED_SPECTRA} does not exist")
    return SHARED_SPECTRA


def _qt_pool_active() -> int:
    import sys

    if "PySide6.QtCore" not in sys.modules:
        return 0
    from PySide6.QtCore import QThreadPool

    return QThreadPool.globalInstance().activeThreadCount()


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail any test that leaves a Python thread or a Qt pool worker running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not t.daemon]
        if not extra and _qt_pool_active() == 0:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"test left threads running: python={extra}, qt pool={_qt_pool_active()}")
    if not gc.isenabled():
        # the task runner turned automatic collection off (Qt objects must die on the GUI
        # thread); between tests no worker runs, so do its timer's work here
        from app.task_runner import collect_garbage

        collect_garbage()
