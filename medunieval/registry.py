"""Name -> object registries for benchmarks and backends, open to third-party packages.

A plugin package adds entries through the Python entry-point groups ``medunieval.benchmarks``
and ``medunieval.backends`` (``name = "package.module:attr"``); entries are imported on first
use, so listing names never imports heavy libraries.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A lazy registry: values are objects or ``"module:attr"`` strings resolved on first get."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, obj: T | str) -> None:
        """Register ``obj`` (or a ``"module:attr"`` path) under ``name``; names are unique."""
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object."""

        def wrap(obj: T) -> T:
            self.register(name, obj)
            return obj

        return wrap

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            self._items.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted(self._items)

    def get(self, name: str) -> T:
        """Resolve ``name``; an unknown name raises ``ConfigError`` with close matches."""
        self._load_entry_points()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}.{hint} "
                f"Run `medunieval list {self.kind}s` to see them all."
            )
        obj = self._items[name]
        if isinstance(obj, str):
            module, _, attr = obj.partition(":")
            try:
                resolved = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"{self.kind} {name!r} cannot be loaded from {obj}: {exc}"
                ) from exc
            self._items[name] = resolved
            return resolved
        return obj
