"""What every throwaway server a test starts has in common: a log file and ``with``."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ThrowawayServer"]


class ThrowawayServer:
    """Base of :class:`~support.postgres.RunningPostgres` and
    :class:`~support.redis.RunningRedis`: ``with`` stops the server."""

    log_file: Path

    def stop(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
