"""Static and dynamic limit checks shared by the cloud and the controllers."""

from __future__ import annotations

import math

import pytest

from ems.profiles import Limits, Problem, builtin_profiles, check_static, dynamic_limits, within

ACTION = builtin_profiles()["battery"].actions["set_active_power"]
MODE = builtin_profiles()["battery"].actions["set_mode"]


@pytest.mark.parametrize(
    ("action", "value", "reason"),
    [
        (ACTION, "100", "invalid_payload"),
        (ACTION, True, "invalid_payload"),
        (ACTION, None, "invalid_payload"),
        (ACTION, math.nan, "invalid_payload"),
        (ACTION, 2e6, "out_of_range"),
        (ACTION, -2e6, "out_of_range"),
        (MODE, "turbo", "invalid_payload"),
        (MODE, 1, "invalid_payload"),
    ],
)
def test_static_refusals(action: object, value: object, reason: str) -> None:
    problem = check_static(action, value)  # type: ignore[arg-type]
    assert isinstance(problem, Problem)
    assert problem.reason == reason


def test_static_accepts() -> None:
    assert check_static(ACTION, -3000) is None
    assert check_static(ACTION, 0.5) is None
    assert check_static(MODE, "auto") is None


def telemetry(charge: float | None, discharge: float | None, ts: float) -> object:
    values = {"MaxChargePower": charge, "MaxDischargePower": discharge}

    def lookup(channel: str) -> tuple[object, float] | None:
        v = values.get(channel)
        return None if v is None else (v, ts)

    return lookup


def test_dynamic_limits_from_telemetry() -> None:
    limits = dynamic_limits(ACTION, telemetry(4000, 2500, ts=100.0), now_s=110.0)  # type: ignore[arg-type]
    assert limits == Limits(-4000.0, 2500.0)
    assert within(limits, -4000, "W") is None
    problem = within(limits, -4001, "W")
    assert problem is not None and problem.reason == "exceeds_dynamic_limit"
    assert "[-4000, 2500] W" in problem.detail
    assert limits.clamp(-9000) == -4000 and limits.clamp(9000) == 2500


def test_dynamic_limits_stale_or_missing() -> None:
    stale = dynamic_limits(ACTION, telemetry(4000, 2500, ts=0.0), now_s=31.0)  # type: ignore[arg-type]
    assert isinstance(stale, Problem) and stale.reason == "stale_telemetry"
    missing = dynamic_limits(ACTION, telemetry(None, 2500, ts=0.0), now_s=1.0)  # type: ignore[arg-type]
    assert isinstance(missing, Problem) and missing.reason == "no_telemetry"


def test_action_without_dynamic_limits_uses_static_range() -> None:
    pv = builtin_profiles()["pv_inverter"].actions["set_active_power_limit"]
    assert dynamic_limits(pv, lambda c: None, 0.0) == Limits(0, 1_000_000)
