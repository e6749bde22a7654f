"""The CSV of a site's run: ``timestamp`` (RFC 3339 UTC) then one column per channel.

Shared by ``ems simulate`` (virtual time) and ``ems edge --standalone --out``
(the live site), so both files have the same columns and read the same way.
The columns are every input and output channel (device channels, ``_sum``
totals, virtual meters, controller status), sorted; the cycle's own timings
(``_cycle/*``) are left out because they measure the host, not the site. An
empty cell is a channel with no value.
"""

from __future__ import annotations

import csv
from typing import TextIO

from ems.dal import Category, ChannelStore, Sample, Snapshot
from ems.timefmt import to_rfc3339

__all__ = ["SiteCsvWriter", "site_columns"]

_LEFT_OUT = "_cycle/"


def site_columns(store: ChannelStore) -> list[str]:
    """The channel columns, in file order, of a site whose channels are all declared."""
    return sorted(
        c.address
        for c in store.channels()
        if c.category in (Category.INPUT, Category.OUTPUT) and not c.address.startswith(_LEFT_OUT)
    )


class SiteCsvWriter:
    """Writes the header at once, then one row per :meth:`write`."""

    def __init__(self, store: ChannelStore, out: TextIO) -> None:
        self.columns = site_columns(store)
        self.rows = 0
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(["timestamp", *self.columns])

    def write(self, snapshot: Snapshot) -> None:
        """One row: the snapshot's time and each column's value."""
        self._writer.writerow(
            [to_rfc3339(snapshot.taken_at), *(_cell(snapshot.get(a)) for a in self.columns)]
        )
        self.rows += 1


def _cell(sample: Sample | None) -> object:
    if sample is None or sample.value is None:
        return ""
    return sample.value
