"""An edge's telemetry frame off the wire, decoded once and straight into store rows.

The general decoder (:data:`ems.protocol.EDGE_TO_CLOUD`, pydantic) builds a
model per channel and a ``datetime`` per sample, and turning those into rows
then computed every sample's epoch seconds again: together about half of the
cloud's CPU at 100,000 values/s. A telemetry frame is parsed here by
``json.loads`` and checked in one pass that also builds the rows, with what
repeats shared rather than recomputed:

- a sample time is validated (by the wire's own :data:`SampleTime` type) and
  turned into epoch seconds once per distinct text in the frame (the channels
  of one snapshot share it), not once per channel, and twice;
- a channel address is validated (by :data:`ChannelAddress`) once per process
  and kept, so every frame's rows share one string per address;
- a row is a plain tuple, not a ``NamedTuple`` (a third of the cost).

The fast path accepts only what it is sure the strict frame model accepts.
Anything else (a wrong type, an unknown field, a non-finite float, a frame
that is not telemetry) goes through the general decoder, which either
refuses it with the usual :class:`~ems.protocol.FrameError` (same code, same
detail) or accepts it, in which case its rows are made from the model: the
wire contract is the general decoder's, this is only its quick way in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from ems.cloud.telemetry.convert import rows_from_frame
from ems.cloud.telemetry.model import Row
from ems.protocol import EDGE_TO_CLOUD, ChannelSample, EdgeTelemetry, FrameError
from ems.protocol.types import ChannelAddress, SampleTime, Timestamp

__all__ = ["IngestFrame", "TelemetryDecoder", "WireSample"]

_FRAME_KEYS = frozenset(("type", "seq", "ts", "channels", "backfill"))
_MAX_CHANNELS = 20_000  # EdgeTelemetry's Channels bound
_MAX_TEXT = 256  # ChannelValue's string bound
#: Addresses remembered as valid; past this the memory is cleared and refilled.
_MAX_KNOWN_ADDRESSES = 200_000
_SAMPLE_TIME: TypeAdapter[datetime] = TypeAdapter(SampleTime)
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
_ADDRESS: TypeAdapter[str] = TypeAdapter(ChannelAddress)
#: An edge's latest values: address -> (value as sent, epoch s), as ``Hub.latest`` keeps them.
Latest = dict[str, tuple[object, float]]


@dataclass(frozen=True, slots=True)
class WireSample:
    """One channel's sample as the alarm evaluator and live views read it."""

    v: Any
    t: datetime


class _NotSure(Exception):
    """The fast path cannot vouch for this frame: the general decoder decides."""


@dataclass(slots=True, eq=False)
class IngestFrame:
    """A decoded telemetry frame: what the endpoint needs, the rows to store, and
    (for live views, alarms and latest values) the samples as sent.

    ``channels`` and ``times`` are the frame's own JSON objects; drop the frame
    (keep ``rows``) once those are served, they are several times the rows' size.
    """

    seq: int
    ts: datetime
    backfill: bool
    rows: list[Row]
    channels: Mapping[str, Any]  # address -> {"v": value, "t": text}, or ChannelSample
    times: dict[str, tuple[float, datetime]]  # sample time text -> (epoch s, datetime)

    def samples(self) -> dict[str, ChannelSample]:
        """The channels as the frame model has them (for a live ``telemetry`` frame)."""
        result: dict[str, ChannelSample] = {}
        for address, sample in self.channels.items():
            if isinstance(sample, ChannelSample):
                result[address] = sample
            else:
                at = self.times[sample["t"]][1]
                result[address] = ChannelSample.model_construct(v=sample["v"], t=at)
        return result

    def sample_view(self) -> Mapping[str, WireSample | ChannelSample]:
        """A read-only mapping that makes a sample only for the channels looked up."""
        return _SampleView(self)


class _SampleView(Mapping[str, "WireSample | ChannelSample"]):
    __slots__ = ("_frame",)

    def __init__(self, frame: IngestFrame) -> None:
        self._frame = frame

    def __getitem__(self, address: str) -> WireSample | ChannelSample:
        sample = self._frame.channels[address]
        if isinstance(sample, ChannelSample):
            return sample
        return WireSample(sample["v"], self._frame.times[sample["t"]][1])

    def __iter__(self) -> Iterator[str]:
        return iter(self._frame.channels)

    def __len__(self) -> int:
        return len(self._frame.channels)


class TelemetryDecoder:
    """Decodes what an edge sends: telemetry quickly into :class:`IngestFrame`, every
    other frame (and any telemetry the quick path is not sure of) through
    :data:`EDGE_TO_CLOUD`. One per process; it remembers valid channel addresses.

    ``latest_channels``: the channel names (``Soc`` of ``battery_1/Soc``) whose
    latest values are kept, e.g. those that bound commands; ``None`` keeps every
    channel's. Each kept value costs about 90 bytes per edge for as long as the
    edge is connected, and a command only ever looks up its bounding channels.
    """

    def __init__(self, latest_channels: Collection[str] | None = None) -> None:
        self._addresses: dict[str, str] = {}
        self._latest_channels = None if latest_channels is None else frozenset(latest_channels)
        #: Learnt addresses whose latest values are kept (all of them when not filtered).
        self._kept: set[str] = set()
        self.fast = 0  # frames decoded by the quick path (for tests and benchmarks)
        self.general = 0  # telemetry frames the general decoder had to decide

    def decode(
        self, edge_id: str, raw: str | bytes, latest: Latest | None = None
    ) -> IngestFrame | FrameError | object:
        """An :class:`IngestFrame` for telemetry, else what ``EDGE_TO_CLOUD`` returns.

        ``latest`` (address -> (value, epoch s)) takes each sample of a valid
        telemetry frame that is not older than what it holds (in the same pass,
        as it costs a quarter of the decoding as a pass of its own).
        """
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return EDGE_TO_CLOUD.decode(raw)
        if type(document) is not dict or document.get("type") != "telemetry":
            return EDGE_TO_CLOUD.decode(raw)
        try:
            frame = self._quick(edge_id, document, latest)
        except _NotSure:
            frame = None
        if frame is not None:
            self.fast += 1
            return frame
        self.general += 1
        decoded = EDGE_TO_CLOUD.decode(raw)
        if isinstance(decoded, EdgeTelemetry):
            if latest is not None:
                for address, sample in decoded.channels.items():
                    if not self._keeps(address):
                        continue
                    _keep_newest(latest, address, sample.v, sample.t.timestamp())
            return IngestFrame(
                decoded.seq,
                decoded.ts,
                decoded.backfill,
                cast(list[Row], rows_from_frame(edge_id, decoded.channels)),
                decoded.channels,
                {},
            )
        return decoded

    def _quick(self, edge_id: str, document: dict[str, Any], latest: Latest | None) -> IngestFrame:
        if not document.keys() <= _FRAME_KEYS:
            raise _NotSure
        seq = document.get("seq")
        ts_text = document.get("ts")
        channels = document.get("channels")
        backfill = document.get("backfill", False)
        if (
            type(seq) is not int
            or seq < 0
            or type(ts_text) is not str
            or type(channels) is not dict
            or len(channels) > _MAX_CHANNELS
            or type(backfill) is not bool
        ):
            raise _NotSure
        ts = _parse(_TIMESTAMP, ts_text)
        times: dict[str, tuple[float, datetime]] = {}
        addresses = self._addresses
        kept = self._kept
        rows: list[Row] = []
        append = rows.append
        # Written only once the whole frame is known valid: a refused frame changes nothing.
        newest: list[tuple[str, Any, float]] = []
        for address, sample in channels.items():
            if type(sample) is not dict or len(sample) != 2:
                raise _NotSure
            try:
                v = sample["v"]
                t = sample["t"]
            except KeyError:
                raise _NotSure from None
            channel = addresses.get(address)
            if channel is None:
                channel = self._learn(address)
            when = times.get(t) if type(t) is str else None
            if when is None:
                if type(t) is not str:
                    raise _NotSure
                at = _parse(_SAMPLE_TIME, t)
                when = times[t] = (at.timestamp(), at)
            if latest is not None and channel in kept:
                newest.append((channel, v, when[0]))
            kind = type(v)
            if kind is float:
                if not math.isfinite(v):  # NaN/Infinity: the general decoder's call
                    raise _NotSure
                append((when[0], edge_id, channel, v, None))
            elif kind is int:
                try:
                    number = float(v)
                except OverflowError:  # valid on the wire, beyond a float: no row
                    continue
                append((when[0], edge_id, channel, number, None))
            elif kind is bool:
                append((when[0], edge_id, channel, 1.0 if v else 0.0, None))
            elif kind is str:
                if len(v) > _MAX_TEXT or not (v.isascii() or _utf8(v)):
                    raise _NotSure
                append((when[0], edge_id, channel, None, v))
            elif v is not None:
                raise _NotSure
        if latest is not None:
            for channel, v, time_s in newest:
                _keep_newest(latest, channel, v, time_s)
        return IngestFrame(seq, ts, backfill, rows, channels, times)

    def _learn(self, address: str) -> str:
        try:
            _ADDRESS.validate_python(address, strict=True)
        except ValidationError:
            raise _NotSure from None
        if len(self._addresses) >= _MAX_KNOWN_ADDRESSES:
            self._addresses.clear()
            self._kept.clear()
        self._addresses[address] = address
        if self._keeps(address):
            self._kept.add(address)
        return address

    def _keeps(self, address: str) -> bool:
        names = self._latest_channels
        return names is None or address.partition("/")[2] in names


def _keep_newest(latest: Latest, address: str, value: object, time_s: float) -> None:
    # A backfilled sample is older than a live one: latest values only move forward.
    known = latest.get(address)
    if known is None or time_s >= known[1]:
        latest[address] = (value, time_s)


def _utf8(text: str) -> bool:
    """Encodable as UTF-8: ``json.loads`` admits lone surrogates, the wire decoder does not."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse(adapter: TypeAdapter[datetime], text: str) -> datetime:
    # validate_strings in strict mode is what validate_json does with a JSON string.
    try:
        return adapter.validate_strings(text, strict=True)
    except ValidationError:
        raise _NotSure from None
