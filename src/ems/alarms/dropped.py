"""When the edge's telemetry buffer drops frames (issue 17 item 2, ``telemetry_dropped``).

The edge reports ``_link/FramesDropped``, a cumulative counter, in its live
frames. A rise between two live frames raises the alarm; the counter unchanged
for ``clear_after_s`` clears it. A counter that goes *down* is an edge that
restarted (the counter starts again at 0): a new baseline, not a drop.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FRAMES_DROPPED", "DroppedWatch"]

#: The uplink's counter (``ems.edge.link.uplink``), as it appears in a frame.
FRAMES_DROPPED = "_link/FramesDropped"


@dataclass(slots=True)
class _Seen:
    count: int
    quiet_since_s: float  # the last rise, or when this process started watching


class DroppedWatch:
    """Per edge: the last counter seen and since when it has not risen."""

    def __init__(self, clear_after_s: float) -> None:
        if clear_after_s <= 0:
            raise ValueError(f"clear_after_s must be > 0, got {clear_after_s}")
        self.clear_after_s = clear_after_s
        self._edges: dict[str, _Seen] = {}

    def observe(self, edge_id: str, value: object, now_s: float) -> bool | None:
        """A live frame's counter: ``True`` when it rose (raise), ``False`` when it has
        stayed quiet long enough (clear), ``None`` otherwise or when it is no count."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None  # not a counter (a malformed frame): ignored, never an error
        count = int(value)
        seen = self._edges.get(edge_id)
        if seen is None:
            # The first frame this process sees is a baseline: drops before it went
            # unwatched here, and an alarm raised elsewhere (the edge moved between
            # processes) is cleared only after a full quiet period watched here.
            self._edges[edge_id] = _Seen(count, now_s)
            return None
        if count > seen.count:
            seen.count = count
            seen.quiet_since_s = now_s
            return True
        seen.count = count  # equal, or lower after an edge restart
        return self.quiet(edge_id, now_s)

    def edges(self) -> list[str]:
        return sorted(self._edges)

    def quiet(self, edge_id: str, now_s: float) -> bool | None:
        """``False`` (clear) when the edge's counter has not risen for ``clear_after_s``."""
        seen = self._edges.get(edge_id)
        if seen is None or now_s - seen.quiet_since_s < self.clear_after_s:
            return None
        return False
