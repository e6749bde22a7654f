"""Logging setup: stdlib ``logging`` everywhere, rendered by structlog (console or JSON lines)."""

from __future__ import annotations

import logging
import sys
import typing

import structlog

__all__ = ["configure_logging"]


class _CurrentStderr(logging.StreamHandler[typing.TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time (a live terminal view may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


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
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
