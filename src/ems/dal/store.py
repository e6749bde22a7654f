"""The channel store: a thread-safe dictionary of timestamped channels.

Producers (device threads, the dispatcher) write; consumers (the cycle, the
uplink) read one consistent :meth:`ChannelStore.snapshot`. Every write and every
snapshot happens under one lock, and stored values are immutable, so a
snapshot is never torn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from ems.clock import Clock
from ems.dal.address import Category, category_of_command_channel, parse_address
from ems.dal.sample import Sample, Value, freeze
from ems.errors import InvalidAddress, UnknownChannel

__all__ = ["ChannelInfo", "ChannelStore", "Snapshot", "Watcher"]

#: Called with (address, sample) for every write under a watched prefix. It runs
#: while the store lock is held, so writes reach it in order: it must be quick
#: and must not write to the store (hand the sample to a queue instead).
Watcher = Callable[[str, Sample], None]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    address: str
    category: Category
    unit: str | None = None


class Snapshot(Mapping[str, Sample]):
    """An immutable, consistent view of channels taken at one instant."""

    __slots__ = ("_data", "taken_at")

    def __init__(self, data: dict[str, Sample], taken_at: float) -> None:
        self._data = data
        self.taken_at = taken_at  # UTC epoch seconds

    def __getitem__(self, address: str) -> Sample:
        return self._data[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, address: str, default: Sample | None = None) -> Sample | None:  # type: ignore[override]
        return self._data.get(address, default)  # faster than the Mapping mixin

    def extended(self, samples: Mapping[str, Sample]) -> Snapshot:
        """A new snapshot with ``samples`` added (or replacing), same ``taken_at``."""
        data = self._data.copy()
        data.update(samples)
        return Snapshot(data, self.taken_at)

    def value(self, address: str, default: Value = None) -> Value:
        sample = self._data.get(address)
        return default if sample is None else sample.value

    def number(self, address: str) -> float | None:
        """The value as a float, or ``None`` when missing or not numeric."""
        sample = self._data.get(address)
        if sample is None or isinstance(sample.value, bool):
            return None
        v = sample.value
        return float(v) if isinstance(v, int | float) else None

    def age_s(self, address: str, now: float) -> float | None:
        """Seconds since the channel was last set, or ``None`` if it never was."""
        sample = self._data.get(address)
        return None if sample is None else now - sample.ts


class ChannelStore:
    """Thread-safe store of declared channels.

    A channel must be declared (with its category) before it is written, so a
    typo in an address fails loudly instead of creating a phantom channel.
    Request (``ui_requests/…``) and ack (``ack/…``) channels are recognised by
    their prefix.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, Sample] = {}
        # The same samples again, per category, so a filtered snapshot is a few
        # dict copies under the lock instead of a Python loop over every channel.
        self._by_category: dict[Category, dict[str, Sample]] = {c: {} for c in Category}
        self._home: dict[str, dict[str, Sample]] = {}  # address -> its category's dict
        self._info: dict[str, ChannelInfo] = {}
        self._watchers: list[tuple[str, Watcher]] = []
        self._routes: dict[str, list[Watcher]] = {}  # address -> its watchers (a cache)

    # -- declaration -----------------------------------------------------
    def declare(self, address: str, category: Category, unit: str | None = None) -> None:
        """Declare a channel; declaring it again with the same category updates its unit."""
        parse_address(address)
        implied = category_of_command_channel(address)
        if implied is not None and implied is not category:
            raise InvalidAddress(f"{address!r} is a {implied} channel, not {category}")
        if implied is None and category in (Category.REQUEST, Category.ACK):
            raise InvalidAddress(f"{category} channels live under their prefix, not {address!r}")
        with self._lock:
            known = self._info.get(address)
            if known is not None and known.category is not category:
                raise InvalidAddress(f"{address!r} already declared as {known.category}")
            self._info[address] = ChannelInfo(address, category, unit)
            self._home[address] = self._by_category[category]

    def remove(self, addresses: Iterable[str]) -> None:
        """Forget channels (a device taken out by a pushed config): their values leave
        every later snapshot, and a write to one fails as to a channel never declared."""
        with self._lock:
            for address in addresses:
                self._info.pop(address, None)
                self._data.pop(address, None)
                home = self._home.pop(address, None)
                if home is not None:
                    home.pop(address, None)
                self._routes.pop(address, None)

    def info(self, address: str) -> ChannelInfo:
        try:
            return self._info[address]
        except KeyError:
            raise self._unknown(address) from None

    def channels(self, category: Category | None = None) -> list[ChannelInfo]:
        with self._lock:
            infos = list(self._info.values())
        return [i for i in infos if category is None or i.category is category]

    # -- writes ----------------------------------------------------------
    def set_channel(self, address: str, value: Value, ts: float | None = None) -> None:
        """Set one channel; ``ts`` (UTC epoch seconds) defaults to now."""
        if address not in self._info:
            raise self._unknown(address)
        sample = Sample(freeze(value), self._clock.time() if ts is None else ts)
        with self._lock:
            self._data[address] = sample
            self._home[address][address] = sample
            if self._watchers:
                self._notify(address, sample)

    def set_channels(self, values: Mapping[str, Value], ts: float | None = None) -> None:
        """Set several channels atomically with one timestamp."""
        for address in values:
            if address not in self._info:
                raise self._unknown(address)
        stamp = self._clock.time() if ts is None else ts
        samples = [(a, Sample(freeze(v), stamp)) for a, v in values.items()]
        with self._lock:
            # Store every sample before notifying, so a watcher that raises cannot
            # leave the group half-written.
            self._data.update(samples)
            home = self._home
            for address, sample in samples:
                home[address][address] = sample
            if self._watchers:
                routes = self._routes
                for address, sample in samples:
                    callbacks = routes.get(address)
                    if callbacks is None:
                        callbacks = self._route(address)
                    for callback in callbacks:
                        callback(address, sample)

    def swap(self, address: str, value: Value, ts: float | None = None) -> Sample | None:
        """Set a channel and return the sample it replaced, in one atomic step."""
        if address not in self._info:
            raise self._unknown(address)
        sample = Sample(freeze(value), self._clock.time() if ts is None else ts)
        with self._lock:
            old = self._data.get(address)
            self._data[address] = sample
            self._home[address][address] = sample
            if self._watchers:
                self._notify(address, sample)
        return old

    def compare_and_set(
        self,
        address: str,
        predicate: Callable[[Sample | None], bool],
        value: Value,
        ts: float | None = None,
    ) -> bool:
        """Set the channel only if ``predicate(current sample)`` holds; atomic."""
        if address not in self._info:
            raise self._unknown(address)
        sample = Sample(freeze(value), self._clock.time() if ts is None else ts)
        with self._lock:
            if not predicate(self._data.get(address)):
                return False
            self._data[address] = sample
            self._home[address][address] = sample
            if self._watchers:
                self._notify(address, sample)
        return True

    # -- reads -----------------------------------------------------------
    def get_channel(self, address: str) -> Sample | None:
        """The latest sample, or ``None`` if the channel was declared but never set."""
        if address not in self._info:
            raise self._unknown(address)
        return self._data.get(address)  # a single dict read is atomic under the GIL

    def snapshot(self, categories: Iterable[Category] | None = None) -> Snapshot:
        """One consistent view of all channels (or those of ``categories``)."""
        if categories is None:
            with self._lock:
                data = self._data.copy()
            return Snapshot(data, self._clock.time())
        data = {}
        with self._lock:
            for category in frozenset(categories):
                data.update(self._by_category[category])
        return Snapshot(data, self._clock.time())

    # -- watching --------------------------------------------------------
    def watch(self, prefix: str, callback: Watcher) -> Callable[[], None]:
        """Call ``callback`` for every write to an address starting with ``prefix``.

        Returns a function that stops watching.
        """
        entry = (prefix, callback)
        with self._lock:
            self._watchers = [*self._watchers, entry]
            self._routes.clear()

        def unwatch() -> None:
            with self._lock:
                self._watchers = [w for w in self._watchers if w is not entry]
                self._routes.clear()

        return unwatch

    def _notify(self, address: str, sample: Sample) -> None:
        callbacks = self._routes.get(address)
        if callbacks is None:
            callbacks = self._route(address)
        for callback in callbacks:
            callback(address, sample)

    def _route(self, address: str) -> list[Watcher]:
        """The watchers an address reaches, worked out once per address (lock held)."""
        callbacks = [cb for prefix, cb in self._watchers if address.startswith(prefix)]
        self._routes[address] = callbacks
        return callbacks

    def _unknown(self, address: str) -> Exception:
        parse_address(address)  # a malformed address gets the more precise error
        return UnknownChannel(f"channel {address!r} was never declared")
