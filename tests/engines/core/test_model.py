"""Model paths: "demo" means the bundled file, anything else a path; loading asks the model
type with the resolved path and the device picked."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.core import model
from engines.core.errors import ModelError


def test_demo_paths_exist_only_for_bundled_models(tmp_path, monkeypatch):
    monkeypatch.setattr(model, "DEMO_MODELS_DIR", tmp_path)
    (tmp_path / "cdc_demo.safetensors").write_bytes(b"")
    (tmp_path / "sem_demo.json").write_text("{}")  # a description alone is no model
    assert model.demo_model_path("cdc") == tmp_path / "cdc_demo"
    assert model.demo_model_path("sem") is None
    assert model.resolve_model_path("demo", "cdc") == tmp_path / "cdc_demo"
    assert model.resolve_model_path(tmp_path / "mine", "cdc") == tmp_path / "mine"
    assert model.resolve_model_path("demo.json", "cdc") == Path("demo.json")
    with pytest.raises(ModelError) as error:
        model.resolve_model_path("demo", "sem")
    assert str(error.value) == "the sem workspace bundles no demo model"


def test_load_model_passes_the_path_and_the_device(tmp_path, monkeypatch):
    monkeypatch.setattr(model, "DEMO_MODELS_DIR", tmp_path)
    (tmp_path / "soil_demo.safetensors").write_bytes(b"")

    class Stand:
        @classmethod
        def load(cls, path, device):
            return path, device.type

    assert model.load_model(Stand, "demo", "soil", "cpu") == (tmp_path / "soil_demo", "cpu")
    assert model.load_model(Stand, tmp_path / "x", "soil", "cpu") == (tmp_path / "x", "cpu")
    path, device = model.load_model(Stand, tmp_path / "x", "soil")  # auto: whatever is here
    assert path == tmp_path / "x" and device in ("cpu", "cuda", "mps")
