"""Find a device's SunSpec map: the ``SunS`` marker, then the chain of models.

A SunSpec map starts with the two registers 0x5375 0x6E53 ("SunS") at one of
the well-known bases, then models follow back to back, each as (ID, L, L
registers of points), until the end model ID 0xFFFF.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.drivers.sunspec.errors import SunSpecError
from ems.drivers.sunspec.models import model_def
from ems.drivers.sunspec.transport import Registers

__all__ = ["BASE_ADDRESSES", "END_MODEL_ID", "MARKER", "ModelRef", "SunSpecMap", "discover"]

BASE_ADDRESSES = (40000, 0, 50000)
MARKER = (0x5375, 0x6E53)
END_MODEL_ID = 0xFFFF
_MAX_MODELS = 256  # far more than any device has: a chain this long is garbage


@dataclass(frozen=True)
class ModelRef:
    """A model found on the device; ``address`` is its ID register, ``length`` its L."""

    model_id: int
    name: str | None  # None when pysunspec2 has no definition (vendor models)
    address: int
    length: int


@dataclass(frozen=True)
class SunSpecMap:
    base: int
    models: tuple[ModelRef, ...]

    def first(self, *model_ids: int) -> ModelRef | None:
        """The first model on the device whose id is among ``model_ids`` (in their order)."""
        for wanted in model_ids:
            for ref in self.models:
                if ref.model_id == wanted:
                    return ref
        return None


def discover(regs: Registers) -> SunSpecMap:
    """Locate the marker and walk the chain; ``SunSpecError`` names what went wrong."""
    for base in BASE_ADDRESSES:
        try:
            words = regs.read(base, 2)
        except SunSpecError as exc:
            # An illegal address at one base is how devices say "not here"; a dead
            # device (timeout, no connection) is not "no SunSpec" and stops the search.
            if exc.reason in ("modbus_exception", "model_truncated"):
                continue
            raise
        if tuple(words) == MARKER:
            return SunSpecMap(base=base, models=_walk(regs, base + 2))
    raise SunSpecError(
        "sunspec_not_found",
        "no SunS marker at " + ", ".join(str(b) for b in BASE_ADDRESSES),
    )


def _walk(regs: Registers, address: int) -> tuple[ModelRef, ...]:
    models: list[ModelRef] = []
    while len(models) < _MAX_MODELS:
        try:
            model_id, length = regs.read(address, 2)
        except SunSpecError as exc:
            if exc.reason != "modbus_exception":
                raise
            raise SunSpecError(
                "model_truncated", f"the map ends at {address} without the end model 0xFFFF"
            ) from exc
        if model_id == END_MODEL_ID:
            return tuple(models)
        end = address + 2 + length
        if end + 2 > 0x10000:  # the next header (at least the end model) must fit too
            raise SunSpecError(
                "model_truncated",
                f"model {model_id} at {address} declares {length} registers, past 65535",
            )
        if length:
            _check_readable(regs, model_id, address, length)
        models.append(ModelRef(model_id, _name(model_id), address, length))
        address = end
    raise SunSpecError("chain_too_long", f"no end model after {_MAX_MODELS} models")


def _check_readable(regs: Registers, model_id: int, address: int, length: int) -> None:
    last = address + 2 + length - 1
    try:
        regs.read(last, 1)
    except SunSpecError as exc:
        if exc.reason != "modbus_exception":
            raise
        raise SunSpecError(
            "model_truncated",
            f"model {model_id} at {address} declares {length} registers, "
            f"but register {last} cannot be read",
        ) from exc


def _name(model_id: int) -> str | None:
    try:
        return model_def(model_id).name
    except SunSpecError:
        return None
