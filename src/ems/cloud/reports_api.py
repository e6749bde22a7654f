"""``GET /api/reports/energy`` (DESIGN 15): a site's energy report for a local day, week or
month, as JSON, CSV or PDF, computed from the telemetry store's 15-min rollups.

Any role may read; an edge outside the user's grants answers 404, as every
other ``/api`` route does. The site's time zone, tariff and carbon factors come
from ``EMS_REPORT_SITES`` (:mod:`ems.reports.site`): the edge's YAML does not
reach the cloud.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from ems.cloud.api import no_unknown_query_params
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.telemetry.rollup import RollupReader
from ems.reports import Period, PeriodKind, ReportSite, build_report, render_csv, render_pdf

__all__ = ["build_reports_router"]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_UTC = ZoneInfo("UTC")


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    PDF = "pdf"


def build_reports_router(
    store: RollupReader,
    verify: Callable[[str], Awaitable[Claims]],
    sites: Mapping[str, ReportSite],
) -> APIRouter:
    router = APIRouter(prefix="/api/reports", dependencies=[Depends(no_unknown_query_params)])

    async def bearer(request: Request) -> Claims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            return await verify(token)
        except AuthError as exc:
            raise HTTPException(401, exc.reason, {"WWW-Authenticate": "Bearer"}) from None

    signed_in = Depends(bearer)

    @router.get(
        "/energy",
        summary="A site's energy report for a local day, week or month",
        responses={
            200: {
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
                "description": "The report in the requested format",
            },
            404: {"description": "No such edge, or not granted to the user"},
        },
    )
    async def energy(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Query(pattern=_EDGE_ID)],
        period: PeriodKind,
        start: dt.date,
        format: ReportFormat = ReportFormat.JSON,  # the DESIGN's parameter name
        threshold_w: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    ) -> Response:
        """Energy (kWh), cost at the site's tariff, the five highest 15-min mean imports per
        billing month, estimated savings (without battery; against a flat import
        threshold, ``threshold_w`` or the site's ``baseline_threshold_w``) and
        carbon avoided. ``start`` is a local date (a month report covers the month
        that holds it). See ``ems.reports.energy`` for every definition."""
        if not user.may_access(edge_id):
            raise HTTPException(404, f"no edge {edge_id!r}")
        site = sites.get(edge_id) or ReportSite(edge_id, _UTC, None, None, None, None)
        if threshold_w is not None:
            site = dataclasses.replace(site, baseline_threshold_w=threshold_w)
        report = await build_report(store, edge_id, Period.of(period, start, site.timezone), site)
        name = f"energy-{edge_id}-{period.value}-{start.isoformat()}"
        if format is ReportFormat.CSV:
            return Response(
                render_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        if format is ReportFormat.PDF:
            return Response(
                render_pdf(report),
                media_type="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
            )
        # The chart rows too, so a dashboard draws the same bars as the PDF.
        return Response(
            json.dumps({**report.data, "chart": report.chart}), media_type="application/json"
        )

    return router
