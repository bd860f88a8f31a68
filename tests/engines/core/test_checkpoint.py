import json

import pytest
import torch

from engines.core.checkpoint import (
    load_checkpoint,
    load_state_dict_strict,
    model_paths,
    save_checkpoint,
)
from engines.core.errors import ModelError


def test_roundtrip_with_half_precision(tmp_path):
    model = torch.nn.Linear(4, 3)
    path = save_checkpoint(tmp_path / "m", model.state_dict(), {"arch": "linear", "classes": ["a"]},
                           half=True)
    assert path.name == "m.safetensors"
    tensors, meta = load_checkpoint(tmp_path / "m.json")
    assert meta["arch"] == "linear" and "torch" in meta["libraries"]
    assert tensors["weight"].dtype == torch.float32
    torch.testing.assert_close(tensors["weight"], model.weight.detach(), atol=1e-3, rtol=1e-3)
    fresh = torch.nn.Linear(4, 3)
    load_state_dict_strict(fresh, tensors, "m")


def test_model_paths_accept_any_suffix(tmp_path):
    assert model_paths(tmp_path / "x.safetensors") == model_paths(tmp_path / "x")


def test_missing_files_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "absent")


def test_garbage_weights_raise_model_error(tmp_path):
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.safetensors").write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ModelError, match="m.safetensors"):
        load_checkpoint(tmp_path / "m")


class _WritesAFileWhenUnpickled:
    """A pickle payload with an effect: unpickling it creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_pickle_disguised_as_weights_is_not_executed(tmp_path):
    import pickle

    payload = pickle.dumps(_WritesAFileWhenUnpickled(tmp_path / "executed"))
    pickle.loads(pickle.dumps(_WritesAFileWhenUnpickled(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()  # the payload is live: unpickling runs it
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.safetensors").write_bytes(payload)
    with pytest.raises(ModelError, match="m.safetensors"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m.json").write_bytes(payload)  # the sidecar too
    with pytest.raises(ModelError, match="m.json"):
        load_checkpoint(tmp_path / "m")
    assert not (tmp_path / "executed").exists()


def test_hostile_sidecars_raise_model_error(tmp_path):
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ModelError, match="m.json: not a valid JSON model description .JSON "
                                         "nested deeper"):
        load_checkpoint(tmp_path / "m")


def test_bad_sidecar_raises_model_error(tmp_path):
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(ModelError, match="m.json"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(ModelError, match="JSON object"):
        load_checkpoint(tmp_path / "m")


def test_wrong_architecture_is_a_model_error(tmp_path):
    save_checkpoint(tmp_path / "m", torch.nn.Linear(4, 3).state_dict(), {})
    tensors, _ = load_checkpoint(tmp_path / "m")
    with pytest.raises(ModelError, match="do not fit"):
        load_state_dict_strict(torch.nn.Linear(5, 3), tensors, "m")
