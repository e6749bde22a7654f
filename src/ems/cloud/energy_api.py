"""``GET /api/energy``: a site's energy per hour or per UTC day over a range, for the
dashboard's energy charts and mix (issue 17).

Built on the hourly rollups (:mod:`ems.cloud.telemetry.rollup`), which integrate
power per bucket in the database as telemetry is ingested, so a year of hours is
~8,800 rows per channel and nothing is integrated at read time. Days are UTC days
(sums of their hours); the site's local days are the energy report's job
(``/api/reports/energy``). Sign conventions as everywhere: grid > 0 import,
battery > 0 discharging.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.cloud.telemetry.rollup import RollupPoint, RollupReader
from ems.reports.energy import BATTERY, CHANNELS, CONSUMPTION, GRID, PRODUCTION

__all__ = ["Bucket", "build_energy_router", "energy_series"]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_HOUR_S = 3600
_DAY_S = 86_400
#: Longest range per request: a year and a day of hours (a leap year fits).
_MAX_RANGE_S = 367 * _DAY_S
#: The figures of each bucket, in kWh.
FIELDS = (
    "consumed_kwh",
    "generated_kwh",
    "charged_kwh",
    "discharged_kwh",
    "imported_kwh",
    "exported_kwh",
)


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def width_s(self) -> int:
        return _HOUR_S if self is Bucket.HOUR else _DAY_S


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": None}]
    )


def energy_series(
    hours: Mapping[str, Sequence[RollupPoint]], bucket: Bucket
) -> list[dict[str, float]]:
    """Each bucket that holds at least one hourly rollup, in time order, with its
    energies in kWh; ``stored_kwh`` is charged − discharged (what the battery
    gained). A bucket without any sample is absent, not zero."""
    width = bucket.width_s
    acc: dict[int, dict[str, float]] = {}

    def add(channel: str, field_in: str | None, field_out: str | None) -> None:
        for point in hours.get(channel, ()):
            start = (point.bucket_s // width) * width
            row = acc.setdefault(start, dict.fromkeys(FIELDS, 0.0))
            if field_in is not None:
                row[field_in] += point.energy_in_wh / 1000.0
            if field_out is not None:
                row[field_out] += point.energy_out_wh / 1000.0

    add(CONSUMPTION, "consumed_kwh", None)
    add(PRODUCTION, "generated_kwh", None)
    add(BATTERY, "discharged_kwh", "charged_kwh")
    add(GRID, "imported_kwh", "exported_kwh")
    return [
        {"start_s": float(start), **row, "stored_kwh": row["charged_kwh"] - row["discharged_kwh"]}
        for start, row in sorted(acc.items())
    ]


def totals(series: Sequence[Mapping[str, float]]) -> dict[str, float]:
    out = {name: math.fsum(row[name] for row in series) for name in FIELDS}
    out["stored_kwh"] = out["charged_kwh"] - out["discharged_kwh"]
    return out


def build_energy_router(
    store: RollupReader, verify: Callable[[str], Awaitable[Claims]]
) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])
    signed_in = Depends(bearer_auth(verify))

    @router.get("/energy", summary="A site's energy per hour or UTC day over a range (kWh)")
    async def energy(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Query(pattern=_EDGE_ID)],
        start: Annotated[datetime, Query(alias="from")],
        end: Annotated[datetime, Query(alias="to")],
        bucket: Bucket = Bucket.HOUR,
    ) -> dict[str, Any]:
        """Consumed, generated, charged, discharged, stored, imported and exported kWh
        per bucket whose start is in ``[from, to)``; ``from`` is rounded down to
        the bucket. Any role may read; an edge outside the user's grants is a 404."""
        if not user.may_access(edge_id):
            raise HTTPException(404, f"no edge {edge_id!r}")
        if start.tzinfo is None:
            raise _invalid("from", "a time zone is required (e.g. Z)")
        if end.tzinfo is None:
            raise _invalid("to", "a time zone is required (e.g. Z)")
        width = bucket.width_s
        start_s = (math.floor(start.timestamp()) // width) * width
        end_s = end.timestamp()
        if start_s >= end_s:
            raise _invalid("to", "to must be after from")
        if end_s - start_s > _MAX_RANGE_S:
            raise _invalid("to", f"range longer than {_MAX_RANGE_S // _DAY_S} days")
        hours = await store.rollups(edge_id, CHANNELS, _HOUR_S, start_s, end_s)
        series = energy_series(hours, bucket)
        return {
            "edge_id": edge_id,
            "bucket": bucket.value,
            "from": float(start_s),
            "to": end_s,
            "series": series,
            "totals": totals(series),
        }

    return router
