"""Logging setup: stdlib ``logging`` everywhere, rendered by structlog (console or JSON lines)."""

from __future__ import annotations

import logging
import re
import sys
import typing

import structlog

__all__ = ["RedactSecrets", "configure_logging"]


class _CurrentStderr(logging.StreamHandler[typing.TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time (a live terminal view may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_SECRET_RE = re.compile(r"((?:token|api_key|access|refresh|password)=)[^&\s\"']+", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    """Never let a token on a URL reach a log (uvicorn logs WebSocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" in message and _SECRET_RE.search(message):
            record.msg = _SECRET_RE.sub(r"\1[redacted]", message)
            record.args = ()
        # uvicorn's ANSI-coloured duplicate of the message would repeat it as a field.
        record.__dict__.pop("color_message", None)
        return True


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),  # `extra={...}` fields become keys (audit records)
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _CurrentStderr()
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
