"""A small registry per extension point (backends, backbones, heads).

Implementations register themselves with a decorator in their own module. A registry names the
modules that provide its entries (``providers``) and imports them on the first lookup, so
code that only *names* an entry (a config, ``--help``) never imports torch, and no module has to
import the implementations just to fill the registry (no import cycles).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object map filled by a decorator; rejects duplicate names and lists itself.

    >>> BACKBONES = Registry("backbone")
    >>> @BACKBONES.register("resnet18")
    ... def build(): ...
    """

    def __init__(self, kind: str, providers: Sequence[str] = ()) -> None:
        self.kind = kind
        self.providers = tuple(providers)  # modules imported on first lookup
        self._items: dict[str, T] = {}
        self._loaded = not self.providers

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.providers:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items
