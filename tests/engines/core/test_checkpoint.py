import json
import platform
from pathlib import Path

import pytest
import torch

from engines.core import checkpoint
from engines.core.checkpoint import (
    check_described_network,
    load_checkpoint,
    load_metadata,
    load_state_dict_strict,
    load_training_state,
    metadata_object,
    model_paths,
    save_checkpoint,
    save_training_state,
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


def test_model_paths_strip_only_the_two_model_suffixes(tmp_path):
    assert model_paths(tmp_path / "x.json") == (tmp_path / "x.safetensors", tmp_path / "x.json")
    assert model_paths(tmp_path / "cdc.v2") == (tmp_path / "cdc.v2.safetensors",
                                               tmp_path / "cdc.v2.json")
    assert model_paths("x.tar.safetensors")[1] == Path("x.tar.json")


def test_the_sidecar_is_sorted_indented_json_with_versions(tmp_path):
    import numpy as np
    import safetensors

    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {"b": 1, "a": [2]})
    text = (tmp_path / "m.json").read_text()
    meta = json.loads(text)
    assert text == json.dumps(meta, indent=2, sort_keys=True)
    assert meta["format_version"] == 1 and (meta["a"], meta["b"]) == ([2], 1)
    assert meta["libraries"] == {"python": platform.python_version(), "numpy": np.__version__,
                                 "torch": torch.__version__,
                                 "safetensors": safetensors.__version__}
    assert load_metadata(tmp_path / "m") == meta


def test_half_stores_floats_only_as_fp16_and_loading_gives_float32(tmp_path):
    from safetensors import safe_open

    tensors = {"w": torch.tensor([1.0, 2.5], dtype=torch.float64),
               "steps": torch.tensor([3, 4], dtype=torch.int64)}
    for half, stored in ((True, "F16"), (False, "F64")):
        save_checkpoint(tmp_path / "m", tensors, {}, half=half)
        with safe_open(tmp_path / "m.safetensors", "pt") as f:
            assert f.get_slice("w").get_dtype() == stored
            assert f.get_slice("steps").get_dtype() == "I64"
        loaded, _ = load_checkpoint(tmp_path / "m")
        assert loaded["w"].dtype == torch.float32 and loaded["steps"].dtype == torch.int64
        assert loaded["w"].tolist() == [1.0, 2.5] and loaded["steps"].tolist() == [3, 4]


def test_load_messages_name_the_file(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelError) as info:
        load_metadata(tmp_path / "m")
    assert str(info.value) == f"m.json: model file not found in {tmp_path}"
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.safetensors").unlink()
    with pytest.raises(ModelError) as info:
        load_metadata(tmp_path / "m.json")
    assert str(info.value) == f"m.safetensors: model file not found in {tmp_path}"
    save_checkpoint(tmp_path / "m", {"w": torch.ones(2)}, {})
    (tmp_path / "m.json").write_text('"text"')
    with pytest.raises(ModelError) as info:
        load_metadata(tmp_path / "m")
    assert str(info.value) == "m.json: expected a JSON object"
    monkeypatch.setattr(checkpoint, "MAX_SIDECAR_BYTES", 5)
    with pytest.raises(ModelError) as info:
        load_metadata(tmp_path / "m")
    assert str(info.value) == ("m.json: not a valid JSON model description (file of 6 bytes "
                               "is too large (limit 5 bytes))")
    monkeypatch.undo()
    (tmp_path / "m.json").write_text("{}")
    (tmp_path / "m.safetensors").write_bytes(b"\x08" + bytes(7) + b"{}")
    with pytest.raises(ModelError) as info:
        load_checkpoint(tmp_path / "m")
    assert str(info.value).startswith("m.safetensors: not a valid safetensors file (")


def test_metadata_objects():
    meta = {"training": {"epochs": 3}, "metrics": None, "classes": ["a"]}
    assert metadata_object(meta, "training", "m.json") is meta["training"]
    assert metadata_object(meta, "metrics", "m.json") == {}
    assert metadata_object(meta, "absent", "m.json") == {}
    with pytest.raises(ModelError) as info:
        metadata_object(meta, "classes", "m.json")
    assert str(info.value) == "m.json: 'classes' must be a JSON object, not list"


def test_strict_loading_keeps_the_first_line_of_torch_s_message():
    with pytest.raises(ModelError) as info:
        load_state_dict_strict(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 4),
                                                       "bias": torch.zeros(2)}, "m")
    assert str(info.value) == ("m: weights do not fit the described architecture (Error(s) in "
                               "loading state_dict for Linear:)")


def test_a_described_network_is_built_only_when_every_tensor_fits():
    stored = torch.nn.Linear(4, 3).state_dict()
    built = check_described_network(lambda: torch.nn.Linear(4, 3), stored, "m.json")
    assert built.weight.device.type == "cpu" and built.weight.shape == (3, 4)
    cases = [(lambda: torch.nn.Linear(5, 3), "(weight of shape (3, 5) is stored as (3, 4))"),
             (lambda: torch.nn.Sequential(torch.nn.Linear(4, 3)),
              "(0.weight of shape (3, 4) is missing)")]
    for build, reason in cases:
        with pytest.raises(ModelError) as info:
            check_described_network(build, stored, "m.json")
        assert str(info.value) == f"m.json: weights do not fit the described architecture {reason}"
    with pytest.raises(ModelError) as info:
        check_described_network(lambda: torch.nn.Linear(-1, 3), stored, "m.json")
    assert str(info.value) == ("m.json: invalid model description (Trying to create tensor with "
                               "negative dimension -1: [3, -1])")

    def noisy():
        raise RuntimeError("  " + "x" * 200 + "\nsecond line")

    with pytest.raises(ModelError) as info:
        check_described_network(noisy, stored, "m.json")
    assert str(info.value) == f"m.json: invalid model description ({'x' * 160})"


def _training(seed):
    torch.manual_seed(seed)
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1 / (step + 1))
    return model, optimiser, scheduler, ema


def test_a_training_state_resumes_every_part(tmp_path):
    model, optimiser, scheduler, ema = _training(0)
    for _ in range(3):
        optimiser.zero_grad()
        model(torch.ones(4, 3)).sum().backward()
        optimiser.step()
        scheduler.step()
    best = {k: v + 1 for k, v in model.state_dict().items()}
    save_training_state(tmp_path / "run", model, optimiser, scheduler, ema,
                        {"step": 3, "history": [1.5]}, best)
    fresh_model, fresh_optimiser, fresh_scheduler, fresh_ema = _training(1)
    progress = load_training_state(tmp_path / "run", fresh_model, fresh_optimiser,
                                   fresh_scheduler, fresh_ema)
    assert progress["step"] == 3 and progress["history"] == [1.5]
    for a, b in ((model, fresh_model), (ema, fresh_ema)):
        for name, value in a.state_dict().items():
            torch.testing.assert_close(b.state_dict()[name], value)
    for name, value in best.items():
        torch.testing.assert_close(progress["best_weights"][name], value)
    moments, restored = optimiser.state_dict()["state"], fresh_optimiser.state_dict()["state"]
    assert sorted(restored) == [0, 1] and set(restored[0]) == {"step", "exp_avg", "exp_avg_sq"}
    torch.testing.assert_close(restored[1]["exp_avg_sq"], moments[1]["exp_avg_sq"])
    assert float(restored[0]["step"]) == 3.0
    assert fresh_scheduler.last_epoch == 3 and fresh_optimiser.param_groups[0]["lr"] == 0.025
    # without EMA and best weights
    save_training_state(tmp_path / "bare", model, optimiser, scheduler, None, {"step": 3}, None)
    tensors, meta = load_checkpoint(tmp_path / "bare")
    assert not any(k.startswith(("ema.", "best.")) for k in tensors)
    assert meta["kind"] == "training_state" and "lr_lambdas" not in meta["scheduler"]
    progress = load_training_state(tmp_path / "bare", *_training(2)[:3], None)
    assert progress == {"step": 3, "best_weights": None}


def test_training_states_are_refused_with_their_reason(tmp_path):
    save_checkpoint(tmp_path / "model", torch.nn.Linear(3, 2).state_dict(), {})
    with pytest.raises(ModelError) as info:
        load_training_state(tmp_path / "model", *_training(0))
    assert str(info.value) == "model: not a training state (written by --checkpoint)"
    model, optimiser, scheduler, ema = _training(0)
    save_training_state(tmp_path / "run", model, optimiser, scheduler, ema, {}, None)
    wider = torch.nn.Linear(3, 2)
    optimiser2 = torch.optim.AdamW([*wider.parameters(), torch.nn.Parameter(torch.ones(1))])
    scheduler2 = torch.optim.lr_scheduler.LambdaLR(optimiser2, lambda step: 1.0)
    with pytest.raises(ModelError) as info:
        load_training_state(tmp_path / "run", wider, optimiser2, scheduler2, None)
    assert str(info.value).startswith("run: optimiser state does not fit (")
    with pytest.raises(ModelError, match="^run: weights do not fit"):
        load_training_state(tmp_path / "run", torch.nn.Linear(4, 2), optimiser2, scheduler2,
                            None)


def test_strict_loading_refuses_missing_weights_and_names_the_ema_source(tmp_path):
    with pytest.raises(ModelError, match=r"^m: weights do not fit the described architecture "
                                         r"\(Error\(s\) in loading state_dict for Linear:\)$"):
        load_state_dict_strict(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 3)}, "m")
    model, optimiser, scheduler, ema = _training(0)
    save_training_state(tmp_path / "run", model, optimiser, scheduler, ema, {}, None)
    with pytest.raises(ModelError, match=r"^run: weights do not fit"):
        load_training_state(tmp_path / "run", *_training(1)[:3], torch.nn.Linear(3, 4))


def test_optimiser_state_names_may_hold_dots(tmp_path):
    model, optimiser, scheduler, ema = _training(0)
    model(torch.ones(1, 3)).sum().backward()
    optimiser.step()
    optimiser.state[model.weight]["moment.fast"] = torch.full((2, 3), 0.5)
    save_training_state(tmp_path / "run", model, optimiser, scheduler, None, {}, None)
    fresh_model, fresh_optimiser, fresh_scheduler, _ = _training(1)
    load_training_state(tmp_path / "run", fresh_model, fresh_optimiser, fresh_scheduler, None)
    restored = fresh_optimiser.state_dict()["state"][0]
    torch.testing.assert_close(restored["moment.fast"], torch.full((2, 3), 0.5))
