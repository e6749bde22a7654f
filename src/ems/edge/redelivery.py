"""How long after an edge took a command the cloud may still deliver it again.

A command waits at most its TTL (:data:`ems.protocol.MAX_TTL_S`) in the cloud's
queue; after an outage it can be re-queued and delivered again at the end of a
second TTL. Ten minutes more cover restarts and clock steps. Every record the
edge keeps so that a repeated delivery is never executed again (the record of
commands taken, the execution log) keeps a command id at least this long.
"""

from __future__ import annotations

from ems.protocol import MAX_TTL_S

__all__ = ["REDELIVERY_WINDOW_S"]

#: [s] twice the longest TTL plus 10 min.
REDELIVERY_WINDOW_S = 2 * MAX_TTL_S + 600
