"""The dashboard's copy of the frame schema is what ``ems protocol schema`` prints.

``web/src/lib/frames.schema.test.ts`` checks the dashboard's frame types
against that copy, so together they tie ``frames.ts`` to the Python frames.
"""

from __future__ import annotations

import json
from pathlib import Path

from ems.protocol import TERMINAL, frame_schemas, statuses

SNAPSHOT = Path(__file__).parents[3] / "web" / "src" / "lib" / "protocol.schema.json"


def test_dashboard_snapshot_is_current() -> None:
    stored = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert stored == frame_schemas(), (
        "frame schema changed: regenerate with "
        "`ems protocol schema > web/src/lib/protocol.schema.json` and update frames.ts"
    )


def test_schema_names_the_terminal_statuses_in_order() -> None:
    terminal = frame_schemas()["terminal_statuses"]
    assert terminal == ["rejected", "executed", "failed"]
    assert set(terminal) == TERMINAL
    ack_enum = frame_schemas()["$defs"]["UiAck"]["properties"]["status"]["enum"]
    assert ack_enum == list(statuses.STATUSES)
