"""``HttpAuth``: the cloud's auth port over HTTP, against a scripted auth service."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from ems.cloud.auth.port import AuthPort, AuthUnavailable, InProcessAuth
from ems.cloud.auth.remote import EDGE_KEY_CHECK_PATH, JWKS_PATH, HttpAuth
from ems.cloud.settings import CloudSettings

TOKEN = "s" * 43
JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k1"}]}


def _auth(handler: Callable[[httpx.Request], httpx.Response]) -> HttpAuth:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpAuth("http://auth.test:8001/", TOKEN, client=client)


def _service(valid_keys: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    """An auth service that knows ``valid_keys`` (edge -> key) and asks for TOKEN."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == JWKS_PATH and request.method == "GET":
            return httpx.Response(200, json=JWKS)
        if request.url.path == EDGE_KEY_CHECK_PATH and request.method == "POST":
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"error": "unauthorized"})
            body = json.loads(request.content)
            return httpx.Response(
                200, json={"valid": valid_keys.get(body["edge_id"]) == body["api_key"]}
            )
        return httpx.Response(404)

    return handle


def test_http_auth_is_an_auth_port_but_not_in_process() -> None:
    auth: AuthPort = _auth(_service({}))
    assert not isinstance(auth, InProcessAuth)


@pytest.mark.asyncio
async def test_keys_and_edge_key_checks_come_from_the_service() -> None:
    auth = _auth(_service({"site-1": "ems_good"}))
    assert await auth.jwks() == JWKS
    assert await auth.check_edge_key("site-1", "ems_good") is True
    assert await auth.check_edge_key("site-1", "ems_bad") is False
    assert await auth.check_edge_key("site-2", "ems_good") is False


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(401, json={"error": "unauthorized"}),  # tokens differ
        httpx.Response(503, text="down"),
        httpx.Response(200, json={"valid": "yes"}),  # not a boolean
        httpx.Response(200, text="<html>"),
    ],
)
async def test_an_answer_that_is_not_a_verdict_is_unavailable(response: httpx.Response) -> None:
    auth = _auth(lambda _request: response)
    with pytest.raises(AuthUnavailable):
        await auth.check_edge_key("site-1", "ems_good")


@pytest.mark.asyncio
async def test_an_unreachable_service_is_unavailable_not_a_wrong_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(AuthUnavailable, match="unreachable"):
        await _auth(refuse).check_edge_key("site-1", "ems_good")


def test_the_http_backend_needs_the_url_and_the_service_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("EMS_AUTH_URL", "EMS_AUTH_SERVICE_TOKEN", "EMS_AUTH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="EMS_AUTH_URL"):
        CloudSettings(auth_backend="http", auth_service_token=TOKEN)
    with pytest.raises(ValidationError, match="EMS_AUTH_SERVICE_TOKEN"):
        CloudSettings(auth_backend="http", auth_url="http://auth:8001")
    with pytest.raises(ValidationError, match="auth_backend"):
        CloudSettings(auth_backend="ldap")  # type: ignore[arg-type]
    settings = CloudSettings(
        auth_backend="http", auth_url="http://auth:8001", auth_service_token=TOKEN
    )
    assert settings.auth_service_token is not None
    assert settings.auth_service_token.get_secret_value() == TOKEN
    assert CloudSettings().auth_backend == "embedded"
