"""Where bundled resources and generated sample data live: the environment overrides."""

from __future__ import annotations

from pathlib import Path

from engines.core import resources
from engines.core.resources import DEMO_MODELS_DIR, RESOURCES_DIR, sample_data_dir, user_data_dir


def test_bundled_resources_are_the_repository_folder():
    root = Path(__file__).resolve().parents[3]
    assert RESOURCES_DIR == root / "resources" and DEMO_MODELS_DIR == root / "resources" / "models"


def test_lablens_data_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("LABLENS_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "mine"
    assert sample_data_dir("spectrum") == tmp_path / "mine" / "samples" / "spectrum"


def test_xdg_data_home_next(monkeypatch, tmp_path):
    monkeypatch.delenv("LABLENS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "xdg" / "lablens"
    monkeypatch.setenv("LABLENS_DATA_DIR", "")  # set but empty: not an override
    assert user_data_dir() == tmp_path / "xdg" / "lablens"
    assert sample_data_dir("cdc") == tmp_path / "xdg" / "lablens" / "samples" / "cdc"


def test_home_local_share_last(monkeypatch, tmp_path):
    monkeypatch.delenv("LABLENS_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(resources.Path, "home", classmethod(lambda cls: tmp_path / "home"))
    assert user_data_dir() == tmp_path / "home" / ".local" / "share" / "lablens"
    monkeypatch.setenv("XDG_DATA_HOME", "")  # empty: the default again
    assert user_data_dir() == tmp_path / "home" / ".local" / "share" / "lablens"
