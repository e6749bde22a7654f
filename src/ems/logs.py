"""Logging setup: stdlib ``logging`` everywhere, rendered by structlog (console or JSON lines).

Audit records (:mod:`ems.audit`) arrive already built by a native structlog
logger; the formatter here renders their fields directly instead of running
the processor chain again. :func:`add_log_file` adds a rotating file of JSON
lines (every record, audit included) for a log shipper (``deploy/filebeat.yml``).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import typing
from pathlib import Path

import structlog

__all__ = ["RedactSecrets", "add_log_file", "configure_logging"]


class _CurrentStderr(logging.StreamHandler[typing.TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time (a live terminal view may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_SECRET_NAMES = r"(?:token|api_key|access|refresh|password)"
#: ``token=…`` in a URL or form, and ``"token": "…"`` in JSON (uvicorn logs the start and
#: end of every WebSocket frame at DEBUG, the first frame of a socket carries the key).
_SECRET_RE = re.compile(
    rf"({_SECRET_NAMES}=)[^&\s\"']+|(\\?\"{_SECRET_NAMES}\\?\"\s*:\s*\\?\")[^\"\\]*",
    re.IGNORECASE,
)


def _redact(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + "[redacted]"


class RedactSecrets(logging.Filter):
    """Never let a token on a URL reach a log (uvicorn logs WebSocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "ems_audit" in record.__dict__:
            return True  # built from known fields only, never a URL
        message = record.getMessage()
        if ("=" in message or ":" in message) and _SECRET_RE.search(message):
            record.msg = _SECRET_RE.sub(_redact, message)
            record.args = ()
            if "message" in record.__dict__:
                # A handler without this filter formatted it first (and kept the text).
                record.message = record.msg
        # uvicorn's ANSI-coloured duplicate of the message would repeat it as a field.
        record.__dict__.pop("color_message", None)
        return True


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with a shortcut for records built by :mod:`ems.audit`."""

    def __init__(
        self,
        renderer: structlog.types.Processor,
        static: typing.Mapping[str, object] | None = None,
        **kwargs: typing.Any,
    ) -> None:
        super().__init__(**kwargs)
        self._renderer = renderer
        self._static = dict(static or {})
        self._console = isinstance(renderer, structlog.dev.ConsoleRenderer)

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get("ems_audit")
        if fields is None:
            return super().format(record)
        event = {**self._static, **fields}
        if self._console:
            # For a person (and grep): "command <id> <event>" leads the line.
            event["event"] = record.getMessage()
        return typing.cast(str, self._renderer(None, "info", event))


def _shared() -> list[structlog.types.Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),  # `extra={...}` fields become keys
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _formatter(json: bool, static: typing.Mapping[str, object] | None = None) -> _Formatter:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: with rich installed, structlog's default renders each one
        # with every frame's locals, which costs the event loop 0.5-1 s per traceback
        # on a busy 2-core box (found by the chaos suite: with PostgreSQL down, the
        # logged failures starved the loop and edge acks arrived after the watchdog)
        # and would write local variables (keys, DSNs) into the log.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    chain = _shared()
    if static:
        fixed = dict(static)

        def add_static(
            _logger: typing.Any, _name: str, event: typing.MutableMapping[str, typing.Any]
        ) -> typing.MutableMapping[str, typing.Any]:
            for key, value in fixed.items():
                event.setdefault(key, value)
            return event

        chain.append(add_static)
    return _Formatter(
        renderer,
        static,
        foreign_pre_chain=chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    handler = _CurrentStderr()
    handler.setFormatter(_formatter(json))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())


def add_log_file(
    path: Path,
    max_bytes: int,
    backups: int,
    static: typing.Mapping[str, object] | None = None,
) -> logging.Handler:
    """Also write every record as a JSON line to ``path``, rotated at ``max_bytes``
    with ``backups`` old files kept (``path.1`` … newest first); ``static`` fields
    (``service``, ``edge_id``) go into every line. Returns the handler."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
    )
    handler.setFormatter(_formatter(json=True, static=static))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        # Audit records are INFO: a file meant for the aggregator must get them.
        root.setLevel(logging.INFO)
    return handler
