"""What every ``ems`` command line shares: the global options and the run loop.

Below both :mod:`ems.cli` (the whole ``ems`` command) and the command groups that
add their subcommands to it (``ems.authsvc.cli``, ``ems.reports.cli``, …), so a
group can also run on its own (``python -m ems.authsvc.cli auth …``) without
importing the top-level command, which imports every group.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ems import __version__
from ems.errors import EmsError
from ems.logs import configure_logging

__all__ = ["new_parser", "run"]


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def new_parser(description: str) -> tuple[argparse.ArgumentParser, Subparsers]:
    """The ``ems`` parser with its global options, and the subparsers to add commands to."""
    parser = argparse.ArgumentParser(prog="ems", description=description)
    parser.add_argument("--version", action="version", version=f"ems {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, sub


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse, set up logging and run the chosen command's ``func``; its exit status.

    An :class:`~ems.errors.EmsError` is the operator's mistake or the world's
    (a missing file, an unreachable server): one line on stderr and status 2,
    no traceback.
    """
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_json)
    try:
        code: int = args.func(args)
    except EmsError as exc:
        print(f"ems {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
