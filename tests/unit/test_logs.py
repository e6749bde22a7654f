"""Secrets on URLs never reach the logs."""

from __future__ import annotations

import logging

from ems.logs import RedactSecrets


def test_tokens_in_query_strings_are_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/ui?token=eyJhbGciOi.abc.def&x=1"),
        None,
    )
    record.color_message = "coloured copy with token=eyJhbGciOi.abc.def"
    assert RedactSecrets().filter(record)
    message = record.getMessage()
    assert "eyJhbGciOi" not in message
    assert "token=[redacted]&x=1" in message
    assert not hasattr(record, "color_message")


def test_other_messages_are_untouched() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "soc=%s", (55,), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "soc=55"
