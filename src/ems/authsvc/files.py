"""Secret files: created once with mode 0600, never overwritten, safe when processes race."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["ensure_private_dir", "read_or_create"]

log = logging.getLogger(__name__)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700 if missing; an existing one is left as is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """Return the content of ``path``, first creating it from ``make()`` if it does not exist.

    The new content goes to a private temporary file that is then hard-linked into
    place: the link fails if another process got there first (we then use its
    file), and nobody ever reads a half-written file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        _warn_if_exposed(path)
        return data
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(make())
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            log.info("%s was created by another process; using it", path)
    finally:
        os.unlink(tmp_name)
    return path.read_bytes()


def _warn_if_exposed(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode)
