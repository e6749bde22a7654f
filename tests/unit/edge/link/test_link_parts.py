"""The link's pieces on their own: backoff, endpoints, dispatcher (the uplink: test_link_buffer)."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ems.clock import VirtualClock
from ems.edge.config import load_edge_config
from ems.edge.link import (
    AckOutbox,
    Backoff,
    CloudLink,
    CommandDispatcher,
    cloud_endpoints,
)
from ems.edge.link._wire import utc_datetime
from ems.edge.requests import CommandRequest, Verdict
from ems.edge.runtime import EdgeRuntime
from ems.protocol import CloudToEdgeCommand, EdgeAck, FrameError


# -- backoff ---------------------------------------------------------------------
def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # base 0.5 s, x2, cap 4 s
    runs = []
    for seed in range(300):
        backoff = Backoff(base_s=0.5, factor=2.0, cap_s=4.0, rng=random.Random(seed))
        runs.append([backoff.next_delay() for _ in ceilings])
    for n, ceiling in enumerate(ceilings):
        delays = [run[n] for run in runs]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter: the whole window is used, not just its top or bottom.
        assert min(delays) < 0.1 * ceiling
        assert max(delays) > 0.9 * ceiling


def test_backoff_resets_only_after_a_long_enough_connection() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, reset_after_s=30.0, rng=random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    backoff.connection_ended(uptime_s=2.0)  # refused right after connecting: keep backing off
    assert backoff.attempts == 5
    backoff.connection_ended(uptime_s=30.0)
    assert backoff.attempts == 0
    assert backoff.next_delay() <= 1.0


def test_immediate_backoff_never_waits() -> None:
    backoff = Backoff.immediate()
    assert [backoff.next_delay() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0)
    assert all(0.0 <= backoff.next_delay() <= 30.0 for _ in range(5000))


# -- endpoints -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "ws_url", "http_base"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws/edge", "http://127.0.0.1:8000"),
        ("https://ems.example/", "wss://ems.example/ws/edge", "https://ems.example"),
        ("ws://host:9/ws/edge", "ws://host:9/ws/edge", "http://host:9"),
        ("wss://host/ems", "wss://host/ems/ws/edge", "https://host/ems"),
    ],
)
def test_endpoints_from_the_base_url(url: str, ws_url: str, http_base: str) -> None:
    endpoints = cloud_endpoints(url)
    assert (endpoints.ws_url, endpoints.http_base) == (ws_url, http_base)
    assert endpoints.profiles_url == http_base + "/api/profiles"


@pytest.mark.parametrize("url", ["ftp://host", "host:8000", "http://", "http://h/?x=1"])
def test_bad_cloud_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="cloud URL"):
        cloud_endpoints(url)


# -- dispatcher ------------------------------------------------------------------
class Writer:
    """Stands in for RequestWriter: records submissions, answers with a fixed verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.submitted: list[CommandRequest] = []

    def submit(self, request: CommandRequest) -> Verdict:
        self.submitted.append(request)
        return self.verdict


def _command(clock: VirtualClock) -> CloudToEdgeCommand:
    now = datetime.fromtimestamp(clock.time(), UTC)
    return CloudToEdgeCommand(
        command_id=str(uuid.uuid4()),
        device="battery_1",
        action="set_active_power",
        value=-2500,
        issued_at=now,
        deadline=now + timedelta(seconds=5),
        user="alice",
    )


def _dispatcher(verdict: Verdict) -> tuple[CommandDispatcher, Writer, AckOutbox, VirtualClock]:
    clock = VirtualClock()
    writer = Writer(verdict)
    outbox = AckOutbox(lambda: None)
    return CommandDispatcher(writer.submit, clock, outbox), writer, outbox, clock


def _drain(outbox: AckOutbox) -> list[EdgeAck]:
    out = []
    while (ack := outbox.peek()) is not None:
        out.append(ack)
        outbox.sent()
    return out


def test_dispatcher_hands_the_writer_the_command_as_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher, writer, outbox, clock = _dispatcher(Verdict("delivered"))
    command = _command(clock)
    with caplog.at_level(logging.INFO, logger="ems.audit"):
        dispatcher.handle(command)
    (request,) = writer.submitted
    assert request == CommandRequest(
        command_id=command.command_id,
        device="battery_1",
        action="set_active_power",
        value=-2500,
        issued_at="2026-01-01T00:00:00.000Z",
        deadline="2026-01-01T00:00:05.000Z",
        user="alice",
    )
    (ack,) = _drain(outbox)
    assert (ack.status, ack.reason, ack.at) == ("delivered", None, command.issued_at)
    (record,) = caplog.records
    assert record.event == "edge.received"  # type: ignore[attr-defined]
    assert record.command_id == command.command_id  # type: ignore[attr-defined]


def test_dispatcher_passes_the_writers_refusal_on() -> None:
    dispatcher, _, outbox, clock = _dispatcher(
        Verdict("rejected", "unknown_action", "battery 'battery_1' has no action 'fly'")
    )
    dispatcher.handle(_command(clock))
    (ack,) = _drain(outbox)
    assert (ack.status, ack.reason, ack.detail) == (
        "rejected",
        "unknown_action",
        "battery 'battery_1' has no action 'fly'",
    )


def test_final_acks_are_forwarded_and_local_ones_skipped() -> None:
    dispatcher, _, outbox, _ = _dispatcher(Verdict("delivered"))
    command_id = str(uuid.uuid4())
    final = {
        "command_id": command_id,
        "status": "failed",
        "reason": "revalidation_failed",
        "detail": "x" * 2000,
        "at": "2026-01-01T00:00:01.250Z",
    }
    assert dispatcher.on_final_ack(final) is not None
    assert dispatcher.on_final_ack({**final, "command_id": "cli-1"}) is None
    assert dispatcher.on_final_ack({**final, "status": "pending"}) is None
    assert dispatcher.on_final_ack({"command_id": command_id}) is None
    (ack,) = _drain(outbox)
    assert (ack.command_id, ack.status, ack.reason) == (
        command_id,
        "failed",
        "revalidation_failed",
    )
    assert ack.detail is not None
    assert len(ack.detail) == 1000
    assert ack.at == datetime(2026, 1, 1, 0, 0, 1, 250000, UTC)


def test_unreadable_command_with_an_id_is_rejected_once() -> None:
    dispatcher, _, outbox, _ = _dispatcher(Verdict("delivered"))
    command_id = str(uuid.uuid4())
    error = FrameError("invalid_payload", "value: missing", "command", command_id)
    assert dispatcher.refuse_unreadable(error) is not None
    assert dispatcher.refuse_unreadable(error) is None
    assert dispatcher.refuse_unreadable(FrameError("malformed_json", "not JSON")) is None
    assert [a.status for a in _drain(outbox)] == ["rejected"]


def test_api_key_is_checked_without_echoing_it(tmp_path: Path) -> None:
    runtime = EdgeRuntime(load_edge_config(None), VirtualClock())
    for key in ("", "k" * 257, "secret-with-newline\n"):
        with pytest.raises(ValueError, match="API key") as info:
            CloudLink(runtime, "http://127.0.0.1:1", key, tmp_path)
        assert not key or key.strip() not in str(info.value)


_IDS = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in ("old", "d", "new", "waiting")}
_NAMES = {v: k for k, v in _IDS.items()}


def _ack(name: str, status: str) -> EdgeAck:
    return EdgeAck.model_validate(
        {"type": "ack", "command_id": _IDS[name], "status": status, "at": utc_datetime(0.0)}
    )


def test_final_acks_sent_just_before_a_connection_ended_are_sent_again() -> None:
    """Found by the chaos suite: an "executed" ack the socket took just before its
    cloud process was killed was never read; the watchdog then reported edge_timeout."""
    clock = VirtualClock()
    outbox = AckOutbox(lambda: None, now=clock.monotonic)
    outbox.put(_ack("old", "executed"))
    outbox.put(_ack("d", "delivered"))
    outbox.sent()  # old, at t=0
    outbox.sent()  # d: progress, never sent again
    clock.advance(8.0)
    outbox.put(_ack("new", "failed"))
    outbox.put(_ack("waiting", "executed"))
    outbox.sent()  # new, at t=8; "waiting" is still waiting
    clock.advance(3.0)  # t=11: "old" is out of the 10 s window, "new" is not
    assert outbox.resend_recent(window_s=10.0) == 1
    assert [(_NAMES[a.command_id], a.status) for a in _drain(outbox)] == [
        ("new", "failed"),
        ("waiting", "executed"),
    ]
    assert outbox.resend_recent(window_s=10.0) == 2  # both just sent: kept again


def test_a_set_controller_the_cycle_refused_is_forwarded_rejected() -> None:
    dispatcher, _, outbox, _ = _dispatcher(Verdict("delivered"))
    command_id = str(uuid.uuid4())
    refused = {
        "command_id": command_id,
        "status": "rejected",
        "reason": "invalid_params",
        "detail": "recharge_below_w must be below peak_import_w",
        "at": "2026-01-01T00:00:01.000Z",
    }
    assert dispatcher.on_final_ack(refused) is not None
    (ack,) = _drain(outbox)
    assert (ack.command_id, ack.status, ack.reason) == (command_id, "rejected", "invalid_params")
