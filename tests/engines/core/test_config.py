"""Parameter metadata: validation from metadata, JSON round trip, defaults changed by like()."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import pytest

from engines.core.config import (
    _element_type,
    base_type,
    choices_of,
    describe_range,
    from_json,
    label_of,
    like,
    param,
    to_json,
    validate,
)
from engines.core.errors import InputError

NAMES = ["small", "large"]


@dataclass(frozen=True)
class Base:
    lr: float = param(0.1, label="Learning rate", range=(1e-5, 1.0))
    size: str = param("small", label="Size", choices=lambda: NAMES)
    steps: int = param(10, label="Steps", range=(1, 100), unit="steps")
    pair: tuple[int, int] = param((1, 2), label="Pair", range=(0, 9),
                                  check=lambda v: None if v[0] <= v[1] else "must increase")
    limit: float | None = param(None, label="Limit", range=(0.0, 5.0), low_open=True)
    flag: bool = param(False, label="Flag")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class Child(Base):
    lr: float = like(Base, "lr", 0.5)


@pytest.mark.parametrize("bad, text", [
    ({"lr": 0.0}, "Learning rate (lr) must be within 1e-05–1, got 0.0"),
    ({"size": "huge"}, "'huge' is not one of small, large"),
    ({"steps": 2.5}, "must be an integer"),
    ({"steps": True}, "must be an integer"),
    ({"pair": (3, 1)}, "must increase"),
    ({"pair": (1, 20)}, "within 0–9"),
    ({"pair": (1.5, 2)}, "must be integers"),
    ({"limit": 0.0}, "within (0–5], got 0.0"),
    ({"flag": 1}, "true or false"),
])
def test_every_rule_of_the_metadata_is_checked(bad, text):
    with pytest.raises(InputError) as error:
        Base(**bad)
    assert text in str(error.value)


def test_optional_values_and_callable_choices():
    assert Base(limit=None).limit is None and Base(limit=5.0).limit == 5.0
    NAMES.append("huge")
    try:
        assert Base(size="huge").size == "huge"  # resolved when asked, not at import
    finally:
        NAMES.remove("huge")
    field = {f.name: f for f in Base.__dataclass_fields__.values()}
    assert choices_of(field["size"]) == ("small", "large")
    assert describe_range(field["steps"]) == "1–100 steps"
    assert describe_range(field["limit"]) == "(0–5]"


def test_like_changes_only_the_default():
    child = Child()
    assert child.lr == 0.5 and Base().lr == 0.1
    with pytest.raises(InputError, match="Learning rate"):
        Child(lr=3.0)


def test_json_round_trip_and_unknown_keys():
    config = Base(lr=0.2, pair=(2, 3), limit=1.5, flag=True)
    assert from_json(Base, to_json(config)) == config
    assert to_json(config)["pair"] == (2, 3) or to_json(config)["pair"] == [2, 3]
    with pytest.raises(InputError, match="unknown settings: bogus"):
        from_json(Base, {"bogus": 1})
    with pytest.raises(InputError, match="expected a JSON object"):
        from_json(Base, [1, 2])


# The classes below are built inside the tests (not at import), so that what ``param`` and
# ``like`` put into a field is what the test sees.
def _names():
    return ("a", "b")


def _must_increase(value):
    return None if value[0] <= value[1] else "must increase"


def _make_config():
    @dataclass(frozen=True)
    class Settings:
        rate: float = param(0.1, label="Rate", help="step size", unit="1/s",
                            range=(1e-5, 1.0), step=0.01, decimals=4)
        model: str = param("a", choices=_names, flag="model-name", cli=False, parse=str.lower,
                           format=str.upper, check=lambda v: None, suggest="b")
        pair: tuple[int, int] = param((1, 2), range=(0, 9), check=_must_increase)
        sizes: tuple[float, ...] = param(default_factory=lambda: (1.0, 2.0), range=(0.0, 10.0))
        windows: tuple[tuple[float, float], ...] = param(default_factory=lambda: ((0.0, 1.0),))
        tags: tuple[str, ...] = param(("a",), choices=("a", "b"))
        scale: float | None = param(2.0, range=(0.5, 4.0))
        positive: float = param(1.0, range=(0.0, math.inf), low_open=True, unit="mm")
        at_least: float = param(1.0, range=(0.0, math.inf))
        notes: list | None = param(None)
        max_gap_mm: int = param(1)

        def __post_init__(self) -> None:
            validate(self)

    return Settings


def _fields(cls):
    return {f.name: f for f in dataclasses.fields(cls)}


def test_param_keeps_every_given_item_and_drops_the_empty_ones():
    fields = _fields(_make_config())
    assert dict(fields["rate"].metadata) == {
        "label": "Rate", "help": "step size", "unit": "1/s", "range": (1e-5, 1.0),
        "step": 0.01, "decimals": 4, "low_open": False, "cli": True}
    model = dict(fields["model"].metadata)
    assert model.pop("check")("x") is None
    assert model == {"choices": _names, "flag": "model-name", "cli": False, "parse": str.lower,
                     "format": str.upper, "suggest": "b", "low_open": False}
    assert fields["pair"].metadata["check"] is _must_increase
    assert dict(fields["max_gap_mm"].metadata) == {"low_open": False, "cli": True}
    settings = _make_config()()
    assert (settings.rate, settings.model, settings.sizes) == (0.1, "a", (1.0, 2.0))
    assert settings.windows == ((0.0, 1.0),) and settings.notes is None


def test_like_copies_the_named_field_with_a_new_default_and_changes():
    base = _make_config()

    @dataclass(frozen=True)
    class Child(base):
        scale: float | None = like(base, "scale", 3.0, help="bigger")

    assert Child().scale == 3.0 and base().scale == 2.0
    assert dict(_fields(Child)["scale"].metadata) == {"range": (0.5, 4.0), "help": "bigger",
                                                      "low_open": False, "cli": True}
    with pytest.raises(InputError, match=r"Scale \(scale\) must be within 0.5–4, got 5"):
        Child(scale=5)


def test_labels_ranges_and_choices_are_described():
    fields = _fields(_make_config())
    assert label_of(fields["max_gap_mm"]) == "Max gap mm"
    assert label_of(fields["rate"]) == "Rate"
    assert choices_of(fields["tags"]) == ("a", "b") and choices_of(fields["model"]) == ("a", "b")
    assert choices_of(fields["rate"]) is None
    assert describe_range(fields["positive"]) == "> 0 mm"
    assert describe_range(fields["at_least"]) == "≥ 0"
    assert describe_range(fields["rate"]) == "1e-05–1 1/s"
    assert describe_range(fields["tags"]) == "a, b"
    assert describe_range(fields["max_gap_mm"]) == ""


def test_base_type_of_hints():
    assert base_type(float | None) == (float, True)
    assert base_type(int) == (int, False)
    assert base_type(tuple[int, int]) == (tuple[int, int], False)
    assert base_type(int | str | None) == (int | str | None, True)
    assert _element_type(tuple[int, ...]) is int
    assert _element_type(tuple[int, float]) is None
    assert _element_type(list[int]) is None


@pytest.mark.parametrize("changes, message", [
    ({"rate": None}, "Rate (rate) must be set"),
    ({"rate": True}, "Rate (rate) must be a number, got True"),
    ({"rate": "0.5"}, "Rate (rate) must be a number, got '0.5'"),
    ({"rate": float("nan")}, "Rate (rate) must be a number, got nan"),
    ({"rate": 1.5}, "Rate (rate) must be within 1e-05–1 1/s, got 1.5"),
    ({"sizes": (1.0, "x")}, "Sizes (sizes) must be a number, got 'x'"),
    ({"pair": (1, 2.5)}, "Pair (pair) must be integers, got (1, 2.5)"),
    ({"pair": (3, 1)}, "Pair (pair) must increase"),
    ({"tags": ("a", "c")}, "Tags (tags) 'c' is not one of a, b"),
    ({"positive": 0.0}, "Positive (positive) must be within > 0 mm, got 0.0"),
    ({"at_least": -1e-9}, "At least (at_least) must be within ≥ 0, got -1e-09"),
])
def test_each_bad_value_gets_its_own_message(changes, message):
    with pytest.raises(InputError) as error:
        _make_config()(**changes)
    assert str(error.value) == message


def test_edge_values_and_optional_fields_pass():
    settings = _make_config()(rate=1e-5, scale=None, at_least=0.0, pair=(9, 9), sizes=())
    assert settings.rate == 1e-5 and settings.scale is None and settings.at_least == 0.0


def test_from_json_turns_json_lists_back_into_tuples():
    cls = _make_config()
    settings = cls(pair=(2, 3), sizes=(4.0,), windows=((0.0, 1.0), (2.0, 3.0)), notes=[1, 2])
    data = json.loads(json.dumps(to_json(settings)))
    assert isinstance(data["pair"], list)  # what a JSON file gives back
    restored = from_json(cls, data)
    assert restored == settings
    assert restored.windows == ((0.0, 1.0), (2.0, 3.0)) and restored.notes == [1, 2]
    assert type(restored.sizes) is tuple and type(restored.notes) is list
    with pytest.raises(InputError) as error:
        from_json(cls, {"pair": "12"})  # a string is not split into a tuple
    assert str(error.value) == "Pair (pair) must be integers, got '12'"


def test_from_json_refusals_name_what_was_read():
    cls = _make_config()
    with pytest.raises(InputError) as error:
        from_json(cls, [1], "detection settings")
    assert str(error.value) == "detection settings: expected a JSON object, got list"
    with pytest.raises(InputError) as error:
        from_json(cls, {"zeta": 1, "alpha": 2})
    assert str(error.value) == "unknown settings: alpha, zeta"

    @dataclass(frozen=True)
    class Needs:
        count: int = param(range=(0, 9))

    with pytest.raises(InputError, match=r"^model: .*missing 1 required .*'count'"):
        from_json(Needs, {}, "model")
