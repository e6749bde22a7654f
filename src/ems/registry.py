"""Name → class registries, so a new device or controller is a new folder, not a new branch.

Each implementation registers itself with a decorator; :func:`Registry.load_all`
imports every sub-package of its home package once so the decorators run.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, TypeVar

from ems.errors import RegistryError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str) -> None:
        self._kind = kind
        self._package = package
        self._items: dict[str, type[T]] = {}
        self._loaded = False

    def add(self, name: str, cls: type[T]) -> type[T]:
        known = self._items.get(name)
        if known is not None and known is not cls:
            raise RegistryError(f"{self._kind} type {name!r} registered twice")
        self._items[name] = cls
        return cls

    def get(self, name: str) -> type[T]:
        self.load_all()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self._kind} type {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        self.load_all()
        return sorted(self._items)

    def load_all(self) -> None:
        if self._loaded:
            return
        package = importlib.import_module(self._package)
        for module in pkgutil.iter_modules(package.__path__, self._package + "."):
            if module.ispkg:
                importlib.import_module(module.name)
        self._loaded = True
