"""Read one model's registers and decode its points, scale factors applied."""

from __future__ import annotations

from ems.drivers.sunspec.discovery import ModelRef
from ems.drivers.sunspec.models import ModelDef, PointDef, model_def
from ems.drivers.sunspec.points import Raw, decode, scale
from ems.drivers.sunspec.transport import MAX_READ_REGS, Registers

__all__ = ["ModelValues", "decode_model", "read_model", "read_words"]

ModelValues = dict[str, Raw]


def read_words(regs: Registers, address: int, count: int) -> list[int]:
    """``count`` registers from ``address``, in reads of at most 125."""
    words: list[int] = []
    while len(words) < count:
        n = min(MAX_READ_REGS, count - len(words))
        words.extend(regs.read(address + len(words), n))
    return words


def read_model(regs: Registers, ref: ModelRef) -> ModelValues:
    """Every point of the model at ``ref``: scaled numbers, text, or None if not implemented."""
    defn = model_def(ref.model_id)
    words = read_words(regs, ref.address, min(ref.length + 2, defn.fixed_regs))
    return decode_model(defn, words)


def decode_model(defn: ModelDef, words: list[int]) -> ModelValues:
    """Points from the model's registers (ID first); points past the end are None.

    A point with a scale factor is multiplied by 10^sf; a scale factor that is
    itself not implemented leaves the point None rather than a number off by
    powers of ten.
    """
    raws = {name: _raw(point, words) for name, point in defn.points.items()}
    values: ModelValues = {}
    for name, point in defn.points.items():
        raw = raws[name]
        if point.sf is None or point.type == "sunssf":
            values[name] = raw
            continue
        sf_point = defn.sf_point(point)
        sf = point.sf if isinstance(point.sf, int) else None
        if sf_point is not None:
            sf_raw = raws[sf_point.name]
            sf = sf_raw if isinstance(sf_raw, int) else None
        values[name] = scale(raw, sf)
    return values


def _raw(point: PointDef, words: list[int]) -> Raw:
    end = point.offset_regs + point.size_regs
    if end > len(words):
        return None
    return decode(point, words[point.offset_regs : end])
