"""Virtual meter definitions checked against the site's channels and put in evaluation order.

Everything that can be wrong with a definition is found here, once, at start:
each error is a :class:`~ems.errors.VirtualMeterError` naming the YAML field
and carrying a stable ``reason``. A meter may read another meter's
``<id>/Value``; the meters are ordered so that every meter comes after the
ones it reads, and a loop among them is refused with the loop spelled out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ems.dal import Category, ChannelInfo, parse_address
from ems.edge.site_totals import SUM, SUM_CHANNELS
from ems.edge.virtual_meters.config import VALUE_CHANNEL, VirtualMeterConfig
from ems.errors import InvalidAddress, VirtualMeterError
from ems.profiles import DeviceProfile

__all__ = ["MeterPlan", "plan_meters", "site_channels"]

_FIELD = "virtual_meters"


@dataclass(frozen=True, slots=True)
class MeterPlan:
    """One meter, checked: ``value = factor * (sum(plus) - sum(minus)) + offset``."""

    id: str
    unit: str | None
    plus: tuple[str, ...]
    minus: tuple[str, ...]
    factor: float
    offset: float

    @property
    def address(self) -> str:
        return f"{self.id}/{VALUE_CHANNEL}"


def site_channels(devices: Mapping[str, DeviceProfile]) -> dict[str, ChannelInfo]:
    """Every channel a virtual meter may read before the meters: device channels and ``_sum``."""
    out = {
        f"{device}/{ch.name}": ChannelInfo(f"{device}/{ch.name}", ch.category, ch.unit)
        for device, profile in devices.items()
        for ch in profile.channels.values()
    }
    for name, unit in SUM_CHANNELS.items():
        out[f"{SUM}/{name}"] = ChannelInfo(f"{SUM}/{name}", Category.INPUT, unit)
    return out


def plan_meters(
    meters: Sequence[VirtualMeterConfig],
    channels: Mapping[str, ChannelInfo],
    taken_ids: Collection[str] = (),
) -> list[MeterPlan]:
    """Check ``meters`` against ``channels`` (see :func:`site_channels`); evaluation order.

    ``taken_ids``: ids that already publish channels of their own (controllers).
    """
    index = _check_ids(meters, channels, taken_ids)
    reads: dict[str, list[tuple[str, str]]] = {}  # meter id -> (meter id read, field)
    for i, meter in enumerate(meters):
        reads[meter.id] = []
        for field, address in _inputs(i, meter):
            read = _check_input(field, address, channels, index)
            if read is not None:
                reads[meter.id].append((read, field))
    order = _order(meters, reads, index)
    units: dict[str, str | None] = {}
    plans: dict[str, MeterPlan] = {}
    for meter_id in order:
        i = index[meter_id]
        meter = meters[i]
        unit = _check_units(i, meter, channels, units)
        units[meter_id] = unit
        plans[meter_id] = MeterPlan(
            meter.id, unit, tuple(meter.sum), tuple(meter.minus), meter.factor, meter.offset
        )
    return [plans[m] for m in order]


def _inputs(i: int, meter: VirtualMeterConfig) -> list[tuple[str, str]]:
    """(YAML field, address) of every input of meter ``i``."""
    return [(f"{_FIELD}[{i}].sum[{j}]", a) for j, a in enumerate(meter.sum)] + [
        (f"{_FIELD}[{i}].minus[{j}]", a) for j, a in enumerate(meter.minus)
    ]


def _check_ids(
    meters: Sequence[VirtualMeterConfig],
    channels: Mapping[str, ChannelInfo],
    taken_ids: Collection[str],
) -> dict[str, int]:
    devices = {address.split("/", 1)[0] for address in channels}
    index: dict[str, int] = {}
    for i, meter in enumerate(meters):
        field = f"{_FIELD}[{i}].id"
        if meter.id in index:
            raise VirtualMeterError(
                "duplicate_id",
                field,
                f"duplicate id {meter.id!r} (also {_FIELD}[{index[meter.id]}])",
            )
        if meter.id in devices:
            raise VirtualMeterError("duplicate_id", field, f"{meter.id!r} is already a device id")
        if meter.id in taken_ids:
            raise VirtualMeterError(
                "duplicate_id", field, f"{meter.id!r} is already a controller id"
            )
        index[meter.id] = i
    return index


def _check_input(
    field: str, address: str, channels: Mapping[str, ChannelInfo], meters: Mapping[str, int]
) -> str | None:
    """Refuse an input that is not a known input channel; the meter id it reads, if any."""
    try:
        device, channel = parse_address(address)
    except InvalidAddress as exc:
        raise VirtualMeterError("invalid_address", field, str(exc)) from None
    if device in meters:
        if channel != VALUE_CHANNEL:
            raise VirtualMeterError(
                "unknown_channel",
                field,
                f"virtual meter {device!r} has only the channel {VALUE_CHANNEL!r}, not {channel!r}",
            )
        return device
    known = {a.split("/", 1)[0] for a in channels}
    if device not in known:
        raise VirtualMeterError(
            "unknown_device",
            field,
            f"unknown device {device!r} in {address!r} "
            f"(known: {', '.join(sorted(known | set(meters)))})",
        )
    info = channels.get(address)
    if info is None:
        own = sorted(
            a.split("/", 1)[1]
            for a, i in channels.items()
            if a.startswith(device + "/") and i.category is Category.INPUT
        )
        raise VirtualMeterError(
            "unknown_channel",
            field,
            f"{device!r} has no channel {channel!r} (its inputs: {', '.join(own)})",
        )
    if info.category is not Category.INPUT:
        raise VirtualMeterError(
            "not_an_input",
            field,
            f"{address!r} is an {info.category} channel; virtual meters read inputs",
        )
    return None


def _order(
    meters: Sequence[VirtualMeterConfig],
    reads: Mapping[str, list[tuple[str, str]]],
    index: Mapping[str, int],
) -> list[str]:
    """Depth-first topological order; a loop is refused naming every meter on it."""
    done: set[str] = set()
    order: list[str] = []
    path: list[str] = []  # the meters being visited, outermost first

    def visit(meter_id: str) -> None:
        if meter_id in done:
            return
        path.append(meter_id)
        for read, field in reads[meter_id]:
            if read in path:
                loop = [*path[path.index(read) :], read]
                raise VirtualMeterError(
                    "cycle",
                    field,
                    "virtual meters read each other in a loop: "
                    + " -> ".join(f"{m}/{VALUE_CHANNEL}" for m in loop),
                )
            visit(read)
        path.pop()
        done.add(meter_id)
        order.append(meter_id)

    for meter in meters:
        visit(meter.id)
    return order


def _check_units(
    i: int,
    meter: VirtualMeterConfig,
    channels: Mapping[str, ChannelInfo],
    meter_units: Mapping[str, str | None],
) -> str | None:
    """The meter's unit; its inputs must share one unit, which it keeps unless scaled."""
    first: tuple[str, str | None] | None = None  # (field, unit) of the first input
    for field, address in _inputs(i, meter):
        device = address.split("/", 1)[0]
        unit = meter_units[device] if device in meter_units else channels[address].unit
        if first is None:
            first = (field, unit)
        elif unit != first[1]:
            raise VirtualMeterError(
                "unit_mismatch",
                field,
                f"{address!r} is in {unit!r} but {first[0]} is in {first[1]!r}; "
                "only channels of one unit add up",
            )
    inputs_unit = None if first is None else first[1]
    if meter.unit is None:
        return inputs_unit
    if meter.factor == 1.0 and meter.unit != inputs_unit:
        raise VirtualMeterError(
            "unit_mismatch",
            f"{_FIELD}[{i}].unit",
            f"{meter.unit!r} but the inputs are in {inputs_unit!r} and no factor converts them",
        )
    return meter.unit
