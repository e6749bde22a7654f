"""Log files: JSON lines with the audit records, rotated, static fields, secrets redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ems.audit import AuditTrail
from ems.edge.config import LoggingConfig, load_edge_config
from ems.edge.lifetime import add_edge_log_file
from ems.logs import RedactSecrets, add_log_file, configure_logging

CID = "123e4567-e89b-42d3-a456-426614174000"


@pytest.fixture(autouse=True)
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers, root.level = handlers, level


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_an_edge_writes_json_lines_with_its_id_and_its_audit_records(tmp_path: Path) -> None:
    config = load_edge_config(None)
    path = add_edge_log_file(config, tmp_path)
    assert path == tmp_path / "logs" / "edge-site-1.log"
    AuditTrail("edge", edge_id="site-1").record(
        "controller.executed", CID, 1_767_225_600.25, status="executed", detail="held"
    )
    logging.getLogger("ems.edge.link.client").warning("cannot reach the cloud")
    audit, plain = lines(path)
    assert audit["event"] == "controller.executed"
    assert (audit["command_id"], audit["status"], audit["source"]) == (CID, "executed", "edge")
    assert audit["timestamp"] == "2026-01-01T00:00:00.250000Z"
    assert (plain["event"], plain["level"]) == ("cannot reach the cloud", "warning")
    for line in (audit, plain):
        assert (line["service"], line["edge_id"]) == ("ems-edge", "site-1")


def test_the_file_rotates_and_keeps_its_backups(tmp_path: Path) -> None:
    config = load_edge_config(None).model_copy(
        update={"logging": LoggingConfig(directory=tmp_path / "x", max_bytes=10_000, backups=2)}
    )
    path = add_edge_log_file(config, tmp_path)
    assert path is not None
    trail = AuditTrail("edge", edge_id="site-1")
    for i in range(200):
        trail.record("edge.received", CID, 1_767_225_600.0 + i, detail="x" * 100)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["edge-site-1.log", "edge-site-1.log.1", "edge-site-1.log.2"]
    assert all(p.stat().st_size <= 10_000 for p in path.parent.iterdir())


def test_no_file_when_disabled(tmp_path: Path) -> None:
    config = load_edge_config(None).model_copy(update={"logging": LoggingConfig(enabled=False)})
    assert add_edge_log_file(config, tmp_path) is None
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ('127.0.0.1 - "WebSocket /ws/ui?token=eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl" [accepted]', "eyJ"),
        (
            """< TEXT '{"type":"auth","edge_id":"site-1","api_key":"k3y-s3cret...Z"}' [1 B]""",
            "k3y",
        ),
        ("""> TEXT '{"type":"auth","token":"eyJhbGciOi...c2lnbmF0dXJl"}' [300 bytes]""", "eyJ"),
        ('{"username": "olga", "password": "hunter2-hunter2"}', "hunter2"),
    ],
)
def test_secrets_are_redacted_from_every_line(tmp_path: Path, message: str, secret: str) -> None:
    path = tmp_path / "cloud.log"
    add_log_file(path, 100_000, 1, {"service": "ems-cloud"})
    logging.getLogger("uvicorn.error").warning("%s", message)
    (line,) = lines(path)
    assert secret not in json.dumps(line)
    assert "[redacted]" in str(line["event"])
    assert RedactSecrets().filter(logging.makeLogRecord({"msg": "no secret here"}))


def test_a_logged_exception_shows_a_plain_traceback_without_local_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rendering every frame's locals cost the event loop up to a second per
    traceback (found by the chaos suite) and would copy secrets into the log."""
    configure_logging()  # the autouse fixture puts the root handlers back

    def fail(api_key: str) -> None:
        raise RuntimeError("boom")

    secret = "-".join(("local", "secret", "value"))  # not in any source line shown
    try:
        fail(secret)
    except RuntimeError:
        logging.getLogger("ems.test").exception("it failed")
    err = capsys.readouterr().err
    assert "it failed" in err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: boom" in err
    assert "local-secret-value" not in err
