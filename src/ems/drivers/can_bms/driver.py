"""``can_bms``: a battery's BMS that broadcasts on a CAN bus, decoded with its DBC file.

The BMS talks unasked, so the bus is read on the reader's own thread and a
poll only judges what has arrived: the latest value of every signal and when
its frame came; a channel is published when a new frame brought its value
(so its timestamp stops when its message stops). No frame of the BMS for ``silence_s`` is no answer
(:class:`~ems.errors.DeviceTimeout`: the host sets ``CommunicationFailed`` and
the inputs go stale); a poll of a silent bus first waits up to ``timeout_s``
for a frame, so a BMS that comes back is seen again without a restart. A
signal older than ``silence_s`` or whose latest frame did not decode is
refused (its channels stay stale), never passed off as new.

The BMS bounds the battery: ``MaxChargePower`` and ``MaxDischargePower`` are
its current limits times the pack voltage. The driver is read-only: a BMS takes
no power setpoint, so ``SetActivePower`` goes to the inverter's own device
and a command sent to this one fails with ``device_write_failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ems.dal import Value
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading, register_driver
from ems.drivers.can_bms.config import CanBmsConfig
from ems.drivers.can_bms.dbc import BmsSignals, find_dbc, load_bms_signals
from ems.drivers.can_bms.frames import FrameCache, FrameState
from ems.drivers.can_bms.reader import BusFactory, BusReader
from ems.errors import ConfigError, DeviceRefused, DeviceTimeout
from ems.profiles import DeviceProfile

if TYPE_CHECKING:
    import can

__all__ = ["CHANNELS", "CanBmsDriver", "ChannelSpec"]

Quantities = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel computed from the BMS's quantities (keys of ``SignalNames``)."""

    name: str
    unit: str | None
    needs: tuple[str, ...]
    value_fn: Callable[[Quantities], float]


def _one(key: str) -> Callable[[Quantities], float]:
    return lambda q: q[key]


#: What a BMS gives, channel by channel. Limits may come negative from a BMS
#: that signs its charge limit as a current; the profile wants magnitudes.
CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("Soc", "%", ("soc_pct",), _one("soc_pct")),
    ChannelSpec("Voltage", "V", ("voltage_v",), _one("voltage_v")),
    ChannelSpec("Current", "A", ("current_a",), _one("current_a")),
    ChannelSpec("MinCellTemperature", "°C", ("min_cell_temp_c",), _one("min_cell_temp_c")),
    ChannelSpec("MaxCellTemperature", "°C", ("max_cell_temp_c",), _one("max_cell_temp_c")),
    ChannelSpec("MaxChargeCurrent", "A", ("charge_limit_a",), lambda q: abs(q["charge_limit_a"])),
    ChannelSpec(
        "MaxDischargeCurrent", "A", ("discharge_limit_a",), lambda q: abs(q["discharge_limit_a"])
    ),
    ChannelSpec(
        "MaxChargePower",
        "W",
        ("charge_limit_a", "voltage_v"),
        lambda q: abs(q["charge_limit_a"]) * max(q["voltage_v"], 0.0),
    ),
    ChannelSpec(
        "MaxDischargePower",
        "W",
        ("discharge_limit_a", "voltage_v"),
        lambda q: abs(q["discharge_limit_a"]) * max(q["voltage_v"], 0.0),
    ),
)
#: Only with ``active_power_from_dc``: the pack's DC power, > 0 discharging.
DC_POWER = ChannelSpec(
    "ActivePower", "W", ("voltage_v", "current_a"), lambda q: q["voltage_v"] * q["current_a"]
)
#: The battery profile's channels this driver cannot do without.
REQUIRED = ("Soc", "MaxChargePower", "MaxDischargePower")


@register_driver
class CanBmsDriver(Driver):
    type_name = "can_bms"
    config_model: ClassVar[type[DriverConfig]] = CanBmsConfig

    def __init__(
        self,
        device_id: str,
        config: DriverConfig,
        profile: DeviceProfile,
        context: DriverContext,
        open_bus: BusFactory | None = None,
    ) -> None:
        super().__init__(device_id, config, profile, context)
        assert isinstance(config, CanBmsConfig)
        self._cfg = config
        missing = [c for c in REQUIRED if c not in profile.channels]
        if missing:
            raise ConfigError(
                f"profile: a BMS fills a battery's {', '.join(REQUIRED)}; "
                f"profile {profile.type} lacks {', '.join(missing)}"
            )
        self.signals: BmsSignals = load_bms_signals(
            find_dbc(config.dbc, context.config_dir), config.signals
        )
        specs = CHANNELS + ((DC_POWER,) if config.active_power_from_dc else ())
        self._specs = tuple(s for s in specs if all(n in self.signals.by_quantity for n in s.needs))
        if config.active_power_from_dc and DC_POWER not in self._specs:
            raise ConfigError("params.active_power_from_dc: needs params.signals.current_a")
        self.frames = FrameCache(self.signals.messages(), context.clock)
        # Channel -> number of the newest frame behind its last published value.
        self._published_seq: dict[str, int] = {}
        self._reader = BusReader(open_bus or self._open_bus, self.frames, device_id)

    def _open_bus(self) -> can.BusABC:
        import can  # here, not at the top: see the package's docstring

        cfg = self._cfg
        if cfg.bitrate is None:  # socketcan's bitrate is the link's (set with `ip link`)
            return can.Bus(interface=cfg.interface, channel=cfg.channel)
        return can.Bus(interface=cfg.interface, channel=cfg.channel, bitrate=cfg.bitrate)

    def extra_channels(self) -> Mapping[str, str | None]:
        return {s.name: s.unit for s in self._specs if s.name not in self.profile.channels}

    def describe(self) -> Mapping[str, Value]:
        cfg = self._cfg
        return {"interface": cfg.interface, "channel": cfg.channel, "dbc": self.signals.file}

    def connect(self) -> None:
        """Open the bus and start listening, if not yet; ``read`` does it too.

        Raises :class:`~ems.errors.DeviceTimeout` when the interface cannot be opened.
        """
        if not self._reader.is_open:
            self._reader.open()

    def read(self) -> Reading:
        self.connect()
        state = self.frames.state()
        if state.bus_error is None and not self._heard(state):
            # A silent bus: wait for a frame as a request waits for its answer.
            self.frames.wait_for_frames(state.frames + 1, self._cfg.timeout_s)
            state = self.frames.state()
        if state.bus_error is not None:
            raise DeviceTimeout(f"CAN bus {self._cfg.channel} failed: {state.bus_error}")
        if not self._heard(state):
            raise DeviceTimeout(
                f"no frame from the BMS on {self._cfg.interface}:{self._cfg.channel} "
                f"for over {self._cfg.silence_s} s"
            )
        return self._reading(state)

    def _heard(self, state: FrameState) -> bool:
        last_s = state.last_rx_s
        return last_s is not None and self.context.clock.monotonic() - last_s <= self._cfg.silence_s

    def _reading(self, state: FrameState) -> Reading:
        now_s = self.context.clock.monotonic()
        fresh: dict[str, float] = {}
        seq: dict[str, int] = {}
        problems: dict[str, str] = {}
        for quantity, ref in self.signals.by_quantity.items():
            frame_id = ref.message.frame_id
            got = state.values.get((frame_id, ref.signal))
            if frame_id in state.errors:
                problems[quantity] = f"{ref.message.name}: {state.errors[frame_id]}"
            elif got is None:
                problems[quantity] = f"{ref} not received yet"
            elif now_s - got.rx_s > self._cfg.silence_s:
                problems[quantity] = f"{ref}: no frame for {now_s - got.rx_s:.1f} s"
            else:
                value = got.value
                if quantity == "current_a" and self._cfg.current_positive == "charging":
                    value = -value
                fresh[quantity], seq[quantity] = value, got.seq
        if "soc_pct" in fresh and not 0.0 <= fresh["soc_pct"] <= 100.0:
            problems["soc_pct"] = f"SOC {fresh.pop('soc_pct')} % is outside 0..100"
        reading = Reading()
        for spec in self._specs:
            why = [problems[n] for n in spec.needs if n in problems]
            if why:
                reading.refused[spec.name] = "; ".join(why)
                continue
            # Only what a new frame brought: a value is stamped when it is published,
            # so republishing an old one would pass it off as new.
            newest = max(seq[n] for n in spec.needs)
            if newest > self._published_seq.get(spec.name, 0):
                reading.values[spec.name] = spec.value_fn(fresh)
                self._published_seq[spec.name] = newest
        if self._cfg.capacity_wh is not None:
            reading.values["Capacity"] = self._cfg.capacity_wh
        return reading

    def write(self, channel: str, value: Value) -> None:
        # Never called by the host (writable() is empty); here for a direct caller.
        raise DeviceRefused(f"{channel}: a BMS takes no setpoints (can_bms is read-only)")

    def writable(self) -> frozenset[str]:
        return frozenset()

    def close(self) -> None:
        self._reader.close()
