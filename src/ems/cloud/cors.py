"""CORS for the dashboard's origins only, saying nothing to any other origin."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response

__all__ = ["DashboardCors"]


class DashboardCors(CORSMiddleware):
    """Starlette's CORS, except that a preflight from a foreign origin gets a bare 400.

    Starlette lists the allowed methods and headers even when it refuses the
    origin; harmless to browsers (no ``Access-Control-Allow-Origin``), but it
    tells a prober what the API takes. Here a foreign origin learns nothing.
    """

    def preflight_response(self, request_headers: Headers) -> Response:
        if not self.is_allowed_origin(request_headers["origin"]):
            return PlainTextResponse(
                "Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"}
            )
        return super().preflight_response(request_headers)
