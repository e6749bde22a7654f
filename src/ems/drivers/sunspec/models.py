"""SunSpec model definitions, read at run time from the JSON files pysunspec2 ships.

Nothing here is typed in by hand: each model's points (name, type, size, scale
factor, access, units) come from ``sunspec2/models/json/model_<id>.json`` in
the installed package. A model is flattened into its fixed block: the top-level
points, then any fixed (non-repeating) subgroups as ``Group.Point``; repeating
groups (curves, MPPT modules) always come last in SunSpec and are not decoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ems.drivers.sunspec.errors import SunSpecError

__all__ = ["ModelDef", "PointDef", "model_def"]

# Registers per point type; strings (and anything sized) take their "size" field.
_TYPE_REGS = {
    "int16": 1, "uint16": 1, "count": 1, "acc16": 1, "enum16": 1, "bitfield16": 1,
    "pad": 1, "sunssf": 1,
    "int32": 2, "uint32": 2, "acc32": 2, "enum32": 2, "bitfield32": 2, "ipaddr": 2,
    "float32": 2,
    "int64": 4, "uint64": 4, "acc64": 4, "float64": 4, "eui48": 4,
    "ipv6addr": 8,
}  # fmt: skip


@dataclass(frozen=True)
class PointDef:
    """One point: ``offset_regs`` counts from the model's ID register (ID is 0, L is 1)."""

    name: str
    type: str
    size_regs: int
    offset_regs: int
    sf: str | int | None
    writable: bool
    units: str | None
    symbols: dict[int, str]


@dataclass(frozen=True)
class ModelDef:
    model_id: int
    name: str
    label: str
    points: dict[str, PointDef]
    fixed_regs: int  # registers of the fixed block, ID and L included

    def sf_point(self, point: PointDef) -> PointDef | None:
        """The scale-factor point of ``point``: its own group's first, then the model's."""
        if not isinstance(point.sf, str):
            return None
        prefix = point.name.rpartition(".")[0]
        if prefix and f"{prefix}.{point.sf}" in self.points:
            return self.points[f"{prefix}.{point.sf}"]
        return self.points.get(point.sf)


@cache
def model_def(model_id: int) -> ModelDef:
    """The definition of ``model_id`` from pysunspec2's JSON; ``unknown_model`` if none."""
    path = resources.files("sunspec2").joinpath("models", "json", f"model_{model_id}.json")
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, OSError):
        raise SunSpecError(
            "unknown_model", f"pysunspec2 ships no definition of model {model_id}"
        ) from None
    group = raw["group"]
    points: dict[str, PointDef] = {}
    offset = _flatten(group, "", 0, points)
    return ModelDef(
        model_id=model_id,
        name=str(group["name"]),
        label=str(group.get("label", group["name"])),
        points=points,
        fixed_regs=offset,
    )


def _flatten(group: dict[str, Any], prefix: str, offset: int, out: dict[str, PointDef]) -> int:
    for p in group.get("points", []):
        regs = int(p.get("size") or _TYPE_REGS[p["type"]])
        name = prefix + p["name"]
        out[name] = PointDef(
            name=name,
            type=str(p["type"]),
            size_regs=regs,
            offset_regs=offset,
            sf=_sf(p.get("sf")),
            writable=p.get("access") == "RW",
            units=p.get("units"),
            symbols={int(s["value"]): str(s["name"]) for s in p.get("symbols", [])},
        )
        offset += regs
    for sub in group.get("groups", []):
        if sub.get("count") is not None:
            break  # a repeating group: its length depends on the device; the fixed block ends
        offset = _flatten(sub, f"{prefix}{sub['name']}.", offset, out)
    return offset


def _sf(value: object) -> str | int | None:
    """A point's scale factor: a point name, or a fixed power of ten written as a number."""
    if value is None:
        return None
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text
