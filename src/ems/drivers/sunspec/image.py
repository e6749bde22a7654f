"""A SunSpec register map held in memory: what ``ems devices serve`` answers from.

Laid out from pysunspec2's model definitions like a device's map: the marker,
each model's fixed block with every point "not implemented" until set, then
the end model.
"""

from __future__ import annotations

from collections.abc import Sequence

from ems.drivers.sunspec.discovery import END_MODEL_ID, MARKER
from ems.drivers.sunspec.models import ModelDef, PointDef, model_def
from ems.drivers.sunspec.points import (
    Raw,
    decode,
    encode,
    encode_string,
    scale,
    unimplemented,
    unscale,
)

__all__ = ["MapImage"]


class MapImage:
    """Registers from ``base``: ``words[i]`` is register ``base + i``."""

    def __init__(self, model_ids: Sequence[int], base: int = 40000) -> None:
        self.base = base
        self.words: list[int] = list(MARKER)
        self._models: dict[int, tuple[int, ModelDef]] = {}  # id -> (offset of ID, definition)
        for model_id in model_ids:
            defn = model_def(model_id)
            offset = len(self.words)
            self._models[model_id] = (offset, defn)
            for point in defn.points.values():
                self.words += unimplemented(point)
            self.words[offset : offset + 2] = [model_id, defn.fixed_regs - 2]
        self.words += [END_MODEL_ID, 0]

    def _point(self, model_id: int, name: str) -> tuple[int, PointDef]:
        offset, defn = self._models[model_id]
        point = defn.points[name]
        return offset + point.offset_regs, point

    def span(self, model_id: int, name: str) -> range:
        """The register addresses of a point."""
        index, point = self._point(model_id, name)
        return range(self.base + index, self.base + index + point.size_regs)

    def raw(self, model_id: int, name: str) -> Raw:
        index, point = self._point(model_id, name)
        return decode(point, self.words[index : index + point.size_regs])

    def put_raw(self, model_id: int, name: str, raw: int | float | None) -> None:
        index, point = self._point(model_id, name)
        words = unimplemented(point) if raw is None else encode(point, raw)
        self.words[index : index + point.size_regs] = words

    def put_text(self, model_id: int, name: str, text: str) -> None:
        index, point = self._point(model_id, name)
        self.words[index : index + point.size_regs] = encode_string(text, point.size_regs)

    def _sf(self, model_id: int, point: PointDef) -> int | None:
        if isinstance(point.sf, int):
            return point.sf
        sf_point = self._models[model_id][1].sf_point(point)
        if sf_point is None:
            return 0
        sf = self.raw(model_id, sf_point.name)
        return sf if isinstance(sf, int) else None

    def get(self, model_id: int, name: str) -> Raw:
        """The point's value, its scale factor applied; None if not implemented."""
        _, point = self._point(model_id, name)
        raw = self.raw(model_id, name)
        if point.sf is None:
            return raw
        return scale(raw, self._sf(model_id, point))

    def put(self, model_id: int, name: str, value: float | None) -> None:
        """Store ``value`` under the point's scale factor (set the factor first).

        A value beyond what the point's type holds is stored as the nearest it can.
        """
        _, point = self._point(model_id, name)
        if value is None:
            self.put_raw(model_id, name, None)
            return
        if point.type in ("float32", "float64"):
            self.put_raw(model_id, name, value)
            return
        raw = unscale(value, self._sf(model_id, point)) if point.sf is not None else round(value)
        low, high = _RANGE.get(point.type, (None, None))
        if low is not None and high is not None:
            raw = min(high, max(low, raw))
        self.put_raw(model_id, name, raw)


# Representable ranges, short of each type's "not implemented" value.
_RANGE: dict[str, tuple[int, int]] = {
    "int16": (-0x7FFF, 0x7FFF),
    "uint16": (0, 0xFFFE),
    "enum16": (0, 0xFFFE),
    "bitfield16": (0, 0x7FFF),
    "int32": (-0x7FFFFFFF, 0x7FFFFFFF),
    "uint32": (0, 0xFFFFFFFE),
    "acc32": (0, 0xFFFFFFFF),
}
