"""Parameter metadata: validation from metadata, JSON round trip, defaults changed by like()."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engines.core.config import (
    choices_of,
    describe_range,
    from_json,
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
    ({"limit": 0.0}, "within (0–5"),
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
    assert describe_range(field["limit"]) == "(0–5"


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
