"""The latest value of every listened signal, with the time its frame arrived.

Filled by the bus's reader thread, read by the device's poll: both sides go
through one lock, and a poll takes a :class:`FrameState` copy so it judges one
consistent view. Frames of messages nobody mapped (other nodes on a shared bus)
are ignored; a frame of a mapped message that does not decode is remembered as
that message's error until a good one replaces it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ems.clock import Clock

if TYPE_CHECKING:
    import can
    from cantools.database.can import Message

__all__ = ["FrameCache", "FrameState", "Received"]


@dataclass(frozen=True, slots=True)
class Received:
    value: float  # scaled by the DBC, in the signal's unit
    rx_s: float  # monotonic time its frame arrived [s]
    seq: int  # its frame's number among the mapped frames (1, 2, …): which is newer


@dataclass(frozen=True, slots=True)
class FrameState:
    """One consistent view for one poll."""

    values: dict[tuple[int, str], Received]  # (frame id, signal) -> latest
    errors: dict[int, str]  # frame id -> why its latest frame did not decode
    last_rx_s: float | None  # latest frame of a mapped message, good or bad [s]
    frames: int  # frames of mapped messages so far
    bus_error: str | None  # the bus failed under the reader (it stopped)


class FrameCache:
    """Decodes frames of the given messages as they arrive (any thread)."""

    def __init__(self, messages: Mapping[int, Message], clock: Clock) -> None:
        self._messages = dict(messages)
        self._clock = clock
        self._cond = threading.Condition()
        self._values: dict[tuple[int, str], Received] = {}
        self._errors: dict[int, str] = {}
        self._last_rx_s: float | None = None
        self._frames = 0
        self._bus_error: str | None = None
        #: Frames of mapped messages that failed to decode, cumulative.
        self.bad_frames = 0

    def on_frame(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        message = self._messages.get(msg.arbitration_id)
        if message is None or message.is_extended_frame != msg.is_extended_id:
            return
        rx_s = self._clock.monotonic()
        decoded: Mapping[str, object] | None = None
        error = ""
        try:
            decoded = message.decode_simple(bytes(msg.data), decode_choices=False)
        except Exception as exc:  # cantools' DecodeError, ValueError, bitstruct's errors
            error = f"frame 0x{msg.arbitration_id:x} did not decode: {exc}"
        with self._cond:
            self._frames += 1
            self._last_rx_s = rx_s
            if decoded is None:
                self.bad_frames += 1
                self._errors[message.frame_id] = error
            else:
                self._errors.pop(message.frame_id, None)
                for name, value in decoded.items():
                    # Multiplexed frames carry some signals only; choices stay numbers.
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        self._values[(message.frame_id, name)] = Received(
                            float(value), rx_s, self._frames
                        )
            self._cond.notify_all()

    def on_bus_error(self, why: str) -> None:
        with self._cond:
            self._bus_error = why
            self._cond.notify_all()

    def clear_bus_error(self) -> None:
        with self._cond:
            self._bus_error = None

    def state(self) -> FrameState:
        with self._cond:
            return FrameState(
                dict(self._values),
                dict(self._errors),
                self._last_rx_s,
                self._frames,
                self._bus_error,
            )

    def wait_for_frames(self, count: int, timeout_s: float) -> bool:
        """Block until ``count`` mapped frames have arrived in all (or the bus failed).

        The poll waits here on a silent bus, as a request waits for an answer;
        tests wait here for the frames they sent to land.
        """
        with self._cond:
            return self._cond.wait_for(
                lambda: self._frames >= count or self._bus_error is not None, timeout_s
            ) and (self._frames >= count)
