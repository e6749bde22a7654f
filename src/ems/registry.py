"""Name → class registries, so a new device or controller is a new folder, not a new branch.

Each implementation registers itself with a decorator, which runs when its
module is imported. :meth:`Registry.get` imports only the sub-package the type
is named after (``optimizer`` → ``<home>.optimizer``; ``modbus_tcp`` →
``<home>.modbus``, its first word) and the whole home package only when that
does not register it: an edge that runs two controllers does not carry the
imports of twelve (about 19 MB of numpy and friends on a small box).
:meth:`Registry.names` still lists every type.
"""

from __future__ import annotations

import importlib
import importlib.util
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
        found = self._items.get(name)
        if found is None:
            self._load_named(name)
            found = self._items.get(name)
        if found is None:
            self.load_all()
            found = self._items.get(name)
        if found is None:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self._kind} type {name!r} (known: {known})")
        return found

    def names(self) -> list[str]:
        self.load_all()
        return sorted(self._items)

    def _load_named(self, name: str) -> None:
        """Import the sub-package the type is named after, if there is one."""
        for candidate in dict.fromkeys((name, name.split("_", 1)[0])):
            if not candidate.isidentifier():
                continue
            module = f"{self._package}.{candidate}"
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)
                if name in self._items:
                    return

    def load_all(self) -> None:
        if self._loaded:
            return
        package = importlib.import_module(self._package)
        for module in pkgutil.iter_modules(package.__path__, self._package + "."):
            if module.ispkg:
                importlib.import_module(module.name)
        self._loaded = True
