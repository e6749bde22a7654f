"""The chaos suite with real processes (DESIGN section 11: nothing lost whatever fails).

A short run (one round: every fault once, under 5 minutes) is part of
``make test``. ``make chaos`` runs more rounds: ``EMS_CHAOS_ROUNDS`` (or
``EMS_CHAOS_DURATION_S``, about 100 s per round) and ``EMS_CHAOS_SEED``; the
seed and the schedule are printed with every failure, so it can be replayed.
The report is also written to ``chaos-report.txt`` in the test's temp dir.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from support.chaos import ChaosConfig, run_chaos
from support.postgres import PostgresNotFound, find_postgres_bin
from support.redis import RedisNotFound, find_redis_server

pytestmark = pytest.mark.chaos

#: Wall time of one round with its recoveries, about [s] (for EMS_CHAOS_DURATION_S).
ROUND_S = 100.0


def _config() -> ChaosConfig:
    seed = int(os.environ.get("EMS_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    if "EMS_CHAOS_ROUNDS" in os.environ:
        rounds = int(os.environ["EMS_CHAOS_ROUNDS"])
    elif "EMS_CHAOS_DURATION_S" in os.environ:
        rounds = max(1, round(float(os.environ["EMS_CHAOS_DURATION_S"]) / ROUND_S))
    else:
        rounds = 1
    return ChaosConfig(seed=seed, rounds=rounds)


def _require_servers() -> None:
    try:
        find_postgres_bin()
        find_redis_server()
    except (PostgresNotFound, RedisNotFound) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: the chaos suite needs real servers)")
        pytest.skip(str(exc))


@pytest.mark.timeout(0)  # bounded inside: every wait has its own timeout
def test_nothing_lost_and_nothing_run_twice_whatever_fails(tmp_path: Path) -> None:
    _require_servers()
    config = _config()
    print(f"chaos: seed {config.seed}, {config.rounds} round(s)")
    result = run_chaos(config, tmp_path)
    (tmp_path / "chaos-report.txt").write_text(result.report)
    print(result.report.split("\nEVENTS:")[0])
    assert result.commands > 0
    assert not result.problems, result.report
