"""OpenADR events as import limits over time, and whether the site can honour them.

Signal mapping (what utilities send for load shed and import caps):

* ``LOAD_DISPATCH`` / ``setpoint``: the payload is the site's import limit [kW];
* ``LOAD_DISPATCH`` / ``delta``: the payload is a reduction [kW] from the import at
  the moment the event arrived (the baseline);
* ``LOAD_CONTROL`` / ``x-loadControlCapacity``: the payload is the share (0–1) of
  the baseline the site may import;
* ``SIMPLE`` / ``level`` (the OpenADR 2.0a/b "simple" program): levels 1, 2, 3
  map to ``simple_import_limits_w``; level 0 is no limit.

Anything else is refused (``unsupported_signal``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Decision", "ImportLimit", "SiteView", "decide", "limits_of"]


@dataclass(frozen=True, slots=True)
class ImportLimit:
    event_id: str
    start_s: float
    end_s: float
    limit_w: float


@dataclass(frozen=True, slots=True)
class SiteView:
    """What the cycle last saw, published for the VEN's thread (read as one object)."""

    ts: float
    grid_w: float  # > 0 import
    net_import_w: float  # import with the battery idle
    usable_wh: float  # energy the battery can still deliver (AC)
    max_discharge_w: float


@dataclass(frozen=True, slots=True)
class Decision:
    event_id: str
    opt: str  # "optIn" | "optOut"
    reason: str  # lower_snake code: participating, insufficient_energy, ...
    detail: str
    limits: tuple[ImportLimit, ...] = ()


class UnsupportedSignal(ValueError):
    pass


def _signal_limit_w(
    name: str, kind: str, payload: float, baseline_w: float, simple_w: Sequence[float]
) -> float | None:
    if name == "LOAD_DISPATCH" and kind == "setpoint":
        return payload * 1000.0
    if name == "LOAD_DISPATCH" and kind == "delta":
        return baseline_w - payload * 1000.0
    if name == "LOAD_CONTROL" and kind == "x-loadControlCapacity":
        return max(baseline_w, 0.0) * payload
    if name in ("SIMPLE", "simple") and kind == "level":
        level = round(payload)
        if level == 0:
            return None
        if 1 <= level <= 3:
            return simple_w[level - 1]
    raise UnsupportedSignal(f"{name}/{kind} payload {payload:g}")


def limits_of(
    event: Mapping[str, Any], baseline_w: float, simple_w: Sequence[float]
) -> tuple[ImportLimit, ...]:
    """The import limits an openleadr event dict asks for, in time order (raises
    :class:`UnsupportedSignal`, or ``KeyError``/``TypeError`` for a malformed event)."""
    event_id = str(event["event_descriptor"]["event_id"])
    period_start: datetime = event["active_period"]["dtstart"]
    signals = event["event_signals"]
    if isinstance(signals, Mapping):
        signals = signals["event_signals"]
    out: list[ImportLimit] = []
    for signal in signals:
        at = period_start
        for interval in signal["intervals"]:
            start = interval.get("dtstart") or at
            duration: timedelta = interval["duration"]
            at = start + duration
            limit_w = _signal_limit_w(
                str(signal["signal_name"]),
                str(signal["signal_type"]),
                float(interval["signal_payload"]),
                baseline_w,
                simple_w,
            )
            if limit_w is not None:
                out.append(
                    ImportLimit(event_id, start.timestamp(), at.timestamp(), max(limit_w, 0.0))
                )
    return tuple(sorted(out, key=lambda lim: lim.start_s))


def decide(
    event: Mapping[str, Any],
    view: SiteView | None,
    simple_w: Sequence[float],
    energy_margin_pct: float,
) -> Decision:
    """Opt in when the battery has the power and energy to keep the import under every
    limit, assuming the net import stays where it is now; else opt out with the reason."""
    try:
        event_id = str(event["event_descriptor"]["event_id"])
    except (KeyError, TypeError):
        return Decision("?", "optOut", "malformed_event", "no event id")
    if view is None:
        return Decision(event_id, "optOut", "no_site_data", "the cycle has not run yet")
    try:
        limits = limits_of(event, view.net_import_w, simple_w)
    except UnsupportedSignal as err:
        return Decision(event_id, "optOut", "unsupported_signal", str(err))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return Decision(event_id, "optOut", "malformed_event", f"{type(err).__name__}: {err}")
    need_wh = 0.0
    for lim in limits:
        need_w = max(view.net_import_w - lim.limit_w, 0.0)
        if need_w > view.max_discharge_w:
            return Decision(
                event_id,
                "optOut",
                "insufficient_power",
                f"needs {need_w:.0f} W, the battery gives {view.max_discharge_w:.0f} W",
            )
        need_wh += need_w * (lim.end_s - lim.start_s) / 3600.0
    with_margin_wh = need_wh * (1.0 + energy_margin_pct / 100.0)
    if with_margin_wh > view.usable_wh:
        return Decision(
            event_id,
            "optOut",
            "insufficient_energy",
            f"needs {with_margin_wh:.0f} Wh with margin, the battery holds {view.usable_wh:.0f} Wh",
        )
    return Decision(event_id, "optIn", "participating", f"needs {need_wh:.0f} Wh", limits)
