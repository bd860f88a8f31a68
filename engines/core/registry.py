"""Name -> factory registries, and name -> value look-ups, whose errors list the valid names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from engines.core.errors import InputError

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, kind: str) -> T:
    """``table[name]``; an unknown name is an :class:`InputError` listing the valid ones, e.g.
    ``unknown window preset 'x'; valid names: lung, bone``."""
    try:
        return table[name]
    except KeyError:
        raise InputError(f"unknown {kind} {name!r}; valid names: {', '.join(table)}") from None


class Registry(Generic[T]):
    """A small named registry of factories.

    >>> models = Registry("model")
    >>> @models.register("tiny")
    ... def make_tiny(**kw): ...
    >>> models.create("nope")
    Traceback (most recent call last):
    InputError: unknown model 'nope'; valid names: tiny
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            raise InputError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            ) from None

    def create(self, name: str, *args, **kwargs) -> T:
        return self.get(name)(*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
