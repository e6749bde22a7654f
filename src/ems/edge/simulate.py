"""``ems simulate``: the edge in virtual time, as fast as it can, one CSV row per cycle,
and the run's energy and cost figures (:class:`~ems.edge.energy_summary.SiteSummary`).

Devices step every second (every cycle when the cycle is longer), scripted
commands are written to their request channels exactly as the edge dispatcher
writes commands from the cloud, then the cycle runs, then the devices take up
what it wrote. A setpoint written at cycle k flows from cycle k's time on, as a
real inverter follows its setpoint within a second of the write: with a 60 s
cycle, letting it wait for the next cycle would make every controller a minute
late and the 60 s run disagree with the 1 s run. Each CSV row is taken after
that, so it shows the power that flows until the next row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ems.clock import VirtualClock
from ems.dal import Sample
from ems.edge.config import EdgeConfig
from ems.edge.energy_summary import SiteSummary
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.edge.site_csv import SiteCsvWriter
from ems.errors import ConfigError
from ems.profiles import check_static
from ems.timefmt import to_rfc3339

__all__ = [
    "ScheduledCommand",
    "SimulationResult",
    "check_commands",
    "parse_command",
    "simulate",
    "to_request",
]

#: Like the cloud's watchdog: a command not executed this long after it was sent is dead.
COMMAND_DEADLINE_S = 5.0
_OFFSET_RE = re.compile(r"^(\d{1,4}):([0-5]\d)(?::([0-5]\d))?$")


@dataclass(frozen=True, slots=True)
class ScheduledCommand:
    offset_s: float  # after the start of the simulation
    device: str
    action: str
    value: float | str | bool


@dataclass(slots=True)
class SimulationResult:
    rows: int
    columns: list[str]
    acks: list[dict[str, Any]] = field(default_factory=list)
    #: The energy and cost figures (:mod:`ems.edge.energy_summary`), the CLI's last line.
    summary: dict[str, float | int | str | None] = field(default_factory=dict)


def parse_command(text: str) -> ScheduledCommand:
    """``HH:MM[:SS],DEVICE,ACTION,VALUE`` (hours may exceed 24 for later days)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ConfigError(f"--command {text!r}: expected HH:MM,DEVICE,ACTION,VALUE")
    when, device, action, raw = parts
    m = _OFFSET_RE.match(when)
    if m is None:
        raise ConfigError(f"--command {text!r}: time {when!r} is not HH:MM or HH:MM:SS")
    offset = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)
    value: float | str | bool
    lowered = raw.lower()
    if lowered in ("true", "false"):
        value = lowered == "true"
    else:
        try:
            value = float(raw)
        except ValueError:
            value = raw
        else:
            if not math.isfinite(value):
                raise ConfigError(f"--command {text!r}: value must be finite")
    return ScheduledCommand(offset, device, action, value)


def check_commands(runtime: EdgeRuntime, commands: Sequence[ScheduledCommand]) -> None:
    for c in commands:
        profile = runtime.devices.get(c.device)
        if profile is None:
            raise ConfigError(
                f"--command: no device {c.device!r} (have: {', '.join(runtime.devices)})"
            )
        action = profile.actions.get(c.action)
        if action is None:
            raise ConfigError(
                f"--command: {c.device} has no action {c.action!r} "
                f"(has: {', '.join(profile.actions) or 'none'})"
            )
        problem = check_static(action, c.value)
        if problem is not None:
            raise ConfigError(f"--command {c.device},{c.action}: {problem.detail}")


def to_request(command: ScheduledCommand, command_id: str, now_s: float) -> CommandRequest:
    """The request the cloud would send for ``command`` at ``now_s``, deadline included."""
    return CommandRequest(
        command_id=command_id,
        device=command.device,
        action=command.action,
        value=command.value,
        issued_at=to_rfc3339(now_s),
        deadline=to_rfc3339(now_s + COMMAND_DEADLINE_S),
        user="cli",
    )


def simulate(
    config: EdgeConfig,
    start_s: float,
    hours: float,
    out: TextIO,
    commands: Sequence[ScheduledCommand] = (),
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Run ``hours`` of the site from ``start_s`` (UTC epoch s), writing CSV rows to ``out``."""
    if hours <= 0:
        raise ConfigError("--hours must be positive")
    clock = VirtualClock(start_s)
    # Inline work: the optimiser solves on the virtual clock, so a run is reproducible.
    runtime = EdgeRuntime(config, clock, inline_work=True)
    check_commands(runtime, commands)
    period_s = config.cycle.period_s
    cycles = round(hours * 3600.0 / period_s)
    rows = SiteCsvWriter(runtime.store, out)
    result = SimulationResult(rows=0, columns=rows.columns)
    batteries = [d for d, p in runtime.devices.items() if p.type == "battery"]
    summary = SiteSummary(runtime.tariff, config.site.timezone, batteries)
    runtime.store.watch("ack/", lambda a, s: result.acks.append(_ack_record(a, s)))

    pending = sorted(enumerate(commands), key=lambda ic: ic[1].offset_s)
    next_command = 0
    next_device_tick = 0.0
    for k in range(cycles):
        t = k * period_s
        if k:
            clock.advance(t - clock.monotonic())
        if t >= next_device_tick - 1e-9:
            runtime.host.tick_all()
            next_device_tick += 1.0
        while next_command < len(pending) and pending[next_command][1].offset_s <= t + 1e-9:
            i, c = pending[next_command]
            now = clock.time()
            verdict = runtime.requests.submit(to_request(c, f"sim-{i + 1}", now))
            if verdict.status != "delivered":
                result.acks.append(
                    {
                        "command_id": f"sim-{i + 1}",
                        "status": verdict.status,
                        "reason": verdict.reason,
                        "detail": verdict.detail,
                        "at": to_rfc3339(now),
                        "channel": None,
                    }
                )
            next_command += 1
        runtime.cycle.run_once(k)
        # A zero-length step: nothing settles, each device takes up its new setpoint.
        runtime.host.tick_all()
        runtime.cycle.publish_computed()
        data = runtime.store.snapshot()
        rows.write(data)
        # The row's power flows until the next cycle, as the devices integrate it.
        summary.add(
            data.taken_at,
            period_s,
            data.number("_sum/GridActivePower"),
            {b: data.number(f"{b}/ActivePower") for b in batteries},
        )
        result.rows += 1
        if progress is not None and k % 3600 == 0:
            progress(k / cycles)
    result.summary = summary.result()
    return result


def _ack_record(address: str, sample: Sample) -> dict[str, Any]:
    record = dict(sample.value) if isinstance(sample.value, Mapping) else {"value": sample.value}
    record["channel"] = address
    return record
