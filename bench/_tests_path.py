"""Puts the repository's ``tests/`` on ``sys.path``, so benchmarks import its ``support`` package.

The throwaway servers, processes and fake clouds that benchmarks start are test
machinery, kept under ``tests/support`` rather than shipped in ``ems``. Benchmarks
run as scripts from the repository root (``python bench/commands.py``), so only
``bench/`` is on the path; importing this module first adds ``tests/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(1, _TESTS)
