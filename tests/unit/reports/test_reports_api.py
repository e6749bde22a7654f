"""``GET /api/reports/energy`` over the SQLite store: formats, grants, bad input, and a
sites file that brings the edge's tariff and zone to the cloud."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
import pytest_asyncio
import yaml
from fastapi import FastAPI
from report_site_data import EDGE, MARCH_START_S, rows, samples, tariff_config

from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.reports_api import build_reports_router
from ems.cloud.telemetry import SqliteTelemetryStore
from ems.errors import ConfigError
from ems.reports import load_sites_file

GRANTED = {"Authorization": "Bearer granted"}
OTHER = {"Authorization": "Bearer other"}


async def verify(token: str) -> Claims:
    now = time.time()
    edges = {"granted": frozenset({EDGE}), "other": frozenset({"site-2"})}.get(token)
    if edges is None:
        raise AuthError("invalid_token", "not a token")
    return Claims("vic", "viewer", 2, now + 300, now, str(uuid.uuid4()), edges)


def sites_file(folder: Path) -> Path:
    (folder / "mix.csv").write_text(
        "timestamp,g_per_kwh\n2026-03-01T00:00:00Z,400\n2026-03-01T12:00:00Z,200\n",
        encoding="utf-8",
    )
    body = {
        EDGE: {
            "timezone": "Europe/Berlin",
            "tariff": tariff_config().model_dump(by_alias=True, exclude_none=True),
            "carbon": {"csv": "mix.csv", "column": "g_per_kwh"},
        }
    }
    path = folder / "sites.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = SqliteTelemetryStore(tmp_path / "telemetry.sqlite3")
    await store.start()
    await store.write(rows(samples(MARCH_START_S, MARCH_START_S + 2 * 86_400)))
    app = FastAPI()
    app.include_router(build_reports_router(store, verify, load_sites_file(sites_file(tmp_path))))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as c:
        yield c
    await store.close()


URL = "/api/reports/energy"
QUERY = {"edge_id": EDGE, "period": "day", "start": "2026-03-01"}


@pytest.mark.asyncio
async def test_json_csv_and_pdf(client: httpx.AsyncClient) -> None:
    r = await client.get(URL, params=QUERY, headers=GRANTED)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"]["timezone"] == "Europe/Berlin"
    assert body["period"]["start"] == "2026-02-28T23:00:00.000Z"
    assert body["cost"]["currency"] == "EUR"
    assert body["carbon"]["source"] == "mix.csv (g_per_kwh, gCO2/kWh)"
    assert body["savings"]["flat_threshold"] is None
    assert len(body["peaks"][0]["intervals"]) == 5

    r = await client.get(
        URL, params={**QUERY, "format": "csv", "threshold_w": 2000}, headers=GRANTED
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    table, *sections = r.text.split("\n\n")
    lines = table.splitlines()
    assert len(lines) == 1 + 24 + 1
    assert lines[1].startswith("2026-03-01T00:00:00+01:00,")
    assert [s.split(",", 1)[0] for s in sections] == ["power_quality", "anomalies"]

    r = await client.get(URL, params={**QUERY, "format": "pdf"}, headers=GRANTED)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert len(pdfium.PdfDocument(r.content)) == 2


@pytest.mark.asyncio
async def test_grants_and_bad_input(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL, params=QUERY)).status_code == 401
    r = await client.get(URL, params=QUERY, headers=OTHER)
    assert r.status_code == 404  # as if it did not exist
    for bad, field in [
        ({"period": "year"}, "period"),
        ({"start": "2026-13-01"}, "start"),
        ({"format": "xls"}, "format"),
        ({"edge_id": "Site 1"}, "edge_id"),
        ({"threshold_w": "-5"}, "threshold_w"),
        ({"edge": EDGE}, "edge"),  # unknown parameter
    ]:
        r = await client.get(URL, params={**QUERY, **bad}, headers=GRANTED)
        assert r.status_code == 422, (bad, r.text)
        assert [e["loc"][-1] for e in r.json()["detail"]] == [field]
    # and the route still answers afterwards
    assert (await client.get(URL, params=QUERY, headers=GRANTED)).status_code == 200


def test_a_bad_sites_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("site-1:\n  timezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site site-1: timezone: .*Mars/Olympus"):
        load_sites_file(path)
    path.write_text("site-1:\n  carbon: {g_per_kwh: 1, csv: x.csv}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site site-1: carbon: .*exactly one"):
        load_sites_file(path)
