"""The cloud against an external auth service, with Django made unimportable in its process.

``EMS_AUTH_BACKEND=http``: the cloud reaches the auth service only through its
port over HTTP (JWKS, edge-key checks), so it runs where Django is not installed.
The auth service (``ems auth serve``) runs on loopback with its own data
directory, which the cloud cannot read: an edge login and a dashboard token that
work prove the checks crossed HTTP.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support.processes import EmsProcess, free_port
from support.site import PASSWORD, CloudSite

START_TIMEOUT_S = 90.0
WAIT_S = 10.0

#: ``ems`` with an import hook that refuses Django, as on a machine without it.
WITHOUT_DJANGO = """
import sys

class NoDjango:
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            raise ImportError(f"{name}: Django is not installed here (the test refuses it)")
        return None

sys.meta_path.insert(0, NoDjango())
from ems.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Split:
    auth: EmsProcess
    auth_url: str
    cloud: EmsProcess
    cloud_url: str
    service_token: str
    key: str

    def access_token(self, username: str) -> str:
        r = httpx.post(
            f"{self.auth_url}/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        access: str = r.json()["access"]
        return access


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    auth_data = tmp_path / "auth"
    accounts = CloudSite(auth_data)  # `ems auth` commands on the auth service's data
    accounts.create_accounts(edge_ids=("site-1",))
    service_token = secrets.token_urlsafe(32)
    auth_port, cloud_port = free_port(), free_port()
    auth = EmsProcess(
        ["auth", "serve", "--port", str(auth_port), "--data-dir", str(auth_data)],
        {"EMS_AUTH_SERVICE_TOKEN": service_token},
    )
    cloud: EmsProcess | None = None
    try:
        auth.wait_for("Uvicorn running", START_TIMEOUT_S)
        auth_url = f"http://127.0.0.1:{auth_port}"
        cloud = EmsProcess(
            ["cloud", "--port", str(cloud_port), "--data-dir", str(tmp_path / "cloud")],
            {
                "EMS_AUTH_BACKEND": "http",
                "EMS_AUTH_URL": auth_url,
                "EMS_AUTH_SERVICE_TOKEN": service_token,
            },
            program=(sys.executable, "-c", WITHOUT_DJANGO),
        )
        cloud.wait_for("Uvicorn running", START_TIMEOUT_S)
        yield Split(
            auth,
            auth_url,
            cloud,
            f"127.0.0.1:{cloud_port}",
            service_token,
            accounts.key("site-1"),
        )
    finally:
        if cloud is not None:
            cloud.stop()
        auth.stop()
    assert "Traceback" not in cloud.output, cloud.output


async def _edge_login(split: Split, key: str) -> dict[str, object]:
    """The cloud's answer to an edge's auth frame: its first frame, or how it closed."""
    frame = {"type": "auth", "edge_id": "site-1", "api_key": key, "edge_time": _now()}
    async with connect(f"ws://{split.cloud_url}/ws/edge") as ws:
        await ws.send(json.dumps(frame))
        with contextlib.suppress(ConnectionClosed):
            answer: dict[str, object] = json.loads(await ws.recv())
            return answer
    assert ws.close_code is not None
    return {"closed": ws.close_code, "reason": ws.close_reason}


def _now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.mark.asyncio
async def test_edge_login_and_dashboard_token_work_without_django(split: Split) -> None:
    answer = await _edge_login(split, split.key)
    assert answer.get("type") == "auth_ok", (answer, split.cloud.output[-3000:])
    wrong = await _edge_login(split, split.key[:-4] + "AAAA")
    assert wrong["closed"] == 4401

    token = split.access_token("olga")
    async with connect(f"ws://{split.cloud_url}/ws/ui?token={token}") as ws:
        hello = json.loads(await ws.recv())
    assert hello["type"] == "auth_ok", hello
    async with httpx.AsyncClient(base_url=f"http://{split.cloud_url}") as client:
        r = await client.get("/api/edges", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert (await client.get("/api/edges")).status_code == 401


def test_edge_key_checks_need_the_service_token(split: Split) -> None:
    check = f"{split.auth_url}/auth/edge-keys/check"
    body = {"edge_id": "site-1", "api_key": split.key}
    assert httpx.post(check, json=body).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 43}
    assert httpx.post(check, json=body, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {split.service_token}"}
    r = httpx.post(check, json=body, headers=right)
    assert (r.status_code, r.json()) == (200, {"valid": True})
    r = httpx.post(check, json={"edge_id": "site-1"}, headers=right)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


@pytest.mark.asyncio
async def test_an_unreachable_auth_service_is_try_again_not_a_wrong_key(split: Split) -> None:
    split.auth.stop()
    answer = await _edge_login(split, split.key)
    assert answer["closed"] == 1013, answer
    assert str(answer["reason"]).startswith("auth_unavailable")
    async with httpx.AsyncClient() as client:  # the cloud keeps serving
        assert (await client.get(f"http://{split.cloud_url}/healthz")).status_code == 200
