"""What the cycle's thread and the VEN's thread share, each side swapping whole
immutable objects so the other always reads a consistent one without locking the
cycle behind the network."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ems.edge.controllers.demand_response.events import Decision, ImportLimit, SiteView

__all__ = ["EventBook"]


@dataclass(frozen=True, slots=True)
class _Accepted:
    limits: tuple[ImportLimit, ...] = ()


class EventBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # writers only: readers take one reference
        self._accepted = _Accepted()
        self.view: SiteView | None = None  # written by the cycle
        self.ven_state = "starting"  # set_ven_state: registered | offline | failed
        self.decisions: tuple[Decision, ...] = ()  # newest last, for status and tests
        self.decided = threading.Condition()

    def accept(self, decision: Decision) -> None:
        with self._lock:
            kept = tuple(x for x in self._accepted.limits if x.event_id != decision.event_id)
            if decision.opt == "optIn":
                kept = tuple(sorted(kept + decision.limits, key=lambda x: x.start_s))
            self._accepted = _Accepted(kept)
        with self.decided:
            self.decisions = (*self.decisions[-99:], decision)
            self.decided.notify_all()

    def set_ven_state(self, state: str) -> None:
        with self.decided:
            self.ven_state = state
            self.decided.notify_all()

    def wait_ven_state(self, state: str, timeout_s: float) -> bool:
        """Block until the VEN reaches ``state`` (for tests and tools)."""
        with self.decided:
            return self.decided.wait_for(lambda: self.ven_state == state, timeout_s)

    def cancel(self, event_id: str) -> None:
        with self._lock:
            kept = tuple(x for x in self._accepted.limits if x.event_id != event_id)
            self._accepted = _Accepted(kept)

    def limit_at(self, now_s: float) -> ImportLimit | None:
        """The tightest accepted limit in force at ``now_s``."""
        active = [x for x in self._accepted.limits if x.start_s <= now_s < x.end_s]
        return min(active, key=lambda x: x.limit_w) if active else None

    def wait_decision(self, event_id: str, timeout_s: float) -> Decision | None:
        """Block until the VEN decided on ``event_id`` (for tests and tools)."""

        def found() -> Decision | None:
            return next((d for d in self.decisions if d.event_id == event_id), None)

        with self.decided:
            self.decided.wait_for(lambda: found() is not None, timeout_s)
            return found()
