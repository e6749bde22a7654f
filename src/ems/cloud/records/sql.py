"""The SQL both database backends share: the write rules, spelled once.

Placeholders are ``{p1}`` … and become ``?`` (SQLite) or ``$n`` (PostgreSQL);
see :func:`render`. The user column is ``username``: ``user`` is a reserved
word in PostgreSQL (``SELECT user`` names the session's role), a trap for
anyone querying the table by hand.

**The current status** of a command row follows
:func:`ems.cloud.records.model.supersedes`: the row is updated unless it is
already terminal, or the new status is a progress status older than the row's.
The rule does not depend on the order changes are applied in (but for equal
times), so a batch may lock its rows in command-id order, which keeps
concurrent writers from deadlocking.

**Event numbers** (``seq``) continue from the highest stored for the command.
Two writers cannot pick the same number: both first upsert the command's row,
which locks it (PostgreSQL locks the row on ``ON CONFLICT DO UPDATE`` even
when its ``WHERE`` is false; SQLite has one writer at a time). An event
already stored (same command, status and time) is skipped, so retrying a
batch whose commit was in doubt adds nothing.
"""

from __future__ import annotations

import re

__all__ = [
    "INSERT_EVENT",
    "INSERT_TRACE",
    "LIST_FOR_EDGE",
    "SELECT_COMMAND",
    "SELECT_EVENTS",
    "SELECT_TRACE",
    "UPSERT_COMMAND",
]

_COLUMNS = (
    "command_id, edge_id, username, device, action, value, issued_at, ttl_s, created_at,"
    " status, reason, terminal, updated_at"
)

UPSERT_COMMAND = f"""INSERT INTO commands ({_COLUMNS})
VALUES ({{p1}}, {{p2}}, {{p3}}, {{p4}}, {{p5}}, {{p6}}, {{p7}}, {{p8}}, {{p9}},
        {{p10}}, {{p11}}, {{p12}}, {{p13}})
ON CONFLICT (command_id) DO UPDATE
SET status = excluded.status, reason = excluded.reason,
    terminal = excluded.terminal, updated_at = excluded.updated_at
WHERE NOT commands.terminal
    AND (excluded.terminal OR excluded.updated_at >= commands.updated_at)"""

# The SELECT has a WHERE clause, which SQLite needs to parse the ON CONFLICT after it.
INSERT_EVENT = """INSERT INTO command_events (command_id, seq, status, reason, detail, at)
SELECT {p1}, COALESCE(MAX(seq), 0) + 1, {p2}, {p3}, {p4}, {p5}
FROM command_events WHERE command_id = {p1}
ON CONFLICT (command_id, status, at) DO NOTHING"""

SELECT_COMMAND = f"SELECT {_COLUMNS} FROM commands WHERE command_id = {{p1}}"

# Oldest first by the time of each status, not by when it was written: two cloud
# processes write one command's statuses in their own batches (the process with
# the dashboard "received", the one with the edge "delivered"), and either batch
# may land first. Ties keep the written order.
SELECT_EVENTS = """SELECT status, reason, detail, at FROM command_events
WHERE command_id = {p1} ORDER BY at, seq"""

LIST_FOR_EDGE = f"""SELECT {_COLUMNS} FROM commands WHERE edge_id = {{p1}}
ORDER BY created_at DESC, command_id DESC LIMIT {{p2}}"""

# No foreign key to ``commands``: a waypoint may be written before its command's
# row (another process records the statuses); the cloud checks who may write.
INSERT_TRACE = """INSERT INTO command_trace
    (command_id, record_id, source, edge_id, event, status, reason, detail, at, seq)
VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p7}, {p8}, {p9}, {p10})
ON CONFLICT (command_id, record_id) DO NOTHING"""

SELECT_TRACE = """SELECT command_id, record_id, source, edge_id, event, status, reason, detail,
    at, seq
FROM command_trace WHERE command_id = {p1} ORDER BY at, seq"""

_PLACEHOLDER = re.compile(r"\{p(\d+)\}")


def render(sql: str, style: str) -> str:
    """``style`` ``"qmark"``: ``{pN}`` -> ``?N`` (numbered, so a parameter may repeat);
    ``"dollar"``: ``{pN}`` -> ``$N``."""
    mark = {"qmark": "?", "dollar": "$"}[style]
    return _PLACEHOLDER.sub(lambda m: f"{mark}{m.group(1)}", sql)
